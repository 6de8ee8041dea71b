"""Fuzzing ingestion (issue 12): whatever the bytes, ingestion yields cases and explained rejects, and never raises.

The properties, checked by :func:`ingest_checked` on every input:

- ``iter_ingest`` raises nothing: a file it cannot use becomes a ``Reject`` of kind ``file``;
- every reject names its file, and its row, line or page where it has one, and says what is
  wrong in words (not an empty reason, not a bare exception type);
- the report adds up: every record read is a case or a reject, and every reject is counted;
- no case carries undecodable bytes or breaks the text length limits;
- the good records of a damaged file still come through as cases, with their exact text.

The hypothesis runs are derandomised and keep no example database, so every run (and CI) tries
the same inputs. Each bug fuzzing found has a plain regression test at the end, with its input.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iesi_nlp.codebook import load_codebook
from iesi_nlp.ingest import SUPPORTED_SUFFIXES, IngestOptions, Reject, iter_ingest
from iesi_nlp.records import Case
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT

#: Deterministic and database-free: the same examples on every machine and every run.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: The bundled codebook, for the hypothesis tests (a fixture argument would be printed with every example).
codebook_ = functools.cache(load_codebook)
#: Language detection costs time and is not what is fuzzed here (one test keeps it on).
FAST = {"detect_language": False}
#: Texts without commas, so that test rows can be written unquoted.
BASES = tuple(text.replace(",", "") for text in (EN_TEXT, DE_TEXT, PL_TEXT))
#: A reason that is only an exception's name ("KeyError", "zlib.error") says nothing to a user.
EXCEPTION_NAME_ONLY = re.compile(r"[\w.]*(Error|Exception|error)\W*")


# -- the properties --------------------------------------------------------------------------


def ingest_checked(paths: list[Path], codebook, **options) -> tuple[list[Case], list[Reject]]:
    """Ingest ``paths``, asserting the properties every input must keep; return cases and rejects."""
    ingestor, items = iter_ingest(paths, codebook, IngestOptions(**options))
    items = list(items)  # nothing may escape: a crash here fails the property
    cases = [item for item in items if isinstance(item, Case)]
    rejects = [item for item in items if isinstance(item, Reject)]
    assert len(cases) + len(rejects) == len(items), [type(item) for item in items]
    report = ingestor.report
    assert report.balanced, report.as_dict()
    assert len(cases) == report.ingested
    assert len(rejects) == report.records_rejected + report.files_rejected + report.pages_skipped
    for reject in rejects:
        assert_clear(reject)
    limits = IngestOptions(**options)
    for case in cases:
        assert "\ufffd" not in case.text
        assert limits.min_text_chars <= len(case.text.strip()) and len(case.text) <= limits.max_text_chars
    return cases, rejects


def assert_clear(reject: Reject) -> None:
    """The reason names the file (and the row, line or page) and says what is wrong, in words."""
    reason = reject.reason
    assert reject.kind in {"file", "row", "page"}, reject
    assert reason.startswith(reject.file), reason
    prefix = f"{reject.file} {reject.location}: " if reject.location else f"{reject.file}: "
    assert reason.startswith(prefix), (prefix, reason)
    if reject.kind == "row":
        assert re.fullmatch(r"(row|line) \d+", reject.location), reject
    if reject.kind == "page":
        assert re.fullmatch(r"page \d+", reject.location), reject
    detail = reason[len(prefix) :]
    assert detail.strip(), reason
    assert not EXCEPTION_NAME_ONLY.fullmatch(detail.strip()), reason
    for leak in ("Traceback", "<class ", " object at 0x"):
        assert leak not in reason, reason


@contextmanager
def files(**contents: bytes) -> Iterator[dict[str, Path]]:
    """Write each ``name=bytes`` (``name`` with ``_`` for the dot) to a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for key, data in contents.items():
            path = Path(folder) / key.replace("_", ".", 1)
            path.write_bytes(data)
            paths[key] = path
        yield paths


def texts(count: int) -> list[str]:
    """Distinct texts long enough to be cases, in three languages."""
    return [f"{BASES[i % 3]} Case number {i}." for i in range(count)]


# -- valid documents to damage ----------------------------------------------------------------


@functools.cache
def valid_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Video calls")
    for number in (1, 2):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, f"{EN_TEXT} Page {number}.")
    return bytes(pdf.output())


@functools.cache
def valid_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Care platform"
    document.add_paragraph(DE_TEXT)
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Land", "Deutschland"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _frame(prefix: str) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"{prefix}{i}" for i in range(3)], "text": [f"{t} ({prefix})" for t in texts(3)]})


@functools.cache
def valid_xlsx() -> bytes:
    buffer = io.BytesIO()
    _frame("x").to_excel(buffer, index=False)
    return buffer.getvalue()


@functools.cache
def valid_parquet() -> bytes:
    buffer = io.BytesIO()
    _frame("p").to_parquet(buffer)
    return buffer.getvalue()


VALID = {".pdf": valid_pdf, ".docx": valid_docx, ".xlsx": valid_xlsx, ".parquet": valid_parquet}


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes overwritten, or with a run of bytes replaced."""
    how = draw(st.sampled_from(["truncate", "overwrite", "splice"]))
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    if how == "overwrite":
        for _ in range(draw(st.integers(1, 12))):
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
        return bytes(out)
    start = draw(st.integers(0, len(out) - 1))
    out[start : start + draw(st.integers(1, 300))] = draw(st.binary(max_size=300))
    return bytes(out)


# -- random bytes, any suffix --------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)), data=st.binary(max_size=3000))
def test_random_bytes_never_crash(suffix, data):
    with files(**{f"input_{suffix[1:]}": data}) as paths:
        ingest_checked(list(paths.values()), codebook_())


@settings(FUZZ, max_examples=150)
@given(
    suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)),
    magic=st.sampled_from([b"%PDF-1.7\n", b"PK\x03\x04", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b"<html>", b"{"]),
    data=st.binary(max_size=2000),
)
def test_random_bytes_behind_a_plausible_signature(suffix, magic, data):
    """Random bytes that start like a PDF, a ZIP (DOCX, XLSX), Parquet, a BOM, HTML or JSON."""
    with files(**{f"input_{suffix[1:]}": magic + data}) as paths:
        ingest_checked(list(paths.values()), codebook_(), **FAST)


# -- damaged binary documents ------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(data=st.data(), suffix=st.sampled_from(sorted(VALID)))
def test_damaged_pdf_docx_xlsx_parquet(data, suffix):
    """A real PDF (fpdf2), DOCX, XLSX or Parquet file, truncated or with bytes overwritten."""
    broken = data.draw(damaged(VALID[suffix]()))
    with files(**{f"input_{suffix[1:]}": broken}) as paths:
        ingest_checked(list(paths.values()), codebook_(), **FAST)


def test_undamaged_documents_are_read(codebook):
    """The fuzzed documents are valid before damage: the damage, not the seed, makes the rejects."""
    with files(a_pdf=valid_pdf(), b_docx=valid_docx(), c_xlsx=valid_xlsx(), d_parquet=valid_parquet()) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook, dedupe_texts=False)
    assert rejects == []
    assert len(cases) == 1 + 1 + 3 + 3


# -- XLSX cells of every type ----------------------------------------------------------------------

CELL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=datetime(1901, 1, 1)),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40),
    st.sampled_from(["=1+1", "#N/A", "", " ", BASES[0]]),
)


@settings(FUZZ, max_examples=60)
@given(
    header=st.lists(st.sampled_from(["id", "text", "title", "year", "country", None, "text", 5]), max_size=5),
    rows=st.lists(st.lists(CELL_VALUES, max_size=6), max_size=6),
    good=st.integers(0, 3),
)
def test_xlsx_cells_of_every_type(header, rows, good):
    """Numbers, dates, booleans, formulas and empty cells in any column; the rows with a real text are cases."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "text", *header])
    for number, row in enumerate(rows):
        sheet.append([f"x{number}", *row])
    texts_written = texts(good)
    for number, text in enumerate(texts_written):
        sheet.append([f"g{number}", text])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with files(cells_xlsx=buffer.getvalue()) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook_(), **FAST)
    assert [case.text for case in cases if case.id.startswith("g")] == texts_written
    assert all(r.location.startswith("row ") for r in rejects if r.kind == "row")


# -- CSV and TSV: structure ----------------------------------------------------------------------

VALUE_CHARS = "abcdefghijklmnopqrstuvwxyz äöüßąęłńóśźżéèà,;|'\"\n\t.-0123456789"


@st.composite
def damaged_table(draw):
    """A CSV/TSV file of good rows (quoted as needed) and bad rows, with the expected outcome per row.

    Returns ``(suffix, bytes, expected)`` where ``expected[k]`` (row ``k + 1``) is
    ``("case", id, text)`` or ``("reject", words in the reason)``.
    """
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    suffix = ".tsv" if sep == "\t" and draw(st.booleans()) else ".csv"
    extras = draw(st.sampled_from([[], ["title"], ["text"], [""], ["title", "text"]]))
    header = ["id", "text", *extras]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    kinds = draw(
        st.lists(st.sampled_from(["good", "good", "good", "ragged", "empty", "short", "dup"]), min_size=1, max_size=8)
    )
    if draw(st.booleans()):
        kinds.append("unclosed")  # a quote never closed swallows the rest of the file: only ever last
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator=newline)
    writer.writerow(header)
    expected, good_ids = [], []
    for index, kind in enumerate(kinds):
        row_id = f"r{index}"
        if kind == "dup" and not good_ids:
            kind = "good"
        if kind == "good":
            text = f"{BASES[index % 3]} {draw(st.text(VALUE_CHARS, max_size=30)).strip()} #{index}"
            extra_values = [draw(st.text(VALUE_CHARS, max_size=10)) for _ in extras]
            writer.writerow([row_id, text, *extra_values][: len(header) - draw(st.integers(0, len(extras)))])
            expected.append(("case", row_id, text))
            good_ids.append(row_id)
        elif kind == "ragged":  # an unquoted separator inside the text: more values than columns
            words = EN_TEXT.split()
            parts = [" ".join(words[:5]), *words[5 : 5 + len(extras) + draw(st.integers(1, 3))]]
            out.write(sep.join([row_id, *parts]) + newline)
            expected.append(("reject", "values but the header has"))
        elif kind == "empty":
            out.write(f"{row_id}{sep}{newline}")
            expected.append(("reject", "text is empty"))
        elif kind == "short":
            out.write(f"{row_id}{sep}tiny{newline}")
            expected.append(("reject", "fewer than the minimum"))
        elif kind == "dup":
            duplicate = draw(st.sampled_from(good_ids))
            writer.writerow([duplicate, f"{EN_TEXT} Another text under id {duplicate} ({index})."])
            expected.append(("reject", f"duplicate id '{duplicate}'"))
        else:  # unclosed
            out.write(f'{row_id}{sep}"{PL_TEXT} The closing quote is missing.')
            out.write(draw(st.sampled_from(["", newline, f"{newline}r99{sep}{EN_TEXT}{newline}"])))
            expected.append(("reject", "is never closed"))
    return suffix, out.getvalue().encode("utf-8"), expected


@settings(FUZZ, max_examples=300)
@given(table=damaged_table(), limit=st.sampled_from([1_000_000, 230, 150]))
def test_bad_csv_rows_cost_only_themselves(table, limit):
    """Ragged, empty, short, duplicate, over-long and unclosed rows are rejected at their row; every good row is a case."""
    suffix, data, expected = table
    with files(**{f"cases_{suffix[1:]}": data}) as paths:
        path = next(iter(paths.values()))
        cases, rejects = ingest_checked([path], codebook_(), max_text_chars=limit, **FAST)
    by_location = {reject.location: reject for reject in rejects}
    cases_by_origin = {case.origin: case for case in cases}
    assert len(cases) + len(rejects) == len(expected), (cases, rejects)
    for row, outcome in enumerate(expected, 1):
        where = f"row {row}"
        if outcome[0] == "case" and len(outcome[2]) > limit:
            outcome = ("reject", f"more than the limit of {limit:,} (--max-chars)")
        if outcome[0] == "case":
            case = cases_by_origin[f"{path} {where}"]
            assert (case.id, case.text) == outcome[1:]
        elif "duplicate id" in outcome[1] and limit < 1_000_000:  # its text may be too long first
            assert re.search(r"duplicate id|more than the limit", by_location[where].reason)
        else:
            assert outcome[1] in by_location[where].reason, by_location[where].reason


@settings(FUZZ, max_examples=200)
@given(
    header=st.lists(st.sampled_from(["id", "text", "text", "", "title", '"', "a,b"]), min_size=0, max_size=5),
    body=st.text(alphabet=st.sampled_from(list('ab ,;"\n\r\t|x')), max_size=200),
    sep=st.sampled_from([",", ";", "\t", "|"]),
)
def test_csv_garbage_never_crashes(header, body, sep):
    """Header-only files, duplicate and empty column names, stray quotes, ragged garbage."""
    data = (sep.join(header) + "\n" + body).encode("utf-8")
    with files(input_csv=data) as paths:
        ingest_checked(list(paths.values()), codebook_(), **FAST)


# -- broken encodings ----------------------------------------------------------------------------

#: Bytes that are not UTF-8, as they get into UTF-8 files: a Latin-1 or Windows-1252 value pasted
#: in, a multi-byte character cut short, a lone continuation byte, an overlong form, a surrogate.
STRAY_BYTES = [b"caf\xe9", b"\x93quoted\x94", b"Stra\xdfe", b"\xc5 cut", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80"]


@settings(FUZZ, max_examples=150)
@given(
    count=st.integers(3, 6),  # with a Polish row: plainly UTF-8, whatever the stray bytes
    damaged_row=st.integers(0, 5),
    stray=st.lists(st.sampled_from(STRAY_BYTES), min_size=1, max_size=3),
    cut_last=st.booleans(),
)
def test_stray_bytes_in_a_utf8_file_cost_only_their_row(count, damaged_row, stray, cut_last):
    """Latin-1/cp1252 bytes in a UTF-8 CSV, and a file cut inside its last character: only those rows go."""
    damaged_row %= count
    rows = [f"r{i},{text}\n".encode() for i, text in enumerate(texts(count))]
    rows[damaged_row] = rows[damaged_row].replace(b" Case", b" " + b" ".join(stray) + b" Case", 1)
    if cut_last:
        rows[-1] = rows[-1].rstrip(b"\n") + "ż".encode()[:1]  # the file ends inside a character
    with files(mixed_csv=b"id,text\n" + b"".join(rows)) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook_(), **FAST)
    bad = {damaged_row} | ({count - 1} if cut_last else set())
    assert [case.id for case in cases] == [f"r{i}" for i in range(count) if i not in bad]
    assert [case.text for case in cases] == [text for i, text in enumerate(texts(count)) if i not in bad]
    assert [reject.location for reject in rejects] == [f"row {i + 1}" for i in sorted(bad)]
    assert all("undecodable bytes" in reject.reason for reject in rejects)


@settings(FUZZ, max_examples=60)
@given(
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]),
    suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".txt"]),
    count=st.integers(1, 4),
)
def test_unicode_encodings_with_or_without_bom_read_alike(encoding, suffix, count):
    """UTF-16 without a byte order mark (utf-16-le/-be) reads like UTF-8, for tables and documents."""
    rows = texts(count)
    if suffix == ".jsonl":
        content = "".join(orjson.dumps({"id": f"r{i}", "text": t}).decode() + "\n" for i, t in enumerate(rows))
    elif suffix == ".txt":
        content, rows = rows[0], rows[:1]
    else:
        sep = "\t" if suffix == ".tsv" else ","
        content = f"id{sep}text\n" + "".join(f"r{i}{sep}{t}\n" for i, t in enumerate(rows))
    with files(**{f"input_{suffix[1:]}": content.encode(encoding)}) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook_(), **FAST)
    assert rejects == []
    assert [case.text for case in cases] == rows


def test_nul_bytes(codebook):
    """A stray NUL in a text file is dropped with the other control characters; many NULs mean binary."""
    rows = texts(3)
    stray = f"id,text\nr0,{rows[0]}\nr1,{rows[1]}\x00\nr2,{rows[2]}\n".encode()
    binary = b"id,text\n" + b"\x00\x01\x02\x03" * 200
    with files(stray_csv=stray, binary_csv=binary) as paths:
        cases, rejects = ingest_checked([paths["stray_csv"], paths["binary_csv"]], codebook, **FAST)
    assert [case.text for case in cases] == rows
    assert [(r.kind, r.reason) for r in rejects] == [
        ("file", f"{paths['binary_csv']}: looks like a binary file (NUL bytes), not text")
    ]


# -- JSONL -----------------------------------------------------------------------------------------


@st.composite
def damaged_jsonl(draw):
    """Lines of good objects and bad ones, with the expected outcome per line (as in :func:`damaged_table`)."""
    kinds = draw(
        st.lists(
            st.sampled_from(
                ["good", "good", "nested", "not_object", "truncated", "deep", "text_type", "id_type", "blank"]
            ),
            min_size=1,
            max_size=8,
        )
    )
    lines, expected = [], []
    for index, kind in enumerate(kinds):
        text = f"{BASES[index % 3]} Line {index}."
        record = {"id": f"j{index}", "text": text}
        if kind == "good":
            lines.append(orjson.dumps(record))
            expected.append(("case", f"j{index}", text))
        elif kind == "nested":  # deep, but within what JSON parsers accept: a case
            depth = draw(st.integers(1, 200))
            lines.append(orjson.dumps(record)[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}")
            expected.append(("case", f"j{index}", text))
        elif kind == "deep":  # nested beyond any parser's limit
            depth = draw(st.integers(2000, 20000))
            lines.append(b'{"text": "' + text.encode() + b'", "extra": ' + b"[" * depth + b"]" * depth + b"}")
            expected.append(("reject", "invalid JSON"))
        elif kind == "not_object":
            value = draw(st.sampled_from([b"[1, 2]", b'"a string"', b"42", b"null", b"true", b"[]"]))
            lines.append(value)
            expected.append(("reject", "expected a JSON object per line"))
        elif kind == "truncated":
            encoded = orjson.dumps(record)
            lines.append(encoded[: draw(st.integers(1, len(encoded) - 1))])
            expected.append(("reject", "invalid JSON at column"))
        elif kind == "text_type":
            record["text"] = draw(st.sampled_from([5, 2.5, True, ["a", "list"], {"an": "object"}, [[[text]]]]))
            lines.append(orjson.dumps(record))
            expected.append(("reject", "text (column 'text') must be a string"))
        elif kind == "id_type":
            record["id"] = draw(st.sampled_from([["x"], {"a": 1}, True, False]))
            lines.append(orjson.dumps(record))
            expected.append(("reject", "id must be a string or a number"))
        else:
            lines.append(draw(st.sampled_from([b"", b"   ", b"\t"])))
            expected.append(None)
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    return data, expected


@settings(FUZZ, max_examples=250)
@given(jsonl=damaged_jsonl())
def test_bad_jsonl_lines_cost_only_themselves(jsonl):
    """Non-objects, truncated and over-deep JSON, non-string texts and ids: rejected at their line."""
    data, expected = jsonl
    with files(cases_jsonl=data) as paths:
        path = paths["cases_jsonl"]
        cases, rejects = ingest_checked([path], codebook_(), **FAST)
    outcomes = {f"line {n}": outcome for n, outcome in enumerate(expected, 1) if outcome is not None}
    if not outcomes:  # blank lines only: the file is empty or has no rows
        assert [r.kind for r in rejects] == ["file"] and cases == []
        return
    assert len(cases) + len(rejects) == len(outcomes)
    by_location = {reject.location: reject for reject in rejects}
    cases_by_origin = {case.origin: case for case in cases}
    for location, outcome in outcomes.items():
        if outcome[0] == "case":
            case = cases_by_origin[f"{path} {location}"]
            assert (case.id, case.text) == outcome[1:]
        else:
            assert outcome[1] in by_location[location].reason, by_location[location].reason


# -- HTML, TXT ----------------------------------------------------------------------------------

HTML_PIECES = [
    "<html>", "<head>", "<title>Case</title>", "<body>", "<p>", "</p>", "<div>", "<article>", "<script>",
    "var x = '<p>not text</p>';", "</script>", "<style>p {}</style>", "<!--", "-->", "<![CDATA[", "<a href='",
    "&amp;", "&#0;", "&#x110000;", "&bogus;", "<br/>", "<<>>", "</", "\x01", "\x1b[31m", "\ufeff",
    EN_TEXT, DE_TEXT, "<meta charset='bogus'>", "<?xml version='1.0' encoding='x'?>",
]  # fmt: skip


@settings(FUZZ, max_examples=150)
@given(
    pieces=st.lists(st.sampled_from(HTML_PIECES), max_size=14),
    junk=st.binary(max_size=64),
    suffix=st.sampled_from([".html", ".htm", ".txt", ".md"]),
)
def test_malformed_html_and_text_never_crash(pieces, junk, suffix):
    """Unclosed tags, script-only pages, broken entities and comments, binary junk inside markup."""
    data = "".join(pieces).encode("utf-8")
    data = data[: len(data) // 2] + junk + data[len(data) // 2 :]
    with files(**{f"page_{suffix[1:]}": data}) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook_(), **FAST)
    assert len(cases) + len([r for r in rejects if r.kind == "file"]) == 1


@pytest.mark.parametrize(
    "html",
    [
        f"<html><body><div><p>{EN_TEXT}",  # nothing closed
        f"<html><body><article><h1>Video calls<p>{EN_TEXT}<p>{DE_TEXT}</article></div></span></body>",
    ],
)
def test_unclosed_tags_keep_the_text(codebook, html):
    with files(page_html=html.encode()) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook, **FAST)
    assert rejects == [] and EN_TEXT in cases[0].text


def test_script_only_page_is_rejected(codebook):
    html = f"<html><head><script>document.write('{EN_TEXT}');</script></head><body></body></html>"
    with files(page_html=html.encode()) as paths:
        _, rejects = ingest_checked(list(paths.values()), codebook, **FAST)
    assert rejects[0].reason == f"{paths['page_html']}: no main text found in the HTML page"


# -- huge lines -------------------------------------------------------------------------------------

FIVE_MB = 5 * 1024 * 1024


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".txt"])
def test_five_megabyte_single_line(codebook, suffix):
    """A 5 MB line over ``max_text_chars`` is rejected with its row or line; the rows around it stay."""
    huge = "word " * (FIVE_MB // 5)
    small = texts(2)
    if suffix == ".csv":
        data = f"id,text\na,{small[0]}\nhuge,{huge}\nb,{small[1]}\n"
    elif suffix == ".jsonl":
        lines = [{"id": "a", "text": small[0]}, {"id": "huge", "text": huge}, {"id": "b", "text": small[1]}]
        data = "".join(orjson.dumps(line).decode() + "\n" for line in lines)
    else:
        data, small = huge, []
    with files(**{f"big_{suffix[1:]}": data.encode()}) as paths:
        path = next(iter(paths.values()))
        cases, rejects = ingest_checked([path], codebook, max_text_chars=100_000, **FAST)
    assert [case.text for case in cases] == small
    assert len(rejects) == 1
    if suffix == ".txt":  # refused from its size, before reading
        assert "is larger than a case description can be (limit 400,000 bytes for .txt" in rejects[0].reason
    else:
        location = "row 2" if suffix == ".csv" else "line 2"
        assert rejects[0].reason.startswith(f"{path} {location}: text has 5,242,879 characters, more than the limit")
        assert len(rejects[0].record["text"]) < 20_000


# -- everything at once ----------------------------------------------------------------------------


@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_a_folder_of_good_and_damaged_files(data):
    """Damaged files in a folder cost only themselves: the good files' cases all come through, in order."""
    good = texts(4)
    damaged_pdf = data.draw(damaged(valid_pdf()))
    damaged_docx = data.draw(damaged(valid_docx()))
    junk = data.draw(st.binary(max_size=500))
    with files(
        a_csv=f"id,text\ng0,{good[0]}\n".encode(),
        b_pdf=damaged_pdf,
        c_docx=damaged_docx,
        d_xlsx=junk,
        e_jsonl=orjson.dumps({"id": "g1", "text": good[1]}) + b"\n{broken\n",
        f_html=junk + b"<p>",
        g_tsv=f"id\ttext\ng2\t{good[2]}\n".encode(),
        h_txt=good[3].encode("utf-16-le"),
    ) as paths:
        folder = paths["a_csv"].parent
        cases, _ = ingest_checked([folder], codebook_(), **FAST)
    texts_read = [case.text for case in cases]
    assert [text for text in texts_read if text in good] == good


def test_language_detection_on_fuzzed_text(codebook):
    """The default options (language detection on) over the odd texts fuzzing produces."""
    odd = ["!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "12345678901234567890123", "ąęłńóśźż " * 5, "\u200b" * 30 + EN_TEXT]
    content = "id,text\n" + "".join(f'o{i},"{text}"\n' for i, text in enumerate(odd))
    with files(odd_csv=content.encode()) as paths:
        cases, rejects = ingest_checked(list(paths.values()), codebook)
    assert len(cases) + len(rejects) == len(odd)
    assert {r.location for r in rejects} >= {"row 1", "row 2"}  # no words: no language
    assert all("no language could be detected" in r.reason for r in rejects if r.location in {"row 1", "row 2"})


# == regressions: each bug fuzzing found, with its concrete input ====================================


def run(path: Path, codebook, **options) -> tuple[list[Case], list[Reject]]:
    return ingest_checked([path], codebook, **{**FAST, **options})


def test_regression_ragged_row_no_longer_rejects_the_whole_file(tmp_path, codebook):
    """Was: pandas' 'Error tokenizing data. C error: Expected 2 fields in line 3, saw 3' for the whole
    file (the good rows of the chunk and all later rows lost)."""
    rows = texts(2)
    path = tmp_path / "ragged.csv"
    path.write_text(f"id,text\na,{rows[0]}\nb,Hello, world, and more\nc,{rows[1]}\n", encoding="utf-8")
    cases, rejects = run(path, codebook)
    assert [case.id for case in cases] == ["a", "c"]
    assert rejects[0].reason == (
        f"{path} row 2: line 3 has 4 values but the header has 2 columns "
        "(an unquoted comma inside a value? quote such values)"
    )
    assert rejects[0].record == {"raw": "b,Hello, world, and more\n"}


def test_regression_trailing_separators_no_longer_shift_columns(tmp_path, codebook):
    """Was: rows ending with a separator made pandas take the first column as the index, shifting
    every value one column left: here each text became the id and the text was empty."""
    rows = texts(2)
    path = tmp_path / "trailing.csv"
    path.write_text(f"id,text\na,{rows[0]},\nb,{rows[1]},\n", encoding="utf-8")
    cases, rejects = run(path, codebook)
    assert rejects == []
    assert [(case.id, case.text) for case in cases] == [("a", rows[0]), ("b", rows[1])]


def test_regression_unclosed_quote_at_the_end(tmp_path, codebook):
    """Was, for a '|'-separated file: the csv module's own 'unexpected end of data' (_csv.Error) escaped
    iter_ingest and stopped the run; for ',': 'EOF inside string starting at row 3' for the whole file."""
    rows = texts(3)
    for sep in "|,":
        path = tmp_path / f"unclosed{ord(sep)}.csv"
        path.write_text(f'id{sep}text\na{sep}{rows[0]}\nb{sep}{rows[1]}\nc{sep}"{rows[2]}', encoding="utf-8")
        cases, rejects = run(path, codebook)
        assert [case.id for case in cases] == ["a", "b"]
        assert rejects[0].reason == (
            f"{path} row 3: a quote opened in this row (line 4) is never closed, so the rest of the file "
            "was read as one value; close or remove the stray quote"
        )


def test_regression_quote_in_header_never_closed(tmp_path, codebook):
    path = tmp_path / "header.csv"
    path.write_text(f'"id,text\na,{EN_TEXT}\n', encoding="utf-8")
    _, rejects = run(path, codebook)
    assert rejects[0].reason == (
        f"{path}: the header (line 1) opens a quote that is never closed; the whole file was read as one column name"
    )


def _zip_member_offset(data: bytes, name: str) -> tuple[zipfile.ZipInfo, int]:
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    return info, info.header_offset + 30 + name_length + extra_length


def break_deflate(data: bytes, name: str) -> bytes:
    """The member's compressed data starts with a reserved deflate block type (zlib: 'invalid block type')."""
    _, start = _zip_member_offset(data, name)
    return data[:start] + b"\xff" + data[start + 1 :]


def set_compression(data: bytes, name: str, method: int) -> bytes:
    """The member claims a compression method zipfile does not know (both its headers)."""
    info, _ = _zip_member_offset(data, name)
    out = bytearray(data)
    out[info.header_offset + 8 : info.header_offset + 10] = struct.pack("<H", method)
    position = out.find(b"PK\x01\x02")
    while position >= 0:
        length = struct.unpack("<H", out[position + 28 : position + 30])[0]
        if out[position + 46 : position + 46 + length] == name.encode():
            out[position + 10 : position + 12] = struct.pack("<H", method)
        position = out.find(b"PK\x01\x02", position + 4)
    return bytes(out)


def replace_member(data: bytes, name: str, content: bytes) -> bytes:
    source, buffer = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, content if item.filename == name else source.read(item.filename))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("suffix", "damage", "reason"),
    [
        # Was: zlib.error 'Error -3 while decompressing data: invalid block type' escaped iter_ingest.
        (
            ".docx",
            lambda: break_deflate(valid_docx(), "word/document.xml"),
            "corrupt or unreadable DOCX: damaged ZIP container: Error -3 while decompressing data: invalid block type",
        ),
        (
            ".xlsx",
            lambda: break_deflate(valid_xlsx(), "xl/workbook.xml"),
            "cannot read as XLSX: damaged ZIP container: Error -3 while decompressing data: invalid block type",
        ),
        # Was: NotImplementedError 'That compression method is not supported' escaped.
        (
            ".docx",
            lambda: set_compression(valid_docx(), "word/document.xml", 99),
            "corrupt or unreadable DOCX: damaged ZIP container: That compression method is not supported",
        ),
        (
            ".xlsx",
            lambda: set_compression(valid_xlsx(), "xl/worksheets/sheet1.xml", 99),
            "cannot read as XLSX: damaged ZIP container: That compression method is not supported",
        ),
        # Was: lxml's XMLSyntaxError escaped.
        (
            ".docx",
            lambda: replace_member(valid_docx(), "[Content_Types].xml", b"<Types"),
            "corrupt or unreadable DOCX: damaged XML inside: Couldn't find end of Start Tag Types line 1, line 1, column 7",
        ),
        (
            ".xlsx",
            lambda: replace_member(valid_xlsx(), "xl/workbook.xml", b"<workbook"),
            "cannot read as XLSX: damaged XML inside: Couldn't find end of Start Tag workbook",
        ),
        # Was: xml.etree's ParseError escaped.
        (
            ".xlsx",
            lambda: replace_member(valid_xlsx(), "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row"),
            "cannot read as XLSX: damaged XML inside: unclosed token: line 1, column 22",
        ),
        # Was: "corrupt or unreadable DOCX (Package not found at '/tmp/.../x.docx')".
        (
            ".docx",
            lambda: b"plain text, not a ZIP",
            "corrupt or unreadable DOCX: not a Word document (a .docx file is a ZIP archive)",
        ),
        # Was: "corrupt or unreadable DOCX (Package not found at ...)" / "cannot read as XLSX: File is not a
        # zip file" for a cut-off file, which is a ZIP archive without its end.
        (
            ".docx",
            lambda: valid_docx()[: len(valid_docx()) // 2],
            "corrupt or unreadable DOCX: damaged ZIP container: the end of the archive is missing (the file seems cut off)",
        ),
        (
            ".xlsx",
            lambda: valid_xlsx()[: len(valid_xlsx()) // 2],
            "cannot read as XLSX: damaged ZIP container: the end of the archive is missing (the file seems cut off)",
        ),
    ],
)
def test_regression_damaged_zip_documents(tmp_path, codebook, suffix, damage, reason):
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(damage())
    cases, rejects = run(path, codebook)
    assert cases == []
    assert [r.kind for r in rejects] == ["file"]
    assert rejects[0].reason.startswith(f"{path}: {reason}"), rejects[0].reason


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # Was: AttributeError "'FloatObject' object has no attribute 'items'" escaped iter_ingest.
        (
            lambda pdf: pdf.replace(b"trailer\n<<", b"trailer\n.<"),
            "corrupt or unreadable PDF: 'FloatObject' object has no attribute 'items'",
        ),
        # Was: AttributeError "property 'indirect_reference' of 'IndirectObject' object has no setter".
        (
            lambda pdf: re.sub(rb"1 0 obj\n<<.*?>>\nendobj", b"1 0 obj\n1 0 R\nendobj", pdf, count=1, flags=re.S),
            "corrupt or unreadable PDF: ",
        ),
        # Was: "no page of the PDF has extractable text (scanned? run OCR first)" for a PDF without pages.
        (
            lambda pdf: pdf.replace(b"/Pages 1 0 R", b"/Pages 2 0 R"),
            "the PDF has no pages (its page tree is missing or damaged)",
        ),
        # A truncated PDF says so.
        (
            lambda pdf: pdf[: len(pdf) // 2],
            "corrupt or unreadable PDF: Stream has ended unexpectedly; the file seems cut off",
        ),
    ],
)
def test_regression_damaged_pdf(tmp_path, codebook, damage, reason):
    pdf = valid_pdf()
    broken = damage(pdf)
    assert broken != pdf  # the damage applies to what fpdf2 writes
    path = tmp_path / "damaged.pdf"
    path.write_bytes(broken)
    cases, rejects = run(path, codebook)
    assert cases == [] and [r.kind for r in rejects] == ["file"]
    assert rejects[0].reason.startswith(f"{path}: {reason}"), rejects[0].reason


def test_regression_utf16_without_bom_is_read(tmp_path, codebook):
    """Was: 'looks like a binary file (NUL bytes), not text' for a UTF-16 file saved without a BOM."""
    rows = texts(3)
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(("id,text\n" + "".join(f"r{i},{t}\n" for i, t in enumerate(rows))).encode(encoding))
        cases, rejects = run(path, codebook)
        assert rejects == [] and [case.text for case in cases] == rows


def test_regression_stray_latin1_byte_no_longer_garbles_the_file(tmp_path, codebook):
    """Was: one Latin-1 byte in a UTF-8 file with Polish text made charset-normalizer give up
    ('cannot tell the text encoding') or pick a legacy encoding: every row's accents became mojibake."""
    rows = [f"{BASES[2]} Nr {i}." for i in range(3)]
    path = tmp_path / "stray.csv"
    path.write_bytes(
        b"id,text\n" + f"a,{rows[0]}\n".encode() + f"b,{rows[1]} caf".encode() + b"\xe9\n" + f"c,{rows[2]}\n".encode()
    )
    cases, rejects = run(path, codebook)
    assert [case.text for case in cases] == [rows[0], rows[2]]
    assert rejects[0].reason == (
        f"{path} row 2: text holds undecodable bytes (the file mixes encodings, or is cut off in the middle "
        "of a character)"
    )


def test_regression_file_cut_inside_a_character(tmp_path, codebook):
    """Was: a UTF-8 file ending inside a multi-byte character was decoded as a legacy encoding
    ('... cafĂ' kept as a case); a .txt one was 'cannot tell the text encoding; the file may be binary'."""
    path = tmp_path / "cut.csv"
    path.write_bytes(f"id,text\na,{EN_TEXT}\nb,{EN_TEXT} café".encode()[:-1])
    cases, rejects = run(path, codebook)
    assert [case.id for case in cases] == ["a"]
    assert rejects[0].location == "row 2" and "cut off in the middle of a character" in rejects[0].reason
    document = tmp_path / "cut.txt"
    data = f"{PL_TEXT}\n{PL_TEXT} Źdźbło ż".encode()[:-1]
    document.write_bytes(data)
    _, rejects = run(document, codebook)
    assert rejects[0].reason == (
        f"{document}: bytes at offset {len(data) - 1:,} (line 2) are not valid utf-8; "
        "the file ends in the middle of a character (cut off?)"
    )


def test_regression_non_string_text_and_ids(tmp_path, codebook):
    """Was: {"text": 5} rejected as 'text is empty'; {"id": {"a": 1}} accepted with the id "{'a': 1}"
    (a Python repr); {"year": true} 'year: Input should be greater than or equal to 1900'."""
    path = tmp_path / "types.jsonl"
    lines = [
        {"id": "a", "text": 5},
        {"id": {"a": 1}, "text": EN_TEXT},
        {"id": True, "text": DE_TEXT},
        {"id": "d", "text": PL_TEXT, "year": True},
        {"id": 7, "text": f"{EN_TEXT} Seven."},
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    cases, rejects = run(path, codebook)
    assert [case.id for case in cases] == ["7"]
    assert [r.reason for r in rejects] == [
        f"{path} line 1: text (column 'text') must be a string, got a number: 5",
        f'{path} line 2: id must be a string or a number, got an object: {{"a":1}}',
        f"{path} line 3: id must be a string or a number, got a boolean: true",
        f"{path} line 4: year True holds no four-digit year",
    ]


def test_regression_jsonl_reasons(tmp_path, codebook):
    """Was: 'invalid JSON (unexpected end of data: line 1 column 16 (char 15))' at line 3 (orjson's
    own line and column), and 'expected a JSON object per line' without what was there."""
    path = tmp_path / "lines.jsonl"
    path.write_bytes(orjson.dumps({"id": "a", "text": EN_TEXT}) + b'\n[1, 2]\n{"id": "c", "te')
    cases, rejects = run(path, codebook)
    assert [case.id for case in cases] == ["a"]
    assert [r.reason for r in rejects] == [
        f"{path} line 2: expected a JSON object per line ({{...}}), got an array",
        f"{path} line 3: invalid JSON at column 16: unexpected end of data "
        "(the file ends in the middle of this object: cut off?)",
    ]


def test_regression_first_line_unreadable_still_checks_columns(tmp_path, codebook):
    """Was: when the first line could not be read the column check was skipped, and a file without a
    text column gave one 'text is empty' per line instead of saying the column is missing."""
    path = tmp_path / "nocolumn.jsonl"
    path.write_bytes(b'{"id": \n' + b"".join(orjson.dumps({"id": i, "body_text": EN_TEXT}) + b"\n" for i in range(3)))
    _, rejects = run(path, codebook)
    assert [(r.kind, r.location) for r in rejects] == [("row", "line 1"), ("file", "")]
    assert rejects[0].reason == f"{path} line 1: invalid JSON at column 8: unexpected end of data"
    assert "no text column (looked for text / description" in rejects[1].reason
    assert "columns are: id, body_text" in rejects[1].reason


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_regression_repeated_column_no_longer_overwrites(tmp_path, codebook, suffix):
    """Was: a header with a column name twice kept only the last column's values. XLSX: the id became
    a generated one and the text 'a second text column' (too short, yet taken as the text); Parquet:
    'text is empty'. Now the repeat is 'id.1', 'text.1' (as for CSV) and the first column counts."""
    path = tmp_path / f"repeated{suffix}"
    names, values = ["id", "text", "id", "text"], ["a1", EN_TEXT, None, "a second text column"]
    if suffix == ".xlsx":
        import openpyxl

        workbook = openpyxl.Workbook()
        workbook.active.append(names)
        workbook.active.append(values)
        workbook.save(path)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_arrays([pa.array([v], pa.string()) for v in values], names=names), path)
    cases, rejects = run(path, codebook)
    assert rejects == []
    assert [(case.id, case.text) for case in cases] == [("a1", EN_TEXT)]


def test_regression_unreadable_file_is_a_file_reject(tmp_path, codebook, monkeypatch):
    """Was: PermissionError escaped iter_ingest (as root the test cannot chmod, so open() is made to refuse)."""
    locked, readable = tmp_path / "locked.csv", tmp_path / "readable.csv"
    rows = texts(2)
    locked.write_text(f"id,text\na,{rows[0]}\n", encoding="utf-8")
    readable.write_text(f"id,text\nb,{rows[1]}\n", encoding="utf-8")
    real_open = Path.open

    def refusing_open(self, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    cases, rejects = ingest_checked([locked, readable], codebook, **FAST)
    assert [case.id for case in cases] == ["b"]
    assert [r.reason for r in rejects] == [f"{locked}: cannot be read (Permission denied)"]


@pytest.mark.parametrize("country", ["xx", "5", "12", "0"])
def test_regression_unknown_country_code_is_not_guessed(tmp_path, codebook, country):
    """Was: pycountry's fuzzy search matched region codes, so 'xx' became MT (Malta) and '5' SE (Sweden)."""
    path = tmp_path / "country.csv"
    path.write_text(f"id,text,country\na,{EN_TEXT},{country}\n", encoding="utf-8")
    cases, rejects = run(path, codebook)
    assert cases == []
    assert rejects[0].reason == (
        f"{path} row 1: country '{country}' is not a country name or ISO 3166 code (e.g. 'PL' or 'Poland')"
    )
