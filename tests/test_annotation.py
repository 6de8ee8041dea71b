"""The annotation store: append-only decisions, derived labels, concurrent annotators, export."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from iesi_nlp.annotation.labels import current_labels, disagreements, label_state, merge_decisions, settled_labels
from iesi_nlp.annotation.sqlite import SqliteDecisionStore
from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.cli.main import app
from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.suggestion import DimensionSuggestion
from iesi_nlp.errors import AnnotationError
from iesi_nlp.records import Case, write_cases
from iesi_nlp.registry import resolve_model_dir
from tests.conftest import EN_TEXT, read_jsonl
from tests.small_corpus import small_cases

runner = CliRunner()


def decision(case_id="c1", dimension="service_domain", labels=("health",), action=Action.ACCEPTED, who="anna", **kw):
    return Decision(case_id, dimension, tuple(labels), action, who, **kw)


def current(store):
    return current_labels(label_state(store.decisions()))


@pytest.fixture
def store(tmp_path, codebook):
    return SqliteDecisionStore(tmp_path / "decisions.sqlite", codebook)


def test_labels_are_derived_from_append_only_decisions(store):
    shown = DimensionSuggestion(("health",), {"health": 0.9, "education": 0.1}, "blend")
    store.record([decision(shown=shown, model_id="m@1", model_version="v0001-abc")])
    assert current(store) == {"c1": {"service_domain": ["health"]}}
    # A second annotator disagrees: no settled label until someone adjudicates.
    store.record([decision(labels=("long_term_care",), action=Action.CORRECTED, who="ben")])
    assert current(store) == {}
    assert disagreements(label_state(store.decisions())) == [
        ("c1", "service_domain", {"anna": ("health",), "ben": ("long_term_care",)})
    ]
    # Anna changes her mind: her latest decision counts, and now they agree.
    store.record([decision(labels=("long_term_care",), action=Action.CORRECTED)])
    assert current(store) == {"c1": {"service_domain": ["long_term_care"]}}
    store.record([decision(labels=("health", "long_term_care"), action=Action.ADJUDICATED, who="lead")])
    assert current(store)["c1"]["service_domain"] == ["health", "long_term_care"]
    # The settled labels name who adjudicated, not the annotators who disagreed.
    assert settled_labels(store)["c1"]["service_domain"][1] == "adjudicated by lead"
    # Skips and flags never set labels, and every decision is still there.
    store.record(
        [
            decision("c2", action=Action.SKIPPED, labels=()),
            decision("c3", action=Action.FLAGGED, labels=(), comment="unclear"),
        ]
    )
    assert set(current(store)) == {"c1"}
    assert store.count() == 6
    first = store.decisions(case_id="c1")[0]
    assert first.shown == shown and first.model_id == "m@1" and first.model_version == "v0001-abc" and first.decided_at
    assert first.suggested_scores == {"health": 0.9, "education": 0.1}
    assert store.decisions(case_id="c3")[0].comment == "unclear"


def test_nothing_can_be_overwritten_or_deleted(store):
    store.record([decision()])
    connection = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE decisions SET final_labels = '[\"education\"]'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM decisions")
    assert current(store) == {"c1": {"service_domain": ["health"]}}


def test_bad_decisions_are_refused_with_what_and_where(store):
    with pytest.raises(AnnotationError, match=r"case 'c9'.*unknown label 'healthcare' for dimension 'service_domain'"):
        store.record([decision("c9", labels=("healthcare",))])
    with pytest.raises(AnnotationError, match="unknown dimension 'sector'"):
        store.record([decision(dimension="sector")])
    with pytest.raises(AnnotationError, match="single-label"):
        store.record([decision(dimension="integration_level", labels=("separate", "broad"))])
    with pytest.raises(AnnotationError, match="needs an annotator"):
        store.record([decision(who=" ")])
    with pytest.raises(AnnotationError, match="needs at least one label"):
        store.record([decision(labels=())])
    # A batch with one bad decision records none of them.
    with pytest.raises(AnnotationError):
        store.record([decision("ok"), decision("bad", labels=("nope",))])
    assert store.count() == 0


def _annotate(path: str, annotator: str, n: int) -> None:
    store = SqliteDecisionStore(path, load_codebook())
    for i in range(n):
        store.record([decision(f"case-{i}", labels=("health",) if i % 2 else ("education",), who=annotator)])


def test_two_annotators_writing_at_once_lose_nothing(store):
    # Separate interpreters (not multiprocessing: after an AppTest run, __main__ is the app script,
    # which a spawned child would re-run).
    root = Path(__file__).resolve().parents[1]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from tests.test_annotation import _annotate; _annotate({str(store.path)!r}, {who!r}, 150)",
            ],
            cwd=root,
        )
        for who in ("anna", "ben")
    ]
    threads = [threading.Thread(target=_annotate, args=(str(store.path), f"tab-{k}", 50)) for k in range(3)]
    for thread in threads:
        thread.start()
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    for thread in threads:
        thread.join(timeout=120)
    assert store.count() == 2 * 150 + 3 * 50
    by_annotator = {who: len(store.decisions(annotator=who)) for who in ("anna", "ben", "tab-0", "tab-1", "tab-2")}
    assert by_annotator == {"anna": 150, "ben": 150, "tab-0": 50, "tab-1": 50, "tab-2": 50}
    assert len(current(store)) == 150  # everyone agreed on every case


def test_merge_and_export_grow_the_training_set(tmp_path, store):
    seed = small_cases()[:4]
    new_case = Case(id="pool-1", text=EN_TEXT, language="en")
    store.add_cases([new_case], added_by="anna")
    assert store.add_cases([new_case], added_by="ben") == 0  # stored once
    store.record(
        [
            decision(seed[0].id, labels=("housing",), action=Action.CORRECTED),
            decision("pool-1", labels=("long_term_care",)),
            decision("pool-1", dimension="actors", labels=("public", "third_sector")),
        ]
    )
    merged = {case.id: case for case in merge_decisions(seed, store)}
    assert set(merged) == {c.id for c in seed} | {"pool-1"}
    assert merged[seed[0].id].labels["service_domain"] == ["housing"]
    assert merged[seed[0].id].labels["actors"] == seed[0].labels["actors"]  # not reviewed: the seed stands
    assert "review: service_domain agreed by anna" in merged[seed[0].id].label_provenance
    assert merged["pool-1"].labels == {"service_domain": ["long_term_care"], "actors": ["public", "third_sector"]}

    seed_file = tmp_path / "seed.jsonl"
    write_cases(seed, seed_file)
    output = tmp_path / "training.jsonl"
    args = ["export", "--store", str(store.path), "--seed", str(seed_file), "-o", str(output)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "5 labelled cases (2 with review decisions)" in result.output
    rows = {row["id"]: row for row in read_jsonl(output)}
    assert rows["pool-1"]["labels"]["actors"] == ["public", "third_sector"]
    csv = tmp_path / "training.csv"
    assert runner.invoke(app, [*args[:-1], str(csv)]).exit_code == 0
    table = pd.read_csv(csv)
    assert table.set_index("id").loc["pool-1", "actors"] == "public|third_sector"
    missing = runner.invoke(app, ["export", "--store", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no annotation database" in missing.output


def test_train_learns_from_review_decisions(tmp_path, store):
    cases = small_cases()[:24]
    seed_file = tmp_path / "seed.jsonl"
    write_cases(cases, seed_file)
    store.record([decision(cases[0].id, labels=("migration",), action=Action.CORRECTED)])
    models = tmp_path / "models"
    args = [
        "train",
        str(seed_file),
        "--models-dir",
        str(models),
        "--folds",
        "3",
        "--feature-set",
        "dense",
        "--min-cases",
        "5",
        "--annotations",
        str(store.path),
        "--no-seed",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    model = resolve_model_dir(models / "default")
    card = orjson.loads((model / "model.json").read_bytes())
    assert card["training_set"]["size"] == 24
    assert card["training_set"]["own"] == 24  # the user's file and the reviewed case
    report = orjson.loads((model / "evaluation.json").read_bytes())
    assert report["dimensions"]["service_domain"]["per_label"]["migration"]["support"] == 1


def test_a_store_from_before_shown_suggestions_is_upgraded_and_keeps_its_rows(tmp_path, codebook):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE cases (id TEXT PRIMARY KEY, record BLOB NOT NULL, added_by TEXT NOT NULL, added_at TEXT NOT NULL);"
        "CREATE TABLE decisions (seq INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL, dimension TEXT NOT NULL,"
        " suggested_labels TEXT NOT NULL, suggested_scores TEXT NOT NULL, model_id TEXT, final_labels TEXT NOT NULL,"
        " action TEXT NOT NULL, annotator TEXT NOT NULL, decided_at TEXT NOT NULL, comment TEXT);"
        "INSERT INTO decisions VALUES (1, 'c1', 'service_domain', '[\"health\"]', '{\"health\": 0.8}', 'm@0',"
        " '[\"health\"]', 'accepted', 'anna', '2026-01-01T00:00:00+00:00', NULL);"
    )
    old.commit()
    old.close()
    store = SqliteDecisionStore(path, codebook)
    [kept] = store.decisions()
    assert kept.shown == DimensionSuggestion(("health",), {"health": 0.8}, "unknown")
    assert kept.model_id == "m@0" and kept.model_version is None
    store.record([decision("c2")])
    assert [d.case_id for d in store.decisions()] == ["c1", "c2"]
