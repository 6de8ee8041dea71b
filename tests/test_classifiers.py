"""DimensionClassifier keeps the scikit-learn contract for single- and multi-label dimensions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification

from iesi_nlp.coding.classifiers import DimensionClassifier


@pytest.fixture(scope="module")
def single_data():
    X, y = make_classification(n_samples=240, n_features=20, n_informative=8, n_classes=4, random_state=0)
    labels = np.array(["incremental", "sustaining", "disruptive", "transformative"])[y]
    return X, labels


@pytest.fixture(scope="module")
def multi_data():
    X, Y = make_multilabel_classification(n_samples=240, n_features=20, n_classes=5, n_labels=2, random_state=0)
    return X.astype(float), Y


def test_single_label_probabilities_follow_classes(single_data):
    X, y = single_data
    model = DimensionClassifier()
    assert model.fit(X[:180], y[:180]) is model
    assert list(model.classes_) == sorted(set(y))
    probabilities = model.predict_proba(X[180:])
    assert probabilities.shape == (60, 4)
    assert np.allclose(probabilities.sum(axis=1), 1)
    predicted = model.predict(X[180:])
    assert np.array_equal(predicted, model.classes_[probabilities.argmax(axis=1)])
    assert np.mean(predicted == y[180:]) > 0.5  # well above the 0.25 of chance


def test_multi_label_thresholds_and_at_least_one_label(multi_data):
    X, Y = multi_data
    model = DimensionClassifier(multi_label=True).fit(X[:180], Y[:180])
    assert model.thresholds_.shape == (5,)
    assert np.all((model.thresholds_ >= 0.05) & (model.thresholds_ <= 0.95))
    probabilities = model.predict_proba(X[180:])
    assert probabilities.shape == (60, 5) and np.all((probabilities >= 0) & (probabilities <= 1))
    predicted = model.predict(X[180:])
    assert predicted.shape == (60, 5) and predicted.sum(axis=1).min() >= 1
    assert np.mean(predicted == Y[180:]) > 0.7


def test_rare_and_constant_labels(multi_data):
    X, Y = multi_data
    Y = Y.copy()
    Y[:, 3] = 0  # never seen
    Y[:, 4] = 0
    Y[:2, 4] = 1  # seen twice: too few to calibrate or tune
    model = DimensionClassifier(multi_label=True).fit(X, Y)
    assert np.allclose(model.predict_proba(X)[:, 3], 0)
    assert model.thresholds_[4] == 0.5


def test_uncalibrated_and_clone(single_data):
    X, y = single_data
    model = DimensionClassifier(calibration=None, C=0.5)
    copy = clone(model)
    assert copy.get_params()["C"] == 0.5 and not hasattr(copy, "classes_")
    assert copy.fit(X, y).predict_proba(X).shape == (240, 4)


def test_bad_settings_and_shapes(single_data, multi_data):
    X, y = single_data
    with pytest.raises(ValueError, match="calibration must be"):
        DimensionClassifier(calibration="platt").fit(X, y)
    with pytest.raises(ValueError, match="at least two classes"):
        DimensionClassifier().fit(X, np.array(["only"] * len(X)))
    with pytest.raises(ValueError, match="indicator matrix"):
        DimensionClassifier(multi_label=True).fit(X, np.arange(len(X)))
    Xm, Y = multi_data
    model = DimensionClassifier(multi_label=True).fit(Xm, Y)
    with pytest.raises(ValueError, match="features"):
        model.predict(Xm[:, :5])
