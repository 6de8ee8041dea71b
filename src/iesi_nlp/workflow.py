"""The jobs the CLI and the review app run, as plain functions over the library.

* :func:`load_seed`: the seed corpus (bundled, another corpus folder, labelled files, or none);
* :func:`read_labelled_files`: the user's labelled files, checked strictly (a training set
  with a silently dropped row would hide a labelling error);
* :func:`load_training_cases`: labelled cases from a corpus folder or files (``evaluate``);
* :func:`train_and_save`: cross-validate, fit and write a new model version;
* :func:`train_on_store`: the same from a review store's cases and decisions (projects, the review screen);
* :func:`open_suggester`: a saved model (a model folder, a registry's or a project's serving
  version) with the matching, cached embedder, as a :class:`~iesi_nlp.suggest.Suggester`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iesi_nlp.annotation.labels import training_data
from iesi_nlp.annotation.store import DecisionStore
from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.artifacts import load_model, save_model
from iesi_nlp.coding.auto_accept import (
    AutoAccept,
    Outcome,
    check_target,
    outcomes_of_decisions,
    outcomes_of_validation,
    read_outcomes,
)
from iesi_nlp.coding.evaluation import evaluation_report, report_markdown
from iesi_nlp.coding.label_issues import issues_of_validation
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.coding.training import TrainingData, TrainOptions, train
from iesi_nlp.corpus import load_corpus
from iesi_nlp.embedding import DEFAULT_EMBEDDER, Embedder, make_embedder
from iesi_nlp.errors import InputError
from iesi_nlp.ingest import IngestOptions, Reject, check_inputs, expand_inputs, expand_patterns, iter_ingest
from iesi_nlp.ingest.sources import read_records
from iesi_nlp.records import Case
from iesi_nlp.registry import add_version, is_registry, resolve_model_dir
from iesi_nlp.suggest import Suggester

DEFAULT_MODEL_NAME = "default"
DEFAULT_MODELS_DIR = Path("models")
#: ``--seed`` values that are not paths.
BUNDLED_SEED = "bundled"
NO_SEED = "none"


def default_cache_path() -> Path:
    """The embedding cache file: ``$IESI_NLP_CACHE/embeddings.sqlite``.

    ``IESI_NLP_CACHE`` names a folder; unset or empty, it is ``${XDG_CACHE_HOME:-~/.cache}/iesi-nlp``.
    It used to name the file itself, so a value that is an existing regular file (an old cache)
    or, when it is not an existing folder, ends in ``.sqlite`` is still taken as the cache file:
    a cache made before keeps being used.
    """
    configured = os.environ.get("IESI_NLP_CACHE")
    if configured:
        path = Path(configured)
        if path.is_file() or (path.suffix == ".sqlite" and not path.is_dir()):
            return path
        return path / "embeddings.sqlite"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "iesi-nlp" / "embeddings.sqlite"


def cached_embedder(spec: str = DEFAULT_EMBEDDER, cache: Path | None = None) -> Embedder:
    return make_embedder(spec, cache=cache or default_cache_path())


# -- reading training cases -----------------------------------------------------------


@dataclass
class UserCases:
    """The cases of the user's files: those with at least one label, and the others."""

    labelled: list[Case] = field(default_factory=list)
    unlabelled: list[Case] = field(default_factory=list)


def read_labelled_files(
    inputs: Sequence[str | Path], codebook: Codebook, options: IngestOptions | None = None
) -> UserCases:
    """Read the user's labelled files for training, strictly.

    Raises :class:`InputError`, before anything is trained or written, when a row cannot
    be used (an unknown label id: the message names the file, the row, the value and the
    allowed ids), when a file's columns match no dimension (it names the columns found,
    the dimension ids expected and the ``--label DIM=COLUMN`` mapping), or when a file
    holds no labelled case. A case may be labelled on some dimensions only.
    """
    options = options or IngestOptions()
    unknown = sorted(set(options.label_columns) - set(codebook.dimension_ids))
    if unknown:
        raise InputError(
            f"--label {unknown[0]}=...: {unknown[0]!r} is not a dimension of codebook {codebook.id!r}; "
            f"dimensions: {', '.join(codebook.dimension_ids)}"
        )
    result = UserCases()
    # One ingestor for every file: an id or text repeated across files is an error too.
    ingestor, _ = iter_ingest([], codebook, options)
    check_inputs(inputs)
    for item in expand_patterns(inputs):
        path = Path(item)
        cases: list[Case] = []
        rejects: list[Reject] = []
        for file in expand_inputs([path]):
            for record in ingestor.ingest_file(file):
                (rejects if isinstance(record, Reject) else cases).append(record)
        if rejects:
            shown = "\n  ".join(r.reason for r in rejects[:5])
            more = f"\n  … and {len(rejects) - 5} more" if len(rejects) > 5 else ""
            raise InputError(
                f"{path}: {len(rejects)} record(s) cannot be used for training, so nothing was trained "
                f"(fix them, or leave them out of the file):\n  {shown}{more}"
            )
        if not cases:
            raise InputError(f"{path}: holds no case to train on")
        labelled = [case for case in cases if case.is_labelled]
        if not labelled:
            raise InputError(_no_labels_message(path, codebook, options, len(cases)))
        result.labelled += labelled
        result.unlabelled += [case for case in cases if not case.is_labelled]
    return result


def _no_labels_message(path: Path, codebook: Codebook, options: IngestOptions, n_cases: int) -> str:
    """Why a file gave no labelled case: no column named like a dimension, or every label cell empty."""
    columns = _columns(path, options)
    expected = ", ".join(codebook.dimension_ids)
    label_columns = {options.label_columns.get(d, d) for d in codebook.dimension_ids} | {"labels"}
    if columns is not None and not label_columns & set(columns):
        hints = []
        for column in columns:
            normalised = str(column).strip().lower().replace(" ", "_").replace("-", "_")
            close = difflib.get_close_matches(normalised, codebook.dimension_ids, n=1, cutoff=0.75)
            if close:
                hints.append(f"--label {close[0]}={column!r}" if " " in str(column) else f"--label {close[0]}={column}")
        hint = f" (perhaps {' '.join(hints)})" if hints else ""
        return (
            f"{path}: no column matches a codebook dimension, so the file holds no labels; columns found: "
            f"{', '.join(map(str, columns)) or '(none)'}; dimension ids expected: {expected}. "
            f"Name a column like a dimension, or map one with --label DIM=COLUMN{hint}"
        )
    if columns is None:
        return (
            f"{path}: documents (PDF, DOCX, HTML, TXT) carry no labels; give labelled cases as a table "
            f"(CSV, TSV, JSONL, Parquet, XLSX) with columns named like the dimensions: {expected}"
        )
    return (
        f"{path}: no labelled case: all {n_cases} case(s) have empty label columns "
        f"({', '.join(sorted(label_columns & set(columns)))}); label ids are separated by | ; or ,"
    )


def _columns(path: Path, options: IngestOptions) -> list[str] | None:
    """The column names of a table file (None for documents and folders)."""
    if path.is_dir():
        return None
    names: dict[str, None] = {}
    for number, raw in enumerate(read_records(path, max_text_chars=options.max_text_chars, sheet=options.sheet)):
        if raw.location == "":
            return None
        names.update(dict.fromkeys(map(str, raw.fields)))
        if number >= 1000:
            break
    return list(names)


def load_seed(spec: str | Path | None, codebook: Codebook) -> list[Case]:
    """The seed corpus: ``bundled`` (or None), ``none``, a corpus folder (its ``labelled/``), or labelled files."""
    if spec is None or str(spec) == BUNDLED_SEED:
        return load_corpus(codebook).labelled
    if str(spec) == NO_SEED:
        return []
    path = Path(spec)
    if path.is_dir() and (path / "labelled").is_dir():
        return load_corpus(codebook, path).labelled
    return read_labelled_files([path], codebook).labelled


def load_training_cases(inputs: Sequence[str | Path] | None, codebook: Codebook) -> list[Case]:
    """Labelled cases: the bundled corpus by default, corpus folders, or files with label columns.

    Unlabelled rows of a file are left out; a file that yields no labelled case is an error.
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
        cases += read_labelled_files(files, codebook).labelled
    return cases


# -- training and opening models ---------------------------------------------------------


def training_counts(data: TrainingData) -> dict[str, int]:
    """How many labelled seed and own cases, and unlabelled cases, a model learnt from (for its card)."""
    return {
        "seed": sum(1 for c in data.seed if c.labels),
        "own": sum(1 for c in data.own if c.labels),
        "unlabelled": len(data.unlabelled),
    }


def train_and_save(
    data: TrainingData | Sequence[Case],
    codebook: Codebook,
    *,
    name: str = DEFAULT_MODEL_NAME,
    models_dir: Path = DEFAULT_MODELS_DIR,
    registry: Path | None = None,
    embedder_spec: str = DEFAULT_EMBEDDER,
    cache: Path | None = None,
    options: TrainOptions | None = None,
    progress: Callable[[str], None] | None = None,
    serve: bool = True,
    by: str | None = None,
    reason: str = "trained",
    training_info: Mapping[str, Any] | None = None,
    judged: Sequence[Outcome] = (),
) -> tuple[CodingModel, dict[str, Any], Path]:
    """Train on ``data`` (seed, own and unlabelled cases; a plain list is the seed) and save a new version.

    The version goes into ``registry`` (default ``models_dir/name``) and, with ``serve``,
    becomes the serving one; nothing is overwritten and, if training fails, nothing is
    written. ``by`` and ``reason`` go into the registry's history; ``training_info`` into
    the card's ``training_set``; ``judged``: suggestions people reviewed, for the card's auto-accept
    estimate (with the own cases' out-of-fold outcomes, saved with the model). Returns the model, its
    evaluation and the new version's folder.
    """
    options = options or TrainOptions()
    data = TrainingData.of(data)
    cases = data.labelled
    embedder = cached_embedder(embedder_spec, cache)
    model, validation = train(data, embedder, embedder_spec, codebook, options, progress)
    report = evaluation_report(validation, cases, options.folds)
    own_ids = {case.id for case in data.own if case.labels}
    outcomes = outcomes_of_validation(validation, cases, own_ids) if own_ids else []
    issues = issues_of_validation(validation, cases, own_ids)

    def write(folder: Path) -> None:
        save_model(
            model,
            folder,
            name=name,
            cases=cases,
            evaluation=report,
            evaluation_markdown=report_markdown(report, f"Evaluation of model {name}"),
            options=asdict(options),
            training={**training_counts(data), **(training_info or {})},
            outcomes=outcomes,
            judged=judged,
            label_issues=issues,
        )

    version = add_version(registry or Path(models_dir) / name, write, serve=serve, by=by, reason=reason)
    return model, report, version.path


def train_on_store(
    store: DecisionStore,
    seed: Sequence[Case],
    codebook: Codebook,
    *,
    registry: Path,
    name: str,
    embedder_spec: str = DEFAULT_EMBEDDER,
    options: TrainOptions | None = None,
    progress: Callable[[str], None] | None = None,
    by: str | None = None,
    reason: str = "trained",
    cache: Path | None = None,
) -> tuple[CodingModel, dict[str, Any], Path]:
    """Train a new serving version from ``seed`` and a review store's cases and settled decisions.

    ``own`` and ``unlabelled`` are built by :func:`iesi_nlp.annotation.labels.training_data`.
    The card records the last decision the training saw (``decisions_through``), so the
    count of cases reviewed since this training survives a restart of the screen.
    """
    through = store.version()[1]
    data = training_data(seed, (), store)
    return train_and_save(
        data,
        codebook,
        name=name,
        registry=registry,
        embedder_spec=embedder_spec,
        cache=cache,
        options=options,
        progress=progress,
        by=by,
        reason=reason,
        training_info={"decisions_through": through},
        judged=outcomes_of_decisions(store.decisions(), codebook),
    )


def open_suggester(
    directory: str | Path,
    *,
    codebook: Codebook | None = None,
    embedder_spec: str | None = None,
    cache: Path | None = None,
    evidence: bool = True,
) -> Suggester:
    """A saved model with the embedder it needs (the one it was trained with unless told otherwise), ready to suggest.

    ``directory`` is a model folder, a registry (its serving version) or a project folder.
    The card is read once, and the embedder checked once (by the :class:`Suggester`).
    """
    resolved = resolve_model_dir(directory)
    model = load_model(resolved, codebook=codebook)
    embedder = cached_embedder(embedder_spec or model.embedder_spec, cache)
    # A version of a registry is named by its folder (v0003-…); a lone model folder has no version.
    version = resolved.name if is_registry(resolved.parent) else None
    return Suggester(model, embedder, version=version, evidence=evidence)


def auto_accept_policy(
    model_dir: str | Path, model: CodingModel, target: float, *, store: DecisionStore | None = None
) -> AutoAccept:
    """Auto-accept at ``target`` precision for a saved model: its own cases' out-of-fold outcomes, plus
    every suggestion reviewed in ``store`` (a project's), whichever version showed it."""
    check_target(target)
    outcomes = read_outcomes(resolve_model_dir(model_dir))
    if store is not None:
        outcomes += outcomes_of_decisions(store.decisions(), model.codebook)
    return AutoAccept.from_outcomes(outcomes, list(model.dimensions), target)
