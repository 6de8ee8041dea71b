"""``iesi-nlp add``: add files of cases to a project (made first if there is none)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from iesi_nlp.cli.common import (
    CodebookOption,
    ColumnOption,
    LabelOption,
    NoSeedOption,
    SeedOption,
    SheetOption,
    SourceOption,
    codebook_from_option,
    console,
    ingest_options,
    seed_spec,
    user_errors,
)
from iesi_nlp.embedding import DEFAULT_EMBEDDER
from iesi_nlp.ingest import SUPPORTED_SUFFIXES, IngestOptions, check_inputs
from iesi_nlp.project import DEFAULT_PROJECT_DIR, AddReport, Project, open_or_create
from iesi_nlp.registry import current_user


def checked_inputs(
    inputs: Sequence[Path],
    project: Path,
    codebook: Path | None,
    column: list[str] | None,
    label: list[str] | None,
    source: str | None,
    sheet: str | None,
) -> IngestOptions:
    """Check the inputs and options before a project is made, so a typo leaves no empty project behind."""
    check_inputs(inputs)
    cb = Project.open(project).codebook if Project.is_project(project) else codebook_from_option(codebook)
    return ingest_options(cb, column, label, source=source, sheet=sheet)


def print_add_reports(reports: Sequence[AddReport]) -> None:
    """One line per file added, balanced (read = new + duplicates + rejected), with the first reasons."""
    for report in reports:
        mark = "[green]✓[/]" if not (report.rejected or report.files_rejected) else "[yellow]![/]"
        console.print(f"{mark} {report.summary()}", highlight=False)
        for reason in report.reasons[:5]:
            console.print(f"    {reason}", highlight=False, soft_wrap=True)
        if len(report.reasons) > 5:
            console.print(f"    … {len(report.reasons) - 5} more in {report.rejects_file}", highlight=False)


def print_learning_hint(project: Project, reports: Sequence[AddReport]) -> None:
    """Say when new labelled cases wait for the next training (a serving model has not learnt from them)."""
    labelled = sum(report.labelled for report in reports)
    if labelled and project.serving() is not None:
        console.print(
            f"{labelled} new labelled case(s): the model learns from them at its next training "
            f"(Retrain now on the screen, or `iesi-nlp train --project {project.root}`)",
            highlight=False,
        )


def print_project(project: Project, created: bool) -> None:
    cases = project.cases()
    labelled = sum(1 for case in cases if case.is_labelled)
    state = "created project" if created else "project"
    console.print(
        f"{state} {project.root.resolve()}: {len(cases)} cases ({labelled} with imported labels)", highlight=False
    )


def add_cli(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help=f"Files or folders to add ({', '.join(sorted(SUPPORTED_SUFFIXES))}); folders are searched recursively.",
            show_default=False,
        ),
    ],
    project: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder; made if it does not exist.")
    ] = DEFAULT_PROJECT_DIR,
    column: ColumnOption = None,
    label: LabelOption = None,
    source: SourceOption = None,
    sheet: SheetOption = None,
    seed: SeedOption = None,
    no_seed: NoSeedOption = False,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help=f"Embedder of a new project (default {DEFAULT_EMBEDDER}).")
    ] = None,
    codebook: CodebookOption = None,
) -> None:
    """Add cases to a project: same readers and checks as `iesi-nlp ingest`, duplicates kept out.

    A case whose id or text is already in the project (or earlier in these files) is not
    added twice. Every record read is new, a duplicate or rejected; duplicates and rejects
    go to PROJECT/rejects/ with their reasons, and the addition is logged in PROJECT/events.jsonl.
    Label columns (named like the dimensions, or mapped with --label) become the cases' labels.
    """
    with user_errors():
        options = checked_inputs(inputs, project, codebook, column, label, source, sheet)
        opened, created = open_or_create(project, codebook=codebook, seed=seed_spec(seed, no_seed), embedder=embedder)
        reports = opened.add_files(inputs, options, added_by=f"{current_user()} (iesi-nlp add)")
    print_add_reports(reports)
    print_project(opened, created)
    print_learning_hint(opened, reports)
    console.print(f"Next: [bold]iesi-nlp review --project {project}[/]", highlight=False)
