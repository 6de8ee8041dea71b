"""One scikit-learn classifier per codebook dimension, with calibrated probabilities.

Single-label dimensions get a multinomial logistic regression calibrated by
temperature scaling (:class:`~sklearn.calibration.CalibratedClassifierCV`):
one temperature for all classes keeps the probabilities coherent, where
per-class sigmoids renormalised afterwards were underconfident by about 0.1 on
the bundled corpus.

Multi-label dimensions get a binary logistic regression per label. Its
out-of-fold decision values (one cross-validation per label) serve twice: to
fit Platt's sigmoid that calibrates it, and to tune its decision threshold for
the best F1. That is what ``CalibratedClassifierCV(ensemble=False)`` does, plus
the threshold, in a third of the fits that calibrating and tuning separately
would take.

With too few examples of a class for the cross-validation, the plain logistic
regression's own probabilities are used (calibrating on a handful of cases
would overfit).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.multiclass import is_multilabel
from sklearn.utils.validation import check_is_fitted, validate_data

from iesi_nlp.coding.heads import decide

#: Candidate thresholds for multi-label decisions.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.025), 3)


class DimensionClassifier(ClassifierMixin, BaseEstimator):
    """Classifier of one codebook dimension.

    Parameters
    ----------
    multi_label : bool
        ``y`` is an indicator matrix ``(n_samples, n_labels)`` when true, a 1-D
        array of class labels otherwise.
    C : float
        Inverse regularisation strength of the logistic regressions.
    calibration : {"auto", None}
        ``auto``: temperature scaling (single-label) or Platt's sigmoid per label
        (multi-label); ``None`` keeps the logistic regression's own probabilities.
    cv : int
        Folds used for calibration and for tuning multi-label thresholds.
    require_label : bool
        Multi-label only: when no label passes its threshold, predict the one
        closest to passing, since every coded case carries at least one label.
    random_state : int
        Seed of the cross-validation splits.
    """

    def __init__(
        self,
        *,
        multi_label: bool = False,
        C: float = 1.0,
        calibration: str | None = "auto",
        cv: int = 3,
        require_label: bool = True,
        random_state: int = 0,
    ) -> None:
        self.multi_label = multi_label
        self.C = C
        self.calibration = calibration
        self.cv = cv
        self.require_label = require_label
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` and ``y``; ``sample_weight`` (one per row) makes some cases count more than others."""
        if self.calibration not in {"auto", None}:
            raise ValueError(f"calibration must be 'auto' or None, got {self.calibration!r}")
        if self.multi_label:
            X, y = validate_data(self, X, y, multi_output=True, accept_sparse="csr", dtype=np.float64)
            y = np.asarray(y)
            if y.ndim != 2 or not (is_multilabel(y) or y.shape[1] == 1):
                raise ValueError("multi_label=True needs y as a 0/1 indicator matrix (n_samples, n_labels)")
            self.classes_ = np.arange(y.shape[1])
            sample_weight = _check_weights(sample_weight, X.shape[0])
            fitted = [self._fit_label(X, y[:, j], sample_weight) for j in range(y.shape[1])]
            self.estimators_ = [estimator for estimator, _, _ in fitted]
            self.platt_ = np.array([platt for _, platt, _ in fitted], dtype=float)
            self.thresholds_ = np.array([threshold for _, _, threshold in fitted], dtype=float)
        else:
            X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
            sample_weight = _check_weights(sample_weight, X.shape[0])
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"need at least two classes to train, got only {self.classes_.tolist()}")
            smallest = np.bincount(np.searchsorted(self.classes_, y)).min()
            if self.calibration is None or smallest < self.cv:
                self.estimator_ = self._base()
            else:
                self.estimator_ = CalibratedClassifierCV(self._base(), method="temperature", cv=self.cv)
            self.estimator_.fit(X, y, sample_weight=sample_weight)
        return self

    def _base(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)

    def _fit_label(self, X, column, sample_weight):
        """(estimator, (slope, intercept) of Platt's sigmoid on its decision value, threshold) of one label."""
        positives = int(column.sum())
        if positives == 0 or positives == len(column):
            return _ConstantProbability(float(positives > 0)), (1.0, 0.0), 0.5
        base = self._base()
        if self.calibration is None or min(positives, len(column) - positives) < self.cv:
            return base.fit(X, column, sample_weight=sample_weight), (1.0, 0.0), 0.5
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        held_out = cross_val_predict(
            clone(base), X, column, cv=folds, method="decision_function", params={"sample_weight": sample_weight}
        )
        platt = LogisticRegression(C=1e4).fit(held_out.reshape(-1, 1), column, sample_weight=sample_weight)
        slope, intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        calibrated = expit(slope * held_out + intercept)
        threshold = best_f1_threshold(column, calibrated, sample_weight)
        return base.fit(X, column, sample_weight=sample_weight), (slope, intercept), threshold

    # -- prediction ------------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Single-label: rows sum to 1 over ``classes_``. Multi-label: one probability per label."""
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, accept_sparse="csr")
        if not self.multi_label:
            return self.estimator_.predict_proba(X)
        # One matrix product for all labels instead of a scikit-learn call per label
        # (the per-call validation dominated the time of coding cached cases).
        weights, biases, constant = self._stacked()
        scores = X @ weights.T + biases
        scores = np.asarray(scores)
        probabilities = expit(self.platt_[:, 0] * scores + self.platt_[:, 1])
        fixed = ~np.isnan(constant)
        probabilities[:, fixed] = constant[fixed]
        return probabilities

    def _stacked(self):
        """Label weights ``(n_labels, n_features)``, biases, and the fixed probability of constant labels (else NaN)."""
        n_features = self.n_features_in_
        weights = np.zeros((len(self.estimators_), n_features))
        biases = np.zeros(len(self.estimators_))
        constant = np.full(len(self.estimators_), np.nan)
        for j, estimator in enumerate(self.estimators_):
            if isinstance(estimator, _ConstantProbability):
                constant[j] = estimator.probability
            else:
                weights[j] = _dense(estimator.coef_)[0]
                biases[j] = estimator.intercept_[0]
        return weights, biases, constant

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)
        if not self.multi_label:
            return self.classes_[np.argmax(probabilities, axis=1)]
        if self.require_label:
            return decide(probabilities, True, self.thresholds_)
        return (probabilities >= self.thresholds_).astype(int)

    def feature_weights(self, n_features: int) -> np.ndarray:
        """Linear weights of the first ``n_features`` features, one row per class (or label).

        A case's score for a class is linear in its features, so these weights say
        which sentences push towards which class. Single-label rows are averaged over
        the calibration folds and centred across classes: only the pull towards one
        class *rather than the others* counts. Multi-label rows include Platt's slope.
        """
        check_is_fitted(self, "classes_")
        if not self.multi_label:
            weights = _linear_weights(self.estimator_, len(self.classes_))[:, :n_features]
            return weights - weights.mean(axis=0, keepdims=True)
        rows = []
        for estimator, (slope, _) in zip(self.estimators_, self.platt_, strict=True):
            if isinstance(estimator, _ConstantProbability):
                rows.append(np.zeros(n_features))
            else:
                rows.append(slope * _dense(estimator.coef_)[0, :n_features])
        return np.asarray(rows)


def best_f1_threshold(truth: np.ndarray, probability: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """The threshold of :data:`THRESHOLD_GRID` with the best (weighted) F1 of ``probability >= t`` against ``truth``.

    All thresholds at once with array operations: calling ``f1_score`` per threshold took
    most of the time of fitting a multi-label dimension (2.3 of 3.2 s for service_domain).
    """
    truth = np.asarray(truth, dtype=bool)
    weights = np.ones(len(truth)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    predicted = np.asarray(probability)[None, :] >= THRESHOLD_GRID[:, None]
    true_positive = (predicted & truth) @ weights
    false_positive = (predicted & ~truth) @ weights
    false_negative = (~predicted & truth) @ weights
    denominator = 2 * true_positive + false_positive + false_negative
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(THRESHOLD_GRID[int(np.argmax(f1))])


def _check_weights(sample_weight, n_samples: int) -> np.ndarray:
    """Sample weights as a float array of length ``n_samples`` (ones when none are given)."""
    if sample_weight is None:
        return np.ones(n_samples)
    weights = np.asarray(sample_weight, dtype=float)
    if weights.shape != (n_samples,) or (weights < 0).any() or not np.isfinite(weights).all():
        raise ValueError(f"sample_weight must be {n_samples} finite, non-negative numbers")
    return weights


def _dense(coef) -> np.ndarray:
    return coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef)


def _linear_weights(estimator, n_classes: int) -> np.ndarray:
    """``(n_classes, n_features)`` weights of a (calibrated) logistic regression."""
    if isinstance(estimator, CalibratedClassifierCV):
        members = [c.estimator for c in estimator.calibrated_classifiers_]
    else:
        members = [estimator]
    total = 0
    for member in members:
        coef = _dense(member.coef_)
        if coef.shape[0] == 1:  # binary: one row for the positive class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        total = total + coef
    return np.asarray(total) / len(members)


class _ConstantProbability:
    """Stands in for a label that was always (or never) seen in training."""

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def predict_proba(self, X) -> np.ndarray:
        n = X.shape[0]
        return np.column_stack([np.full(n, 1 - self.probability), np.full(n, self.probability)])
