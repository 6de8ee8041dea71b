"""The command line, end to end on real files."""

from __future__ import annotations

import shutil
import subprocess

import orjson
import pandas as pd
import yaml
from typer.testing import CliRunner

from iesi_nlp.cli.main import app
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT, read_jsonl
from tests.test_codebook import OTHER_FRAMEWORK

runner = CliRunner()


def test_console_script_help():
    executable = shutil.which("iesi-nlp")
    assert executable, "the iesi-nlp console script is not installed"
    result = subprocess.run([executable, "--help"], capture_output=True, text=True, check=True)
    for command in ("quickstart", "ingest", "corpus", "codebook"):
        assert command in result.stdout


def test_ingest_command_end_to_end(tmp_path):
    table = tmp_path / "good_practices.csv"
    pd.DataFrame(
        {
            "project_id": ["gp1", "gp2", "gp3"],
            "description": [EN_TEXT, DE_TEXT, PL_TEXT],
            "domains": ["long_term_care", "long_term_care|health", "care"],
        }
    ).to_csv(table, index=False)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.txt").write_text(EN_TEXT.replace("Tampere", "Turku"), encoding="utf-8")
    (reports / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    output = tmp_path / "out" / "cases.jsonl"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(table),
            str(reports),
            "--output",
            str(output),
            "--column",
            "text=description",
            "--column",
            "id=project_id",
            "--label",
            "service_domain=domains",
        ],
    )
    assert result.exit_code == 0, result.output
    cases = read_jsonl(output)
    rejects = read_jsonl(output.with_name("cases.rejects.jsonl"))
    assert [c["id"] for c in cases][:2] == ["gp1", "gp2"] and len(cases) == 3
    assert {r["location"] for r in rejects} == {"row 3", ""}
    assert "unknown label 'care'" in rejects[0]["reason"]
    assert "corrupt or unreadable PDF" in rejects[1]["reason"]
    flat = " ".join(result.output.split())
    assert "4 records read = 3 ingested + 1 rejected (balanced)" in flat
    assert "files rejected │ 1" in flat


def test_ingest_strict_exit_code_and_bad_option(tmp_path):
    table = tmp_path / "t.csv"
    pd.DataFrame({"text": [EN_TEXT, "short"]}).to_csv(table, index=False)
    result = runner.invoke(app, ["ingest", str(table), "-o", str(tmp_path / "o.jsonl"), "--strict"])
    assert result.exit_code == 1
    result = runner.invoke(app, ["ingest", str(table), "--column", "text"])
    assert result.exit_code == 2 and "expected FIELD=COLUMN" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "input not found" in result.output


def test_ingest_with_another_codebook(tmp_path):
    codebook_path = tmp_path / "sdg.yaml"
    codebook_path.write_text(yaml.safe_dump(OTHER_FRAMEWORK), encoding="utf-8")
    data = tmp_path / "c.jsonl"
    data.write_bytes(
        orjson.dumps({"id": "s1", "text": EN_TEXT, "labels": {"goal": ["good_health"]}})
        + b"\n"
        + orjson.dumps({"id": "s2", "text": DE_TEXT, "labels": {"goal": ["zero_hunger"]}})
        + b"\n"
    )
    output = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["ingest", str(data), "-o", str(output), "--codebook", str(codebook_path)])
    assert result.exit_code == 0, result.output
    assert read_jsonl(output)[0]["labels"] == {"goal": ["good_health"]}
    rejects = read_jsonl(tmp_path / "o.rejects.jsonl")
    assert "unknown label 'zero_hunger' for dimension 'goal'; allowed: no_poverty, good_health" in rejects[0]["reason"]


def test_codebook_commands(tmp_path):
    result = runner.invoke(app, ["codebook", "show", "integration_level"])
    assert result.exit_code == 0 and "inter_governmental" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("codebook: {id: x, version: 1}\ndimensions: []\n", encoding="utf-8")
    result = runner.invoke(app, ["codebook", "validate", str(broken)])
    assert result.exit_code == 2 and "'dimensions' must be a non-empty list" in result.output
    result = runner.invoke(app, ["codebook", "show", "sector"])
    assert result.exit_code == 2 and "unknown dimension 'sector'" in result.output
