"""The review service behind the screen: queue, suggestions, decisions, filters, background retraining."""

from __future__ import annotations

import hashlib

import pytest

from iesi_nlp.annotation.store import Action
from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.training import TrainOptions
from iesi_nlp.errors import AnnotationError
from iesi_nlp.registry import read_history, serve, serving_version, trained_history, versions
from iesi_nlp.review import ReviewFilters, ReviewService
from tests.small_corpus import small_cases


@pytest.fixture
def service(review_project):
    return ReviewService.for_project(
        review_project, retrain_every=1000, train_options=TrainOptions(folds=3, feature_set="dense")
    )


def shown(service, case_id):
    return service.suggestions([service.store.case(case_id)])[0]


def test_queue_orders_every_unreviewed_case_and_suggests_all_dimensions(service):
    cases = service.cases()
    assert {c.id for c in cases} == {"r1", "r2", "r3", "r4"}
    queue = service.queue(cases, length=10)
    assert sorted(c.id for c in queue) == ["r1", "r2", "r3", "r4"]
    suggestion = service.suggestions([queue[0]])[0]
    assert set(suggestion.dimensions) == set(load_codebook().dimension_ids)
    assert suggestion.case_id == queue[0].id and suggestion.model_id == service.model.id
    assert suggestion.version == service.version and service.version.startswith("v0001-")
    assert service.cases(ReviewFilters(languages=("de",)))[0].id == "r2"
    assert [c.id for c in service.cases(ReviewFilters(countries=("FI",), sources=("scraped",)))] == ["r3"]
    r1 = service.store.case("r1")  # the project keeps what the input said about the case
    assert (r1.title, r1.url, r1.country, r1.source) == (
        "Diabetes video clinic",
        "https://example.org/r1",
        "IE",
        "scraped",
    )


def test_two_annotators_at_once_are_handed_different_cases(service):
    cases = service.cases()
    anna = service.next_case(cases, "anna")
    ben = service.next_case(cases, "ben")
    assert anna.id != ben.id
    assert service.next_case(cases, "anna").id == anna.id  # her own claim does not hide the case from her
    service.release("ben")
    assert service.next_case(cases, "carl").id in {ben.id, *(c.id for c in cases if c.id != anna.id)}
    # When everything is on someone else's screen, nobody else gets it, unless double coding is wanted.
    only = [anna]
    assert service.next_case(only, "dora") is None
    service.double_coding = True
    assert service.next_case(only, "dora").id == anna.id


def test_decisions_record_the_suggestion_and_move_cases_out_of_todo(service):
    case = service.store.case("r1")
    service.accept_all(case, "anna", shown=shown(service, "r1"))
    decisions = service.store.decisions(case_id="r1")
    assert len(decisions) == 7 and {d.action for d in decisions} == {Action.ACCEPTED}
    assert all(d.model_id == service.model.id and d.suggested_scores for d in decisions)
    assert "r1" not in {c.id for c in service.cases()}
    assert [c.id for c in service.cases(ReviewFilters(status="mine"), annotator="anna")] == ["r1"]
    service.decide(case, "ben", {"service_domain": ["long_term_care"]}, Action.CORRECTED, shown=shown(service, "r1"))
    disputed = service.cases(ReviewFilters(status="disagreements"))
    assert [c.id for c in disputed] == ["r1"]
    assert service.cases(ReviewFilters(status="disagreements", dimension="actors")) == []
    r2 = service.store.case("r2")
    service.decide(r2, "anna", {"actors": []}, Action.FLAGGED, comment="which agency?", shown=shown(service, "r2"))
    assert service.store.decisions(case_id="r2")[0].comment == "which agency?"
    with pytest.raises(AnnotationError, match="suggestion given as shown is for case 'r1'"):
        service.accept_all(r2, "anna", shown=shown(service, "r1"))


def test_retraining_waits_for_enough_reviewed_cases_not_decision_rows(service):
    service.retrain_every = 2
    started = []
    service.start_retraining = lambda **kwargs: started.append(kwargs) or True
    # One case, seven dimensions: seven decision rows, one reviewed case.
    service.accept_all(service.store.case("r1"), "anna", shown=shown(service, "r1"))
    # A second opinion on the same case, and a skip: still one reviewed case.
    service.accept_all(service.store.case("r1"), "ben", shown=shown(service, "r1"))
    r2 = service.store.case("r2")
    service.decide(
        r2, "anna", {d: [] for d in service.codebook.dimension_ids}, Action.SKIPPED, shown=shown(service, "r2")
    )
    assert service.reviewed_since_training() == 1 and not started
    service.accept_all(service.store.case("r3"), "anna", ["actors"], shown=shown(service, "r3"))
    assert service.reviewed_since_training() == 2
    assert len(started) == 1 and "2 newly reviewed cases" in started[0]["reason"]


def folder_digest(folder) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_a_retraining_mid_review_keeps_the_suggestion_shown(service):
    project = service.project
    old_version, old_model = service.version, service.model.id
    old_digest = folder_digest(serving_version(project.models_dir).path)
    r4 = service.store.case("r4")
    on_screen = shown(service, "r4")  # the annotator reads r4 ...
    # ... while a colleague's correction arrives and a retraining finishes in the background.
    service.decide(
        service.store.case("r1"),
        "ben",
        {"service_domain": ["housing"], "actors": ["citizens"]},
        Action.CORRECTED,
        shown=shown(service, "r1"),
    )
    assert service.start_retraining(by="test", reason="mid-review")
    assert service.retrain.running
    assert service.queue(service.cases(), length=2)  # the screen keeps working while it trains
    service.wait_for_retraining(timeout=300)
    assert service.retrain.last_error is None and not service.retrain.running
    assert service.model.id != old_model and service.version != old_version
    assert service.version.startswith("v0002-")
    # A new version serves; the old one is intact.
    assert [v.id for v in versions(project.models_dir)] == [old_version, service.version]
    assert serving_version(project.models_dir).id == service.version
    assert folder_digest(project.models_dir / old_version) == old_digest
    training = service.model.card.training_set
    assert training.size == len(small_cases()) + 1 and training.own == 1 and training.unlabelled == 3
    assert shown(service, "r4").model_id == service.model.id  # new suggestions come from the new model
    # The annotator accepts what they saw: the decision carries the old model's id, labels and scores.
    service.accept_all(r4, "anna", shown=on_screen)
    recorded = {d.dimension: d for d in service.store.decisions(case_id="r4")}
    assert {d.model_id for d in recorded.values()} == {old_model}
    for dimension, decision in recorded.items():
        assert decision.final_labels == on_screen[dimension].labels
        assert decision.shown == on_screen[dimension] and decision.model_version == old_version
    history = read_history(project.models_dir)
    assert history[-1] == {**history[-1], "event": "serving", "version": service.version, "previous": old_version}
    assert history[-1]["by"] == "test" and history[-1]["reason"] == "mid-review"
    assert trained_history(project.models_dir)[-1]["model_id"] == service.model.id  # the dashboard's chart
    events = [e["event"] for e in project.events()]
    assert events[-2:] == ["trained", "serving"]


def test_the_screen_follows_a_change_of_serving_version(service):
    project = service.project
    first = service.version
    service.start_retraining()
    service.wait_for_retraining(timeout=300)
    second = service.version
    serve(project.models_dir, first, by="lead", reason="rollback")
    assert service.refresh() and service.version == first
    assert not service.refresh()
    assert second != first


def test_decisions_export_the_suggestion_shown_in_the_same_form_as_classify(service, tmp_path):
    from typer.testing import CliRunner

    from iesi_nlp.cli.main import app
    from iesi_nlp.coding.suggestion import DimensionSuggestion, Suggestion
    from tests.conftest import read_jsonl

    on_screen = shown(service, "r2")
    service.accept_all(service.store.case("r2"), "anna", shown=on_screen)
    runner = CliRunner()
    output = tmp_path / "decisions.jsonl"
    args = ["export", "--decisions", "--project", str(service.project.root), "-o", str(output)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = read_jsonl(output)
    assert len(rows) == len(service.codebook.dimensions)
    for row in rows:
        assert DimensionSuggestion.from_dict(row["shown"]) == on_screen[row["dimension"]]
        assert (row["annotator"], row["model_id"], row["model_version"]) == ("anna", service.model.id, service.version)
    # classify writes the same suggestion object: its record reads back to what the screen showed.
    classified = tmp_path / "suggestions.jsonl"
    result = runner.invoke(app, ["classify", "--project", str(service.project.root), "-o", str(classified)])
    assert result.exit_code == 0, result.output
    record = next(r for r in read_jsonl(classified) if r["id"] == "r2")
    assert Suggestion.from_record(record).dimensions == on_screen.dimensions


def test_adjudication_goes_through_the_service_and_records_who_and_which_model(review_project):
    from iesi_nlp.annotation.labels import settled_labels

    service = ReviewService.for_project(review_project, retrain_every=1000, adjudicators=["lead"])
    case = service.store.case("r1")
    service.decide(case, "anna", {"service_domain": ["health"]}, Action.CORRECTED, shown=shown(service, "r1"))
    service.decide(case, "emil", {"service_domain": ["education"]}, Action.CORRECTED, shown=shown(service, "r1"))
    assert [d[:2] for d in service.disagreements()] == [("r1", "service_domain")]
    with pytest.raises(AnnotationError, match="'anna' may not adjudicate case 'r1': adjudicators are lead"):
        service.adjudicate("r1", "service_domain", ["health"], "anna")
    with pytest.raises(AnnotationError, match="adjudications go through adjudicate"):
        service.decide(case, "lead", {"service_domain": ["health"]}, Action.ADJUDICATED, shown=shown(service, "r1"))
    service.adjudicate("r1", "service_domain", ["health"], "lead")
    ruling = service.store.decisions(case_id="r1")[-1]
    assert (ruling.action, ruling.annotator, ruling.final_labels) == (Action.ADJUDICATED, "lead", ("health",))
    assert ruling.model_id == service.model.id and ruling.model_version == service.version
    assert service.disagreements() == []
    # The export's provenance names the adjudicator, not the two who disagreed ("anna+emil").
    assert settled_labels(service.store)["r1"]["service_domain"] == (["health"], "adjudicated by lead")


def test_a_pasted_case_is_validated_gets_its_language_and_a_duplicate_is_reported(service):
    text = "Ein Pflegedienst besucht ältere Menschen zu Hause und bespricht ihre Medikamente per Videoanruf."
    report = service.add_text(text, added_by="anna", title="Pflege per Video", country="de")
    assert report.new == 1 and report.duplicates == 0
    case = service.case(report.new_ids[0])
    assert (case.title, case.language, case.country) == ("Pflege per Video", "de", "DE")
    again = service.add_text(text, added_by="ben")
    assert again.new == 0 and again.duplicates == 1
    assert f"same text as case {case.id!r}" in again.reasons[0]
    empty = service.add_text("   ", added_by="ben")
    assert empty.new == 0 and empty.rejected == 1 and empty.reasons
