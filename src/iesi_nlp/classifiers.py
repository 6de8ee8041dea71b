"""One scikit-learn classifier per codebook dimension, with calibrated probabilities.

Single-label dimensions get a multinomial logistic regression; multi-label ones a
binary logistic regression per label with its own decision threshold, tuned by
cross-validation to maximise that label's F1. Probabilities are calibrated with
:class:`~sklearn.calibration.CalibratedClassifierCV` whenever every class has
enough examples for its internal cross-validation; with fewer, the plain logistic
regression is used (it is reasonably calibrated on its own, and calibrating on a
handful of cases would overfit).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.multiclass import is_multilabel
from sklearn.utils.validation import check_is_fitted, validate_data

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
    calibration : {"sigmoid", "isotonic", None}
        Calibration method; ``None`` keeps the logistic regression's own probabilities.
    cv : int
        Folds used both for calibration and for tuning multi-label thresholds.
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
        calibration: str | None = "sigmoid",
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

    def fit(self, X, y):
        if self.calibration not in {"sigmoid", "isotonic", None}:
            raise ValueError(f"calibration must be 'sigmoid', 'isotonic' or None, got {self.calibration!r}")
        if self.multi_label:
            X, y = validate_data(self, X, y, multi_output=True)
            y = np.asarray(y)
            if y.ndim != 2 or not (is_multilabel(y) or y.shape[1] == 1):
                raise ValueError("multi_label=True needs y as a 0/1 indicator matrix (n_samples, n_labels)")
            self.classes_ = np.arange(y.shape[1])
            self.estimators_ = [self._fit_binary(X, y[:, j]) for j in range(y.shape[1])]
            self.thresholds_ = np.array([self._tune_threshold(X, y[:, j]) for j in range(y.shape[1])])
        else:
            X, y = validate_data(self, X, y)
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"need at least two classes to train, got only {self.classes_.tolist()}")
            self.estimator_ = self._calibrated(np.bincount(np.searchsorted(self.classes_, y)).min())
            self.estimator_.fit(X, y)
        return self

    def _base(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)

    def _calibrated(self, smallest_class: int):
        if self.calibration is None or smallest_class < self.cv:
            return self._base()
        return CalibratedClassifierCV(self._base(), method=self.calibration, cv=self.cv)

    def _fit_binary(self, X, column):
        positives = int(column.sum())
        if positives == 0 or positives == len(column):
            return _ConstantProbability(float(positives > 0))
        estimator = self._calibrated(min(positives, len(column) - positives))
        return estimator.fit(X, column)

    def _tune_threshold(self, X, column) -> float:
        """The threshold that maximises this label's cross-validated F1 (0.5 if too few examples)."""
        positives = int(column.sum())
        if min(positives, len(column) - positives) < self.cv:
            return 0.5
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        # Each training fold holds about (cv - 1) / cv of the rarer class.
        smallest_in_fold = min(positives, len(column) - positives) * (self.cv - 1) // self.cv
        scores = cross_val_predict(
            clone(self._calibrated(smallest_in_fold)),
            X,
            column,
            cv=folds,
            method="predict_proba",
        )[:, 1]
        f1 = [f1_score(column, scores >= t, zero_division=0.0) for t in THRESHOLD_GRID]
        return float(THRESHOLD_GRID[int(np.argmax(f1))])

    # -- prediction ------------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Single-label: rows sum to 1 over ``classes_``. Multi-label: one probability per label."""
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False)
        if not self.multi_label:
            return self.estimator_.predict_proba(X)
        return np.column_stack([_positive_probability(est, X) for est in self.estimators_])

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)
        if not self.multi_label:
            return self.classes_[np.argmax(probabilities, axis=1)]
        chosen = (probabilities >= self.thresholds_).astype(int)
        if self.require_label:
            empty = chosen.sum(axis=1) == 0
            closest = np.argmax(probabilities / self.thresholds_, axis=1)
            chosen[empty, closest[empty]] = 1
        return chosen


class _ConstantProbability:
    """Stands in for a label that was always (or never) seen in training."""

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def predict_proba(self, X) -> np.ndarray:
        n = len(X)
        return np.column_stack([np.full(n, 1 - self.probability), np.full(n, self.probability)])


def _positive_probability(estimator, X) -> np.ndarray:
    return estimator.predict_proba(X)[:, 1]
