"""Bulk classification: interruption and resume, progress without a terminal, provenance."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from iesi_nlp import bulk
from iesi_nlp.bulk import classify_stream, split_origin
from iesi_nlp.cli.main import app
from iesi_nlp.records import Case, write_cases
from iesi_nlp.workflow import open_suggester
from tests.conftest import read_jsonl
from tests.small_corpus import small_cases


def cases(n: int) -> list[Case]:
    return [Case(id=f"b{i}", text=case.text, language=case.language) for i, case in enumerate(small_cases()[:n])]


def interrupted_after(items, n: int):
    """The stream of ``items``, with Ctrl+C pressed after ``n`` of them."""
    for number, item in enumerate(items):
        if number == n:
            raise KeyboardInterrupt
        yield item


def test_ctrl_c_keeps_whole_batches_and_the_same_call_resumes(trained, tmp_path):
    _, _, directory = trained
    suggester = open_suggester(directory)
    output = tmp_path / "out.jsonl"
    first = classify_stream(interrupted_after(cases(12), 9), suggester, output, batch_size=4)
    assert first.interrupted and first.classified == 8  # two whole batches; the third never started
    assert [r["id"] for r in read_jsonl(output)] == [f"b{i}" for i in range(8)]
    second = classify_stream(cases(12), suggester, output, batch_size=4)
    assert not second.interrupted and (second.resumed, second.classified) == (8, 4)
    assert sorted(r["id"] for r in read_jsonl(output)) == sorted(f"b{i}" for i in range(12))


def test_the_cli_says_where_it_stopped_and_how_to_resume(trained, tmp_path, monkeypatch):
    _, _, directory = trained
    source = tmp_path / "in.jsonl"
    write_cases(cases(6), source)
    output = tmp_path / "out.jsonl"
    real = bulk._batches

    def stop_after_first(items, size, on_reject, skip):
        for number, batch in enumerate(real(items, size, on_reject, skip)):
            if number == 1:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(bulk, "_batches", stop_after_first)
    args = ["classify", str(source), "--model", str(directory), "-o", str(output), "--batch-size", "3", "--restart"]
    monkeypatch.setattr("sys.argv", ["iesi-nlp", *args])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert "Stopped." in result.output and "3 cases classified in this run" in result.output
    resume = result.output.split("Resume with:")[1]
    assert "iesi-nlp classify" in resume and "--restart" not in resume  # resuming must not start afresh
    monkeypatch.setattr(bulk, "_batches", real)
    result = CliRunner().invoke(app, args[:-1])
    assert result.exit_code == 0 and "3 cases were already in" in result.output
    assert len(read_jsonl(output)) == 6


def test_without_a_terminal_progress_is_a_line_now_and_then(monkeypatch):
    errors = io.StringIO()
    monkeypatch.setattr("sys.stderr", errors)
    progress = bulk._Progress(total=10, every=0.0)
    progress.update(4)
    progress.close()
    assert errors.getvalue().startswith("classify: 4 of 10 cases done") and "cases/s, ETA" in errors.getvalue()


def test_the_bar_gets_its_total_counted_from_the_inputs_for_an_eta(tmp_path, monkeypatch):
    import pandas as pd
    from fpdf import FPDF

    from iesi_nlp.ingest import estimate_cases

    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n{"text": "y"}\n{"text": "z"}')  # no final newline
    pd.DataFrame({"text": ["a", "b"]}).to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame({"text": ["a", "b", "c", "d"]}).to_parquet(tmp_path / "c.parquet")
    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(tmp_path / "d.pdf"))
    (tmp_path / "e.parquet.broken").write_bytes(b"unsupported: not counted")
    (tmp_path / "f.parquet").write_bytes(b"damaged: counted as 0, reading it says why")
    assert estimate_cases([tmp_path]) == 3 + 2 + 4 + 1

    errors = io.StringIO()
    monkeypatch.setattr("sys.stderr", errors)
    progress = bulk.start_progress(True, None, [tmp_path], already_done=4)  # 4 resumed: 6 left
    for _ in range(200):
        if progress.total is not None:
            break
        time.sleep(0.01)
    progress.every = 0.0
    progress.update(3)
    assert progress.total == 6 and errors.getvalue().startswith("classify: 3 of 6 cases done")


def test_origin_splits_into_file_and_location():
    assert split_origin("data/reports 2024/a.csv row 12") == ("data/reports 2024/a.csv", "row 12")
    assert split_origin("x.jsonl line 3") == ("x.jsonl", "line 3")
    assert split_origin("report.pdf") == ("report.pdf", "")
    assert split_origin(None) == (None, None)


def test_parquet_output_is_crash_safe_and_ends_as_one_file_with_each_case_once(trained, tmp_path):
    import pandas as pd

    _, _, directory = trained
    suggester = open_suggester(directory)
    output = tmp_path / "out.parquet"
    first = classify_stream(interrupted_after(cases(12), 9), suggester, output, batch_size=4)
    parts = output.with_name("out.parquet.parts")
    assert first.interrupted and not output.exists() and len(list(parts.glob("part-*.parquet"))) == 2
    (parts / "part-000003.tmp").write_bytes(b"PAR1 cut off by a kill")  # a part a killed run left half-written
    second = classify_stream(cases(12), suggester, output, batch_size=4)
    assert (second.resumed, second.classified) == (8, 4) and not parts.exists()
    table = pd.read_parquet(output)
    assert sorted(table["id"]) == sorted(f"b{i}" for i in range(12))
    assert list(table.columns[:8]) == list(bulk.CASE_COLUMNS) and table["human_verified"].dtype == bool
    assert table["score.service_domain.health"].dtype == float and isinstance(table["labels.actors"][0][0], str)
    # Run again over more cases: the complete file resumes too, and stays one file, each case once.
    third = classify_stream(cases(14), suggester, output, batch_size=4)
    assert (third.resumed, third.classified) == (12, 2)
    assert sorted(pd.read_parquet(output)["id"]) == sorted(f"b{i}" for i in range(14))


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_killed_at_random_moments_then_rerun_gives_each_case_exactly_once(trained, tmp_path, suffix):
    import contextlib
    import random

    import pandas as pd
    import pyarrow.parquet as pq

    _, _, directory = trained
    # 480 cases whose texts are in the session's embedding cache: the runs spend their time coding and writing.
    many = [Case(id=f"k{i}", text=case.text, language=case.language) for i, case in enumerate(small_cases() * 10)]
    source = tmp_path / "in.jsonl"
    write_cases(many, source)
    output = tmp_path / f"out.{suffix}"
    command = [sys.executable, "-m", "iesi_nlp", "classify", str(source), "--model", str(directory)]
    command += ["-o", str(output), "--batch-size", "4"]
    parts = output.with_name(output.name + ".parts")

    def written() -> int:
        """Records written so far (a part may vanish while counted: a run that completes merges them)."""
        if suffix == "jsonl":
            return len(output.read_bytes().splitlines()) if output.exists() else 0
        rows = 0
        for part in list(parts.glob("part-*.parquet")):
            with contextlib.suppress(OSError):
                rows += pq.read_metadata(part).num_rows
        return rows

    rng = random.Random(7)
    cut_short = []
    for _ in range(4):
        before = written()
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        deadline = time.monotonic() + 120
        while written() == before and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # wait for the first new batch, then kill at a random moment of the writing
        time.sleep(rng.uniform(0.0, 0.6))
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
        cut_short.append(0 < written() < len(many))
    assert any(cut_short), "no run was killed while it was writing"
    finished = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert finished.returncode == 0, finished.stderr
    ids = list(pd.read_parquet(output)["id"]) if suffix == "parquet" else [r["id"] for r in read_jsonl(output)]
    assert len(ids) == len(many) and set(ids) == {case.id for case in many}
