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
from iesi_nlp.ingest import IngestOptions

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


ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        "-c",
        help="Map a case field to an input column, e.g. --column text=description --column id=project_id. "
        "Fields: id, title, text, language, country, source, url, year, label_provenance.",
    ),
]
LabelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--label",
        "-l",
        help="Map a codebook dimension to the column holding its labels (ids separated by | ; or ,), "
        "e.g. --label service_domain=domains. Default: a column named like the dimension.",
    ),
]
SourceOption = Annotated[str | None, typer.Option("--source", help="Source name for cases that have none.")]
SheetOption = Annotated[str | None, typer.Option("--sheet", help="XLSX sheet to read (default: the first).")]
SeedOption = Annotated[
    Path | None,
    typer.Option(
        "--seed",
        help="Seed corpus to learn from besides your own cases: a corpus folder (with labelled/) or labelled "
        "files. Default: the bundled corpus.",
    ),
]
NoSeedOption = Annotated[bool, typer.Option("--no-seed", help="Learn from your own cases only.")]
ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder (made by `iesi-nlp review --cases` or `iesi-nlp add`)."),
]


def seed_spec(seed: Path | None, no_seed: bool) -> str | None:
    """The seed as a project or :func:`iesi_nlp.workflow.load_seed` takes it (None: the bundled corpus)."""
    if seed is not None and no_seed:
        raise typer.BadParameter("give --seed or --no-seed, not both", param_hint="--seed")
    if no_seed:
        return "none"
    return None if seed is None else str(seed)


def ingest_options(
    codebook: Codebook,
    column: list[str] | None = None,
    label: list[str] | None = None,
    *,
    source: str | None = None,
    sheet: str | None = None,
) -> IngestOptions:
    """Ingestion options from the shared ``--column``, ``--label``, ``--source`` and ``--sheet`` options.

    A ``--label`` for a dimension the codebook does not have is an error (it would
    otherwise be silently ignored).
    """
    labels = parse_pairs(label, "--label")
    unknown = sorted(set(labels) - set(codebook.dimension_ids))
    if unknown:
        raise typer.BadParameter(
            f"{unknown[0]!r} is not a dimension of codebook {codebook.id!r}; dimensions: "
            f"{', '.join(codebook.dimension_ids)}",
            param_hint="--label",
        )
    return IngestOptions(
        columns=parse_pairs(column, "--column"), label_columns=labels, default_source=source, sheet=sheet
    )


def parse_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """Parse repeated ``KEY=VALUE`` options, naming the option in the error."""
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, column = value.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise typer.BadParameter(f"expected FIELD=COLUMN, got {value!r}", param_hint=option)
        pairs[key.strip()] = column.strip()
    return pairs
