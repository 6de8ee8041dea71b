"""Bulk classification: stream any input ``ingest`` reads through a :class:`~iesi_nlp.suggest.Suggester` into JSONL, CSV or Parquet.

Memory stays flat whatever the input size: cases are read, embedded, coded and
written in batches, and only the ids already written are kept (to resume). An
interrupted run is resumed by running the same command again: the ids in the
output are skipped, and a last line cut off mid-write is dropped first.

Each output object (JSONL) is the case's own fields, its
:class:`~iesi_nlp.coding.suggestion.Suggestion` in its record form, and its provenance::

    {"id", "title", "url", "case_source", "language", "country", "input_file", "input_location",
     "labels": {dim: [ids]}, "scores": {dim: {label: p}},
     "source": {dim: "supervised"|"codebook"|"blend"},
     "evidence": {dim: {label: [{"text", "start", "end"}]}}, "model", "version",
     "embedder", "training_snapshot", "human_verified", "human_labels"}

``input_file`` and ``input_location`` (``row 12``, ``line 3``, ``page 2``, or empty for a
whole document) say where the case was read; ``embedder`` and ``training_snapshot`` (the
hash of the model's labelled training cases) say what made the suggestion, with ``model``
and ``version``; ``human_verified`` is true when the case is in the project's annotation
store with settled labels, given in ``human_labels`` (dimension → labels).

``title``, ``url``, ``language`` and ``country`` are the case's own (empty or null when
the input has none); ``case_source`` is the case's source (its collection, e.g. a
website), named so because ``source`` already says where each dimension's suggestion
came from. The CSV form has one row per case: the case's fields as above, then the
suggestion's CSV form (:func:`~iesi_nlp.coding.suggestion.csv_columns`): ``model``, per
dimension ``labels.<dim>`` (ids joined by ``|``), ``source.<dim>`` and
``score.<dim>.<label>`` for every label, and ``evidence`` as a JSON string; then the
provenance columns (``human_labels`` as a JSON string).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import io
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from iesi_nlp.coding.auto_accept import AutoAccept
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.coding.suggestion import Suggestion, csv_columns
from iesi_nlp.errors import InputError
from iesi_nlp.ingest import IngestOptions, Reject, check_inputs, estimate_cases, iter_ingest
from iesi_nlp.records import Case
from iesi_nlp.suggest import Suggester

FORMATS = ("jsonl", "csv", "parquet")
#: The case's own fields at the start of every output record, in this order.
CASE_COLUMNS = ("id", "title", "url", "case_source", "language", "country", "input_file", "input_location")
#: What made the suggestion and whether a human already settled the case: at the end of every record.
PROVENANCE_COLUMNS = ("embedder", "training_snapshot", "human_verified", "human_labels", "auto_accepted")
#: The location part of a case's ``origin`` (``path row 12``; a whole document has none).
_LOCATION = re.compile(r" ((?:row|line|page) \d+)$")


def split_origin(origin: str | None) -> tuple[str | None, str | None]:
    """``(input file, location)`` of a case's ``origin`` as ingestion wrote it (``data/x.csv row 12``)."""
    if not origin:
        return None, None
    match = _LOCATION.search(origin)
    if match is None:
        return origin, ""
    return origin[: match.start()], match.group(1)


class HumanLabels(Protocol):
    """Settled labels of the cases a human already coded (see :class:`~iesi_nlp.annotation.labels.VerifiedLabels`)."""

    def lookup(self, case: Case) -> dict[str, list[str]] | None: ...


DEFAULT_BATCH_SIZE = 32


@dataclass
class AutoAcceptTally:
    """Per dimension: cases and decided labels written, and how many of them were auto-accepted."""

    cases: dict[str, int] = dataclasses.field(default_factory=dict)
    cases_accepted: dict[str, int] = dataclasses.field(default_factory=dict)
    labels: dict[str, int] = dataclasses.field(default_factory=dict)
    labels_accepted: dict[str, int] = dataclasses.field(default_factory=dict)

    def add(self, suggestion: Suggestion, accepted: dict[str, list[str]]) -> None:
        for dimension_id, part in suggestion.dimensions.items():
            passed = accepted.get(dimension_id, [])
            self.cases[dimension_id] = self.cases.get(dimension_id, 0) + 1
            self.cases_accepted[dimension_id] = self.cases_accepted.get(dimension_id, 0) + bool(passed)
            self.labels[dimension_id] = self.labels.get(dimension_id, 0) + len(part.labels)
            self.labels_accepted[dimension_id] = self.labels_accepted.get(dimension_id, 0) + len(passed)


@dataclass
class ClassifyReport:
    """Counts and timings of one run."""

    classified: int = 0
    resumed: int = 0
    rejected: int = 0
    embedded: int = 0
    cached: int = 0
    seconds: float = 0.0
    embedding_seconds: float = 0.0
    #: Stopped by Ctrl+C (or SIGTERM): what is written is complete, the same command resumes.
    interrupted: bool = False
    #: With auto-accept: what passed in this run, per dimension.
    auto_accepted: AutoAcceptTally | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "classified": self.classified,
            "skipped_already_done": self.resumed,
            "rejected": self.rejected,
            "newly_embedded": self.embedded,
            "from_cache": self.cached,
            "seconds": round(self.seconds, 2),
            "embedding_seconds": round(self.embedding_seconds, 2),
        }


def output_format(path: Path, requested: str | None) -> str:
    if requested:
        if requested not in FORMATS:
            raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {requested!r}")
        return requested
    suffix = path.suffix.lower()
    return {".csv": "csv", ".parquet": "parquet"}.get(suffix, "jsonl")


class _Writer:
    """Appends result rows to the output and knows which ids it already holds."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        model: CodingModel,
        *,
        restart: bool,
        human: HumanLabels | None = None,
        auto_accept: AutoAccept | None = None,
    ) -> None:
        self.path, self.fmt, self.model, self.human = path, fmt, model, human
        self.auto_accept, self.tally = auto_accept, AutoAcceptTally()
        self.snapshot = model.card.training_set.hash if model.card is not None else None
        path.parent.mkdir(parents=True, exist_ok=True)
        if restart and path.exists():
            path.unlink()
        self.done: set[str] = set()
        if path.exists() and path.stat().st_size:
            _drop_partial_last_line(path)
            self.done = self._read_done_ids()
        self.header = self._csv_header() if fmt == "csv" else None
        new_file = not path.exists() or path.stat().st_size == 0
        self.handle = path.open("ab")
        if self.header and new_file:
            self._write_csv_row(self.header)

    def _read_done_ids(self) -> set[str]:
        done: set[str] = set()
        with self.path.open("rb") as handle:
            if self.fmt == "jsonl":
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        row = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise InputError(f"{self.path} line {number}: not JSON; is it a classify output?") from None
                    self._check_model(row.get("model"), f"{self.path} line {number}")
                    done.add(str(row["id"]))
            else:
                reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline=""))
                header = next(reader, None)
                if header != self._csv_header():
                    raise InputError(
                        f"{self.path}: its CSV columns differ from this model's; use --restart or another output"
                    )
                model_column = header.index("model")
                for number, row in enumerate(reader, 2):
                    self._check_model(row[model_column], f"{self.path} row {number}")
                    done.add(row[0])
        return done

    def _check_model(self, model_id: str | None, where: str) -> None:
        if model_id != self.model.id:
            raise InputError(
                f"{where}: written by model {model_id!r}, not {self.model.id!r}; "
                "to redo it with this model use --restart, or choose another output"
            )

    @functools.cached_property
    def label_ids(self) -> dict[str, list[str]]:
        """Dimension → label ids, codebook order (the columns of the CSV and Parquet forms); built once."""
        return {dimension_id: head.label_ids for dimension_id, head in self.model.dimensions.items()}

    def _csv_header(self) -> list[str]:
        return [*CASE_COLUMNS, *csv_columns(self.label_ids), *PROVENANCE_COLUMNS]

    def _write_csv_row(self, row: Sequence[Any]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        self.handle.write(buffer.getvalue().encode("utf-8"))

    def _parts(self, case: Case, language: str | None, suggestion: Suggestion) -> tuple[dict[str, Any], dict[str, Any]]:
        """The case's fields and the provenance of its record (the suggestion is the third part)."""
        input_file, input_location = split_origin(case.origin)
        fields = {
            "id": case.id,
            "title": case.title,
            "url": case.url,
            "case_source": case.source,
            "language": case.language or language,
            "country": case.country,
            "input_file": input_file,
            "input_location": input_location,
        }
        human = self.human.lookup(case) if self.human is not None else None
        accepted = self.auto_accept.accepted(suggestion) if self.auto_accept is not None else None
        if accepted is not None:
            self.tally.add(suggestion, accepted)
        provenance = {
            "embedder": self.model.embedder_id,
            "training_snapshot": self.snapshot,
            "human_verified": human is not None,
            "human_labels": human,
            "auto_accepted": accepted,
        }
        return fields, provenance

    def write(self, case: Case, language: str | None, suggestion: Suggestion) -> None:
        fields, provenance = self._parts(case, language, suggestion)
        human = provenance["human_labels"]
        if self.fmt == "jsonl":
            self.handle.write(orjson.dumps({**fields, **suggestion.to_record(), **provenance}) + b"\n")
            return
        provenance["human_labels"] = orjson.dumps(human).decode() if human is not None else ""
        accepted = provenance["auto_accepted"]
        provenance["auto_accepted"] = orjson.dumps(accepted).decode() if accepted is not None else ""
        self._write_csv_row(
            [
                *(fields[c] or "" for c in CASE_COLUMNS),
                *suggestion.csv_cells(self.label_ids),
                *(provenance[c] for c in PROVENANCE_COLUMNS),
            ]
        )

    def flush(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self, *, complete: bool = True) -> None:
        self.flush()
        self.handle.close()


class _ParquetWriter(_Writer):
    """Parquet output, crash-safe: each batch is a part file renamed into ``OUTPUT.parts/`` when whole.

    A part is written under a temporary name and ``os.replace``-d, so a killed run leaves whole
    parts only; the next run reads their ids and goes on. When a run completes, the parts (and
    an earlier complete OUTPUT) are merged into OUTPUT, one id once, and the parts removed.
    Columns: the CSV form's, typed (labels as lists of strings, scores as floats).
    """

    def __init__(
        self,
        path: Path,
        fmt: str,
        model: CodingModel,
        *,
        restart: bool,
        human: HumanLabels | None = None,
        auto_accept: AutoAccept | None = None,
    ) -> None:
        self.path, self.fmt, self.model, self.human = path, fmt, model, human
        self.auto_accept, self.tally = auto_accept, AutoAcceptTally()
        self.snapshot = model.card.training_set.hash if model.card is not None else None
        self.parts = path.with_name(path.name + ".parts")
        path.parent.mkdir(parents=True, exist_ok=True)
        if restart:
            path.unlink(missing_ok=True)
            if self.parts.exists():
                shutil.rmtree(self.parts)
        self.parts.mkdir(exist_ok=True)
        for leftover in self.parts.glob("*.tmp"):  # a part cut off by a crash: its cases are redone
            leftover.unlink()
        self.schema = self._schema()
        self.done = set()
        for file in self._files():
            self.done |= self._read_done_ids_of(file)
        self.rows: list[dict[str, Any]] = []
        self.number = max((int(p.stem.split("-")[1]) for p in self.parts.glob("part-*.parquet")), default=0)

    def _files(self) -> list[Path]:
        return [*([self.path] if self.path.exists() else []), *sorted(self.parts.glob("part-*.parquet"))]

    def _read_done_ids_of(self, file: Path) -> set[str]:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(file, columns=["id", "model"])
        except Exception as exc:  # noqa: BLE001 -- pyarrow raises several types for files that are not Parquet
            raise InputError(
                f"{file}: not a Parquet file of classify ({exc}); use --restart or another output"
            ) from None
        for model_id in set(table.column("model").to_pylist()):
            self._check_model(model_id, str(file))
        return set(table.column("id").to_pylist())

    def _schema(self):
        import pyarrow as pa

        fields = [pa.field(c, pa.string()) for c in CASE_COLUMNS]
        fields += [pa.field("model", pa.string()), pa.field("version", pa.string())]
        for dimension_id, label_ids in self.label_ids.items():
            fields += [
                pa.field(f"labels.{dimension_id}", pa.list_(pa.string())),
                pa.field(f"source.{dimension_id}", pa.string()),
            ]
            fields += [pa.field(f"score.{dimension_id}.{label}", pa.float64()) for label in label_ids]
        fields += [pa.field("evidence", pa.string())]
        fields += [pa.field("embedder", pa.string()), pa.field("training_snapshot", pa.string())]
        fields += [pa.field("human_verified", pa.bool_()), pa.field("human_labels", pa.string())]
        fields += [pa.field("auto_accepted", pa.string())]
        return pa.schema(fields)

    def write(self, case: Case, language: str | None, suggestion: Suggestion) -> None:
        fields, provenance = self._parts(case, language, suggestion)
        row: dict[str, Any] = {**fields, "model": suggestion.model_id, "version": suggestion.version}
        for dimension_id, part in suggestion.dimensions.items():
            row[f"labels.{dimension_id}"] = list(part.labels)
            row[f"source.{dimension_id}"] = part.source
            row.update({f"score.{dimension_id}.{label}": float(p) for label, p in part.scores.items()})
        row["evidence"] = orjson.dumps({d: s.evidence_dict() for d, s in suggestion.dimensions.items()}).decode()
        human = provenance["human_labels"]
        accepted = provenance["auto_accepted"]
        row.update(
            {
                **provenance,
                "human_labels": orjson.dumps(human).decode() if human is not None else None,
                "auto_accepted": orjson.dumps(accepted).decode() if accepted is not None else None,
            }
        )
        self.rows.append(row)

    def flush(self) -> None:
        if not self.rows:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.number += 1
        final = self.parts / f"part-{self.number:06d}.parquet"
        temporary = final.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(self.rows, schema=self.schema), temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        self.rows = []

    def close(self, *, complete: bool = True) -> None:
        self.flush()
        if complete:
            self._merge()

    def _merge(self) -> None:
        """Parts (and an earlier OUTPUT) into one OUTPUT, each id once; then the parts go."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = sorted(self.parts.glob("part-*.parquet"))
        if parts:
            temporary = self.path.with_name(self.path.name + ".merging")
            seen: set[str] = set()
            with pq.ParquetWriter(temporary, self.schema) as out:
                for file in self._files():
                    table = pq.read_table(file, schema=self.schema)
                    ids = table.column("id").to_pylist()
                    keep = [i not in seen and not seen.add(i) for i in ids]
                    out.write_table(table.filter(pa.array(keep, type=pa.bool_())))
            os.replace(temporary, self.path)
        shutil.rmtree(self.parts, ignore_errors=True)


def _drop_partial_last_line(path: Path) -> None:
    """Cut a last line that an interrupted run left without its newline."""
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # Walk back to the previous newline.
        position = size - 1
        chunk = 65536
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            data = handle.read(position - start)
            newline = data.rfind(b"\n")
            if newline >= 0:
                handle.truncate(start + newline + 1)
                return
            position = start
        handle.truncate(0)


class RejectLog:
    """The rejects file, appended to; a reject already in it (a resumed run reads the input again) is not repeated."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            _drop_partial_last_line(path)
        self.written = set(path.read_bytes().splitlines()) if path.exists() else set()
        self.handle = path.open("ab")

    def write(self, line: bytes) -> bool:
        """Append one reject (a JSON line); False if the file holds it already."""
        line = line.rstrip(b"\n")
        if line in self.written:
            return False
        self.written.add(line)
        self.handle.write(line + b"\n")
        return True

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def end_run(
    writer: _Writer, bar: _Progress | None, rejects: Path, report: ClassifyReport, started: float, *, completed: bool
) -> None:
    """What every run does last, however it ended (the in-process and the Ray path alike)."""
    # Merged into one file only when the run went through; an interrupted one keeps its parts.
    writer.close(complete=completed)
    if writer.auto_accept is not None:
        report.auto_accepted = writer.tally
    if bar is not None:
        bar.close()
    # Nothing rejected (in this run or an earlier one resumed): no empty rejects file to puzzle over.
    if rejects.exists() and rejects.stat().st_size == 0:
        rejects.unlink()
    report.seconds = time.perf_counter() - started


def start_progress(
    wanted: bool, total: int | None, count_from: Sequence[str | Path] | None, *, already_done: int
) -> _Progress | None:
    """The run's progress display, or None; its total is ``total`` or counted from the input files."""
    if not wanted:
        return None
    bar = _Progress(total)
    if total is None and count_from:
        bar.count_in_background(count_from, already_done)
    return bar


#: Without a terminal, progress is one line on stderr this often.
LOG_EVERY_SECONDS = 30.0


class _Progress:
    """Cases done, cases/s and ETA: a tqdm bar on a terminal, a periodic line on stderr otherwise."""

    def __init__(self, total: int | None, every: float | None = None) -> None:
        self.total, self.done, self.every = total, 0, every if every is not None else LOG_EVERY_SECONDS
        self.started = self.last = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=" cases", desc="classify", file=sys.stderr)

    def count_in_background(self, inputs: Sequence[str | Path], already_done: int) -> None:
        """Estimate the cases still to do from ``inputs`` on a thread, and give the bar its total (and ETA).

        On a thread, because counting the lines of a large file takes seconds the run need not wait for.
        """

        def count() -> None:
            self.set_total(max(0, estimate_cases(inputs) - already_done))

        threading.Thread(target=count, name="count-cases", daemon=True).start()

    def set_total(self, total: int) -> None:
        total = max(total, self.done)  # an estimate: never below what is already done
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.started, 1e-9)
        eta = ""
        if self.total and rate > 0:
            eta = f", ETA {dt.timedelta(seconds=round(max(self.total - self.done, 0) / rate))}"
        of = f" of {self.total:,}" if self.total else ""
        return f"classify: {self.done:,}{of} cases done, {rate:.1f} cases/s{eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batches(items: Iterable[Case | Reject], size: int, on_reject, skip) -> Iterator[list[Case]]:
    batch: list[Case] = []
    for item in items:
        if isinstance(item, Reject):
            on_reject(item)
            continue
        if skip(item):
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_files(
    inputs: Sequence[str | Path],
    suggester: Suggester,
    output: str | Path,
    *,
    fmt: str | None = None,
    rejects: str | Path | None = None,
    ingest_options: IngestOptions | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    restart: bool = False,
    progress: bool = False,
    human: HumanLabels | None = None,
    auto_accept: AutoAccept | None = None,
) -> ClassifyReport:
    """Classify every case in ``inputs`` into ``output``; resume where an earlier run stopped."""
    check_inputs(inputs)
    options = ingest_options or IngestOptions(dedupe_texts=False, detect_language=False, read_labels=False)
    _, items = iter_ingest(inputs, suggester.model.codebook, options)
    return classify_stream(
        items,
        suggester,
        output,
        fmt=fmt,
        rejects=rejects,
        batch_size=batch_size,
        restart=restart,
        progress=progress,
        human=human,
        auto_accept=auto_accept,
        count_from=inputs,
    )


def classify_stream(
    items: Iterable[Case | Reject],
    suggester: Suggester,
    output: str | Path,
    *,
    fmt: str | None = None,
    rejects: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    restart: bool = False,
    progress: bool = False,
    human: HumanLabels | None = None,
    auto_accept: AutoAccept | None = None,
    total: int | None = None,
    count_from: Sequence[str | Path] | None = None,
) -> ClassifyReport:
    """Classify a stream of cases (rejects are written to ``rejects``) into ``output``, resuming as above.

    ``human``: the labels people already settled (a project's store), given with each case they cover.
    ``auto_accept``: each record says which of its labels pass at the stated precision (``auto_accepted``).
    ``progress``: a live bar on a terminal, else a line every :data:`LOG_EVERY_SECONDS` (``total``, when
    known, gives the bar its ETA; else ``count_from``, the input files, are counted on a thread). Ctrl+C stops after the batch being written: the report says
    ``interrupted`` and the same call resumes.
    """
    output = Path(output)
    fmt = output_format(output, fmt)
    rejects = Path(rejects) if rejects else output.with_name(output.name + ".rejects.jsonl")
    report = ClassifyReport()
    started = time.perf_counter()
    writer_class = _ParquetWriter if fmt == "parquet" else _Writer
    writer = writer_class(output, fmt, suggester.model, restart=restart, human=human, auto_accept=auto_accept)
    stats_before = dataclasses.replace(suggester.stats)
    if restart and rejects.exists():
        rejects.unlink()
    bar = start_progress(progress, total, count_from, already_done=len(writer.done))
    completed = False
    try:
        reject_file = RejectLog(rejects)
        with contextlib.closing(reject_file):

            def on_reject(item: Reject) -> None:
                report.rejected += 1
                reject_file.write(item.to_json_line())

            def already_done(case: Case) -> bool:
                if case.id in writer.done:
                    report.resumed += 1
                    return True
                return False

            for batch in _batches(items, batch_size, on_reject, already_done):
                documents = suggester.embed(batch)
                suggestions = suggester.suggest_embedded(batch, documents)
                for case, document, suggestion in zip(batch, documents, suggestions, strict=True):
                    writer.write(case, document.language, suggestion)
                writer.flush()
                reject_file.flush()
                report.classified += len(batch)
                if bar is not None:
                    bar.update(len(batch))
        completed = True
    except KeyboardInterrupt:
        # Everything written is whole (flushed per batch); the next run resumes after it.
        report.interrupted = True
    finally:
        end_run(writer, bar, rejects, report, started, completed=completed)
        report.embedded = suggester.stats.embedded - stats_before.embedded
        report.cached = suggester.stats.cached - stats_before.cached
        report.embedding_seconds = suggester.stats.seconds - stats_before.seconds
    return report
