"""Readers that turn one input file into raw records, streaming.

Tables (CSV, TSV, JSONL, Parquet, XLSX) give one record per row; documents
(PDF, DOCX, HTML, TXT) give one record per file. A reader raises
:class:`InputError` for a problem with the whole file, and yields a
:class:`RawRecord` (with ``problem`` set) for a row or page it cannot read, so
the pipeline can reject exactly that row or page and go on.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from iesi_nlp.errors import InputError
from iesi_nlp.ingest.encoding import SAMPLE_BYTES, decode_bytes, detect_encoding, repair_text

TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".xlsx"}
DOCUMENT_SUFFIXES = {".pdf", ".docx", ".html", ".htm", ".txt", ".md"}
SUPPORTED_SUFFIXES = TABLE_SUFFIXES | DOCUMENT_SUFFIXES

#: Rows are read in chunks of this size, so memory does not grow with the file.
CHUNK_ROWS = 1000


@dataclass
class RawRecord:
    """A row or document as read, before it becomes a case.

    ``location`` is ``"row 12"``, ``"line 3"``, ``"page 2"`` or ``""`` for a whole
    document. ``problem`` is set when this row or page could not be read at all.
    ``skipped_pages`` lists pages of a document that gave no text, with the reason.
    """

    path: Path
    location: str
    fields: dict[str, Any]
    problem: str | None = None
    skipped_pages: list[tuple[int, str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path} {self.location}".strip()


def read_records(path: Path, *, max_text_chars: int, sheet: str | None = None) -> Iterator[RawRecord]:
    """Yield the raw records of one file, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty")
    if suffix in {".csv", ".tsv"}:
        yield from _read_delimited(path, sep="\t" if suffix == ".tsv" else None)
    elif suffix in {".jsonl", ".ndjson"}:
        yield from _read_jsonl(path)
    elif suffix == ".parquet":
        yield from _read_parquet(path)
    elif suffix == ".xlsx":
        yield from _read_xlsx(path, sheet=sheet)
    else:
        # Text-like documents are read whole; refuse absurd sizes before reading them.
        if suffix in {".txt", ".md", ".html", ".htm"} and size > _max_document_bytes(suffix, max_text_chars):
            raise InputError(
                f"{path}: file of {size:,} bytes is larger than a case description can be "
                f"(limit {_max_document_bytes(suffix, max_text_chars):,} bytes for {suffix}, "
                "set by --max-chars); split it into separate reports"
            )
        yield _read_document(path, suffix)


def _max_document_bytes(suffix: str, max_text_chars: int) -> int:
    # UTF-8 takes up to 4 bytes a character; HTML carries markup around the text.
    return max_text_chars * (4 if suffix in {".txt", ".md"} else 10)


# --- tables -----------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOWrapper:
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample, where=str(path))
    # errors="replace" keeps streaming through a stray bad byte; rows that contain
    # the replacement character are rejected later, never silently kept.
    return io.TextIOWrapper(path.open("rb"), encoding=encoding, errors="replace", newline="")


def _read_delimited(path: Path, *, sep: str | None) -> Iterator[RawRecord]:
    import pandas as pd

    with _open_text(path) as text_stream:
        if sep is None:
            sep = _sniff_separator(text_stream)
        try:
            reader = pd.read_csv(
                text_stream,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                chunksize=CHUNK_ROWS,
                engine="python" if sep not in {",", "\t", ";"} else "c",
            )
            row_number = 0
            for chunk in reader:
                for row in chunk.to_dict(orient="records"):
                    row_number += 1
                    yield RawRecord(path, f"row {row_number}", row)
        except pd.errors.EmptyDataError:
            raise InputError(f"{path}: file has no header and no rows") from None
        except pd.errors.ParserError as exc:
            raise InputError(f"{path}: cannot parse as {'TSV' if sep == chr(9) else 'CSV'}: {exc}") from None


def _sniff_separator(stream: io.TextIOWrapper) -> str:
    import csv

    head = stream.read(64 * 1024)
    stream.seek(0)
    first_line = head.splitlines()[0] if head else ""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    with _open_text(path) as stream:
        for line_number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            location = f"line {line_number}"
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield RawRecord(path, location, {"raw": line.rstrip("\n")}, problem=f"invalid JSON ({exc})")
                continue
            if not isinstance(data, dict):
                yield RawRecord(path, location, {"raw": data}, problem="expected a JSON object per line")
                continue
            yield RawRecord(path, location, data)


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        row_number = 0
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
            for row in batch.to_pylist():
                row_number += 1
                yield RawRecord(path, f"row {row_number}", row)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot read as Parquet: {exc}") from None


def _read_xlsx(path: Path, *, sheet: str | None) -> Iterator[RawRecord]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: cannot read as XLSX: {exc}") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise InputError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        rows = worksheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{path}: sheet {worksheet.title!r} is empty")
        names = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
        for row_number, values in enumerate(rows, 1):
            if all(v is None for v in values):
                continue
            yield RawRecord(path, f"row {row_number}", dict(zip(names, values, strict=False)))
    finally:
        workbook.close()


# --- documents --------------------------------------------------------------


def _read_document(path: Path, suffix: str) -> RawRecord:
    if suffix == ".pdf":
        return _read_pdf(path)
    if suffix == ".docx":
        return _read_docx(path)
    text = decode_bytes(path.read_bytes(), where=str(path))
    if suffix in {".html", ".htm"}:
        return _read_html(path, text)
    return RawRecord(path, "", {"text": text, "title": _title_from_text(text, path)})


def _read_pdf(path: Path) -> RawRecord:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise InputError(f"{path}: PDF is encrypted; save an unprotected copy first")
        pages = list(reader.pages)
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: corrupt or unreadable PDF ({exc})") from None
    texts, skipped = [], []
    for number, page in enumerate(pages, 1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on damaged pages
            skipped.append((number, f"text extraction failed ({type(exc).__name__}: {exc})"))
            continue
        if page_text.strip():
            texts.append(page_text)
        else:
            skipped.append((number, "page has no extractable text (scanned image? run OCR first)"))
    if not texts:
        raise InputError(f"{path}: no page of the PDF has extractable text (scanned? run OCR first)")
    metadata_title = None
    try:
        metadata_title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - damaged metadata must not cost the text
        metadata_title = None
    text = repair_text("\n\n".join(texts))
    return RawRecord(
        path, "", {"text": text, "title": metadata_title or _title_from_text(text, path)}, skipped_pages=skipped
    )


def _read_docx(path: Path) -> RawRecord:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{path}: corrupt or unreadable DOCX ({exc})") from None
    blocks = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                blocks.append(" | ".join(dict.fromkeys(cells)))
    text = repair_text("\n\n".join(blocks))
    title = (document.core_properties.title or "").strip() or _title_from_text(text, path)
    return RawRecord(path, "", {"text": text, "title": title})


def _read_html(path: Path, html: str) -> RawRecord:
    import trafilatura

    # trafilatura drops navigation, cookie banners and footers; a second pass that
    # favours recall rescues short pages the precise pass discards entirely.
    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    if not text:
        text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True)
    if not text or not text.strip():
        raise InputError(f"{path}: no main text found in the HTML page")
    metadata = trafilatura.extract_metadata(html)
    title = (metadata.title if metadata and metadata.title else None) or _title_from_text(text, path)
    fields: dict[str, Any] = {"text": repair_text(text), "title": title}
    if metadata and metadata.url:
        fields["url"] = metadata.url
    if metadata and metadata.date:
        fields["year"] = metadata.date[:4]
    return RawRecord(path, "", fields)


def _title_from_text(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:200]
    return path.stem
