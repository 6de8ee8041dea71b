"""The jobs the CLI (and later the review app) run, as plain functions over the library.

* :func:`load_training_cases`: labelled cases from a corpus folder or from any files ``ingest`` reads;
* :func:`train_and_save`: cross-validate, fit and write ``models/<name>/``;
* :func:`evaluate_cases`: cross-validation report only;
* :func:`open_model`: a saved model with the matching, cached embedder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from iesi_nlp.artifacts import load_model, read_card, save_model
from iesi_nlp.codebook import Codebook
from iesi_nlp.corpus import bundled_corpus_dir, load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER, Embedder, make_embedder
from iesi_nlp.errors import InputError
from iesi_nlp.evaluation import evaluation_report, report_markdown
from iesi_nlp.ingest import IngestOptions, Reject, iter_ingest
from iesi_nlp.model import CodingModel
from iesi_nlp.records import Case
from iesi_nlp.training import TrainingData, TrainOptions, train

DEFAULT_MODEL_NAME = "default"
DEFAULT_MODELS_DIR = Path("models")


def default_cache_path() -> Path:
    """Where embeddings are cached: ``$IESI_NLP_CACHE`` or ``~/.cache/iesi-nlp/embeddings.sqlite``."""
    configured = os.environ.get("IESI_NLP_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "iesi-nlp" / "embeddings.sqlite"


def cached_embedder(spec: str = DEFAULT_EMBEDDER, cache: Path | None = None) -> Embedder:
    return make_embedder(spec, cache=cache or default_cache_path())


def load_training_cases(inputs: Sequence[str | Path] | None, codebook: Codebook) -> list[Case]:
    """Labelled cases: the bundled corpus by default, a corpus folder, or files with label columns.

    Cases without any label are left out; a file that yields no labelled case is an error.
    """
    if not inputs:
        return load_corpus(codebook).labelled
    cases: list[Case] = []
    files: list[str | Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir() and (path / "labelled").is_dir():
            cases += load_corpus(codebook, path).labelled
        else:
            files.append(path)
    if files:
        for path in files:
            if not Path(path).exists():
                raise InputError(f"{path}: input not found")
        _, items = iter_ingest(files, codebook, IngestOptions())
        rejects: list[Reject] = []
        for item in items:
            (rejects if isinstance(item, Reject) else cases).append(item)
        if rejects:
            # Training on part of a file without saying so would hide a labelling error.
            shown = "; ".join(r.reason for r in rejects[:3])
            raise InputError(f"{len(rejects)} record(s) cannot be used for training: {shown}")
    labelled = [case for case in cases if case.labels]
    if not labelled:
        raise InputError(
            f"no labelled cases in {', '.join(map(str, inputs))}: label columns must be named like the "
            "codebook's dimensions (see `iesi-nlp codebook show`)"
        )
    return labelled


def train_and_save(
    data: TrainingData | Sequence[Case],
    codebook: Codebook,
    *,
    name: str = DEFAULT_MODEL_NAME,
    models_dir: Path = DEFAULT_MODELS_DIR,
    embedder_spec: str = DEFAULT_EMBEDDER,
    cache: Path | None = None,
    options: TrainOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[CodingModel, dict[str, Any], Path]:
    """Train on ``data`` (seed, own and unlabelled cases; a plain list is the seed) and write ``models_dir/name``.

    Returns the model, its evaluation and folder.
    """
    options = options or TrainOptions()
    data = TrainingData.of(data)
    cases = data.labelled
    embedder = cached_embedder(embedder_spec, cache)
    model, validation = train(data, embedder, embedder_spec, codebook, options, progress)
    report = evaluation_report(validation, cases, options.folds)
    directory = save_model(
        model,
        Path(models_dir) / name,
        name=name,
        cases=cases,
        evaluation=report,
        evaluation_markdown=report_markdown(report, f"Evaluation of model {name}"),
        options=asdict(options),
    )
    return model, report, directory


def open_model(
    directory: str | Path,
    *,
    codebook: Codebook | None = None,
    embedder_spec: str | None = None,
    cache: Path | None = None,
) -> tuple[CodingModel, Embedder]:
    """Load a model and the embedder it needs (the one it was trained with unless told otherwise)."""
    card = read_card(directory)
    embedder = cached_embedder(embedder_spec or card["embedder"]["spec"], cache)
    model = load_model(directory, codebook=codebook, embedder_id=embedder.id)
    return model, embedder


def corpus_pool_dir() -> Path:
    return bundled_corpus_dir() / "pool"
