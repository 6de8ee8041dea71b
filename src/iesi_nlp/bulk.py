"""Bulk classification: stream any input ``ingest`` reads through a :class:`~iesi_nlp.suggest.Suggester` into JSONL or CSV.

Memory stays flat whatever the input size: cases are read, embedded, coded and
written in batches, and only the ids already written are kept (to resume). An
interrupted run is resumed by running the same command again: the ids in the
output are skipped, and a last line cut off mid-write is dropped first.

Each output object (JSONL) is the case's own fields followed by its
:class:`~iesi_nlp.coding.suggestion.Suggestion` in its record form::

    {"id", "title", "url", "case_source", "language", "country",
     "labels": {dim: [ids]}, "scores": {dim: {label: p}},
     "source": {dim: "supervised"|"codebook"|"blend"},
     "evidence": {dim: {label: [{"text", "start", "end"}]}}, "model", "version"}

``title``, ``url``, ``language`` and ``country`` are the case's own (empty or null when
the input has none); ``case_source`` is the case's source (its collection, e.g. a
website), named so because ``source`` already says where each dimension's suggestion
came from. The CSV form has one row per case: ``id``, ``title``, ``url``,
``case_source``, ``language``, ``country``, then the suggestion's CSV form
(:func:`~iesi_nlp.coding.suggestion.csv_columns`): ``model``, per dimension
``labels.<dim>`` (ids joined by ``|``), ``source.<dim>`` and ``score.<dim>.<label>``
for every label, and ``evidence`` as a JSON string.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from iesi_nlp.coding.model import CodingModel
from iesi_nlp.coding.suggestion import Suggestion, csv_columns
from iesi_nlp.errors import InputError
from iesi_nlp.ingest import IngestOptions, Reject, iter_ingest
from iesi_nlp.records import Case
from iesi_nlp.suggest import Suggester

FORMATS = ("jsonl", "csv")
#: The case's own fields at the start of every output record, in this order.
CASE_COLUMNS = ("id", "title", "url", "case_source", "language", "country")
DEFAULT_BATCH_SIZE = 32


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
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


class _Writer:
    """Appends result rows to the output and knows which ids it already holds."""

    def __init__(self, path: Path, fmt: str, model: CodingModel, *, restart: bool) -> None:
        self.path, self.fmt, self.model = path, fmt, model
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

    def _labels(self) -> dict[str, list[str]]:
        return {dimension_id: head.label_ids for dimension_id, head in self.model.dimensions.items()}

    def _csv_header(self) -> list[str]:
        return [*CASE_COLUMNS, *csv_columns(self._labels())]

    def _write_csv_row(self, row: Sequence[Any]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        self.handle.write(buffer.getvalue().encode("utf-8"))

    def write(self, case: Case, language: str | None, suggestion: Suggestion) -> None:
        fields = {
            "id": case.id,
            "title": case.title,
            "url": case.url,
            "case_source": case.source,
            "language": case.language or language,
            "country": case.country,
        }
        if self.fmt == "jsonl":
            self.handle.write(orjson.dumps({**fields, **suggestion.to_record()}) + b"\n")
            return
        self._write_csv_row([*(fields[c] or "" for c in CASE_COLUMNS), *suggestion.csv_cells(self._labels())])

    def flush(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.flush()
        self.handle.close()


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
) -> ClassifyReport:
    """Classify every case in ``inputs`` into ``output``; resume where an earlier run stopped."""
    for path in inputs:
        if not Path(path).exists():
            raise InputError(f"{path}: input not found")
    options = ingest_options or IngestOptions(dedupe_texts=False, detect_language=False, read_labels=False)
    _, items = iter_ingest(inputs, suggester.model.codebook, options)
    return classify_stream(
        items, suggester, output, fmt=fmt, rejects=rejects, batch_size=batch_size, restart=restart, progress=progress
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
) -> ClassifyReport:
    """Classify a stream of cases (rejects are written to ``rejects``) into ``output``, resuming as above."""
    output = Path(output)
    fmt = output_format(output, fmt)
    rejects = Path(rejects) if rejects else output.with_name(output.name + ".rejects.jsonl")
    report = ClassifyReport()
    started = time.perf_counter()
    writer = _Writer(output, fmt, suggester.model, restart=restart)
    stats_before = dataclasses.replace(suggester.stats)
    if restart and rejects.exists():
        rejects.unlink()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" cases", desc="classify", disable=None)
    try:
        with rejects.open("ab") as reject_file:

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
    finally:
        writer.close()
        if bar is not None:
            bar.close()
        # Nothing rejected (in this run or an earlier one resumed): no empty rejects file to puzzle over.
        if rejects.exists() and rejects.stat().st_size == 0:
            rejects.unlink()
        report.seconds = time.perf_counter() - started
        report.embedded = suggester.stats.embedded - stats_before.embedded
        report.cached = suggester.stats.cached - stats_before.cached
        report.embedding_seconds = suggester.stats.seconds - stats_before.seconds
    return report
