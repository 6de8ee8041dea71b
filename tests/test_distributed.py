"""Bulk classification on Ray Data (local mode): the same records as in-process, from a folder of mixed reports."""

from __future__ import annotations

import sys

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
        result = runner.invoke(app, [*base, "-o", str(distributed), "--workers", "2"])
        assert result.exit_code == 0, result.output
        # A rerun resumes: nothing is classified twice.
        again = runner.invoke(app, [*base, "-o", str(distributed), "--workers", "2"])
        assert again.exit_code == 0 and "13 cases were already in" in again.output, again.output
    finally:
        ray.shutdown()
    ours, theirs = read_jsonl(local), read_jsonl(distributed)
    assert [r["id"] for r in ours] == [r["id"] for r in theirs] and len(ours) == 13
    for mine, other in zip(ours, theirs, strict=True):
        same = ("title", "input_file", "input_location", "language", "labels", "source", "model", "version")
        assert {k: mine[k] for k in same} == {k: other[k] for k in same}
        for dimension, scores in mine["scores"].items():
            # Batches differ between the two paths; BLAS sums in another order: the 4th decimal may move.
            assert scores == pytest.approx(other["scores"][dimension], abs=2e-4)
    rejects = [tmp_path / "local.jsonl.rejects.jsonl", tmp_path / "ray.jsonl.rejects.jsonl"]
    assert [len(read_jsonl(r)) for r in rejects] == [1, 1]
    assert read_jsonl(rejects[0])[0]["reason"] == read_jsonl(rejects[1])[0]["reason"]


def test_without_ray_the_workers_option_says_what_to_install(monkeypatch):
    from iesi_nlp.distributed import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r'pip install -e "\.\[ray\]"'):
        require_ray()
