"""Bulk classification on Ray Data (local mode): the same records as in-process, from a folder of mixed reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from iesi_nlp.cli.main import app
from iesi_nlp.errors import InputError
from tests.conftest import read_jsonl
from tests.small_corpus import small_cases

runner = CliRunner()


@pytest.fixture
def reports(tmp_path):
    """A folder of scraped-report-like files: a CSV (10 cases), two HTML pages, a PDF and an unusable PDF."""
    from fpdf import FPDF

    folder = tmp_path / "reports"
    folder.mkdir()
    texts = [case.text for case in small_cases()]
    pd.DataFrame({"id": [f"csv-{i}" for i in range(10)], "text": texts[:10]}).to_csv(folder / "a.csv", index=False)
    for i in range(2):
        body = f"<html><head><title>Report {i}</title></head><body><nav>Home | About | Contact</nav>"
        body += f"<article><p>{texts[10 + i]}</p><p>{texts[12 + i]}</p></article></body></html>"
        (folder / f"page-{i}.html").write_text(body, encoding="utf-8")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, texts[20])
    pdf.output(str(folder / "report.pdf"))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    return folder


@pytest.mark.slow
def test_two_ray_workers_write_what_the_in_process_path_writes(trained, reports, tmp_path):
    ray = pytest.importorskip("ray")
    _, _, directory = trained
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    base = ["classify", str(reports), "--model", str(directory)]
    result = runner.invoke(app, [*base, "-o", str(local)])
    assert result.exit_code == 0, result.output
    try:
        # Its own empty cache: the workers embed every text afresh, in batches other than in-process.
        fresh = ["--workers", "2", "--cache", str(tmp_path / "ray-cache")]
        result = runner.invoke(app, [*base, "-o", str(distributed), *fresh])
        assert result.exit_code == 0, result.output
        assert "13 cases classified" in result.output and "13 embedded, 0 from cache" in result.output, result.output
        # A rerun resumes: nothing is classified twice.
        again = runner.invoke(app, [*base, "-o", str(distributed), *fresh])
        assert again.exit_code == 0 and "13 cases were already in" in again.output, again.output
    finally:
        ray.shutdown()
    ours, theirs = read_jsonl(local), read_jsonl(distributed)
    assert len(ours) == 13
    # Identical, score for score: embedding does not depend on the batch, or on the thread count.
    assert ours == theirs
    rejects = [tmp_path / "local.jsonl.rejects.jsonl", tmp_path / "ray.jsonl.rejects.jsonl"]
    assert [len(read_jsonl(r)) for r in rejects] == [1, 1]
    assert read_jsonl(rejects[0])[0]["reason"] == read_jsonl(rejects[1])[0]["reason"]


def _parent(pid: int) -> int | None:
    try:
        # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _suggest_workers(root: int) -> list[int]:
    """Process ids of the Ray workers holding a Suggester (Ray names them by process title) started under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MapBatches(_SuggestActor)" not in title:
                continue
            pid, ancestor = int(entry.name), int(entry.name)
            while ancestor not in (None, 0, 1, root):  # another Ray run on the machine is not ours
                ancestor = _parent(ancestor)
            if ancestor == root:
                found.append(pid)
    return found


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_no_case_and_repeats_none(trained, tmp_path):
    """SIGKILL one of two workers while it codes: Ray restarts it, its batch is done again, each case once."""
    pytest.importorskip("ray")
    _, _, directory = trained
    texts = [case.text for case in small_cases()]
    # 96 cases in one file (one file must feed both workers), embedded afresh so the run lasts a while.
    rows = [{"id": f"w{i}", "text": f"Report {i}. {texts[i % len(texts)]}"} for i in range(96)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    output = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "iesi_nlp", "classify", str(source), "--model", str(directory), "-o", str(output)]
    command += ["--workers", "2", "--threads-per-worker", "1", "--batch-size", "4", "--cache", str(tmp_path / "c")]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 300
        while not (output.exists() and output.read_bytes().count(b"\n") >= 8) and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()
            time.sleep(0.1)
        workers = _suggest_workers(run.pid)
        assert len(workers) == 2, "both workers should be busy on the one input file"
        written_when_killed = output.read_bytes().count(b"\n")
        os.kill(workers[0], signal.SIGKILL)
        out, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert written_when_killed < len(rows), "the worker was killed after the run had finished"
    assert run.returncode == 0, err
    assert "96 cases classified" in out, out
    ids = [record["id"] for record in read_jsonl(output)]
    assert sorted(ids) == sorted(row["id"] for row in rows)


def test_without_ray_the_workers_option_says_what_to_install(monkeypatch):
    from iesi_nlp.distributed import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r'pip install -e "\.\[ray\]"'):
        require_ray()
