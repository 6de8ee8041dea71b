"""``iesi-nlp models``: the versions of a model, and which one serves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iesi_nlp.cli.common import ProjectOption, console, user_errors
from iesi_nlp.errors import RegistryError
from iesi_nlp.project import Project
from iesi_nlp.registry import (
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
    if is_model_folder(path) and is_registry(path.parent):
        return path.parent  # a version's folder: its registry is meant
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
    table = Table(title=f"Model versions in {registry}", caption="▶ serving; cases: seed / own / unlabelled")
    for column in ("", "version", "created", "cases", "mean macro-F1"):
        table.add_column(column, justify="right" if column in {"mean macro-F1"} else "left")
    for row in rows:
        known = [v for v in row["macro_f1"].values() if v is not None]
        mean = f"{sum(known) / len(known):.3f}" if known else "–"
        counts = " / ".join(
            str(row[k]) if row[k] is not None else "?" for k in ("seed_cases", "own_cases", "unlabelled_cases")
        )
        table.add_row(
            "▶" if row["serving"] else "", row["version"], row["created"].replace("T", " ")[:16], counts, mean
        )
    console.print(table)
    # Per dimension, the last versions side by side (one row per dimension keeps it narrow).
    shown = rows[-5:]
    per_dimension = Table(
        title="Cross-validated macro-F1 per dimension" + (" (last 5 versions)" if len(rows) > 5 else "")
    )
    per_dimension.add_column("dimension")
    for row in shown:
        per_dimension.add_column(row["version"].split("-")[0] + (" ▶" if row["serving"] else ""), justify="right")
    for dimension in dict.fromkeys(d for row in shown for d in row["macro_f1"]):
        values = [row["macro_f1"].get(dimension) for row in shown]
        per_dimension.add_row(dimension, *(f"{v:.3f}" if v is not None else "–" for v in values))
    console.print(per_dimension)
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
