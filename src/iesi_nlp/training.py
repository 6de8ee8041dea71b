"""Training: cross-validate every dimension, keep the better feature set, fit the final model.

For each dimension, the labelled cases are split into stratified folds
(iterative stratification for multi-label dimensions, so that rare label
combinations are spread over the folds). Both feature sets
(:data:`iesi_nlp.features.FEATURE_SETS`) are cross-validated the same way, the
one with the higher macro-F1 is kept, and its out-of-fold predictions are the
dimension's reported metrics (see :mod:`iesi_nlp.evaluation`). Everything that
learns from labels — the TF-IDF vocabulary, the codebook prior's calibration,
the classifier — is fitted on the training folds only.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from joblib import Parallel, delayed
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from iesi_nlp.classifiers import DimensionClassifier
from iesi_nlp.codebook import Codebook, Dimension
from iesi_nlp.codebook_prior import CodebookPrior, PriorDimension
from iesi_nlp.embedding.base import Embedder
from iesi_nlp.features import FEATURE_SETS, build_features, make_tfidf
from iesi_nlp.model import CodingModel, DimensionModel, decide
from iesi_nlp.records import Case


@dataclass(frozen=True)
class TrainingData:
    """What a model learns from.

    ``seed``: the seed corpus (the bundled one unless the user gives another, or none).
    ``own``: the user's own labelled and reviewed cases; they outweigh the seed (see
    :mod:`iesi_nlp.adaptation`). A case may be labelled on some dimensions only.
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

    ``feature_set``: ``auto`` (cross-validate both, keep the better), ``dense`` or ``dense+tfidf``.
    ``min_cases``: below this many labelled cases a dimension is coded from the codebook alone.
    ``full_weight_cases``: from this many on, the supervised model alone; in between, a blend.
    """

    feature_set: str = "auto"
    folds: int = 5
    min_cases: int = 10
    full_weight_cases: int = 100
    #: Inverse regularisation; 10 beat 1 and 4 in cross-validation on the bundled corpus (dense features).
    C: float = 10.0
    random_state: int = 0
    n_jobs: int = -1

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


def fit_dimension(
    dimension: Dimension,
    texts: Sequence[str],
    vectors: np.ndarray,
    targets: Targets,
    feature_set: str,
    tfidf,
    options: TrainOptions,
) -> DimensionModel:
    """Fit one dimension's classifier on the labelled rows (``texts`` and ``vectors`` are all cases)."""
    n = len(targets.rows)
    weight = options.supervised_weight(n)
    classifier = None
    if weight > 0 and trainable(targets, dimension.multi_label):
        rows = targets.rows
        features = build_features(feature_set, vectors[rows], [texts[i] for i in rows], tfidf)
        classifier = DimensionClassifier(
            multi_label=dimension.multi_label, C=options.C, random_state=options.random_state
        )
        classifier.fit(features, targets.for_classifier(dimension.multi_label, dimension.label_ids))
    return DimensionModel(
        dimension.id,
        list(dimension.label_ids),
        dimension.multi_label,
        classifier,
        feature_set if classifier is not None else None,
        weight if classifier is not None else 0.0,
        n,
    )


@dataclass
class OutOfFold:
    """Cross-validated predictions of one dimension with one feature set (rows as in ``targets``)."""

    dimension_id: str
    feature_set: str
    label_ids: list[str]
    multi_label: bool
    targets: Targets
    proba: np.ndarray
    chosen: np.ndarray
    codebook_proba: np.ndarray
    codebook_chosen: np.ndarray
    sources: list[str] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        return macro_f1(self.targets.matrix, self.chosen)


def macro_f1(truth: np.ndarray, chosen: np.ndarray, average: str = "macro") -> float:
    """F1 over the labels that occur in ``truth`` or ``chosen`` (a label absent from both says nothing)."""
    active = (truth.sum(axis=0) + chosen.sum(axis=0)) > 0
    if not active.any():
        return 0.0
    return float(f1_score(truth[:, active], chosen[:, active], average=average, zero_division=0.0))


def _run_fold(dimension, texts, vectors, targets, feature_set, prior_part, options, train, test):
    train_targets = Targets(targets.rows[train], targets.matrix[train])
    train_rows = train_targets.rows
    tfidf = make_tfidf().fit([texts[i] for i in train_rows]) if feature_set == "dense+tfidf" else None
    prior = copy.deepcopy(prior_part)
    prior.fit(vectors[train_rows], _prior_targets(train_targets, dimension.multi_label))
    model = fit_dimension(dimension, texts, vectors, train_targets, feature_set, tfidf, options)
    test_rows = targets.rows[test]
    test_vectors = vectors[test_rows]
    codebook = prior.proba(test_vectors)
    proba = model.blend(
        codebook, lambda: build_features(feature_set, test_vectors, [texts[i] for i in test_rows], tfidf)
    )
    thresholds = model.thresholds() if dimension.multi_label else None
    codebook_thresholds = np.full(len(dimension.label_ids), 0.5) if dimension.multi_label else None
    return (
        test,
        proba,
        decide(proba, dimension.multi_label, thresholds),
        codebook,
        decide(codebook, dimension.multi_label, codebook_thresholds),
        model.source,
    )


def _prior_targets(targets: Targets, multi_label: bool) -> np.ndarray:
    return targets.matrix if multi_label else np.argmax(targets.matrix, axis=1)


def cross_validate_dimension(
    dimension: Dimension,
    texts: Sequence[str],
    vectors: np.ndarray,
    targets: Targets,
    feature_set: str,
    prior_part: PriorDimension,
    options: TrainOptions,
) -> OutOfFold:
    """Out-of-fold probabilities and decisions for one dimension and feature set."""
    n, k = targets.matrix.shape
    folds = make_folds(targets, dimension.multi_label, options.folds, options.random_state)
    results = Parallel(n_jobs=options.n_jobs)(
        delayed(_run_fold)(dimension, texts, vectors, targets, feature_set, prior_part, options, train, test)
        for train, test in folds
    )
    proba, chosen = np.zeros((n, k)), np.zeros((n, k), dtype=int)
    codebook_proba, codebook_chosen = np.zeros((n, k)), np.zeros((n, k), dtype=int)
    sources = []
    for test, fold_proba, fold_chosen, fold_codebook, fold_codebook_chosen, source in results:
        proba[test], chosen[test] = fold_proba, fold_chosen
        codebook_proba[test], codebook_chosen[test] = fold_codebook, fold_codebook_chosen
        sources.append(source)
    return OutOfFold(
        dimension.id,
        feature_set,
        list(dimension.label_ids),
        dimension.multi_label,
        targets,
        proba,
        chosen,
        codebook_proba,
        codebook_chosen,
        sources,
    )


@dataclass
class CrossValidation:
    """Per dimension: the out-of-fold results of every feature set tried, and the one kept."""

    results: dict[str, dict[str, OutOfFold]]
    kept: dict[str, str]

    def kept_result(self, dimension_id: str) -> OutOfFold:
        return self.results[dimension_id][self.kept[dimension_id]]


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


def cross_validate(
    cases: Sequence[Case],
    vectors: np.ndarray,
    codebook: Codebook,
    prior: CodebookPrior,
    options: TrainOptions,
    progress: Progress | None = None,
) -> CrossValidation:
    """Cross-validate every dimension with labelled cases, trying the feature sets ``options`` allows."""
    texts = [case.text for case in cases]
    feature_sets = FEATURE_SETS if options.feature_set == "auto" else (options.feature_set,)
    results: dict[str, dict[str, OutOfFold]] = {}
    kept: dict[str, str] = {}
    for dimension in codebook.dimensions:
        targets = dimension_targets(cases, dimension)
        if len(targets.rows) < max(options.folds, 2):
            continue
        results[dimension.id] = {}
        for feature_set in feature_sets:
            if progress:
                progress(f"cross-validating {dimension.id} with {feature_set} features")
            results[dimension.id][feature_set] = cross_validate_dimension(
                dimension, texts, vectors, targets, feature_set, prior.dimensions[dimension.id], options
            )
        kept[dimension.id] = choose_feature_set({fs: results[dimension.id][fs].macro_f1 for fs in feature_sets})
    return CrossValidation(results, kept)


def fit_model(
    cases: Sequence[Case],
    vectors: np.ndarray,
    codebook: Codebook,
    prior: CodebookPrior,
    embedder_spec: str,
    options: TrainOptions,
    kept: dict[str, str],
) -> CodingModel:
    """The final model on all labelled cases, with each dimension's kept feature set."""
    texts = [case.text for case in cases]
    prior = copy.deepcopy(prior)
    dimensions: dict[str, DimensionModel] = {}
    labelled_rows = sorted({i for i, case in enumerate(cases) if case.labels})
    needs_tfidf = any(fs == "dense+tfidf" for fs in kept.values())
    tfidf = make_tfidf().fit([texts[i] for i in labelled_rows]) if needs_tfidf and len(labelled_rows) >= 2 else None
    for dimension in codebook.dimensions:
        targets = dimension_targets(cases, dimension)
        if len(targets.rows):
            prior.fit(dimension.id, vectors[targets.rows], _prior_targets(targets, dimension.multi_label))
        feature_set = kept.get(dimension.id, "dense")
        dimensions[dimension.id] = fit_dimension(
            dimension, texts, vectors, targets, feature_set, tfidf if feature_set == "dense+tfidf" else None, options
        )
    return CodingModel(codebook, prior.embedder_id, embedder_spec, prior, dimensions, tfidf)


def train(
    data: TrainingData | Sequence[Case],
    embedder: Embedder,
    embedder_spec: str,
    codebook: Codebook,
    options: TrainOptions | None = None,
    progress: Progress | None = None,
) -> tuple[CodingModel, CrossValidation]:
    """Embed the labelled cases, cross-validate, and fit the final model. Returns both."""
    options = options or TrainOptions()
    cases = TrainingData.of(data).labelled
    if progress:
        progress(f"embedding {len(cases)} cases with {embedder.id}")
    vectors = embedder.encode([c.text for c in cases], [c.language for c in cases])
    prior = CodebookPrior.build(codebook, embedder)
    validation = cross_validate(cases, vectors, codebook, prior, options, progress)
    if progress:
        progress("fitting the final model on all labelled cases")
    model = fit_model(cases, vectors, codebook, prior, embedder_spec, options, validation.kept)
    return model, validation
