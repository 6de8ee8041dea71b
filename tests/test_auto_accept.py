"""Auto-accept thresholds on synthetic scores whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from iesi_nlp.coding.auto_accept import (
    Outcome,
    choose_threshold,
    choose_thresholds,
    fewest_cases,
    precision_lower_bound,
)


def calibrated(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scores skewed high, as a trained model's are (Beta(6, 1)), right with exactly that probability."""
    scores = rng.beta(6.0, 1.0, n)
    return scores, rng.random(n) < scores


#: Many scores of the same distribution: the true precision over a threshold is their mean over it.
POPULATION = np.random.default_rng(0).beta(6.0, 1.0, 400_000)


def true_precision_over(threshold: float) -> float:
    return float(POPULATION[threshold <= POPULATION].mean())


def test_the_bound_is_clopper_pearson():
    assert precision_lower_bound(59, 59) == pytest.approx(0.05 ** (1 / 59))
    assert precision_lower_bound(0, 10) == 0.0 and precision_lower_bound(5, 0) == 0.0
    assert fewest_cases(0.95) == 59 and fewest_cases(0.90) == 29


@pytest.mark.parametrize(("target", "least_active"), [(0.90, 0.6), (0.95, 0.2)])
def test_the_stated_precision_holds_on_new_cases_in_nearly_every_draw(target, least_active):
    rng = np.random.default_rng(3)
    draws, missed, coverages = 200, 0, []
    for _ in range(draws):
        scores, right = calibrated(300, rng)
        chosen = choose_threshold("d", scores, right, target)
        if chosen.active:
            coverages.append(chosen.coverage)
            missed += true_precision_over(chosen.threshold) < target
    # 95% confidence: about 5% of draws at most may promise too much ...
    assert missed <= 0.08 * draws
    # ... and never auto-accepting would be no answer: it accepts in most draws, a fair share of the labels.
    assert len(coverages) >= least_active * draws and np.mean(coverages) > 0.05


def test_a_point_estimate_would_promise_too_much():
    """The naive rule (lowest threshold whose observed precision reaches the target) misses far more often."""
    rng = np.random.default_rng(4)
    missed = 0
    for _ in range(200):
        scores, right = calibrated(200, rng)
        order = np.argsort(-scores)
        observed = np.cumsum(right[order]) / np.arange(1, 201)
        passing = np.flatnonzero(observed[20:] >= 0.95) + 20
        if len(passing):
            missed += true_precision_over(scores[order][passing[-1]]) < 0.95
    assert missed > 0.25 * 200


def test_too_few_own_cases_accept_nothing_and_say_how_many_more():
    chosen = choose_threshold("actors", [0.99] * 40, [True] * 40, 0.95)
    assert not chosen.active and chosen.outcomes == 40
    assert "at least 59 are needed" in chosen.reason and "19 more reviews" in chosen.reason


def test_wrong_high_scores_switch_it_off_with_the_reason():
    scores = np.linspace(1.0, 0.5, 100)
    right = np.ones(100, dtype=bool)
    right[:10] = False  # the ten highest-scored suggestions were wrong
    chosen = choose_threshold("service_domain", scores, right, 0.95)
    assert not chosen.active and "too few to promise 95%" in chosen.reason


def test_ties_are_accepted_together():
    scores = [0.9] * 70 + [0.8] * 30
    chosen = choose_threshold("d", scores, [True] * 100, 0.95)
    assert chosen.threshold == 0.8 and chosen.accepted == 100 and chosen.coverage == 1.0


def test_a_reviewed_outcome_outweighs_the_out_of_fold_one_for_the_same_case():
    outcomes = [Outcome(f"c{i}", "d", None, 0.99, True, "out_of_fold") for i in range(60)]
    outcomes += [Outcome(f"c{i}", "d", None, 0.99, False, "reviewed") for i in range(5)]
    outcomes += [Outcome("x", "other", None, 0.5, True)]
    chosen = choose_thresholds(outcomes, ["d", "unjudged"], 0.95)
    assert chosen["d"].outcomes == 60 and not chosen["d"].active and "right 55 times" in chosen["d"].reason
    assert chosen["unjudged"].outcomes == 0 and not chosen["unjudged"].active


def test_the_target_must_be_a_precision():
    with pytest.raises(ValueError, match="between 0 and 1"):
        choose_threshold("d", [0.5], [True], 1.5)


# --- through training and classify -----------------------------------------------------------


def test_training_saves_the_own_cases_out_of_fold_outcomes_and_the_card_reports_them(tmp_path, embedding_cache):
    from iesi_nlp.codebook import load_codebook
    from iesi_nlp.coding.auto_accept import read_outcomes
    from iesi_nlp.coding.card import read_card
    from iesi_nlp.coding.training import TrainingData, TrainOptions
    from iesi_nlp.workflow import train_and_save
    from tests.small_corpus import small_cases

    cases = small_cases()
    seed, own = cases[::2], cases[1::2]
    _, _, folder = train_and_save(
        TrainingData(seed=seed, own=own),
        load_codebook(),
        name="own",
        models_dir=tmp_path,
        options=TrainOptions(folds=3),
    )
    outcomes = read_outcomes(folder)
    own_ids = {case.id for case in own}
    assert outcomes and {o.case_id for o in outcomes} <= own_ids  # the seed never counts
    assert {o.dimension_id for o in outcomes} == {"service_domain", "actors"}
    assert all(o.origin == "out_of_fold" and 0.0 <= o.score <= 1.0 for o in outcomes)
    card = read_card(folder)
    domain = card.auto_accept["service_domain"]
    assert set(domain) == {"0.90", "0.95"}
    judged = sum(o.dimension_id == "service_domain" for o in outcomes)
    assert domain["0.95"].outcomes == judged and not domain["0.95"].threshold  # 24 own cases: too few
    assert "more reviews" in domain["0.95"].reason
    assert "## Auto-accept" in (folder / "model.md").read_text()
    from iesi_nlp.coding.label_issues import LABEL_ISSUES_FILE

    assert (folder / LABEL_ISSUES_FILE).exists()  # cleanlab's flags are saved with the model, maybe none


def test_classify_marks_what_passes_and_says_why_the_rest_does_not(trained, tmp_path):
    import shutil

    import orjson
    from typer.testing import CliRunner

    from iesi_nlp.cli.main import app
    from iesi_nlp.coding.auto_accept import OUTCOMES_FILE
    from iesi_nlp.records import write_cases
    from tests.conftest import read_jsonl
    from tests.small_corpus import small_cases

    _, _, directory = trained
    model = tmp_path / "model"
    shutil.copytree(directory, model)
    # 100 judged service_domain suggestions, all right at scores ≥ 0.5: that dimension passes from 0.5 up.
    rows = [
        {
            "case_id": f"j{i}",
            "dimension_id": "service_domain",
            "label_id": "health",
            "score": 0.5 + i / 200,
            "correct": True,
            "origin": "reviewed",
        }
        for i in range(100)
    ]
    (model / OUTCOMES_FILE).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    source = tmp_path / "in.jsonl"
    write_cases([c.model_copy(update={"labels": {}}) for c in small_cases()[:6]], source)
    output = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["classify", str(source), "--model", str(model), "-o", str(output), "--auto-accept", "0.95"]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # as printed, wrapped to the terminal
    assert "service_domain: score ≥ 0.5" in said
    assert "actors: off; 0 own judged suggestions; at least 59 are needed to promise 95% (59 more reviews)" in said
    records = read_jsonl(output)
    for record in records:
        passed = record["auto_accepted"]
        assert passed["actors"] == []
        expected = [
            label for label in record["labels"]["service_domain"] if record["scores"]["service_domain"][label] >= 0.5
        ]
        assert passed["service_domain"] == expected
    assert (
        f"service_domain: 6 of 6 cases (100%), {sum(len(r['auto_accepted']['service_domain']) for r in records)} of"
        in said
    )


def test_a_target_outside_what_can_be_promised_is_refused(trained, tmp_path):
    from typer.testing import CliRunner

    from iesi_nlp.cli.main import app

    _, _, directory = trained
    result = CliRunner().invoke(app, ["classify", str(tmp_path), "--model", str(directory), "--auto-accept", "1.0"])
    assert result.exit_code == 2 and "--auto-accept: the precision must be at least 0.5 and below 1" in result.output


# --- in the review queue: audit share and switch-off ------------------------------------------


def test_the_audit_sample_is_the_share_asked_and_the_same_every_time():
    from iesi_nlp.coding.auto_accept import is_audit

    ids = [f"case-{i}" for i in range(20_000)]
    chosen = [case_id for case_id in ids if is_audit(case_id, 0.05)]
    assert 0.045 < len(chosen) / len(ids) < 0.055
    assert chosen == [case_id for case_id in ids if is_audit(case_id, 0.05)]
    assert not any(is_audit(case_id, 0.0) for case_id in ids) and all(is_audit(case_id, 1.0) for case_id in ids)


def test_audits_below_the_target_switch_a_dimension_off_and_say_why():
    from iesi_nlp.coding.auto_accept import AutoAccept, Threshold, audits, switch_off_failing

    policy = AutoAccept(0.95, {"actors": Threshold("actors", 0.95, 0.9, 100, 60, 60, 0.95, 1.0)})
    later = [Outcome(f"c{i}", "actors", "public", 0.93, i >= 5) for i in range(20)]  # 15 of 20 kept
    later += [Outcome("low", "actors", "public", 0.5, False)]  # under the threshold: no audit of it
    found = audits(later, policy)
    assert (found["actors"].audited, found["actors"].correct) == (20, 15)
    switched = switch_off_failing(policy, found)
    assert not switched.thresholds["actors"].active
    assert "reviewers kept 15 of 20 such labels (75%), below the 95% promised" in switched.thresholds["actors"].reason
    # Too few audits to tell: the rule stays.
    assert switch_off_failing(policy, audits(later[:19], policy)).thresholds["actors"].active


def _accept_everything(project) -> None:
    """Outcomes saved with the serving model that make every dimension auto-accept every score."""
    import orjson

    from iesi_nlp.coding.auto_accept import OUTCOMES_FILE
    from iesi_nlp.registry import resolve_model_dir

    rows = [
        {"case_id": f"j{i}", "dimension_id": d, "label_id": None, "score": i / 100, "correct": True}
        for d in project.codebook.dimension_ids
        for i in range(100)
    ]
    (resolve_model_dir(project.models_dir) / OUTCOMES_FILE).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def test_the_queue_skips_auto_accepted_cases_but_for_the_audit_share(review_project):
    from iesi_nlp.review import ReviewFilters, ReviewService

    _accept_everything(review_project)
    todo = ReviewFilters(status="todo")
    every = {c.id for c in ReviewService.for_project(review_project).cases(todo)}
    assert len(every) == 4
    skipping = ReviewService.for_project(review_project, auto_accept_target=0.95, audit_share=0.0)
    assert skipping.auto_accept_status().policy.thresholds["actors"].threshold == 0.0
    assert skipping.cases(todo) == []
    auditing = ReviewService.for_project(review_project, auto_accept_target=0.95, audit_share=1.0)
    assert {c.id for c in auditing.cases(todo)} == every


def test_reviews_that_overturn_auto_accepted_labels_switch_it_off_and_the_cases_come_back(review_project):
    from iesi_nlp.annotation.store import Action, Decision
    from iesi_nlp.coding.suggestion import DimensionSuggestion
    from iesi_nlp.review import ReviewFilters, ReviewService

    _accept_everything(review_project)
    service = ReviewService.for_project(review_project, auto_accept_target=0.95, audit_share=0.0)
    cases = review_project.store.cases()
    scores = {label: 0.1 for label in review_project.codebook.dimension("service_domain").label_ids}
    shown = DimensionSuggestion(("health",), {**scores, "health": 0.9}, "supervised")
    overturned = [
        Decision(case.id, "service_domain", ("education",), Action.CORRECTED, f"reviewer-{n}", shown=shown)
        for n in range(5)
        for case in cases
    ]
    review_project.store.record(overturned)
    status = service.auto_accept_status()
    assert "reviewers kept 0 of 20" in status.policy.thresholds["service_domain"].reason
    assert status.policy.thresholds["actors"].active
    # Every case is decided now; among undecided ones, none would be skipped any more.
    assert not any(service.auto_accepted(case) for case in cases)
    assert service.cases(ReviewFilters(status="all"))
