"""``iesi-nlp models``: the versions of a model, and which one serves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iesi_nlp.cli.common import ProjectOption, console, user_errors
from iesi_nlp.project import Project
from iesi_nlp.registry import (
    RegistryError,
    current_user,
    is_model_folder,
    is_registry,
    serve,
    serving_pointer,
    version_summaries,
)
from iesi_nlp.workflow import DEFAULT_MODEL_NAME, DEFAULT_MODELS_DIR

app = typer.Typer(
    help="Model versions: list them, choose the one that serves (rollback or forward).", no_args_is_help=True
)

RegistryArgument = Annotated[
    Path | None,
    typer.Argument(
        help=f"A model's folder of versions (default {DEFAULT_MODELS_DIR / DEFAULT_MODEL_NAME}), or a project folder.",
        show_default=False,
    ),
]


def registry_from(models_dir: Path | None, project: Path | None) -> Path:
    """The registry meant: the project's, a project folder's, or MODELS_DIR (default models/default)."""
    if project is not None:
        return Project.open(project).models_dir
    path = models_dir or DEFAULT_MODELS_DIR / DEFAULT_MODEL_NAME
    if Project.is_project(path):
        return Project.open(path).models_dir
    if not path.exists():
        raise RegistryError(f"{path}: no such folder of model versions; train one with `iesi-nlp train`")
    return path


def list_cli(models_dir: RegistryArgument = None, project: ProjectOption = None) -> None:
    """List the versions: id, when trained, training cases (seed / own / unlabelled), serving, macro-F1."""
    with user_errors():
        registry = registry_from(models_dir, project)
        if is_model_folder(registry) and not is_registry(registry):
            console.print(
                f"{registry} holds one model saved before versions; it becomes v0001 when the next version is trained",
                highlight=False,
            )
            return
        rows = version_summaries(registry)
        pointer = serving_pointer(registry) if rows else None
    if not rows:
        console.print(f"{registry}: no model versions yet", highlight=False)
        return
    dimensions = list(rows[-1]["macro_f1"])
    table = Table(title=f"Model versions in {registry}", caption="macro-F1: cross-validated, per dimension")
    for column in ("", "version", "created", "seed", "own", "unlabelled", *dimensions):
        table.add_column(column, justify="left" if column in {"version", "created", ""} else "right")
    for row in rows:
        f1 = [f"{row['macro_f1'].get(d):.3f}" if row["macro_f1"].get(d) is not None else "–" for d in dimensions]
        counts = [str(row[k]) if row[k] is not None else "?" for k in ("seed_cases", "own_cases", "unlabelled_cases")]
        table.add_row("▶" if row["serving"] else "", row["version"], row["created"], *counts, *f1)
    console.print(table)
    if pointer:
        console.print(
            f"serving {pointer['version']} since {pointer['since']} (by {pointer['by']}: {pointer['reason']})",
            highlight=False,
        )


def serve_cli(
    version: Annotated[str, typer.Argument(help="Version id (v0003-…), number (3) or model id.", show_default=False)],
    models_dir: RegistryArgument = None,
    project: ProjectOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history).")] = "chosen by hand",
) -> None:
    """Make VERSION the serving one (rollback or forward); the change is recorded with who and why.

    A review screen running on the same models picks the change up at its next click.
    """
    with user_errors():
        registry = registry_from(models_dir, project)
        chosen = serve(registry, version, by=f"{current_user()} (iesi-nlp models serve)", reason=reason)
    console.print(f"[green]✓[/] {chosen.id} serves in {registry}", highlight=False)


app.command("list")(list_cli)
app.command("serve")(serve_cli)
