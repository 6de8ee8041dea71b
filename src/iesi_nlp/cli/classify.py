"""``iesi-nlp classify``: suggest codes for every case in any input ``ingest`` reads."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from iesi_nlp.annotation.labels import VerifiedLabels
from iesi_nlp.bulk import DEFAULT_BATCH_SIZE, FORMATS, classify_files, classify_stream
from iesi_nlp.cli.common import (
    CodebookOption,
    ProjectOption,
    codebook_from_option,
    console,
    parse_pairs,
    user_errors,
)
from iesi_nlp.cli.train import CacheOption
from iesi_nlp.ingest import SUPPORTED_SUFFIXES, IngestOptions
from iesi_nlp.project import Project
from iesi_nlp.registry import resolve_model_dir
from iesi_nlp.workflow import DEFAULT_MODEL_NAME, DEFAULT_MODELS_DIR, auto_accept_policy, open_suggester


def classify_cli(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help=f"Files or folders ({', '.join(sorted(SUPPORTED_SUFFIXES))}). With --project and no input: "
            "the project's own cases.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="A model folder, or a folder of versions (its serving one). Default: the project's serving "
            f"version with --project, else {DEFAULT_MODELS_DIR / DEFAULT_MODEL_NAME}.",
        ),
    ] = None,
    project: ProjectOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Suggestions, one per case (JSONL; CSV or Parquet by suffix). Default: suggestions.jsonl, or "
            "PROJECT/exports/suggestions-VERSION.jsonl with --project.",
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help=f"{' or '.join(FORMATS)}; by default from OUTPUT's suffix.")
    ] = None,
    rejects: Annotated[Path | None, typer.Option(help="Unusable records. Default: OUTPUT.rejects.jsonl.")] = None,
    column: Annotated[
        list[str] | None, typer.Option("--column", "-c", help="Map a case field to an input column, e.g. text=body.")
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Start OUTPUT afresh instead of resuming where it stopped.")
    ] = False,
    no_evidence: Annotated[bool, typer.Option("--no-evidence", help="Leave evidence sentences out.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Cases embedded and written together.")] = DEFAULT_BATCH_SIZE,
    max_chars: Annotated[int, typer.Option(help="Longest usable text, in characters.")] = 1_000_000,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help="Embedder; must be the one the model was trained with.")
    ] = None,
    cache: CacheOption = None,
    codebook: CodebookOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Run on Ray Data with this many workers, each with its own embedder (pip install -e '.[ray]').",
        ),
    ] = None,
    auto_accept: Annotated[
        float | None,
        typer.Option(
            "--auto-accept",
            help="Mark the labels that may be accepted unreviewed at this precision (e.g. 0.95), as estimated "
            "on your own judged cases; each record gains auto_accepted.",
        ),
    ] = None,
    threads_per_worker: Annotated[
        int | None,
        typer.Option(
            "--threads-per-worker",
            min=1,
            help="CPUs and embedder threads per Ray worker. Default: this machine's cores shared out between the "
            "workers (on a cluster, give the cores of one worker).",
        ),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Join this Ray cluster (e.g. ray://head:10001); with --workers.")
    ] = None,
) -> None:
    """Suggest codes with calibrated scores, their source and evidence sentences, for every case.

    Each record keeps the case's title, URL, source (as case_source), language and country.
    Streams: memory stays flat however large the input. Run the same command again
    after an interruption and it resumes, skipping cases already in OUTPUT.
    """
    with user_errors():
        opened = Project.open(project) if project is not None else None
        if not inputs and opened is None:
            raise typer.BadParameter("give the files to classify, or --project DIR for a project's cases")
        if threads_per_worker and not (workers or ray_address):
            raise typer.BadParameter("--threads-per-worker goes with --workers (the Ray path)")
        if (workers or ray_address) and not inputs:
            raise typer.BadParameter("--workers runs over input files; give the files or folders to classify")
        if workers or ray_address:
            from iesi_nlp.distributed import require_ray

            require_ray()  # says what to install before any model is loaded
        cb = codebook_from_option(codebook) if codebook else (opened.codebook if opened else None)
        model_dir = resolve_model_dir(
            model or (opened.models_dir if opened else DEFAULT_MODELS_DIR / DEFAULT_MODEL_NAME)
        )
        suggester = open_suggester(
            model_dir, codebook=cb, embedder_spec=embedder, cache=cache, evidence=not no_evidence
        )
        policy = None
        if auto_accept is not None:
            policy = auto_accept_policy(model_dir, suggester.model, auto_accept, store=opened.store if opened else None)
            print_auto_accept_rules(policy)
        if output is None:
            output = opened.exports_dir / f"suggestions-{model_dir.name}.jsonl" if opened else Path("suggestions.jsonl")
        common = dict(
            fmt=fmt,
            rejects=rejects,
            batch_size=batch_size,
            restart=restart,
            progress=True,  # a bar on a terminal, a line every 30 s in a log
            human=VerifiedLabels(opened.store) if opened else None,
            auto_accept=policy,
        )
        if inputs:
            options = IngestOptions(
                columns=parse_pairs(column, "--column"),
                max_text_chars=max_chars,
                dedupe_texts=False,
                detect_language=False,
                read_labels=False,
            )
            if workers or ray_address:
                from iesi_nlp.distributed import classify_files_ray

                report = classify_files_ray(
                    inputs,
                    model_dir,
                    output,
                    workers=workers or 1,
                    threads_per_worker=threads_per_worker,
                    ray_address=ray_address,
                    codebook=cb,
                    embedder_spec=embedder,
                    cache=cache,
                    evidence=not no_evidence,
                    ingest_options=options,
                    suggester=suggester,
                    **common,
                )
            else:
                report = classify_files(inputs, suggester, output, ingest_options=options, **common)
        else:
            cases = opened.cases()
            report = classify_stream(cases, suggester, output, total=len(cases), **common)
    if report.interrupted:
        resume = shlex.join(["iesi-nlp", *(a for a in sys.argv[1:] if a != "--restart")])
        console.print(
            f"[yellow]Stopped.[/] {report.classified:,} cases classified in this run"
            f"{f' (after {report.resumed:,} from an earlier one)' if report.resumed else ''}, "
            f"{report.classified + report.resumed:,} in {output} in all; every record written is complete.",
            highlight=False,
        )
        # soft_wrap: the terminal wraps the command, not rich, so it copies and pastes as one line.
        console.print(f"Resume with: {resume}", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(130)
    rate = report.classified / report.seconds if report.seconds else 0.0
    console.print(
        f"[green]✓[/] {report.classified:,} cases classified → {output} ({rate:.1f} cases/s; "
        f"{report.embedded:,} embedded, {report.cached:,} from cache)"
    )
    if report.resumed:
        console.print(f"  {report.resumed:,} cases were already in {output} and were skipped (resumed run)")
    if report.auto_accepted is not None:
        print_auto_accept_tally(report.auto_accepted)
    if report.rejected:
        console.print(
            f"  {report.rejected:,} records rejected → {rejects or output.with_name(output.name + '.rejects.jsonl')}"
        )


def print_auto_accept_rules(policy) -> None:
    """Before the run: per dimension, the threshold used, or why nothing is auto-accepted."""
    console.print(f"Auto-accept at {policy.target:.0%} precision (estimated on your own judged cases):")
    for dimension_id, rule in policy.thresholds.items():
        if rule.active:
            console.print(
                f"  {dimension_id}: score ≥ {rule.threshold:.3f} (precision {rule.lower:.2f}–{rule.upper:.2f} "
                f"on {rule.accepted} of {rule.outcomes} own judged suggestions)",
                highlight=False,
            )
        else:
            console.print(f"  {dimension_id}: off; {rule.reason}", highlight=False)


def print_auto_accept_tally(tally) -> None:
    """After the run: per dimension, the share of cases and of decided labels auto-accepted."""
    console.print("  auto-accepted (cases with a label accepted; labels accepted of those decided):")
    for dimension_id, cases in tally.cases.items():
        accepted_cases, labels = tally.cases_accepted[dimension_id], tally.labels[dimension_id]
        accepted_labels = tally.labels_accepted[dimension_id]
        console.print(
            f"    {dimension_id}: {accepted_cases:,} of {cases:,} cases ({accepted_cases / max(cases, 1):.0%}), "
            f"{accepted_labels:,} of {labels:,} labels ({accepted_labels / max(labels, 1):.0%})",
            highlight=False,
        )
