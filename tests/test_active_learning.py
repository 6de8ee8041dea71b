"""The review queue: margin uncertainty, rare-label boost, diversity."""

from __future__ import annotations

import numpy as np
import pytest

from iesi_nlp.active_learning import QueueOptions, build_queue, dimension_uncertainty, label_rarity, priority


def test_margin_uncertainty_single_and_multi_label():
    single = dimension_uncertainty(np.array([[0.9, 0.05, 0.05], [0.45, 0.44, 0.11], [0.4, 0.3, 0.3]]), False)
    assert single[1] > single[2] > single[0]
    assert single[0] == pytest.approx(0.15)
    multi = dimension_uncertainty(np.array([[0.95, 0.95], [0.52, 0.02], [0.3, 0.9]]), True, np.array([0.5, 0.3]))
    assert multi[1] > multi[2] > multi[0]
    assert multi[1] == pytest.approx(1 - 0.02 / 0.5)


def test_rare_labels_are_boosted(codebook):
    rarity = label_rarity({"public": 300, "private": 3}, ["public", "private", "citizens"])
    assert rarity[2] == 1 and rarity[1] == pytest.approx(0.5) and rarity[0] < 0.06
    dims = [d for d in codebook.dimensions]
    # Two cases equally uncertain everywhere; the second probably has a label seen only twice.
    scores = {d.id: np.full((2, len(d.label_ids)), 0.5) for d in dims}
    scores["actors"] = np.array([[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]])
    scores["service_domain"][1, d_index(codebook, "service_domain", "migration")] = 0.9
    scores["service_domain"][0, d_index(codebook, "service_domain", "health")] = 0.9
    counts = {"service_domain": {"health": 80, "migration": 2}}
    ranked = priority(scores, codebook, counts)
    assert ranked[1] > ranked[0]
    with pytest.raises(ValueError, match="no dimension in scope"):
        priority(scores, codebook, counts, options=QueueOptions(dimensions=("sector",)))


def d_index(codebook, dimension_id, label_id):
    return codebook.dimension(dimension_id).label_ids.index(label_id)


def test_queue_is_not_a_run_of_near_duplicates():
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    near_duplicates = [base + rng.normal(scale=0.01, size=16) for _ in range(5)]
    others = [rng.normal(size=16) for _ in range(5)]
    vectors = np.array(near_duplicates + others)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    base_priority = np.array([1.0, 0.99, 0.98, 0.97, 0.96, 0.8, 0.79, 0.78, 0.77, 0.76])
    without = build_queue(vectors, base_priority, 5, QueueOptions(diversity=0.0))
    assert without == [0, 1, 2, 3, 4]
    diverse = build_queue(vectors, base_priority, 5)
    assert diverse[0] == 0 and len(set(diverse) & {0, 1, 2, 3, 4}) == 1
    assert build_queue(vectors, base_priority, 0) == [] and len(build_queue(vectors, base_priority, 99)) == 10
