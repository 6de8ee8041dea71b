"""Where the embedding cache lives: ``IESI_NLP_CACHE`` names a folder; an old file path keeps working."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from iesi_nlp.embedding import CachedEmbedder, DocumentEmbedding, EmbeddingCache
from iesi_nlp.embedding.cache import text_key
from iesi_nlp.text import Span
from iesi_nlp.workflow import cached_embedder, default_cache_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No IESI_NLP_CACHE or XDG_CACHE_HOME; the home folder is a temporary one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("IESI_NLP_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    return home


def test_default_is_in_the_user_cache_folder(home):
    assert default_cache_path() == home / ".cache" / "iesi-nlp" / "embeddings.sqlite"


def test_default_follows_xdg_cache_home(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "iesi-nlp" / "embeddings.sqlite"


def test_empty_variable_means_the_default(home, monkeypatch):
    monkeypatch.setenv("IESI_NLP_CACHE", "")
    assert default_cache_path() == home / ".cache" / "iesi-nlp" / "embeddings.sqlite"


@pytest.mark.parametrize("exists", [True, False], ids=["existing", "new"])
def test_variable_names_a_folder(home, tmp_path, monkeypatch, exists):
    folder = tmp_path / "my-cache"
    if exists:
        folder.mkdir()
    monkeypatch.setenv("IESI_NLP_CACHE", str(folder))
    assert default_cache_path() == folder / "embeddings.sqlite"


def test_an_existing_file_is_kept_as_the_cache(home, tmp_path, monkeypatch):
    """Set as before to an old cache file (any name), that file is still the cache."""
    old = tmp_path / "vectors.db"
    EmbeddingCache(old)
    monkeypatch.setenv("IESI_NLP_CACHE", str(old))
    assert default_cache_path() == old


def test_a_path_ending_in_sqlite_is_the_cache_file(home, tmp_path, monkeypatch):
    monkeypatch.setenv("IESI_NLP_CACHE", str(tmp_path / "somewhere" / "cache.sqlite"))
    assert default_cache_path() == tmp_path / "somewhere" / "cache.sqlite"


def test_a_folder_named_like_sqlite_is_still_a_folder(home, tmp_path, monkeypatch):
    folder = tmp_path / "cache.sqlite"
    folder.mkdir()
    monkeypatch.setenv("IESI_NLP_CACHE", str(folder))
    assert default_cache_path() == folder / "embeddings.sqlite"


def test_cached_embedder_writes_into_the_folder(home, tmp_path, monkeypatch):
    folder = tmp_path / "new-cache"
    monkeypatch.setenv("IESI_NLP_CACHE", str(folder))
    embedder = cached_embedder()
    assert isinstance(embedder, CachedEmbedder)
    assert embedder.cache.path == folder / "embeddings.sqlite"
    assert folder.is_dir() and (folder / "embeddings.sqlite").is_file()


def test_cached_embedder_keeps_using_an_old_cache_file(home, tmp_path, monkeypatch):
    """What an old cache file holds is still found: its vectors are not lost."""
    old = tmp_path / "embeddings-old"
    vector = np.ones(4, dtype=np.float32) / 2
    document = DocumentEmbedding(vector, [Span("old text", 0, 8)], vector[None, :], "en")
    EmbeddingCache(old).put_many("some-model", {text_key("old text"): document})
    monkeypatch.setenv("IESI_NLP_CACHE", str(old))
    embedder = cached_embedder()
    assert isinstance(embedder, CachedEmbedder)
    assert embedder.cache.path == old
    assert embedder.cache.count("some-model") == 1
