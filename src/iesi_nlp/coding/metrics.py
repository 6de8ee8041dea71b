"""Scores of predictions against the truth, shared by training, evaluation and the benchmarks."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

#: Bins of the expected calibration error.
ECE_BINS = 10


def macro_f1(truth: np.ndarray, chosen: np.ndarray, average: str = "macro") -> float:
    """F1 over the labels that occur in ``truth`` or ``chosen`` (a label absent from both says nothing)."""
    active = (truth.sum(axis=0) + chosen.sum(axis=0)) > 0
    if not active.any():
        return 0.0
    return float(f1_score(truth[:, active], chosen[:, active], average=average, zero_division=0.0))


def mean_log_loss(probabilities: np.ndarray, truth: np.ndarray, multi_label: bool) -> float:
    """Mean log-loss against ``truth`` (0/1): per label for multi-label, of the true class for single-label."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-9, 1 - 1e-9)
    truth = np.asarray(truth, dtype=float)
    if multi_label:
        return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))
    return float(-np.mean(np.log((p * truth).sum(axis=1))))


def expected_calibration_error(probabilities: np.ndarray, outcomes: np.ndarray, bins: int = ECE_BINS) -> dict:
    """ECE and the reliability table: per bin, mean probability, observed frequency, count."""
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    outcomes = np.asarray(outcomes, dtype=float).ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    table, error = [], 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        confidence, frequency = float(probabilities[mask].mean()), float(outcomes[mask].mean())
        error += mask.mean() * abs(confidence - frequency)
        table.append(
            {
                "bin": [round(float(edges[b]), 2), round(float(edges[b + 1]), 2)],
                "mean_probability": round(confidence, 4),
                "observed": round(frequency, 4),
                "count": int(mask.sum()),
            }
        )
    return {"ece": round(float(error), 4), "bins": table}
