"""Shared fixtures: the bundled codebook, and helpers that write small input files."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from iesi_nlp.codebook import Codebook, load_codebook

EN_TEXT = (
    "The municipality of Tampere and a local NGO launched a video-call service so that older people "
    "living alone can talk to a care worker every morning. Volunteers help users set up the tablets."
)
DE_TEXT = (
    "Der Landkreis und ein Wohlfahrtsverband haben eine Online-Plattform eingerichtet, über die pflegende "
    "Angehörige Entlastungsangebote in ihrer Nähe finden und direkt buchen können."
)
PL_TEXT = (
    "Miejski Ośrodek Pomocy Społecznej wprowadził aplikację, dzięki której seniorzy mogą zamówić pomoc "
    "sąsiedzką, a wolontariusze otrzymują powiadomienia o zgłoszeniach w swojej okolicy."
)


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory) -> Path:
    """One embedding cache for the whole test session, never the user's own.

    ``IESI_NLP_CACHE`` names its folder; the fixture's value is the cache file in it.
    """
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("IESI_NLP_CACHE")
    os.environ["IESI_NLP_CACHE"] = str(folder)
    yield folder / "embeddings.sqlite"
    if previous is None:
        os.environ.pop("IESI_NLP_CACHE", None)
    else:
        os.environ["IESI_NLP_CACHE"] = previous


@pytest.fixture(scope="session")
def codebook() -> Codebook:
    return load_codebook()


@pytest.fixture
def write_jsonl(tmp_path: Path):
    def write(name: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
        return path

    return write


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def trained(tmp_path_factory, embedding_cache):
    """A model trained once per session on the 48 small cases (service_domain and actors labelled)."""
    from iesi_nlp.coding.training import TrainOptions
    from iesi_nlp.workflow import train_and_save
    from tests.small_corpus import small_cases

    models = tmp_path_factory.mktemp("models")
    return train_and_save(
        small_cases(), load_codebook(), name="small", models_dir=models, options=TrainOptions(folds=3)
    )


def write_seed_corpus(folder: Path) -> Path:
    """A corpus folder holding the 48 small labelled cases (a fast seed for projects in the tests)."""
    from iesi_nlp.records import write_cases
    from tests.small_corpus import small_cases

    (folder / "labelled").mkdir(parents=True)
    (folder / "pool").mkdir()
    write_cases(small_cases(), folder / "labelled" / "cases.jsonl")
    return folder


@pytest.fixture
def review_project(trained, tmp_path):
    """A project seeded with the 48 small cases, holding the 4 pool cases, served by a copy of the session's model."""
    from iesi_nlp.project import Project
    from iesi_nlp.records import write_cases
    from iesi_nlp.registry import import_version
    from tests.small_corpus import POOL

    _, _, directory = trained
    project = Project.create(tmp_path / "project", seed=write_seed_corpus(tmp_path / "seed"))
    write_cases(POOL, tmp_path / "pool.jsonl")
    project.add_files([tmp_path / "pool.jsonl"], added_by="setup")
    import_version(project.models_dir, directory, by="test", reason="the session's small model")
    return project
