"""``iesi-nlp ingest``: read tables and report folders into validated cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iesi_nlp.cli.common import CodebookOption, codebook_from_option, console, parse_pairs, user_errors
from iesi_nlp.ingest import SUPPORTED_SUFFIXES, IngestOptions, IngestReport, ingest_to_files


def ingest_cli(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help=f"Files or folders to read ({', '.join(sorted(SUPPORTED_SUFFIXES))}); folders are searched recursively.",
            show_default=False,
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Cases are written here as JSONL.")] = Path(
        "cases.jsonl"
    ),
    rejects: Annotated[
        Path | None,
        typer.Option(help="Rejected files, rows and pages with their reasons (JSONL). Default: OUTPUT.rejects.jsonl."),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            "-c",
            help="Map a case field to an input column, e.g. --column text=description --column id=project_id. "
            "Fields: id, title, text, language, country, source, url, year, label_provenance.",
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            help="Map a codebook dimension to the column holding its labels (ids separated by | ; or ,), "
            "e.g. --label service_domain=domains. Default: a column named like the dimension.",
        ),
    ] = None,
    max_chars: Annotated[int, typer.Option(help="Longest usable text, in characters.")] = 1_000_000,
    min_chars: Annotated[int, typer.Option(help="Shortest usable text, in characters.")] = 20,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet to read (default: the first).")] = None,
    source: Annotated[str | None, typer.Option(help="Source name for cases that have none.")] = None,
    keep_duplicates: Annotated[
        bool, typer.Option("--keep-duplicates", help="Keep texts identical to one already ingested.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with status 1 if anything was rejected.")] = False,
    codebook: CodebookOption = None,
) -> None:
    """Read case descriptions from tables (CSV, TSV, JSONL, Parquet, XLSX) and report folders (PDF, DOCX, HTML, TXT).

    Encodings are repaired, HTML boilerplate is stripped, the language of every text is
    detected, and labels are checked against the codebook. Whatever cannot be used goes to
    the rejects file with its file, row or page and the reason: every record read is
    either in OUTPUT or in the rejects file.
    """
    with user_errors():
        cb = codebook_from_option(codebook)
        options = IngestOptions(
            columns=parse_pairs(column, "--column"),
            label_columns=parse_pairs(label, "--label"),
            max_text_chars=max_chars,
            min_text_chars=min_chars,
            dedupe_texts=not keep_duplicates,
            sheet=sheet,
            default_source=source,
        )
        rejects = rejects or output.with_name(output.stem + ".rejects.jsonl")
        report = ingest_to_files(inputs, output, rejects, cb, options, progress=console.is_terminal)
    print_ingest_report(report, output, rejects)
    if strict and (report.records_rejected or report.files_rejected or report.pages_skipped):
        raise typer.Exit(1)


def print_ingest_report(report: IngestReport, output: Path, rejects: Path) -> None:
    table = Table(title="Ingestion", show_header=False)
    table.add_row("files read", f"{report.files_read:,}")
    table.add_row("files rejected", f"{report.files_rejected:,}")
    table.add_row("records read", f"{report.records_read:,}")
    table.add_row("ingested", f"{report.ingested:,}  → {output}")
    table.add_row("records rejected", f"{report.records_rejected:,}  → {rejects}")
    table.add_row("pages skipped", f"{report.pages_skipped:,}")
    table.add_row("languages detected", f"{report.detected_languages:,}")
    table.add_row("languages", ", ".join(f"{lang} {n}" for lang, n in report.languages.most_common()) or "-")
    console.print(table)
    if report.reasons:
        reasons = Table(title="Why things were rejected")
        reasons.add_column("reason")
        reasons.add_column("count", justify="right")
        for reason, count in report.reasons.most_common(10):
            reasons.add_row(reason, str(count))
        console.print(reasons)
    status = "balanced" if report.balanced else "NOT BALANCED"
    console.print(
        f"{report.records_read:,} records read = {report.ingested:,} ingested + "
        f"{report.records_rejected:,} rejected ({status})"
    )
