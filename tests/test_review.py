"""The review service behind the screen: queue, suggestions, decisions, filters, background retraining."""

from __future__ import annotations

import shutil

import pytest

from iesi_nlp.annotation import Action, AnnotationStore
from iesi_nlp.codebook import load_codebook
from iesi_nlp.review import ReviewFilters, ReviewService
from iesi_nlp.training import TrainOptions
from tests.small_corpus import POOL, small_cases


@pytest.fixture
def service(trained, tmp_path):
    _, _, directory = trained
    model_dir = tmp_path / "models" / "small"
    shutil.copytree(directory, model_dir)
    codebook = load_codebook()
    store = AnnotationStore(tmp_path / "decisions.sqlite", codebook)
    store.add_cases(POOL, added_by="setup")
    return ReviewService(
        store,
        model_dir,
        small_cases(),
        codebook,
        retrain_every=1000,
        train_options=TrainOptions(folds=3, feature_set="dense"),
    )


def test_queue_orders_every_unreviewed_case_and_suggests_all_dimensions(service):
    cases = service.cases()
    assert {c.id for c in cases} == {"r1", "r2", "r3", "r4"}
    queue = service.queue(cases, length=10)
    assert sorted(c.id for c in queue) == ["r1", "r2", "r3", "r4"]
    suggestion = service.suggestions([queue[0]])[0]
    assert set(suggestion["scores"]) == set(load_codebook().dimension_ids)
    assert service.cases(ReviewFilters(languages=("de",)))[0].id == "r2"
    assert [c.id for c in service.cases(ReviewFilters(countries=("FI",), sources=("scraped",)))] == ["r3"]


def test_two_annotators_at_once_are_handed_different_cases(service):
    cases = service.cases()
    anna = service.next_case(cases, "anna")
    ben = service.next_case(cases, "ben")
    assert anna.id != ben.id
    assert service.next_case(cases, "anna").id == anna.id  # her own claim does not hide the case from her
    service.release("ben")
    assert service.next_case(cases, "carl").id in {ben.id, *(c.id for c in cases if c.id != anna.id)}
    # When everything is on someone else's screen, a second opinion beats an idle annotator.
    only = [anna]
    assert service.next_case(only, "dora").id == anna.id


def test_decisions_record_the_suggestion_and_move_cases_out_of_todo(service):
    case = service.store.case("r1")
    service.accept_all(case, "anna")
    decisions = service.store.decisions(case_id="r1")
    assert len(decisions) == 7 and {d.action for d in decisions} == {Action.ACCEPTED}
    assert all(d.model_id == service.model.id and d.suggested_scores for d in decisions)
    assert "r1" not in {c.id for c in service.cases()}
    assert [c.id for c in service.cases(ReviewFilters(status="mine"), annotator="anna")] == ["r1"]
    service.decide(case, "ben", {"service_domain": ["long_term_care"]}, Action.CORRECTED)
    disputed = service.cases(ReviewFilters(status="disagreements"))
    assert [c.id for c in disputed] == ["r1"]
    assert service.cases(ReviewFilters(status="disagreements", dimension="actors")) == []
    service.decide(service.store.case("r2"), "anna", {"actors": []}, Action.FLAGGED, comment="which agency?")
    assert service.store.decisions(case_id="r2")[0].comment == "which agency?"


def test_retraining_runs_in_the_background_and_picks_up_decisions(service):
    service.retrain_every = 2
    old_model = service.model.id
    service.decide(
        service.store.case("r4"), "anna", {"service_domain": ["housing"], "actors": ["citizens"]}, Action.CORRECTED
    )
    assert service.retrain.running  # two decisions reached retrain_every: training started
    # The screen keeps working while it trains.
    assert service.queue(service.cases(), length=2)
    service.wait_for_retraining(timeout=300)
    assert service.retrain.last_error is None and not service.retrain.running
    assert service.model.id != old_model
    assert service.model.card["training_set"]["size"] == len(small_cases()) + 1


def test_every_saved_model_is_remembered_for_the_dashboard(service):
    from iesi_nlp.artifacts import read_history

    before = read_history(service.model_dir)
    service.start_retraining()
    service.wait_for_retraining(timeout=300)
    after = read_history(service.model_dir)
    assert len(after) == len(before) + 1
    assert after[-1]["model_id"] == service.model.id and "service_domain" in after[-1]["macro_f1"]
