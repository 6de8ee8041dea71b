"""Ingestion: files in, validated cases and explained rejects out, nothing lost.

Every row or document read ends up either as a :class:`~iesi_nlp.records.Case`
or as a :class:`Reject` naming the file, the row or page and the reason; the
:class:`IngestReport` counts both so the totals can be checked.
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from iesi_nlp.codebook import Codebook
from iesi_nlp.errors import InputError, LabelError
from iesi_nlp.ingest.encoding import html_fragment_to_text, repair_text
from iesi_nlp.ingest.language import detect_language
from iesi_nlp.ingest.sources import SUPPORTED_SUFFIXES, RawRecord, estimate_records, json_kind, read_records
from iesi_nlp.records import CASE_FIELDS, Case, case_from_dict, stable_case_id

#: Column names tried, in order, for each case field when no mapping is given.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "case_id", "project_id", "record_id", "doc_id", "uid", "identifier"),
    "title": ("title", "name", "project_name", "heading"),
    "text": ("text", "description", "body", "content", "abstract", "summary"),
    "language": ("language", "lang"),
    "country": ("country", "country_code"),
    "source": ("source",),
    "url": ("url", "link", "website"),
    "year": ("year",),
    "label_provenance": ("label_provenance", "provenance"),
}

#: Separators between several labels in one table cell ("health|education").
LABEL_SEPARATORS = re.compile(r"\s*[|;,]\s*")
#: Longest text a reject keeps in full; longer ones point back at their file and row.
REJECT_TEXT_CHARS = 10_000


@dataclass(frozen=True)
class IngestOptions:
    """How to read inputs.

    ``columns`` maps case fields (``text``, ``id``...) to input column names;
    ``label_columns`` maps dimension ids to columns (by default a column named
    like the dimension). ``max_text_chars`` and ``min_text_chars`` bound a usable
    text. ``dedupe_texts`` rejects a text already ingested under another id.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    label_columns: Mapping[str, str] = field(default_factory=dict)
    max_text_chars: int = 1_000_000
    min_text_chars: int = 20
    dedupe_texts: bool = True
    #: Off: a case without a declared language keeps ``language=None`` (``classify``
    #: detects it only for texts it has not embedded before).
    detect_language: bool = True
    #: Off: label columns are ignored (``classify`` codes cases; it does not check their labels).
    read_labels: bool = True
    sheet: str | None = None
    default_source: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.columns) - set(DEFAULT_COLUMNS)
        if unknown:
            raise InputError(
                f"unknown case field(s) in column mapping: {', '.join(sorted(unknown))}; "
                f"allowed: {', '.join(DEFAULT_COLUMNS)}"
            )
        if self.min_text_chars < 1 or self.max_text_chars <= self.min_text_chars:
            raise InputError(
                f"text length limits must satisfy 1 <= min ({self.min_text_chars}) < max ({self.max_text_chars})"
            )


@dataclass(frozen=True)
class Reject:
    """Something ingestion could not use: ``kind`` is ``file``, ``row`` or ``page``."""

    kind: str
    file: str
    location: str
    reason: str
    record: dict[str, Any] | None = None

    def to_json_line(self) -> bytes:
        return (
            orjson.dumps(
                {
                    "kind": self.kind,
                    "file": self.file,
                    "location": self.location,
                    "reason": self.reason,
                    "record": self.record,
                },
                default=str,
            )
            + b"\n"
        )


@dataclass
class IngestReport:
    """Counts of one ingestion run. ``records_read == ingested + records_rejected`` always."""

    files_read: int = 0
    files_rejected: int = 0
    records_read: int = 0
    ingested: int = 0
    records_rejected: int = 0
    pages_skipped: int = 0
    languages: Counter = field(default_factory=Counter)
    detected_languages: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.records_read == self.ingested + self.records_rejected

    def as_dict(self) -> dict[str, Any]:
        return {
            "files_read": self.files_read,
            "files_rejected": self.files_rejected,
            "records_read": self.records_read,
            "ingested": self.ingested,
            "records_rejected": self.records_rejected,
            "pages_skipped": self.pages_skipped,
            "languages": dict(self.languages.most_common()),
            "languages_detected": self.detected_languages,
            "reject_reasons": dict(self.reasons.most_common()),
        }


def _is_pattern(raw: str) -> bool:
    return any(char in raw for char in "*?[")


def expand_inputs(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly, supported files found under folders, and files or folders a glob matches.

    Folders are searched recursively (sorted, hidden entries skipped). A glob (``reports/**/*.pdf``,
    quoted so the shell leaves it alone) is expanded only when no file has that very name.
    """
    for path in expand_patterns(paths):
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                    yield child
        else:
            yield path


def expand_patterns(paths: Iterable[str | Path]) -> list[Path]:
    """``paths`` with each glob replaced by the files and folders it matches (sorted); other paths as given."""
    expanded: list[Path] = []
    for raw in paths:
        if not Path(raw).exists() and _is_pattern(str(raw)):
            expanded.extend(Path(match) for match in sorted(glob.glob(str(raw), recursive=True)))
        else:
            expanded.append(Path(raw))
    return expanded


def check_inputs(paths: Iterable[str | Path]) -> None:
    """Raise :class:`InputError` for an input that does not exist or a glob that matches nothing (before any work)."""
    for raw in paths:
        if Path(raw).exists():
            continue
        if _is_pattern(str(raw)):
            if not glob.glob(str(raw), recursive=True):
                raise InputError(f"{raw}: no file matches this pattern")
            continue
        raise InputError(f"{raw}: input not found")


def estimate_cases(paths: Iterable[str | Path]) -> int:
    """About how many cases ``paths`` hold, without parsing them (see :func:`~.sources.estimate_records`)."""
    return sum(estimate_records(path) for path in expand_inputs(paths) if path.suffix.lower() in SUPPORTED_SUFFIXES)


class Ingestor:
    """Turns raw records into validated cases, tracking ids and texts already seen.

    Use :func:`iter_ingest` for the common case; an ``Ingestor`` keeps state across
    several calls (e.g. the review app adding cases one at a time).
    """

    def __init__(self, codebook: Codebook, options: IngestOptions | None = None) -> None:
        self.codebook = codebook
        self.options = options or IngestOptions()
        self.report = IngestReport()
        self._seen_ids: dict[str, str] = {}
        self._seen_texts: dict[str, str] = {}

    def ingest(self, paths: Iterable[str | Path]) -> Iterator[Case | Reject]:
        for path in expand_inputs(paths):
            yield from self.ingest_file(path)

    def ingest_file(self, path: Path) -> Iterator[Case | Reject]:
        self.report.files_read += 1
        if not path.exists():
            yield self._reject_file(path, "file not found")
            return
        try:
            records = read_records(path, max_text_chars=self.options.max_text_chars, sheet=self.options.sheet)
            first, checked = True, False
            for raw in records:
                first = False
                if not checked and raw.problem is None:
                    # The columns are checked on the first row that could be read: a damaged first
                    # row must not turn a table without a text column into one "text is empty" per row.
                    self._check_columns(raw)
                    checked = True
                yield from self._ingest_record(raw)
            if first:
                yield self._reject_file(path, "file has no rows")
        except InputError as exc:
            yield self._reject_file(path, str(exc))

    # -- internals -----------------------------------------------------------

    def _reject_file(self, path: Path, reason: str) -> Reject:
        self.report.files_rejected += 1
        self.report.reasons[_reason_class(reason)] += 1
        return Reject("file", str(path), "", reason if reason.startswith(str(path)) else f"{path}: {reason}")

    def _check_columns(self, raw: RawRecord) -> None:
        """A table whose first readable row lacks the text column or a mapped column is rejected as a whole file."""
        if raw.location == "":
            return
        if self._column_for("text", raw.fields) is None:
            wanted = self.options.columns.get("text") or " / ".join(DEFAULT_COLUMNS["text"])
            raise InputError(
                f"{raw.path}: no text column (looked for {wanted}); columns are: "
                f"{', '.join(map(str, raw.fields)) or '(none)'}; map one with --column text=NAME"
            )
        mapped = [*self.options.columns.values(), *self.options.label_columns.values()]
        missing = [column for column in mapped if column not in raw.fields]
        if missing:
            raise InputError(
                f"{raw.path}: mapped column(s) not found: {', '.join(missing)}; "
                f"columns are: {', '.join(map(str, raw.fields))}"
            )

    def _column_for(self, case_field: str, fields: Mapping[str, Any]) -> str | None:
        mapped = self.options.columns.get(case_field)
        if mapped is not None:
            return mapped if mapped in fields else None
        lowered = {str(name).strip().lower(): name for name in fields}
        for candidate in DEFAULT_COLUMNS[case_field]:
            if candidate in lowered:
                return lowered[candidate]
        return None

    def _ingest_record(self, raw: RawRecord) -> Iterator[Case | Reject]:
        self.report.records_read += 1
        for page, reason in raw.skipped_pages:
            self.report.pages_skipped += 1
            yield Reject("page", str(raw.path), f"page {page}", f"{raw.path} page {page}: {reason}")
        try:
            if raw.problem is not None:
                raise InputError(f"{raw.where}: {raw.problem}")
            case = self._to_case(raw)
        except (InputError, LabelError) as exc:
            self.report.records_rejected += 1
            self.report.reasons[_reason_class(str(exc))] += 1
            yield Reject(
                "row" if raw.location else "file", str(raw.path), raw.location, str(exc), _kept_record(raw.fields)
            )
            return
        self.report.ingested += 1
        self.report.languages[case.language or "unknown"] += 1
        yield case

    def _to_case(self, raw: RawRecord) -> Case:
        where = raw.where
        fields = raw.fields
        data: dict[str, Any] = {}
        for case_field in DEFAULT_COLUMNS:
            column = self._column_for(case_field, fields)
            if column is not None:
                data[case_field] = _clean_value(fields.get(column))
        if raw.location == "":  # a document: fields are already named
            data.update({k: _clean_value(v) for k, v in fields.items() if k in DEFAULT_COLUMNS})

        text = data.get("text")
        if text is not None and not isinstance(text, str):
            column = self._column_for("text", fields) or "text"
            raise InputError(
                f"{where}: text (column {column!r}) must be a string, got {json_kind(text)}: {_short(text)}"
            )
        if not text or not text.strip():
            raise InputError(f"{where}: text is empty")
        text = repair_text(html_fragment_to_text(text) if raw.location else text)
        if "\ufffd" in text:
            raise InputError(
                f"{where}: text holds undecodable bytes (the file mixes encodings, or is cut off in the middle "
                "of a character)"
            )
        if len(text) > self.options.max_text_chars:
            raise InputError(
                f"{where}: text has {len(text):,} characters, more than the limit of "
                f"{self.options.max_text_chars:,} (--max-chars); split the report or raise the limit"
            )
        if len(text.strip()) < self.options.min_text_chars:
            raise InputError(
                f"{where}: text has {len(text.strip())} characters, fewer than the minimum of "
                f"{self.options.min_text_chars} needed to code a case"
            )
        data["text"] = text
        data["year"] = _parse_year(data.get("year"), where)
        data["labels"] = self._labels(fields, where) if self.options.read_labels else {}
        if data["labels"] and not data.get("label_provenance"):
            data["label_provenance"] = f"import:{raw.path.name}"
        if not data.get("source") and self.options.default_source:
            data["source"] = self.options.default_source

        raw_id = data.get("id")
        if isinstance(raw_id, bool | bytes | Mapping | list | tuple | set):  # a JSON list or object, a flag
            raise InputError(f"{where}: id must be a string or a number, got {json_kind(raw_id)}: {_short(raw_id)}")
        case_id = str(raw_id or "").strip() or stable_case_id(str(raw.path.name), raw.location, text[:200])
        data["id"] = case_id
        if case_id in self._seen_ids:
            raise InputError(f"{where}: duplicate id {case_id!r} (first seen at {self._seen_ids[case_id]})")

        text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if self.options.dedupe_texts and text_hash in self._seen_texts:
            raise InputError(f"{where}: same text as case {self._seen_texts[text_hash]!r} already ingested")
        data["country"] = normalise_country(data.get("country"), where)
        language = data.get("language")
        if language:
            if not re.fullmatch(r"[A-Za-z]{2,3}", str(language)):
                raise InputError(f"{where}: language {language!r} is not an ISO 639 code such as 'de' or 'pl'")
        elif self.options.detect_language:
            detected = detect_language(text)
            if detected is None:
                raise InputError(f"{where}: no language could be detected (the text has no words)")
            data["language"] = detected.code
        data["origin"] = where
        # Absent values (None) take the schema defaults, e.g. an empty title.
        case = case_from_dict({k: v for k, v in data.items() if k in CASE_FIELDS and v is not None}, where=where)
        if not language and self.options.detect_language:
            self.report.detected_languages += 1
        if self.options.dedupe_texts:
            self._seen_texts[text_hash] = case.id
        self._seen_ids[case.id] = where
        return case

    def _labels(self, fields: Mapping[str, Any], where: str) -> dict[str, list[str]]:
        raw_labels: dict[str, Any] = {}
        nested = fields.get("labels")
        if isinstance(nested, str) and nested.strip().startswith("{"):
            try:
                nested = orjson.loads(nested)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{where}: 'labels' is not valid JSON ({exc})") from None
        if isinstance(nested, Mapping):
            raw_labels.update(nested)
        elif nested not in (None, ""):
            raise InputError(f"{where}: 'labels' must map dimension ids to label ids, got {type(nested).__name__}")
        for dim in self.codebook.dimensions:
            column = self.options.label_columns.get(dim.id, dim.id)
            if column in fields and fields[column] not in (None, ""):
                raw_labels[dim.id] = fields[column]
        parsed = {dim_id: _split_labels(value, where, dim_id) for dim_id, value in raw_labels.items()}
        return self.codebook.validate_labels(parsed, where=where)


def _split_labels(value: Any, where: str, dim_id: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in LABEL_SEPARATORS.split(value.strip()) if v]
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: labels of {dim_id!r} must be label ids (texts), got {value!r}")
        return [v.strip() for v in value if v.strip()]
    raise InputError(f"{where}: labels of {dim_id!r} must be a list or a '|'-separated text, got {value!r}")


def _clean_value(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


#: Names and codes in EU usage that ISO 3166 (as pycountry has it) does not match.
_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR", "TURKEY": "TR", "KOSOVO": "XK"}


def normalise_country(value: Any, where: str) -> str | None:
    """ISO 3166-1 alpha-2 code from a code, an alpha-3 code or an English name; ``EU`` stays.

    A value no country matches is an error: a silent guess would mis-file the case.
    """
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.upper() in {"EU", "EUROPE", "EUROPEAN UNION"}:
        return "EU"
    if text.upper() in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[text.upper()]
    import pycountry

    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    matches = []
    # Fuzzy search only for names: it also matches region codes and substrings, so a failed
    # code ('xx', '12') would silently come back as some country.
    if len(text) > 3 and not any(ch.isdigit() for ch in text):
        try:
            matches = pycountry.countries.search_fuzzy(text)
        except LookupError:
            matches = []
    if matches:  # best match first, e.g. 'Reunion' -> RE before FR (of which it is a region)
        return matches[0].alpha_2
    raise InputError(f"{where}: country {text!r} is not a country name or ISO 3166 code (e.g. 'PL' or 'Poland')")


def _parse_year(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InputError(f"{where}: year {value!r} holds no four-digit year")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    match = re.search(r"\b(19|20)\d{2}\b", str(value))
    if not match:
        raise InputError(f"{where}: year {value!r} holds no four-digit year")
    return int(match.group(0))


def _short(value: Any, limit: int = 60) -> str:
    """The start of a value as JSON (as the user wrote it), for a reason."""
    try:
        text = orjson.dumps(value, default=str).decode()
    except (orjson.JSONEncodeError, TypeError):  # integers beyond 64 bits, nesting deeper than orjson writes
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kept_record(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The raw record for the rejects file; an oversized text keeps its start only."""
    kept = {}
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > REJECT_TEXT_CHARS:
            value = value[:REJECT_TEXT_CHARS] + f"... [{len(value):,} characters; full text in the input file]"
        kept[str(key)] = value
    return kept


def _reason_class(reason: str) -> str:
    """A short, countable form of a reason: the part after the location."""
    tail = reason.split(": ", 1)[-1]
    tail = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", tail)
    tail = re.sub(r"\s*\([^)]*\)", "", tail)
    tail = re.sub(r"\d[\d,]*", "N", tail)
    return tail.split(";")[0][:80]


def iter_ingest(
    paths: Iterable[str | Path], codebook: Codebook, options: IngestOptions | None = None
) -> tuple[Ingestor, Iterator[Case | Reject]]:
    """Stream cases and rejects from files and folders; the ingestor holds the running report."""
    ingestor = Ingestor(codebook, options)
    return ingestor, ingestor.ingest(paths)


def ingest_to_files(
    paths: Iterable[str | Path],
    output: str | Path,
    rejects: str | Path,
    codebook: Codebook,
    options: IngestOptions | None = None,
    *,
    progress: bool = False,
) -> IngestReport:
    """Ingest inputs into a cases JSONL file and a rejects JSONL file; return the counts."""
    paths = list(paths)
    check_inputs(paths)
    ingestor, items = iter_ingest(paths, codebook, options)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(rejects).parent.mkdir(parents=True, exist_ok=True)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, unit=" records", desc="ingest", leave=False)
    with Path(output).open("wb") as out, Path(rejects).open("wb") as rej:
        for item in items:
            if isinstance(item, Case):
                out.write(item.to_json_line())
            else:
                rej.write(item.to_json_line())
    return ingestor.report


__all__ = [
    "DEFAULT_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "IngestOptions",
    "IngestReport",
    "Ingestor",
    "Reject",
    "check_inputs",
    "expand_inputs",
    "expand_patterns",
    "ingest_to_files",
    "iter_ingest",
]
