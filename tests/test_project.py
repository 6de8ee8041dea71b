"""Projects: a collection's cases, decisions, model versions, exports and event log in one folder."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from typer.testing import CliRunner

from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.cli.main import app
from iesi_nlp.coding.card import read_card
from iesi_nlp.errors import InputError, ProjectError
from iesi_nlp.project import Project, open_or_create
from iesi_nlp.registry import import_version
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT, read_jsonl, write_seed_corpus

runner = CliRunner()

ROWS = [
    {
        "project_id": "gp1",
        "title": "Morning video calls",
        "description": EN_TEXT,
        "url": "https://example.org/gp1",
        "source": "good-practice-db",
        "country": "Finland",
        "service_domain": "long_term_care",
    },
    {
        "project_id": "gp2",
        "title": "Entlastung pflegender Angehöriger",
        "description": DE_TEXT,
        "url": "https://example.org/gp2",
        "source": "good-practice-db",
        "country": "DE",
        "service_domain": "",
    },
    {
        "project_id": "gp3",
        "title": "Pomoc sąsiedzka",
        "description": PL_TEXT,
        "url": "",
        "source": "good-practice-db",
        "country": "PL",
        "service_domain": "care",  # not a label of the codebook: rejected, with the reason
    },
]


@pytest.fixture
def collection(tmp_path):
    path = tmp_path / "collection.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    return path


def test_a_project_holds_its_files_and_says_what_it_is(tmp_path):
    project = Project.create(tmp_path / "p", seed="none")
    for part in ("project.json", "decisions.sqlite", "models", "exports", "uploads", "rejects", "events.jsonl"):
        assert (tmp_path / "p" / part).exists(), part
    again = Project.open(tmp_path / "p")
    assert again.config == project.config and again.config.seed == "none" and again.seed_cases() == []
    assert again.events()[0]["event"] == "project_created"
    with pytest.raises(ProjectError, match=r"not an iesi-nlp project \(no project.json\)"):
        Project.open(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="exists and is not an empty folder"):
        Project.create(tmp_path / "full")
    with pytest.raises(ProjectError, match="made with seed 'none'"):
        open_or_create(tmp_path / "p", seed="bundled")


def test_adding_files_keeps_duplicates_out_and_loses_nothing(tmp_path, collection):
    project = Project.create(tmp_path / "p", seed="none")
    (first,) = project.add_files([collection], added_by="anna")
    assert (first.records_read, first.new, first.duplicates, first.rejected) == (3, 2, 0, 1)
    assert first.balanced and first.new_ids == ["gp1", "gp2"]
    assert "unknown label 'care' for dimension 'service_domain'" in first.reasons[0]
    gp1 = project.store.case("gp1")
    assert (gp1.title, gp1.url, gp1.source, gp1.country, gp1.language) == (
        "Morning video calls",
        "https://example.org/gp1",
        "good-practice-db",
        "FI",
        "en",
    )
    assert gp1.labels == {"service_domain": ["long_term_care"]}
    # A second file: gp1 again (same id), gp2's text under another id, and a new case.
    second_file = tmp_path / "more.csv"
    pd.DataFrame(
        [
            {"id": "gp1", "text": EN_TEXT + " Changed.", "service_domain": "health"},
            {"id": "other-id", "text": DE_TEXT},
            {"id": "gp4", "text": PL_TEXT.replace("seniorzy", "osoby starsze")},
            {"id": "gp5", "text": PL_TEXT.replace("seniorzy", "osoby starsze")},  # same text again, same file
        ]
    ).to_csv(second_file, index=False)
    (second,) = project.add_files([second_file], added_by="ben")
    assert (second.records_read, second.new, second.duplicates, second.rejected) == (4, 1, 3, 0)
    assert second.balanced and second.new_ids == ["gp4"]
    reasons = " | ".join(second.reasons)
    assert "case id 'gp1' is already in the project; its labels (service_domain) were not added" in reasons
    assert "same text as case 'gp2', already in the project" in reasons
    assert "same text as case 'gp4'" in reasons
    not_added = read_jsonl(second.rejects_file)
    assert [r["kind"] for r in not_added] == ["duplicate"] * 3
    assert not_added[0]["record"]["text"].endswith("Changed.")  # nothing lost: the record is kept
    assert second.rejects_file.parent == project.rejects_dir
    assert [c.id for c in project.cases()] == ["gp1", "gp2", "gp4"]
    events = [e for e in project.events() if e["event"] == "file_added"]
    assert [(e["new"], e["duplicates"], e["rejected"], e["by"]) for e in events] == [
        (2, 0, 1, "anna"),
        (1, 3, 0, "ben"),
    ]
    assert events[0]["sha256"] == hashlib.sha256(collection.read_bytes()).hexdigest()
    assert events[1]["rejects"].startswith("rejects/") and events[0]["labelled"] == 1
    with pytest.raises(InputError, match=r"missing\.csv: input not found"):
        project.add_files([tmp_path / "missing.csv"], added_by="anna")


def test_a_pasted_text_is_checked_like_a_row(tmp_path):
    project = Project.create(tmp_path / "p", seed="none")
    report = project.add_text(EN_TEXT, title="Pasted", added_by="anna")
    assert report.new == 1 and project.store.case(report.new_ids[0]).title == "Pasted"
    again = project.add_text(EN_TEXT, added_by="ben")
    assert again.new == 0 and again.duplicates == 1 and "same text as case" in again.reasons[0]
    short = project.add_text("Too short.", added_by="anna")
    assert short.rejected == 1 and "fewer than the minimum" in short.reasons[0]


def test_own_and_unlabelled_come_from_imported_labels_and_settled_reviews(tmp_path, collection):
    seed = write_seed_corpus(tmp_path / "seed")
    project = Project.create(tmp_path / "p", seed=seed)
    project.add_files([collection], added_by="anna")
    project.store.record(
        [
            # gp1 was imported with service_domain long_term_care; the review corrects it.
            Decision("gp1", "service_domain", ("health",), Action.CORRECTED, "anna"),
            Decision("gp1", "actors", ("public",), Action.ACCEPTED, "anna"),
            Decision("gp2", "actors", ("third_sector",), Action.ACCEPTED, "anna"),
            Decision("gp2", "actors", ("public",), Action.ACCEPTED, "ben"),  # a disagreement: not settled
        ]
    )
    data = project.training_data()
    assert len(data.seed) == 48
    assert [c.id for c in data.own] == ["gp1"]
    assert data.own[0].labels == {"service_domain": ["health"], "actors": ["public"]}
    assert "review: actors agreed by anna; service_domain agreed by anna" in data.own[0].label_provenance
    assert [c.id for c in data.unlabelled] == ["gp2"]


def test_title_url_source_and_country_go_through_export_and_classify(trained, tmp_path, collection):
    _, _, directory = trained
    project = Project.create(tmp_path / "p", seed="none")
    project.add_files([collection], added_by="anna")
    import_version(project.models_dir, directory, by="test", reason="a model to classify with")
    result = runner.invoke(app, ["export", "--project", str(project.root), "--all"])
    assert result.exit_code == 0, result.output
    (exported,) = project.exports_dir.glob("cases-*.jsonl")
    rows = {row["id"]: row for row in read_jsonl(exported)}
    assert rows["gp1"]["title"] == "Morning video calls" and rows["gp1"]["url"] == "https://example.org/gp1"
    assert rows["gp1"]["source"] == "good-practice-db" and rows["gp1"]["country"] == "FI"
    assert rows["gp2"]["labels"] == {}  # --all: the unlabelled case too
    csv = tmp_path / "export.csv"
    assert runner.invoke(app, ["export", "--project", str(project.root), "-o", str(csv)]).exit_code == 0
    table = pd.read_csv(csv)
    assert list(table["id"]) == ["gp1"] and table.loc[0, "service_domain"] == "long_term_care"
    assert table.loc[0, "country"] == "FI" and table.loc[0, "title"] == "Morning video calls"
    assert any(e["event"] == "exported" for e in project.events())

    # classify --project with no input: the project's own cases, with the serving version.
    result = runner.invoke(app, ["classify", "--project", str(project.root)])
    assert result.exit_code == 0, result.output
    (output,) = [p for p in project.exports_dir.glob("suggestions-v0001-*.jsonl") if "rejects" not in p.name]
    records = {r["id"]: r for r in read_jsonl(output)}
    assert list(records["gp1"])[:6] == ["id", "title", "url", "case_source", "language", "country"]
    assert (records["gp1"]["title"], records["gp1"]["case_source"], records["gp1"]["country"]) == (
        "Morning video calls",
        "good-practice-db",
        "FI",
    )
    assert records["gp2"]["url"] == "https://example.org/gp2" and set(records["gp1"]["source"]) >= {"actors"}
    # Provenance: where each case was read, and the labels a person gave it (imported here).
    assert records["gp1"]["input_file"].endswith(".csv") and records["gp1"]["input_location"] == "row 1"
    assert records["gp1"]["human_verified"] and records["gp1"]["human_labels"]["service_domain"] == ["long_term_care"]
    assert records["gp2"]["human_verified"] is False and records["gp1"]["version"].startswith("v0001-")
    again = runner.invoke(app, ["classify", "--project", str(project.root)])
    assert again.exit_code == 0 and "2 cases were already in" in again.output  # resumes
    # The same fields in the CSV form, from a file, resuming too.
    out_csv = tmp_path / "out.csv"
    args = ["classify", str(collection), "--project", str(project.root), "-o", str(out_csv)]
    assert runner.invoke(app, args).exit_code == 0
    table = pd.read_csv(out_csv)
    assert list(table.columns[:9]) == [
        "id",
        "title",
        "url",
        "case_source",
        "language",
        "country",
        "input_file",
        "input_location",
        "model",
    ]
    assert list(table.columns[-5:]) == [
        "embedder",
        "training_snapshot",
        "human_verified",
        "human_labels",
        "auto_accepted",
    ]
    assert bool(table.loc[0, "human_verified"]) and "long_term_care" in table.loc[0, "human_labels"]
    assert table.loc[2, "title"] == "Pomoc sąsiedzka" and table.loc[2, "country"] == "PL"
    rerun = runner.invoke(app, args)
    assert rerun.exit_code == 0 and "3 cases were already in" in rerun.output


def test_add_command_makes_the_project_and_reports(tmp_path, collection):
    root = tmp_path / "proj"
    result = runner.invoke(app, ["add", str(collection), "--project", str(root), "--no-seed"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "3 records read = 2 new + 0 duplicates + 1 rejected" in flat
    assert "unknown label 'care'" in flat and "created project" in flat
    result = runner.invoke(app, ["add", str(collection), "--project", str(root)])
    assert "3 records read = 0 new + 2 duplicates + 1 rejected" in " ".join(result.output.split())
    bad = runner.invoke(app, ["add", str(tmp_path / "nothing.csv"), "--project", str(tmp_path / "new")])
    assert bad.exit_code == 2 and "input not found" in bad.output and not (tmp_path / "new").exists()
    bad = runner.invoke(app, ["add", str(collection), "--project", str(root), "--label", "sector=domains"])
    assert bad.exit_code == 2 and "'sector' is not a dimension" in bad.output


def test_review_command_refuses_a_folder_that_is_no_project(tmp_path):
    result = runner.invoke(app, ["review", "--project", str(tmp_path)])
    assert result.exit_code == 2 and "not an iesi-nlp project" in result.output
    assert not (tmp_path / "project.json").exists()


def test_a_project_can_start_with_a_copy_of_an_existing_model(trained, tmp_path):
    from iesi_nlp.cli.review import start_with_model
    from iesi_nlp.errors import IesiError

    _, _, directory = trained
    project = Project.create(tmp_path / "p", seed="none")
    start_with_model(project, directory.parent)  # a folder of versions: its serving one is copied
    assert project.serving().card.model_id == read_card(directory).model_id
    with pytest.raises(IesiError, match="already has model versions"):
        start_with_model(project, directory)
