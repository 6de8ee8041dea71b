"""The prequential learning curve: each model version scored on the decisions about its own suggestions."""

from __future__ import annotations

import pytest

from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.coding.suggestion import DimensionSuggestion
from iesi_nlp.learning_curve import learning_curve, macro_f1


def d(case, dimension, suggested, final, action, model):
    shown = DimensionSuggestion(tuple(suggested), {}, "supervised") if suggested else None
    return Decision(case, dimension, tuple(final), action, "anna", shown=shown, model_id=model)


DECISIONS = [
    d("a", "service_domain", ["health"], ["health"], Action.ACCEPTED, "m1"),
    d("a", "actors", ["public"], ["public", "third_sector"], Action.CORRECTED, "m1"),
    d("b", "service_domain", ["education"], ["employment"], Action.CORRECTED, "m1"),
    d("b", "actors", ["public"], ["public"], Action.ACCEPTED, "m1"),
    d("c", "service_domain", ["health"], [], Action.SKIPPED, "m1"),  # left out
    d("c", "actors", ["public"], [], Action.FLAGGED, "m1"),  # left out
    d("b", "service_domain", [], ["education"], Action.ADJUDICATED, "m1"),  # answers no suggestion
    d("d", "service_domain", ["housing"], ["housing"], Action.ACCEPTED, "m2"),
    d("d", "actors", ["third_sector"], ["third_sector"], Action.ACCEPTED, "m2"),
    d("e", "service_domain", ["health"], ["migration"], Action.CORRECTED, "m0"),
]
VERSIONS = [
    {"version": "v0001-aaaa", "model_id": "m1", "created": "2026-01-01", "own_cases": 0},
    {"version": "v0002-bbbb", "model_id": "m2", "created": "2026-01-02", "own_cases": 2},
    {"version": "v0003-cccc", "model_id": "m3", "created": "2026-01-03", "own_cases": 3},
]


def test_each_version_is_scored_on_the_suggestions_it_made(codebook):
    first, second, third, unknown = learning_curve(DECISIONS, codebook, VERSIONS)
    # v1: four scored decisions on cases a and b; two saved unchanged.
    assert (first.version, first.decisions, first.cases) == ("v0001-aaaa", 4, 2)
    assert first.accepted_unchanged == 0.5
    # service_domain: health right (F1 1), education suggested for employment (0 and 0): 1/3.
    assert first.macro_f1["service_domain"] == pytest.approx(1 / 3)
    # actors: public suggested and kept twice (F1 1), third_sector missed once (0): 1/2.
    assert first.macro_f1["actors"] == pytest.approx(0.5)
    assert first.macro_f1["ict_innovation"] is None and first.support["service_domain"] == 2
    assert (second.accepted_unchanged, second.macro_f1["service_domain"], second.macro_f1["actors"]) == (1, 1, 1)
    assert second.own_cases == 2 and second.cases == 1
    assert (third.decisions, third.accepted_unchanged, third.macro_f1["actors"]) == (0, None, None)
    # A model missing from the registry (e.g. deleted by hand) is still scored, under its model id.
    assert (unknown.version, unknown.accepted_unchanged, unknown.macro_f1["service_domain"]) == ("m0", 0.0, 0.0)
    row = first.as_row()
    assert row["version"] == "v0001-aaaa" and row["accepted unchanged"] == 0.5 and row["cases reviewed"] == 2


def test_macro_f1_over_the_labels_suggested_or_chosen():
    assert macro_f1([]) is None
    # a: tp 1, fp 1 -> 2/3; b: fn 1 -> 0; c: tp 1 -> 1.  Mean: (2/3 + 0 + 1) / 3.
    pairs = [(["a"], ["a"]), (["a", "c"], ["b", "c"])]
    assert macro_f1(pairs) == pytest.approx((2 / 3 + 0 + 1) / 3)
