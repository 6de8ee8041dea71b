"""``iesi-nlp codebook``: show or validate a codebook file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iesi_nlp.cli.common import CodebookOption, codebook_from_option, console, user_errors
from iesi_nlp.codebook import load_codebook

app = typer.Typer(help="Show or validate a codebook.", no_args_is_help=True)


@app.command("show")
def show_cli(
    dimension: Annotated[str | None, typer.Argument(help="Show only this dimension, with full definitions.")] = None,
    codebook: CodebookOption = None,
) -> None:
    """List the dimensions and labels of the codebook in use."""
    with user_errors():
        cb = codebook_from_option(codebook)
        dimensions = [cb.dimension(dimension)] if dimension else list(cb.dimensions)
    console.print(f"[bold]{cb.name}[/] — codebook {cb.id!r} version {cb.version}")
    for dim in dimensions:
        kind = dim.kind.value + (", ordinal" if dim.ordinal else "")
        table = Table(
            title=f"{dim.id} ({kind}): {dim.question}", title_justify="left", show_lines=dimension is not None
        )
        table.add_column("label id")
        table.add_column("name")
        table.add_column("definition")
        for lab in dim.labels:
            table.add_row(lab.id, lab.name, lab.definition if dimension else lab.definition[:90])
        console.print(table)


@app.command("validate")
def validate_cli(path: Annotated[Path, typer.Argument(help="Codebook YAML file to check.")]) -> None:
    """Check a codebook file: kinds, unique ids, non-empty definitions."""
    with user_errors():
        cb = load_codebook(path)
    labels = sum(len(d.labels) for d in cb.dimensions)
    console.print(
        f"[green]✓[/] {path}: codebook {cb.id!r} {cb.version}, {len(cb.dimensions)} dimensions, {labels} labels"
    )
