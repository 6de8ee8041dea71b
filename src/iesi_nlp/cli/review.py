"""``iesi-nlp review``: the review screen on a project (your own cases), or the demo on the bundled pool."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from iesi_nlp.annotation.sqlite import LEGACY_STORE
from iesi_nlp.cli.add import checked_inputs, print_add_reports, print_learning_hint, print_project
from iesi_nlp.cli.common import (
    CodebookOption,
    ColumnOption,
    LabelOption,
    NoSeedOption,
    SeedOption,
    SheetOption,
    SourceOption,
    console,
    seed_spec,
    user_errors,
)
from iesi_nlp.cli.train import _progress
from iesi_nlp.coding.auto_accept import DEFAULT_AUDIT_SHARE, check_target
from iesi_nlp.coding.card import read_card
from iesi_nlp.corpus import bundled_pool_dir
from iesi_nlp.errors import IesiError
from iesi_nlp.ingest import IngestOptions
from iesi_nlp.project import DEFAULT_PROJECT_DIR, DEMO_PROJECT_DIR, Project, open_or_create
from iesi_nlp.registry import current_user, import_version, resolve_model_dir
from iesi_nlp.review import (
    APP_SCRIPT,
    DEFAULT_RETRAIN_EVERY,
    REVIEW_TRAIN_OPTIONS,
    app_environment,
    serve_app,
    streamlit_command,
)


def start_with_model(project: Project, model: Path) -> None:
    """Copy ``model`` into a project that has none, as its first version (checked against its codebook)."""
    if project.serving() is not None:
        raise IesiError(
            f"--model {model}: project {project.root} already has model versions; "
            f"choose among them with `iesi-nlp models serve VERSION --project {project.root}`"
        )
    source = resolve_model_dir(model)
    card = read_card(source)
    if card.codebook.fingerprint != project.codebook.fingerprint:
        raise IesiError(
            f"--model {model}: trained with codebook {card.codebook.id!r} version {card.codebook.version}, "
            f"not the project's ({project.codebook.id!r} version {project.codebook.version})"
        )
    version = import_version(
        project.models_dir, source, by=f"{current_user()} (iesi-nlp review --model)", reason=f"copied from {source}"
    )
    console.print(f"[green]✓[/] model {card.model_id} copied from {source}: {version.id} serves", highlight=False)


def _names(option: str | None) -> list[str]:
    """The names of a comma-separated option (``--annotators``, ``--adjudicators``)."""
    return [name.strip() for name in (option or "").split(",") if name.strip()]


def review_cli(
    cases: Annotated[
        list[Path] | None,
        typer.Option(
            "--cases",
            help="Your cases: any file or folder `iesi-nlp ingest` reads; repeat for several. They are added to "
            "the project (duplicates kept out).",
        ),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-p",
            help=f"Project folder; with --cases it is made if needed (default ./{DEFAULT_PROJECT_DIR}), alone it "
            "reopens a project.",
        ),
    ] = None,
    column: ColumnOption = None,
    label: LabelOption = None,
    source: SourceOption = None,
    sheet: SheetOption = None,
    seed: SeedOption = None,
    no_seed: NoSeedOption = False,
    embedder: Annotated[str | None, typer.Option("--embedder", help="Embedder of a new project.")] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="Start a project that has no model with a copy of this one (e.g. models/default after "
            "quickstart) instead of training its first model.",
        ),
    ] = None,
    codebook: CodebookOption = None,
    port: Annotated[int, typer.Option(help="Port of the screen.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    annotators: Annotated[
        str | None, typer.Option(help="Comma-separated names allowed to annotate (default: anyone by name).")
    ] = None,
    adjudicators: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated names allowed to settle disagreements on the Adjudicate page (default: anyone); "
            "others see it read only.",
        ),
    ] = None,
    double_coding: Annotated[
        bool,
        typer.Option(
            "--double-coding",
            help="Hand a case that is on one annotator's screen to a second annotator too (to measure agreement); "
            "by default each case goes to one screen at a time.",
        ),
    ] = False,
    auto_accept: Annotated[
        float | None,
        typer.Option(
            "--auto-accept",
            help="Leave out of the queue the cases whose every suggestion passes at this precision (e.g. 0.95, "
            "estimated on your own judged cases), but for an audit share.",
        ),
    ] = None,
    audit_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="With --auto-accept: the share of auto-accepted cases still reviewed."),
    ] = DEFAULT_AUDIT_SHARE,
    password_env: Annotated[
        str | None,
        typer.Option(help="Name of an environment variable holding the password (kept out of the process list)."),
    ] = None,
    retrain_every: Annotated[
        int, typer.Option(min=1, help="Retrain in the background after this many newly reviewed cases.")
    ] = DEFAULT_RETRAIN_EVERY,
) -> None:
    """Open the review screen on a project: your cases, suggestions, and every decision saved in the project.

    With --cases, the files are added to the project (made if needed) and a first model is
    trained if the project has none (the seed corpus plus your labelled cases). With
    --project alone, the project is reopened. With neither, the demo: the bundled pool in
    ./iesi-demo.
    """
    with user_errors():
        if not APP_SCRIPT.is_file():
            raise IesiError(f"{APP_SCRIPT}: the review app is missing from this checkout")
        seed_choice = seed_spec(seed, no_seed)
        if auto_accept is not None:
            check_target(auto_accept)  # before a project is made or a model trained
        if cases:
            root = project or DEFAULT_PROJECT_DIR
            if project is None:
                console.print(f"project folder: {root.resolve()} (choose another with --project DIR)", highlight=False)
            options = checked_inputs(cases, root, codebook, column, label, source, sheet)
            opened, created = open_or_create(root, codebook=codebook, seed=seed_choice, embedder=embedder)
            reports = opened.add_files(cases, options, added_by=f"{current_user()} (iesi-nlp review --cases)")
            print_add_reports(reports)
            print_learning_hint(opened, reports)
        elif project is not None:
            Project.open(project)  # a clear error if it is not a project: reopening never makes one
            opened, created = open_or_create(project, codebook=codebook, seed=seed_choice, embedder=embedder)
        else:
            opened, created = open_or_create(DEMO_PROJECT_DIR, codebook=codebook, seed=seed_choice, embedder=embedder)
            if created:
                print_add_reports(opened.add_files([bundled_pool_dir()], IngestOptions(), added_by="demo setup"))
            console.print(
                f"demo: the bundled pool in {DEMO_PROJECT_DIR.resolve()}; review your own cases with "
                "[bold]iesi-nlp review --cases FILE[/]",
                highlight=False,
            )
            if LEGACY_STORE.is_file():
                console.print(
                    f"[yellow]![/] decisions made before projects stay in {LEGACY_STORE}; "
                    f"`iesi-nlp train --annotations {LEGACY_STORE}` still learns from them",
                    highlight=False,
                )
        print_project(opened, created)
        if model is not None:
            start_with_model(opened, model)
        if opened.serving() is None:
            data = opened.training_data()
            labelled = sum(1 for case in data.own if case.labels)
            console.print(
                f"training the project's first model: {len(data.seed)} seed cases, {labelled} of your labelled "
                f"cases, {len(data.unlabelled)} unlabelled",
                highlight=False,
            )
            _, _, version = opened.train(
                options=REVIEW_TRAIN_OPTIONS,
                progress=_progress,
                by=f"{current_user()} (iesi-nlp review)",
                reason="first model of the project",
            )
            console.print(f"[green]✓[/] model {version.name} serves", highlight=False)
        env = dict(os.environ)
        env.update(
            app_environment(
                opened.root,
                retrain_every,
                adjudicators=_names(adjudicators),
                double_coding=double_coding,
                auto_accept=auto_accept,
                audit_share=audit_share,
            )
        )
        if annotators:
            env["IESI_NLP_ANNOTATORS"] = ",".join(_names(annotators))
        if password_env:
            if not os.environ.get(password_env):
                raise IesiError(f"environment variable {password_env} is empty; set the password there first")
            env["IESI_NLP_PASSWORD"] = os.environ[password_env]
    console.print(f"review screen on http://{host}:{port} (Ctrl+C to stop)")
    raise typer.Exit(serve_app(streamlit_command(host, port), env))
