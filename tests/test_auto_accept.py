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
