"""Readers that turn one input file into raw records, streaming.

Tables (CSV, TSV, JSONL, Parquet, XLSX) give one record per row; documents
(PDF, DOCX, HTML, TXT) give one record per file. A reader raises
:class:`InputError` for a problem with the whole file, and yields a
:class:`RawRecord` (with ``problem`` set) for a row or page it cannot read, so
the pipeline can reject exactly that row or page and go on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
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
#: Longest CSV value the parser accepts (the largest a C long holds everywhere); the text length
#: limit (``max_text_chars``) rejects long texts with their row long before this.
_FIELD_SIZE_LIMIT = 2**31 - 1


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


def estimate_records(path: Path) -> int:
    """About how many records :func:`read_records` will give for ``path``, read cheaply (for a progress ETA).

    Exact for Parquet (its metadata) and documents (one each); line counts for delimited and
    JSON-lines files (a quoted value spanning lines counts more than once); the sheet's extent
    for XLSX. A file that cannot be read this way counts as 0: reading it for real says why.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in DOCUMENT_SUFFIXES:
            return 1
        if suffix in {".csv", ".tsv", ".jsonl", ".ndjson"}:
            lines = ends_with_newline = 0
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    lines += block.count(b"\n")
                    ends_with_newline = block.endswith(b"\n")
            lines += 0 if ends_with_newline else 1  # a last line without a newline
            return max(0, lines - 1) if suffix in {".csv", ".tsv"} else lines  # the header is no record
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_metadata(path).num_rows
        if suffix == ".xlsx":
            import openpyxl

            workbook = openpyxl.load_workbook(path, read_only=True)
            try:
                return max(0, (workbook.worksheets[0].max_row or 1) - 1)
            finally:
                workbook.close()
    except Exception:  # noqa: BLE001 - an estimate never fails a run; reading the file reports the damage
        return 0
    return 0


def read_records(path: Path, *, max_text_chars: int, sheet: str | None = None) -> Iterator[RawRecord]:
    """Yield the raw records of one file, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:  # no permission, a device, a dangling network drive...
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
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


class _LineCounter:
    """The lines of a text stream, counted, with the lines of the record being parsed kept."""

    def __init__(self, stream: io.TextIOWrapper) -> None:
        self._stream = stream
        self.number = 0
        self.exhausted = False
        self.record: list[str] = []

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        line = self._stream.readline()
        if not line:
            self.exhausted = True
            raise StopIteration
        self.number += 1
        self.record.append(line)
        return line


def _read_delimited(path: Path, *, sep: str | None) -> Iterator[RawRecord]:
    """Rows of a CSV or TSV file; a row that cannot be read is yielded with its problem, and reading goes on.

    The header names columns as pandas does (an empty name becomes ``Unnamed: N``, a repeated
    one ``name.1``). Blank lines are skipped. A row with fewer values than the header is padded;
    one with more (unless the extra values are empty: trailing separators) is a problem, since
    its values cannot be matched to columns. A quote never closed swallows the rest of the file:
    that row is a problem naming the lines it swallowed.
    """
    with _open_text(path) as text_stream:
        if sep is None:
            sep = _sniff_separator(text_stream)
        kind = "TSV" if sep == "\t" else "CSV"
        separator_name = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}.get(sep, repr(sep))
        if csv.field_size_limit() < _FIELD_SIZE_LIMIT:
            # Over-long values are rejected with their row by the text length limit, not by the parser.
            csv.field_size_limit(_FIELD_SIZE_LIMIT)
        blank = "".join(ch for ch in " \t\r\n\f\v" if ch != sep)
        lines = _LineCounter(text_stream)
        reader = csv.reader(lines, delimiter=sep, quotechar='"', doublequote=True, strict=False)
        names: list[str] | None = None
        row_number = 0
        while True:
            lines.record = []
            first_line = lines.number + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # the parser stops at the bad character; the next line starts afresh
                if names is None:
                    raise InputError(f"{path}: cannot read the {kind} header (line {first_line}): {exc}") from None
                row_number += 1
                yield RawRecord(
                    path, f"row {row_number}", {"raw": "".join(lines.record)}, problem=f"cannot parse as {kind}: {exc}"
                )
                continue
            if not "".join(lines.record).strip(blank):
                continue  # a blank line (as pandas has it: white space other than the separator only)
            last_line = lines.number
            unclosed = lines.exhausted and _quote_left_open("".join(lines.record), sep)
            if names is None:
                if unclosed:
                    raise InputError(
                        f"{path}: the header (line {first_line}) opens a quote that is never closed; "
                        "the whole file was read as one column name"
                    )
                names = _column_names(values)
                continue
            row_number += 1
            location = f"row {row_number}"
            span = f"line {first_line}" if last_line == first_line else f"lines {first_line}-{last_line}"
            if unclosed:
                yield RawRecord(
                    path,
                    location,
                    {"raw": "".join(lines.record)},
                    problem=(
                        f"a quote opened in this row ({span}) is never closed, so the rest of the file was read "
                        "as one value; close or remove the stray quote"
                    ),
                )
                continue
            if len(values) > len(names) and any(v.strip() for v in values[len(names) :]):
                yield RawRecord(
                    path,
                    location,
                    {"raw": "".join(lines.record)},
                    problem=(
                        f"{span} {'has' if last_line == first_line else 'have'} {len(values)} values but the header "
                        f"has {len(names)} columns "
                        f"(an unquoted {separator_name} inside a value? quote such values)"
                    ),
                )
                continue
            fields: dict[str, Any] = dict(zip(names, values, strict=False))
            for name in names[len(values) :]:
                fields[name] = None
            yield RawRecord(path, location, fields)
        if names is None:
            raise InputError(f"{path}: file has no header and no rows")


def _column_names(header: list[str]) -> list[str]:
    """Column names as pandas gives them: ``Unnamed: N`` for an empty one, ``name.1`` for a repeated one."""
    return _unique_names([raw or f"Unnamed: {index}" for index, raw in enumerate(header)])


def _unique_names(names: list[str]) -> list[str]:
    """``name``, ``name.1``, ``name.2``...: a repeated column keeps its values instead of overwriting the first."""
    unique: list[str] = []
    seen: set[str] = set()
    for name in names:
        base, count = name, 0
        while name in seen:
            count += 1
            name = f"{base}.{count}"
        seen.add(name)
        unique.append(name)
    return unique


def _quote_left_open(record: str, sep: str) -> bool:
    """True when a record ends inside a quoted value (its closing quote is missing).

    Follows the quoting rules of the lenient ``csv`` reader: a quote opens a quoted value only at
    the start of a value, ``""`` inside it is a literal quote, and anything after the closing
    quote joins the value.
    """
    boundary = re.compile(f"[{re.escape(sep)}\r\n]")
    position, end = 0, len(record)
    while position < end:
        if record[position] == '"':
            position += 1
            while True:
                close = record.find('"', position)
                if close < 0:
                    return True
                if record.startswith('"', close + 1):
                    position = close + 2
                    continue
                position = close + 1
                break
        match = boundary.search(record, position)
        if match is None:
            return False
        position = match.end()
    return False


def _sniff_separator(stream: io.TextIOWrapper) -> str:
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
                # orjson counts lines and columns within the line it was given (its newline included).
                column = min(exc.pos, len(line.rstrip("\r\n"))) + 1
                problem = f"invalid JSON at column {column}: {exc.msg}"
                if not line.endswith("\n") and exc.pos >= len(line.rstrip()) - 1:
                    problem += " (the file ends in the middle of this object: cut off?)"
                yield RawRecord(path, location, {"raw": line.rstrip("\r\n")}, problem=problem)
                continue
            if not isinstance(data, dict):
                yield RawRecord(
                    path,
                    location,
                    {"raw": data},
                    problem=f"expected a JSON object per line ({{...}}), got {json_kind(data)}",
                )
                continue
            yield RawRecord(path, location, data)


def json_kind(value: Any) -> str:
    """What a value is, in the words of JSON (and of its user): 'an array', 'a string', 'an object'..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, bytes):
        return "bytes"
    return type(value).__name__


def _damage(exc: BaseException) -> str:
    """What a parser's exception says about a damaged file, never a bare exception type.

    Third-party readers (zipfile, zlib, lxml, pypdf, pyarrow...) raise many exception types on
    damaged input, some without a message.
    """
    import zlib

    message = (str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)).strip().rstrip(".")
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError) or (
        isinstance(exc, NotImplementedError) and ("zip" in message.lower() or "compression" in message.lower())
    ):
        return f"damaged ZIP container: {message or 'the data ends too early'}"
    if isinstance(exc, KeyError):
        return f"a part is missing: {message}"
    if type(exc).__name__ in {"XMLSyntaxError", "ParseError"}:  # lxml, xml.etree
        return f"damaged XML inside: {re.sub(r' [(]<string>, line [0-9]+[)]$', '', message)}"
    if isinstance(exc, RecursionError):
        return "structure nested too deeply (a damaged or malicious file)"
    return message or f"{type(exc).__name__} while parsing"


def _not_a_zip(path: Path, what: str, suffix: str) -> str:
    """Why a file that should be a ZIP archive (DOCX, XLSX) is not one: cut off, or something else."""
    with path.open("rb") as handle:
        starts_like_zip = handle.read(4) == b"PK\x03\x04"
    if starts_like_zip:
        return "damaged ZIP container: the end of the archive is missing (the file seems cut off)"
    return f"not {what} (a {suffix} file is a ZIP archive)"


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row_number = 0
    try:
        parquet = pq.ParquetFile(path)
        names = _unique_names(list(parquet.schema_arrow.names))
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
            for row in pa.RecordBatch.from_arrays(batch.columns, names=names).to_pylist():
                row_number += 1
                yield RawRecord(path, f"row {row_number}", row)
    except (pa.ArrowException, OSError, ValueError) as exc:
        after = f" after row {row_number:,}; the rows after it could not be read" if row_number else ""
        raise InputError(f"{path}: cannot read as Parquet{after}: {_damage(exc)}") from None


def _read_xlsx(path: Path, *, sheet: str | None) -> Iterator[RawRecord]:
    import openpyxl

    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: cannot read as XLSX: {_not_a_zip(path, 'an Excel workbook', '.xlsx')}")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib, lxml and openpyxl raise many types on damaged files
        raise InputError(f"{path}: cannot read as XLSX: {_damage(exc)}") from None
    row_number = 0
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise InputError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
        if not workbook.worksheets:
            raise InputError(f"{path}: the workbook has no sheet")
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        rows = worksheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{path}: sheet {worksheet.title!r} is empty")
        names = _unique_names([str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(header)])
        for row_number, values in enumerate(rows, 1):
            if all(v is None for v in values):
                continue
            yield RawRecord(path, f"row {row_number}", dict(zip(names, values, strict=False)))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sheet is read lazily: damage shows up while iterating
        after = f" after row {row_number:,}; the rows after it could not be read" if row_number else ""
        raise InputError(f"{path}: cannot read as XLSX{after}: {_damage(exc)}") from None
    finally:
        with contextlib.suppress(Exception):  # closing a damaged archive must not hide the reason above
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

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise InputError(f"{path}: PDF is encrypted; save an unprotected copy first")
        pages = list(reader.pages)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types (and RecursionError) on damaged files
        hint = "; the file seems cut off (it does not end with %%EOF)" if _pdf_cut_off(path) else ""
        raise InputError(f"{path}: corrupt or unreadable PDF: {_damage(exc)}{hint}") from None
    if not pages:
        raise InputError(f"{path}: the PDF has no pages (its page tree is missing or damaged)")
    texts, skipped = [], []
    for number, page in enumerate(pages, 1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on damaged pages
            skipped.append((number, f"text extraction failed: {_damage(exc)}"))
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


def _pdf_cut_off(path: Path) -> bool:
    """True when a PDF lacks the ``%%EOF`` marker that ends every complete PDF."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 1024))
            return b"%%EOF" not in handle.read()
    except OSError:
        return False


def _read_docx(path: Path) -> RawRecord:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: corrupt or unreadable DOCX: {_not_a_zip(path, 'a Word document', '.docx')}")
    try:
        document = docx.Document(str(path))
        blocks = [p.text for p in document.paragraphs if p.text.strip()]
        for table in document.tables:
            for row in table.rows:
                cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                if cells:
                    blocks.append(" | ".join(dict.fromkeys(cells)))
    except PackageNotFoundError:
        raise InputError(f"{path}: corrupt or unreadable DOCX: not a Word document (no word/document.xml)") from None
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib, lxml and python-docx raise many types on damaged files
        raise InputError(f"{path}: corrupt or unreadable DOCX: {_damage(exc)}") from None
    text = repair_text("\n\n".join(blocks))
    try:
        title = (document.core_properties.title or "").strip()
    except Exception:  # noqa: BLE001 - damaged metadata must not cost the text
        title = ""
    return RawRecord(path, "", {"text": text, "title": title or _title_from_text(text, path)})


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
