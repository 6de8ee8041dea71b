"""The benchmark scripts' own behaviour (their figures are in BENCHMARKS.md, not asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.benchmarks_path import BENCHMARKS, load_benchmark

external_check = load_benchmark("external_check")


def test_external_check_skips_cleanly_without_the_shared_data(tmp_path):
    script = BENCHMARKS / "external_check.py"
    done = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path / "absent")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stdout and "absent" in done.stdout


def test_external_labels_map_as_the_spec_says():
    dsi, ipso, sdg = external_check.SOURCES
    table = pd.DataFrame(
        {
            "project_id": ["a", "b", "c", "d"],
            "areas_of_society": [
                "Education and skills|Culture and arts",  # one mapped domain: kept
                "Education and skills|Health and wellbeing",  # two: left out
                "Science",  # none: left out
                None,
            ],
        }
    )
    assert external_check.gold_labels(dsi, table) == {"a": "education"}
    sdg_rows = pd.DataFrame({"id": ["x", "y", "z"], "sdg": ["10", "3", "1"], "label": ["True", "True", "False"]})
    assert external_check.gold_labels(sdg, sdg_rows) == {"x": "social_inclusion", "y": "health"}
    assert external_check.gold_labels(ipso, pd.DataFrame({"id": ["p"], "primary_sector": ["Social protection"]})) == {
        "p": "social_inclusion"
    }


def test_benchmark_inputs_come_from_the_bundled_pool():
    texts = load_benchmark("_texts").texts_of_words(3, 200, seed=0)
    assert len(set(texts)) == 3 and all(190 <= len(t.split()) <= 320 for t in texts)


@pytest.mark.parametrize("kind", ["margin", "max", "density", "badge"])
def test_every_compared_queue_strategy_picks_a_batch_of_distinct_cases(kind):
    import numpy as np

    from iesi_nlp.active_learning import QueueOptions
    from iesi_nlp.codebook import load_codebook

    active_learning = load_benchmark("active_learning")
    codebook = load_codebook()
    rng = np.random.default_rng(0)
    n = 40
    scores = {}
    for d in codebook.dimensions:
        raw = rng.random((n, len(d.label_ids)))
        scores[d.id] = raw if d.multi_label else raw / raw.sum(axis=1, keepdims=True)
    thresholds = {d.id: np.full(len(d.label_ids), 0.5) if d.multi_label else None for d in codebook.dimensions}
    vectors = rng.normal(size=(n, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picks = active_learning.pick_batch(kind, scores, thresholds, {}, codebook, vectors, 10, QueueOptions())
    assert len(picks) == 10 and len(set(picks)) == 10 and all(0 <= i < n for i in picks)
