"""Which case to review next: uncertain first, rare labels boosted, no run of look-alikes.

Uncertainty is measured by **margin**, per dimension, on the calibrated probabilities:

* single-label: ``1 − (p_top − p_second)``: a case the model cannot decide between
  two labels is worth more than one spread thinly over many irrelevant labels
  (which is what entropy would reward);
* multi-label: ``1 − min_l |p_l − t_l| / max(t_l, 1 − t_l)``: how close the label
  nearest to its own decision threshold ``t_l`` is; one undecided label is a
  decision the annotator has to make.

A case's uncertainty is the mean over the dimensions in scope. Two adjustments:

* **rare labels**: ``+ rare_weight · max_l p_l · rarity_l`` with ``rarity_l = 1 / sqrt(1 + n_l)``
  (``n_l`` labelled examples of label ``l``, scaled so the rarest label has rarity 1):
  cases that probably carry a label with few examples come earlier;
* **diversity**: the queue is filled greedily, each pick's score lowered by
  ``diversity · max cosine`` to the cases already queued (maximal marginal relevance),
  so ten near-identical scraped pages do not fill the queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from iesi_nlp.codebook import Codebook


@dataclass(frozen=True)
class QueueOptions:
    rare_weight: float = 0.5
    diversity: float = 0.5
    dimensions: tuple[str, ...] | None = None  # None: every dimension


def dimension_uncertainty(scores: np.ndarray, multi_label: bool, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Margin uncertainty in [0, 1] of each row of ``scores`` (cases × labels)."""
    scores = np.asarray(scores, dtype=float)
    if scores.shape[1] == 1:
        return np.zeros(len(scores))
    if not multi_label:
        top_two = -np.sort(-scores, axis=1)[:, :2]
        return 1.0 - (top_two[:, 0] - top_two[:, 1])
    thresholds = np.full(scores.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=float)
    span = np.maximum(thresholds, 1 - thresholds)
    return 1.0 - np.min(np.abs(scores - thresholds) / span, axis=1)


def label_rarity(counts: Mapping[str, int], label_ids: Sequence[str]) -> np.ndarray:
    """``1 / sqrt(1 + n)`` per label, scaled so the rarest label gets 1."""
    raw = np.array([1.0 / np.sqrt(1.0 + counts.get(label, 0)) for label in label_ids])
    return raw / raw.max() if raw.max() > 0 else raw


def priority(
    scores: Mapping[str, np.ndarray],
    codebook: Codebook,
    label_counts: Mapping[str, Mapping[str, int]],
    thresholds: Mapping[str, np.ndarray] | None = None,
    options: QueueOptions | None = None,
) -> np.ndarray:
    """Review priority of each case before diversity: uncertainty plus the rare-label boost.

    ``scores[dim]`` is a cases × labels matrix in codebook order; ``label_counts[dim][label]``
    is how many labelled examples the training set has.
    """
    options = options or QueueOptions()
    thresholds = {k: v for k, v in (thresholds or {}).items() if v is not None}
    dimensions = [d for d in codebook.dimensions if options.dimensions is None or d.id in options.dimensions]
    if not dimensions:
        raise ValueError(f"no dimension in scope; choose from {', '.join(codebook.dimension_ids)}")
    uncertainty = np.mean(
        [dimension_uncertainty(scores[d.id], d.multi_label, thresholds.get(d.id)) for d in dimensions], axis=0
    )
    boost = np.max(
        [
            np.max(np.asarray(scores[d.id]) * label_rarity(label_counts.get(d.id, {}), d.label_ids), axis=1)
            for d in dimensions
        ],
        axis=0,
    )
    return uncertainty + options.rare_weight * boost


def build_queue(
    vectors: np.ndarray, base_priority: np.ndarray, length: int, options: QueueOptions | None = None
) -> list[int]:
    """Indices of the ``length`` cases to review first, by priority with a penalty for similarity."""
    options = options or QueueOptions()
    n = len(base_priority)
    length = min(length, n)
    if length <= 0:
        return []
    vectors = np.asarray(vectors, dtype=np.float32)
    chosen: list[int] = []
    closest = np.zeros(n)  # max cosine to anything queued so far
    available = np.ones(n, dtype=bool)
    for _ in range(length):
        adjusted = np.where(available, base_priority - options.diversity * closest, -np.inf)
        pick = int(np.argmax(adjusted))
        chosen.append(pick)
        available[pick] = False
        closest = np.maximum(closest, vectors @ vectors[pick])
    return chosen
