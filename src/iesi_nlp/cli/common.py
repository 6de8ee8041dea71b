"""What every command shares: the console, codebook loading and error reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from iesi_nlp.codebook import Codebook, load_codebook
from iesi_nlp.errors import IesiError

console = Console()
err_console = Console(stderr=True)

CodebookOption = Annotated[
    Path | None,
    typer.Option(
        "--codebook",
        help="Codebook YAML file of another framework; the bundled IESI v1 codebook by default.",
        exists=False,
        dir_okay=False,
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Print an :class:`IesiError` as one clear line and exit 2, instead of a traceback."""
    try:
        yield
    except IesiError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def codebook_from_option(path: Path | None) -> Codebook:
    return load_codebook(path)


def parse_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """Parse repeated ``KEY=VALUE`` options, naming the option in the error."""
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, column = value.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise typer.BadParameter(f"expected FIELD=COLUMN, got {value!r}", param_hint=option)
        pairs[key.strip()] = column.strip()
    return pairs
