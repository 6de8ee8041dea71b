"""``iesi-nlp export``: a project's labelled cases, or the training set grown by review, as JSONL or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iesi_nlp.annotation.labels import merge_decisions
from iesi_nlp.annotation.sqlite import LEGACY_STORE, SqliteDecisionStore
from iesi_nlp.cli.common import CodebookOption, ProjectOption, codebook_from_option, console, user_errors
from iesi_nlp.errors import InputError
from iesi_nlp.project import Project, write_case_table
from iesi_nlp.workflow import load_training_cases

StoreOption = Annotated[Path, typer.Option("--store", help="Annotation database written by the review screen.")]


def export_cli(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="JSONL, or CSV when it ends in .csv. Default: PROJECT/exports/cases-<time>.jsonl with --project, "
            "else training.jsonl.",
        ),
    ] = None,
    project: ProjectOption = None,
    include_unlabelled: Annotated[
        bool, typer.Option("--all", help="With --project: also the cases that have no label yet.")
    ] = False,
    decisions: Annotated[
        bool,
        typer.Option(
            "--decisions",
            help="With --project: every review decision (JSONL), with the suggestion shown and the model version.",
        ),
    ] = False,
    store: StoreOption = LEGACY_STORE,
    seed: Annotated[
        list[Path] | None,
        typer.Option("--seed", help="Without --project: labelled cases to start from (default: the bundled corpus)."),
    ] = None,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="Without --project: reviewed cases only.")] = False,
    codebook: CodebookOption = None,
) -> None:
    """Write labelled cases with their provenance: imported labels, with settled review labels winning.

    With --project: the project's own cases (title, URL, source, language and country
    kept). Without: the seed corpus grown by the decisions in --store. A dimension is
    settled when its annotators agree or an adjudicator decided; disagreements wait.
    """
    with user_errors():
        if decisions:
            if project is None:
                raise InputError("--decisions needs --project DIR: the decisions of which project?")
            path, written = Project.open(project).export_decisions(output)
            console.print(f"[green]✓[/] {written} decisions → {path}", highlight=False)
            return
        if project is not None:
            path, written, reviewed = Project.open(project).export(output, include_unlabelled=include_unlabelled)
            console.print(f"[green]✓[/] {written} cases ({reviewed} with review decisions) → {path}", highlight=False)
            return
        cb = codebook_from_option(codebook)
        if not store.is_file():
            raise InputError(f"{store}: no annotation database; review some cases first (iesi-nlp review)")
        seed_cases = [] if no_seed else load_training_cases(seed, cb)
        cases = merge_decisions(seed_cases, SqliteDecisionStore(store, cb))
        output = output or Path("training.jsonl")
        write_case_table(cases, output, cb)
    reviewed = sum("review:" in (case.label_provenance or "") for case in cases)
    console.print(f"[green]✓[/] {len(cases)} labelled cases ({reviewed} with review decisions) → {output}")
