"""A trained coding model: suggestions for every dimension, with confidence, source and evidence.

For each dimension the probability of every label is a blend

    p = w · p_supervised + (1 − w) · p_codebook

where ``w`` (the supervised weight) grows with the labelled cases the dimension
was trained on: 0 below ``min_cases`` (the codebook alone), 1 from
``full_weight_cases`` on. The output says which source each dimension's
suggestion came from: ``supervised`` (w = 1), ``codebook`` (w = 0) or ``blend``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit, softmax

from iesi_nlp.adaptation import Recipe
from iesi_nlp.classifiers import DimensionClassifier
from iesi_nlp.codebook import Codebook
from iesi_nlp.codebook_prior import CodebookPrior, PriorDimension
from iesi_nlp.embedding.base import DocumentEmbedding
from iesi_nlp.evidence import evidence_candidates, label_specific_scores, select_evidence
from iesi_nlp.features import build_features

SOURCES = ("supervised", "codebook", "blend")

#: Decision threshold of codebook-only multi-label probabilities.
CODEBOOK_THRESHOLD = 0.5


@dataclass
class DimensionModel:
    """What one dimension was trained into."""

    dimension_id: str
    label_ids: list[str]
    multi_label: bool
    classifier: DimensionClassifier | None
    feature_set: str | None
    supervised_weight: float
    n_train: int
    #: How it was trained (see :mod:`iesi_nlp.adaptation`): the recipe, the rule that chose it, own cases.
    recipe: Recipe | None = None
    rule: str = ""
    n_own: int = 0
    #: Per-label log-odds (multi-label) or log-ratio (single-label) moving the training set's label
    #: frequencies to the user's own (see :func:`iesi_nlp.adaptation.label_prior_offsets`); None: unchanged.
    label_offsets: np.ndarray | None = None
    #: Sharpness of the final probabilities, fitted on out-of-fold predictions: blending two calibrated
    #: sources averages them towards the middle (see :func:`fit_sharpness`); decisions do not change.
    sharpness: float = 1.0

    @property
    def source(self) -> str:
        if self.classifier is None or self.supervised_weight <= 0:
            return "codebook"
        return "supervised" if self.supervised_weight >= 1 else "blend"

    def supervised_proba(self, features) -> np.ndarray:
        """Supervised probabilities in codebook label order (0 for labels never seen in training)."""
        raw = self.classifier.predict_proba(features)
        if self.multi_label:
            return raw
        full = np.zeros((raw.shape[0], len(self.label_ids)))
        columns = [self.label_ids.index(label) for label in self.classifier.classes_]
        full[:, columns] = raw
        return full

    def blend(self, codebook: np.ndarray, features: Callable[[], Any]) -> np.ndarray:
        """``w · supervised + (1 − w) · codebook``, moved to the user's label frequencies when known.

        ``features`` builds the classifier's input only when it is used.
        """
        if self.classifier is None or self.supervised_weight <= 0:
            blended = codebook
        else:
            w = self.supervised_weight
            blended = w * self.supervised_proba(features()) + (1 - w) * codebook
        if self.label_offsets is not None:
            blended = shift_label_priors(blended, self.label_offsets, self.multi_label)
        return sharpen(blended, self.sharpness, self.multi_label)

    def thresholds(self) -> np.ndarray | None:
        """Multi-label decision thresholds, blended like the probabilities (None for single-label)."""
        if not self.multi_label:
            return None
        w = self.supervised_weight if self.classifier is not None else 0.0
        supervised = self.classifier.thresholds_ if self.classifier is not None else CODEBOOK_THRESHOLD
        blended = w * np.asarray(supervised, dtype=float) + (1 - w) * CODEBOOK_THRESHOLD
        # Sharpening is monotone per label: the thresholds move with the probabilities, decisions stay.
        return sharpen(np.atleast_2d(blended), self.sharpness, True)[0]

    def sentence_directions(self, prior: PriorDimension, dim: int) -> np.ndarray:
        """``(n_labels, dim)``: a sentence's score for each label is its vector times these rows."""
        centred = prior.prototypes - prior.prototypes.mean(axis=0, keepdims=True)
        codebook = centred * prior.slope if self.multi_label else centred / prior.temperature
        if self.classifier is None or self.supervised_weight <= 0:
            return codebook
        weights = self.classifier.feature_weights(dim)
        if not self.multi_label:  # rows for the classes seen in training, zero for the others
            full = np.zeros((len(self.label_ids), dim))
            full[[self.label_ids.index(c) for c in self.classifier.classes_]] = weights
            weights = full
        w = self.supervised_weight
        return w * weights + (1 - w) * codebook


@dataclass
class CodingModel:
    """Everything needed to code new cases; saved and loaded by :mod:`iesi_nlp.artifacts`."""

    codebook: Codebook
    embedder_id: str
    embedder_spec: str
    prior: CodebookPrior
    dimensions: dict[str, DimensionModel]
    tfidf: Any = None
    id: str = "unsaved"
    card: dict[str, Any] = field(default_factory=dict)

    def dimension_proba(self, dimension_id: str, vectors: np.ndarray, texts: Sequence[str], cache: dict) -> np.ndarray:
        """Blended probabilities of every label of one dimension, codebook order."""
        model = self.dimensions[dimension_id]

        def features():
            if model.feature_set not in cache:
                cache[model.feature_set] = build_features(model.feature_set, vectors, texts, self.tfidf)
            return cache[model.feature_set]

        return model.blend(self.prior.proba(dimension_id, vectors), features)

    def suggest(
        self,
        documents: Sequence[DocumentEmbedding],
        texts: Sequence[str],
        *,
        evidence: bool = True,
    ) -> list[dict[str, Any]]:
        """Suggestions for each document: labels, scores of every label, source and evidence per dimension."""
        if not documents:
            return []
        vectors = np.stack([d.vector for d in documents])
        feature_cache: dict = {}
        candidates = [evidence_candidates(d.sentences, d.boilerplate) for d in documents] if evidence else []
        results: list[dict[str, Any]] = [{"labels": {}, "scores": {}, "source": {}, "evidence": {}} for _ in documents]
        for dimension_id, model in self.dimensions.items():
            probabilities = self.dimension_proba(dimension_id, vectors, texts, feature_cache)
            chosen = decide(probabilities, model.multi_label, model.thresholds() if model.multi_label else None)
            rounded = np.round(probabilities, 4).tolist()
            directions = (
                model.sentence_directions(self.prior.dimensions[dimension_id], vectors.shape[1]) if evidence else None
            )
            for row, result in enumerate(results):
                labels = [model.label_ids[j] for j in np.flatnonzero(chosen[row])]
                result["labels"][dimension_id] = labels
                result["scores"][dimension_id] = dict(zip(model.label_ids, rounded[row], strict=True))
                result["source"][dimension_id] = model.source
                if evidence:
                    document = documents[row]
                    suggested = np.flatnonzero(chosen[row])
                    specific = label_specific_scores(document.sentence_vectors @ directions.T, suggested)
                    result["evidence"][dimension_id] = {
                        model.label_ids[j]: select_evidence(
                            document.sentences, specific[:, column], candidates=candidates[row]
                        )
                        for column, j in enumerate(suggested)
                    }
        return results


def shift_label_priors(probabilities: np.ndarray, offsets: np.ndarray, multi_label: bool) -> np.ndarray:
    """Probabilities re-weighted to other label frequencies (Bayes' rule with new priors).

    Multi-label: each label's log-odds move by its offset. Single-label: each label's
    log-probability moves by its offset and the row is renormalised.
    """
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-9, 1 - 1e-9)
    if multi_label:
        return expit(logit(p) + offsets)
    return softmax(np.log(p) + offsets, axis=1)


def sharpen(probabilities: np.ndarray, sharpness: float, multi_label: bool) -> np.ndarray:
    """Probabilities with their log-odds (multi-label) or log-probabilities (single-label) scaled by ``sharpness``."""
    if sharpness == 1.0:
        return probabilities
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-9, 1 - 1e-9)
    if multi_label:
        return expit(sharpness * logit(p))
    return softmax(sharpness * np.log(p), axis=1)


def mean_log_loss(probabilities: np.ndarray, truth: np.ndarray, multi_label: bool) -> float:
    """Mean log-loss against ``truth`` (0/1): per label for multi-label, of the true class for single-label."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-9, 1 - 1e-9)
    truth = np.asarray(truth, dtype=float)
    if multi_label:
        return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))
    return float(-np.mean(np.log((p * truth).sum(axis=1))))


def fit_sharpness(probabilities: np.ndarray, truth: np.ndarray, multi_label: bool) -> float:
    """The sharpness (see :func:`sharpen`) with the lowest log-loss of ``probabilities`` against ``truth`` (0/1)."""

    def loss(log_sharpness: float) -> float:
        return mean_log_loss(sharpen(probabilities, float(np.exp(log_sharpness)), multi_label), truth, multi_label)

    best = minimize_scalar(loss, bounds=(np.log(0.25), np.log(4.0)), method="bounded")
    return float(np.exp(best.x))


def decide(probabilities: np.ndarray, multi_label: bool, thresholds: np.ndarray | None) -> np.ndarray:
    """0/1 choices from probabilities: the argmax, or every label over its threshold (at least one)."""
    chosen = np.zeros(probabilities.shape, dtype=int)
    if not multi_label:
        chosen[np.arange(len(probabilities)), np.argmax(probabilities, axis=1)] = 1
        return chosen
    chosen = (probabilities >= thresholds).astype(int)
    empty = chosen.sum(axis=1) == 0
    closest = np.argmax(probabilities / thresholds, axis=1)
    chosen[empty, closest[empty]] = 1
    return chosen
