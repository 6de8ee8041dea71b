"""The user-facing documents send no one to a path only the developers have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USER_DOCS = [
    ROOT / "README.md",
    ROOT / "corpus" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "src" / "iesi_nlp" / "codebooks").glob("*.yaml")),
]

#: ``../shared`` (the developers' sibling folder) or a path into its spec, data or seeds.
DEVELOPER_PATH = re.compile(r"\.\./shared\b|\bshared/(?:spec|data|seeds)\b")


def test_the_pattern_finds_developer_paths_and_not_english():
    for path in ["../shared/spec/codebook-v1.md", "`shared/data`", "shared/seeds/x.pdf", "reads ../shared"]:
        assert DEVELOPER_PATH.search(path), path
    for words in ["Housing First with shared case management", "shared records between services"]:
        assert not DEVELOPER_PATH.search(words), words


@pytest.mark.parametrize("document", USER_DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_user_documents_name_no_developer_path(document):
    lines = document.read_text(encoding="utf-8").splitlines()
    found = [f"{number}: {line.strip()}" for number, line in enumerate(lines, 1) if DEVELOPER_PATH.search(line)]
    assert not found, f"{document.relative_to(ROOT)} names paths users do not have:\n" + "\n".join(found)
