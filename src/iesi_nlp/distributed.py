"""Bulk classification on Ray Data: the same records as :mod:`iesi_nlp.bulk`, from several workers.

``iesi-nlp classify INPUT… --workers N [--ray-address ADDRESS]`` runs this streaming job:

1. **read and validate**: one Ray task per input file runs ingestion (the same readers,
   repairs and checks as ``iesi-nlp ingest``) and yields cases and rejects;
2. **embed and code**: a pool of ``N`` actors, each holding one :class:`~iesi_nlp.suggest.Suggester`
   (model and embedder loaded once per actor), turns batches of cases into suggestions;
3. **write**: the driver receives the results in input order and writes them with the
   in-process writer, so resuming, provenance, formats and rejects are exactly those of the
   in-process path (an id seen twice is rejected as a duplicate, as ingestion does).

Ray is optional (``pip install -e ".[ray]"``). Each worker gets ``threads_per_worker`` CPUs
(by default this machine's cores shared out between the workers) and Ray holds its
embedder to that many threads (``OMP_NUM_THREADS``), so workers do not fight over cores.
Without ``--ray-address`` a local Ray runtime starts with those CPUs plus one for reading.
What is written is flushed per batch, so a run killed at any moment resumes with the same
command, as in-process. A worker that dies is restarted by Ray and its batch done again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from iesi_nlp.bulk import (  # the writers are shared with the in-process path
    ClassifyReport,
    HumanLabels,
    RejectLog,
    _ParquetWriter,
    _Writer,
    end_run,
    output_format,
    start_progress,
)
from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.auto_accept import AutoAccept
from iesi_nlp.coding.suggestion import Suggestion
from iesi_nlp.errors import InputError
from iesi_nlp.ingest import IngestOptions, Reject, check_inputs, expand_inputs
from iesi_nlp.ingest.pipeline import Ingestor
from iesi_nlp.records import Case
from iesi_nlp.suggest import Suggester

#: Target size of the blocks the reading tasks emit: a few cases each (the actor pool bundles them into batches).
READ_BLOCK_BYTES = 8 * 1024

INSTALL_HINT = 'the Ray path needs Ray Data: pip install -e ".[ray]" (or pip install "ray[data]==2.60.0")'


def require_ray():
    """The ``ray`` module, or an :class:`InputError` saying exactly what to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError(f"--workers: {INSTALL_HINT}") from None
    return ray


def _ingest_file(row: dict[str, Any], codebook: Codebook, options: IngestOptions) -> Iterator[dict[str, Any]]:
    """Ray task body: one file's cases and rejects, as rows (JSON strings, so Arrow needs no schema)."""
    ingestor = Ingestor(codebook, options)
    for item in ingestor.ingest_file(Path(row["path"])):
        if isinstance(item, Reject):
            yield {"kind": "reject", "payload": item.to_json_line().decode().rstrip("\n")}
        else:
            yield {"kind": "case", "payload": item.model_dump_json()}


class _SuggestActor:
    """Ray actor: one Suggester per worker, loaded once; codes the cases of each batch it gets."""

    def __init__(self, model_dir: str, embedder_spec: str | None, cache: str | None, evidence: bool) -> None:
        from iesi_nlp.workflow import open_suggester

        self.suggester = open_suggester(
            model_dir, embedder_spec=embedder_spec, cache=Path(cache) if cache else None, evidence=evidence
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        kinds, payloads = list(batch["kind"]), list(batch["payload"])
        positions = [i for i, kind in enumerate(kinds) if kind == "case"]
        cases = [Case.model_validate_json(payloads[i]) for i in positions]
        languages: list[str | None] = [None] * len(kinds)
        suggestions: list[str] = [""] * len(kinds)
        # The batch's embedding counts ride on its first row, so the driver's summary adds them up.
        embedded, cached, seconds = [0] * len(kinds), [0] * len(kinds), [0.0] * len(kinds)
        if cases:
            before = dataclasses.replace(self.suggester.stats)
            documents = self.suggester.embed(cases)
            for i, document, suggestion in zip(
                positions, documents, self.suggester.suggest_embedded(cases, documents), strict=True
            ):
                languages[i] = document.language
                suggestions[i] = orjson.dumps(suggestion.to_record()).decode()
            stats = self.suggester.stats
            embedded[0] = stats.embedded - before.embedded
            cached[0] = stats.cached - before.cached
            seconds[0] = stats.seconds - before.seconds
        return {
            "kind": kinds,
            "payload": payloads,
            "language": languages,
            "suggestion": suggestions,
            "embedded": embedded,
            "cached": cached,
            "embedding_seconds": seconds,
        }


def default_threads_per_worker(workers: int) -> int:
    """This machine's cores shared out between ``workers`` (at least one each)."""
    return max(1, (os.cpu_count() or 1) // workers)


def classify_files_ray(
    inputs: Sequence[str | Path],
    model_dir: Path,
    output: str | Path,
    *,
    workers: int,
    threads_per_worker: int | None = None,
    ray_address: str | None = None,
    codebook: Codebook | None = None,
    embedder_spec: str | None = None,
    cache: Path | None = None,
    evidence: bool = True,
    fmt: str | None = None,
    rejects: str | Path | None = None,
    ingest_options: IngestOptions | None = None,
    batch_size: int = 32,
    restart: bool = False,
    progress: bool = False,
    human: HumanLabels | None = None,
    auto_accept: AutoAccept | None = None,
    suggester: Suggester | None = None,
) -> ClassifyReport:
    """Classify every case in ``inputs`` into ``output`` on Ray Data; resume where an earlier run stopped.

    ``suggester``: the model already opened by the caller (else it is opened here); each worker opens its own.
    ``threads_per_worker``: CPUs (and embedder threads) per worker; by default
    :func:`default_threads_per_worker`.
    """
    ray = require_ray()
    from iesi_nlp.workflow import open_suggester

    check_inputs(inputs)
    # The driver opens the model too: it checks model and embedder before any worker starts,
    # and the writer needs the model's labels and card.
    local = suggester or open_suggester(
        model_dir, codebook=codebook, embedder_spec=embedder_spec, cache=cache, evidence=evidence
    )
    output = Path(output)
    fmt = output_format(output, fmt)
    rejects = Path(rejects) if rejects else output.with_name(output.name + ".rejects.jsonl")
    options = ingest_options or IngestOptions(dedupe_texts=False, detect_language=False, read_labels=False)
    report = ClassifyReport()
    started = time.perf_counter()
    writer_class = _ParquetWriter if fmt == "parquet" else _Writer
    writer = writer_class(output, fmt, local.model, restart=restart, human=human, auto_accept=auto_accept)
    if restart and rejects.exists():
        rejects.unlink()
    files = [str(path) for path in expand_inputs(inputs)]
    threads = threads_per_worker or default_threads_per_worker(workers)
    if not ray.is_initialized():
        if ray_address:
            ray.init(address=ray_address, log_to_driver=False)
        else:
            # The workers' CPUs, and one for the reading tasks, so that reading never waits for a CPU the
            # workers hold (with exactly the workers' CPUs, the actors took them all and reading starved).
            # Ray's CPUs are slots, not cores: on 2 cores, 2 workers of 1 thread each and the reader share them.
            ray.init(
                num_cpus=workers * threads + 1, include_dashboard=False, log_to_driver=False, configure_logging=False
            )
    # Ray Data's own progress lines and INFO logs would interleave with ours: ours say it all.
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # the same order, and so the same output, as in-process
    context.enable_progress_bars = False
    # Small blocks: a file's cases leave its reading task in many blocks rather than one, so that one
    # large CSV feeds every worker (with the default 128 MiB blocks, one file meant one busy worker).
    # The actor pool bundles blocks back up to ``batch_size`` cases per call.
    context.target_max_block_size = READ_BLOCK_BYTES
    dataset = ray.data.from_items([{"path": path} for path in files], override_num_blocks=max(1, len(files)))
    dataset = dataset.flat_map(
        _ingest_file, fn_kwargs={"codebook": local.model.codebook, "options": options}, num_cpus=0.5
    )
    dataset = dataset.map_batches(
        _SuggestActor,
        fn_constructor_args=(
            str(model_dir),
            embedder_spec or local.model.embedder_spec,
            str(cache) if cache else None,
            evidence,
        ),
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=workers),
        # Ray sets OMP_NUM_THREADS to an actor's CPUs: this is what holds each embedder to its threads.
        num_cpus=threads,
        batch_format="default",
    )
    seen: dict[str, str] = {}
    bar = start_progress(progress, None, files, already_done=len(writer.done))
    completed = False
    try:
        reject_file = RejectLog(rejects)
        with contextlib.closing(reject_file):
            for row in dataset.iter_rows():
                report.embedded += row["embedded"]
                report.cached += row["cached"]
                report.embedding_seconds += row["embedding_seconds"]
                if row["kind"] == "reject":
                    report.rejected += 1
                    reject_file.write(row["payload"].encode())
                    continue
                case = Case.model_validate_json(row["payload"])
                if case.id in writer.done:
                    report.resumed += 1
                    continue
                if case.id in seen:  # as ingestion rejects an id repeated across files
                    report.rejected += 1
                    reason = f"{case.origin}: duplicate id {case.id!r} (first seen at {seen[case.id]})"
                    reject_file.write(Reject("row", "", case.origin or "", reason).to_json_line())
                    continue
                seen[case.id] = case.origin or case.id
                suggestion = Suggestion.from_record({"id": case.id, **orjson.loads(row["suggestion"])})
                writer.write(case, row["language"], suggestion)
                report.classified += 1
                if report.classified % batch_size == 0:
                    writer.flush()
                    reject_file.flush()
                if bar is not None:
                    bar.update(1)
        completed = True
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        end_run(writer, bar, rejects, report, started, completed=completed)
    return report
