"""Training: choose each dimension's recipe, measure it out of fold, fit the final model.

A model learns from the seed corpus and the user's own cases (:class:`TrainingData`).
How much the own cases count, and which features are used, is decided per dimension
by the rule of :mod:`iesi_nlp.coding.adaptation`:

* with enough own cases on a dimension, every candidate recipe is cross-validated **on
  the own cases** (the seed always trains; each fold's own cases are predicted by a model
  that never saw them), and the rule keeps one by those predictions' macro-F1;
* otherwise the labelled cases (seed and the few own ones) are cross-validated together
  with the cold-start recipe, and the feature set (embeddings, or embeddings plus
  character n-grams) is chosen by macro-F1 as before.

Folds are stratified (iterative stratification for multi-label dimensions). Everything
that learns from labels — the codebook prior's calibration, the classifier, the
decision thresholds — is fitted on training folds only; the character n-grams of a user's
collection are fitted on its texts, labelled or not, which holds no label.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from joblib import Parallel, delayed
from sklearn.model_selection import KFold, StratifiedKFold

from iesi_nlp.codebook import Codebook, Dimension
from iesi_nlp.coding.adaptation import AdaptationOptions, Recipe, label_prior_offsets, label_shift
from iesi_nlp.coding.classifiers import DimensionClassifier
from iesi_nlp.coding.heads import (
    FEATURE_SETS,
    BlendedHead,
    CodebookHead,
    CodebookPrior,
    build_features,
    decide,
    fit_sharpness,
    make_tfidf,
    sharpen,
)
from iesi_nlp.coding.metrics import macro_f1, mean_log_loss
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.embedding.base import Embedder
from iesi_nlp.records import Case


@dataclass(frozen=True)
class TrainingData:
    """What a model learns from.

    ``seed``: the seed corpus (the bundled one unless the user gives another, or none).
    ``own``: the user's own labelled and reviewed cases; they outweigh the seed (see
    :mod:`iesi_nlp.coding.adaptation`). A case may be labelled on some dimensions only.
    ``unlabelled``: the rest of the user's collection; its texts may fit collection
    features (character n-grams) and label priors, never labels.
    """

    seed: Sequence[Case] = ()
    own: Sequence[Case] = ()
    unlabelled: Sequence[Case] = ()

    @classmethod
    def of(cls, data: TrainingData | Sequence[Case]) -> TrainingData:
        """``data`` itself, or a plain list of cases taken as the seed."""
        return data if isinstance(data, TrainingData) else cls(seed=list(data))

    @property
    def labelled(self) -> list[Case]:
        """Seed then own cases that carry at least one label."""
        return [case for case in (*self.seed, *self.own) if case.labels]


@dataclass(frozen=True)
class TrainOptions:
    """How to train.

    ``feature_set``: ``auto`` (cross-validate both, keep the better), ``dense`` or ``dense+tfidf``;
    it applies where no own cases decide (see :mod:`iesi_nlp.coding.adaptation`).
    ``min_cases``: below this many labelled cases a dimension is coded from the codebook alone.
    ``full_weight_cases``: without a seed corpus, the classifier's share against the codebook prior
    grows with its labelled cases up to 1 at this many (with a seed, the recipe sets the share).
    ``adaptation``: the rule that weighs own cases against the seed (:mod:`iesi_nlp.coding.adaptation`).
    """

    feature_set: str = "auto"
    folds: int = 5
    min_cases: int = 10
    full_weight_cases: int = 100
    #: Inverse regularisation; 10 beat 1 and 4 in cross-validation on the bundled corpus (dense features).
    C: float = 10.0
    random_state: int = 0
    n_jobs: int = -1
    adaptation: AdaptationOptions = field(default_factory=AdaptationOptions)
    #: Train only these dimensions (the others are coded from the codebook alone); None: every dimension.
    dimensions: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.feature_set != "auto" and self.feature_set not in FEATURE_SETS:
            raise ValueError(f"feature set must be auto, {' or '.join(FEATURE_SETS)}; got {self.feature_set!r}")
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")
        if not 1 <= self.min_cases <= self.full_weight_cases:
            raise ValueError("need 1 <= min_cases <= full_weight_cases")

    def supervised_weight(self, n_cases: int) -> float:
        if n_cases < self.min_cases:
            return 0.0
        return min(1.0, n_cases / self.full_weight_cases)


@dataclass
class Targets:
    """The labelled cases of one dimension: their row numbers and a 0/1 matrix over the codebook's labels."""

    rows: np.ndarray
    matrix: np.ndarray

    def for_classifier(self, multi_label: bool, label_ids: Sequence[str]) -> np.ndarray:
        if multi_label:
            return self.matrix
        return np.asarray(label_ids)[np.argmax(self.matrix, axis=1)]


def dimension_targets(cases: Sequence[Case], dimension: Dimension) -> Targets:
    rows, matrix = [], []
    for index, case in enumerate(cases):
        labels = case.labels.get(dimension.id)
        if not labels:
            continue
        rows.append(index)
        matrix.append([int(label in labels) for label in dimension.label_ids])
    return Targets(np.asarray(rows, dtype=int), np.asarray(matrix, dtype=int).reshape(-1, len(dimension.label_ids)))


def make_folds(targets: Targets, multi_label: bool, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds over ``targets`` (positions into ``targets.rows``)."""
    n = len(targets.rows)
    n_splits = min(n_splits, n)
    if multi_label:
        splitter = MultilabelStratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), targets.matrix))
    classes = np.argmax(targets.matrix, axis=1)
    if np.bincount(classes).max() < n_splits:
        # No class fills every fold (a few reviewed cases, each with another label): there is
        # nothing to stratify, and StratifiedKFold refuses; plain shuffled folds do.
        return list(KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(n)))
    with warnings.catch_warnings():  # a class with fewer members than folds is fine: it lands in some folds
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), classes))


def trainable(targets: Targets, multi_label: bool) -> bool:
    """Enough labels for a supervised classifier: two classes (single) or one label both seen and unseen."""
    if len(targets.rows) < 2:
        return False
    support = targets.matrix.sum(axis=0)
    if multi_label:
        return bool(((support >= 2) & (support <= len(targets.rows) - 2)).any())
    return int((support >= 2).sum()) >= 2


@dataclass(frozen=True)
class Design:
    """What every dimension's training reads: the labelled cases' texts and vectors, which are own, and the
    collection's character n-grams (fitted on the user's collection; ``None`` without one)."""

    texts: list[str]
    vectors: np.ndarray
    own: np.ndarray
    collection_tfidf: object | None = None

    def tfidf_for(self, recipe: Recipe, rows: np.ndarray):
        """The vectorizer a recipe uses: the collection's, or one fitted on the training rows' texts."""
        if recipe.feature_set != "dense+tfidf":
            return None
        if self.collection_tfidf is not None:
            return self.collection_tfidf
        return make_tfidf().fit([self.texts[i] for i in rows])

    def features(self, recipe: Recipe, rows: np.ndarray, tfidf):
        return build_features(recipe.feature_set, self.vectors[rows], [self.texts[i] for i in rows], tfidf)


def fit_dimension(
    dimension: Dimension,
    design: Design,
    targets: Targets,
    recipe: Recipe,
    tfidf,
    options: TrainOptions,
    *,
    has_seed: bool,
) -> BlendedHead:
    """Fit one dimension's classifier with ``recipe`` on the labelled rows of ``targets``.

    Own rows weigh ``recipe.own_weight`` (seed rows 1), or train alone when it is ``None``.
    With a seed corpus, the classifier's share against the codebook prior is the recipe's;
    without one, it grows with the number of training rows (:meth:`TrainOptions.supervised_weight`).
    """
    targets = recipe_rows(targets, design.own, recipe)
    n = len(targets.rows)
    weight = recipe.supervised_weight if has_seed else options.supervised_weight(n)
    if n < options.min_cases:
        weight = 0.0
    classifier = None
    rows = targets.rows
    own_weight = 1.0 if recipe.own_weight is None else recipe.own_weight
    sample_weight = np.where(design.own[rows], own_weight, 1.0)
    if weight > 0 and trainable(targets, dimension.multi_label):
        classifier = DimensionClassifier(
            multi_label=dimension.multi_label, C=options.C, random_state=options.random_state
        )
        classifier.fit(
            design.features(recipe, rows, tfidf),
            targets.for_classifier(dimension.multi_label, dimension.label_ids),
            sample_weight=sample_weight,
        )
    own_rows = design.own[rows]
    offsets = None
    if recipe.own_label_priors and own_rows.any():
        training_frequency = sample_weight @ targets.matrix / sample_weight.sum()
        offsets = label_prior_offsets(
            training_frequency, targets.matrix[own_rows].sum(axis=0), int(own_rows.sum()), dimension.multi_label
        )
    return BlendedHead(
        dimension.id,
        list(dimension.label_ids),
        dimension.multi_label,
        classifier,
        recipe.feature_set if classifier is not None else None,
        weight if classifier is not None else 0.0,
        n,
        label_offsets=offsets,
    )


def recipe_rows(targets: Targets, own: np.ndarray, recipe: Recipe) -> Targets:
    """The rows a recipe trains on: all of ``targets``, or its own rows when the own cases train alone."""
    if recipe.own_weight is not None:
        return targets
    keep = own[targets.rows]
    return Targets(targets.rows[keep], targets.matrix[keep])


@dataclass
class OutOfFold:
    """Cross-validated predictions of one dimension with one recipe (rows as in ``targets``).

    ``evaluated_on`` is ``own`` when only the user's own cases were predicted (the seed
    always trained), ``all`` when every labelled case was.
    """

    dimension_id: str
    recipe: Recipe
    label_ids: list[str]
    multi_label: bool
    targets: Targets
    proba: np.ndarray
    chosen: np.ndarray
    codebook_proba: np.ndarray
    codebook_chosen: np.ndarray
    sources: list[str] = field(default_factory=list)
    evaluated_on: str = "all"

    @property
    def feature_set(self) -> str:
        return self.recipe.feature_set

    @property
    def macro_f1(self) -> float:
        return macro_f1(self.targets.matrix, self.chosen)

    @property
    def log_loss(self) -> float:
        """Mean log-loss of the probabilities (:func:`iesi_nlp.coding.model.mean_log_loss`)."""
        return mean_log_loss(self.proba, self.targets.matrix, self.multi_label)


def _prior_targets(targets: Targets, multi_label: bool) -> np.ndarray:
    return targets.matrix if multi_label else np.argmax(targets.matrix, axis=1)


def _run_fold(dimension, design, targets, recipe, prior_part, options, has_seed, train, test):
    """Fit on positions ``train`` of ``targets``, predict positions ``test``."""
    train_targets = recipe_rows(Targets(targets.rows[train], targets.matrix[train]), design.own, recipe)
    tfidf = design.tfidf_for(recipe, train_targets.rows)
    prior = copy.deepcopy(prior_part)
    prior.fit(design.vectors[train_targets.rows], _prior_targets(train_targets, dimension.multi_label))
    model = fit_dimension(dimension, design, train_targets, recipe, tfidf, options, has_seed=has_seed)
    test_rows = targets.rows[test]
    codebook = prior.proba(design.vectors[test_rows])
    proba = model.blend(codebook, lambda: design.features(recipe, test_rows, tfidf))
    codebook_thresholds = np.full(len(dimension.label_ids), 0.5) if dimension.multi_label else None
    return (
        test,
        proba,
        model.thresholds(),
        codebook,
        decide(codebook, dimension.multi_label, codebook_thresholds),
        model.source,
    )


def cross_validate_dimension(
    dimension: Dimension,
    design: Design,
    targets: Targets,
    recipe: Recipe,
    prior_part: CodebookHead,
    options: TrainOptions,
    *,
    evaluated: np.ndarray | None = None,
    folds: int | None = None,
) -> OutOfFold:
    """Out-of-fold probabilities and decisions of one recipe.

    ``evaluated``: positions (into ``targets``) that are split into folds and predicted;
    the other positions train in every fold (the seed, when own cases are evaluated).
    Default: every position.
    """
    has_seed = bool((~design.own[targets.rows]).any())
    everything = np.arange(len(targets.rows))
    evaluated = everything if evaluated is None else np.asarray(evaluated)
    always = np.setdiff1d(everything, evaluated)
    part = Targets(targets.rows[evaluated], targets.matrix[evaluated])
    splits = make_folds(part, dimension.multi_label, folds or options.folds, options.random_state)
    results = Parallel(n_jobs=options.n_jobs)(
        delayed(_run_fold)(
            dimension,
            design,
            targets,
            recipe,
            prior_part,
            options,
            has_seed,
            np.concatenate([always, evaluated[train]]),
            evaluated[test],
        )
        for train, test in splits
    )
    n, k = part.matrix.shape
    position = {p: i for i, p in enumerate(evaluated.tolist())}
    proba, chosen = np.zeros((n, k)), np.zeros((n, k), dtype=int)
    codebook_proba, codebook_chosen = np.zeros((n, k)), np.zeros((n, k), dtype=int)
    sources = []
    for test, fold_proba, thresholds, fold_codebook, fold_codebook_chosen, source in results:
        where = [position[p] for p in test.tolist()]
        proba[where] = fold_proba
        chosen[where] = decide(fold_proba, dimension.multi_label, thresholds)
        codebook_proba[where], codebook_chosen[where] = fold_codebook, fold_codebook_chosen
        sources.append(source)
    return OutOfFold(
        dimension.id,
        recipe,
        list(dimension.label_ids),
        dimension.multi_label,
        part,
        proba,
        chosen,
        codebook_proba,
        codebook_chosen,
        sources,
        "own" if len(always) else "all",
    )


@dataclass
class DimensionChoice:
    """What training decided for one dimension: the recipe, its out-of-fold results, the others tried."""

    recipe: Recipe
    results: dict[str, OutOfFold]
    kept: str
    rule: str = "cold start"
    #: Fitted on the kept recipe's out-of-fold probabilities (see :func:`iesi_nlp.coding.model.fit_sharpness`).
    sharpness: float = 1.0
    #: The codebook prior's own macro-F1 on the labelled cases (whether it joins the blend).
    codebook_macro_f1: float | None = None
    #: How far the own label frequencies are from the seed's (:func:`iesi_nlp.coding.adaptation.label_shift`).
    label_shift: float | None = None

    @property
    def kept_result(self) -> OutOfFold:
        return self.results[self.kept]


@dataclass
class CrossValidation:
    """Per dimension: the out-of-fold results of every recipe tried, and the one kept."""

    choices: dict[str, DimensionChoice]

    @property
    def results(self) -> dict[str, dict[str, OutOfFold]]:
        return {d: c.results for d, c in self.choices.items()}

    @property
    def kept(self) -> dict[str, str]:
        return {d: c.kept for d, c in self.choices.items()}

    def kept_result(self, dimension_id: str) -> OutOfFold:
        return self.choices[dimension_id].kept_result


Progress = Callable[[str], None]

#: The character n-grams are kept only when they beat embeddings alone by this much macro-F1.
#: Smaller gains are within the spread between folds, and the n-grams cost about 4 ms a case
#: at classification (two thirds of the time of re-classifying cached texts).
MIN_TFIDF_GAIN = 0.01


def choose_feature_set(macro_f1: dict[str, float]) -> str:
    """The feature set to keep: the first (simplest) one unless another beats it by ``MIN_TFIDF_GAIN``."""
    names = list(macro_f1)
    best = names[0]
    for name in names[1:]:
        if macro_f1[name] >= macro_f1[best] + MIN_TFIDF_GAIN:
            best = name
    return best


def choose_dimension(
    dimension: Dimension,
    design: Design,
    targets: Targets,
    prior_part: CodebookHead,
    options: TrainOptions,
    progress: Progress | None = None,
) -> DimensionChoice:
    """Apply the rule of :mod:`iesi_nlp.coding.adaptation` to one dimension."""
    rule = options.adaptation
    own_rows = design.own[targets.rows]
    own_positions = np.flatnonzero(own_rows)
    has_seed = len(own_positions) < len(targets.rows)
    codebook_score = codebook_macro_f1(dimension, design, targets, prior_part)
    # Where the label definitions code poorly by themselves, the classifier serves alone.
    competent = codebook_score >= rule.min_codebook_macro_f1

    def blended(recipe: Recipe) -> Recipe:
        return recipe if competent else replace(recipe, supervised_weight=1.0)

    if has_seed and len(own_positions) >= rule.min_own_cases:
        results = {}
        shift = label_shift(targets.matrix[~own_rows], targets.matrix[own_rows])
        for recipe in map(blended, rule.candidates_for(len(own_positions), shift)):
            if progress:
                progress(f"{dimension.id}: {recipe.name} on {len(own_positions)} own cases")
            results[recipe.name] = cross_validate_dimension(
                dimension,
                design,
                targets,
                recipe,
                prior_part,
                options,
                evaluated=own_positions,
                folds=min(rule.folds, len(own_positions)),
            )
        kept = rule.choose({name: result.macro_f1 for name, result in results.items()}, len(own_positions))
        return DimensionChoice(
            results[kept].recipe,
            results,
            kept,
            "chosen on own cases",
            _sharpness(results[kept]),
            codebook_score,
            round(shift, 4),
        )
    recipe = blended(rule.cold_start)
    feature_sets = FEATURE_SETS if options.feature_set == "auto" else (options.feature_set,)
    results = {}
    for feature_set in feature_sets:
        candidate = replace(recipe, feature_set=feature_set)
        if progress:
            progress(f"{dimension.id}: cross-validating {candidate.name}")
        results[candidate.name] = cross_validate_dimension(dimension, design, targets, candidate, prior_part, options)
    by_feature_set = {results[name].feature_set: results[name].macro_f1 for name in results}
    kept_feature_set = choose_feature_set(by_feature_set)
    kept = next(name for name in results if results[name].feature_set == kept_feature_set)
    return DimensionChoice(
        results[kept].recipe,
        results,
        kept,
        "cold start" if has_seed else "no seed",
        _sharpness(results[kept]),
        codebook_score,
    )


def codebook_macro_f1(dimension: Dimension, design: Design, targets: Targets, prior_part: CodebookHead) -> float:
    """How well the codebook prior alone codes the labelled cases (calibrated on them: a few parameters only)."""
    prior = copy.deepcopy(prior_part)
    vectors = design.vectors[targets.rows]
    prior.fit(vectors, _prior_targets(targets, dimension.multi_label))
    thresholds = np.full(len(dimension.label_ids), 0.5) if dimension.multi_label else None
    return macro_f1(targets.matrix, decide(prior.proba(vectors), dimension.multi_label, thresholds))


def _sharpness(result: OutOfFold) -> float:
    """Sharpness for the kept recipe, and the out-of-fold probabilities rescaled with it (decisions unchanged)."""
    sharpness = fit_sharpness(result.proba, result.targets.matrix, result.multi_label)
    result.proba = sharpen(result.proba, sharpness, result.multi_label)
    return sharpness


def cross_validate(
    design: Design,
    cases: Sequence[Case],
    codebook: Codebook,
    prior: CodebookPrior,
    options: TrainOptions,
    progress: Progress | None = None,
) -> CrossValidation:
    """Choose and cross-validate every dimension that has labelled cases enough."""
    choices: dict[str, DimensionChoice] = {}
    for dimension in codebook.dimensions:
        if options.dimensions is not None and dimension.id not in options.dimensions:
            continue
        targets = dimension_targets(cases, dimension)
        if len(targets.rows) < max(options.folds, 2):
            continue
        choices[dimension.id] = choose_dimension(
            dimension, design, targets, prior.dimensions[dimension.id], options, progress
        )
    return CrossValidation(choices)


def fit_model(
    design: Design,
    cases: Sequence[Case],
    codebook: Codebook,
    prior: CodebookPrior,
    embedder_spec: str,
    options: TrainOptions,
    validation: CrossValidation,
) -> CodingModel:
    """The final model on all labelled cases, each dimension with its kept recipe and thresholds."""
    prior = copy.deepcopy(prior)
    dimensions: dict[str, BlendedHead] = {}
    recipes = {d: c.recipe for d, c in validation.choices.items()}
    tfidf = design.collection_tfidf
    if tfidf is None and any(r.feature_set == "dense+tfidf" for r in recipes.values()) and len(cases) >= 2:
        tfidf = make_tfidf().fit(design.texts)
    for dimension in codebook.dimensions:
        targets = dimension_targets(cases, dimension)
        if options.dimensions is not None and dimension.id not in options.dimensions:
            targets = Targets(targets.rows[:0], targets.matrix[:0])
        recipe = recipes.get(dimension.id, options.adaptation.cold_start)
        trained = recipe_rows(targets, design.own, recipe)
        if len(trained.rows):
            prior.fit(dimension.id, design.vectors[trained.rows], _prior_targets(trained, dimension.multi_label))
        has_seed = bool((~design.own[targets.rows]).any())
        model = fit_dimension(
            dimension,
            design,
            targets,
            recipe,
            tfidf if recipe.feature_set == "dense+tfidf" else None,
            options,
            has_seed=has_seed,
        )
        choice = validation.choices.get(dimension.id)
        model.sharpness = choice.sharpness if choice is not None else 1.0
        model.recipe = recipe
        model.rule = choice.rule if choice is not None else "too few labelled cases"
        model.n_own = int(design.own[targets.rows].sum())
        dimensions[dimension.id] = model
    uses_tfidf = any(m.feature_set == "dense+tfidf" for m in dimensions.values())
    return CodingModel(codebook, prior.embedder_id, embedder_spec, prior, dimensions, tfidf if uses_tfidf else None)


def prepare(
    data: TrainingData | Sequence[Case], embedder: Embedder, codebook: Codebook, progress: Progress | None = None
) -> tuple[list[Case], Design, CodebookPrior]:
    """The labelled cases (seed first, then own), their design (vectors, own flags, collection n-grams) and the prior."""
    data = TrainingData.of(data)
    seed = [c for c in data.seed if c.labels]
    own = [c for c in data.own if c.labels]
    cases = seed + own
    if progress:
        progress(f"embedding {len(cases)} labelled cases with {embedder.id} ({len(seed)} seed, {len(own)} own)")
    vectors = embedder.encode([c.text for c in cases], [c.language for c in cases])
    # The user's collection, labelled or not, fits the character n-grams: they hold no label.
    collection = [c.text for c in (*own, *data.unlabelled)]
    design = Design(
        texts=[c.text for c in cases],
        vectors=vectors,
        own=np.asarray([False] * len(seed) + [True] * len(own), dtype=bool),
        collection_tfidf=make_tfidf().fit(collection) if own and len(collection) >= 2 else None,
    )
    return cases, design, CodebookPrior.build(codebook, embedder)


def validate(
    data: TrainingData | Sequence[Case],
    embedder: Embedder,
    codebook: Codebook,
    options: TrainOptions | None = None,
    progress: Progress | None = None,
) -> tuple[CrossValidation, list[Case]]:
    """Choose and cross-validate every dimension's recipe without fitting the final model."""
    cases, design, prior = prepare(data, embedder, codebook, progress)
    return cross_validate(design, cases, codebook, prior, options or TrainOptions(), progress), cases


def train(
    data: TrainingData | Sequence[Case],
    embedder: Embedder,
    embedder_spec: str,
    codebook: Codebook,
    options: TrainOptions | None = None,
    progress: Progress | None = None,
) -> tuple[CodingModel, CrossValidation]:
    """Embed the labelled cases, choose and cross-validate every dimension's recipe, fit the final model."""
    options = options or TrainOptions()
    cases, design, prior = prepare(data, embedder, codebook, progress)
    validation = cross_validate(design, cases, codebook, prior, options, progress)
    if progress:
        progress("fitting the final model on all labelled cases")
    model = fit_model(design, cases, codebook, prior, embedder_spec, options, validation)
    return model, validation
