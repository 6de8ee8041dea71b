"""Likely-mislabeled cases: cleanlab over out-of-fold probabilities finds labels flipped on purpose."""

from __future__ import annotations

import numpy as np
import pytest

from iesi_nlp.coding.label_issues import LabelIssue, find_label_issues, read_issues, write_issues


@pytest.mark.parametrize("multi_label", [False, True])
def test_flipped_labels_are_found_and_ranked_first(multi_label):
    rng = np.random.default_rng(0)
    n, labels = 200, ["a", "b", "c"]
    truth = rng.integers(0, 3, n)
    proba = np.full((n, 3), 0.05)
    proba[np.arange(n), truth] = 0.9
    given = np.eye(3, dtype=int)[truth]
    flipped = rng.choice(n, 20, replace=False)
    given[flipped] = np.eye(3, dtype=int)[(truth[flipped] + 1) % 3]
    ids = [f"c{i}" for i in range(n)]
    found = find_label_issues("d", multi_label, labels, ids, proba, given, np.eye(3, dtype=int)[truth], ["own"] * n)
    assert {issue.case_id for issue in found} == {f"c{i}" for i in flipped}
    first = found[0]
    assert first.given == (labels[(truth[int(first.case_id[1:])] + 1) % 3],) and first.quality < 0.2


def test_too_few_cases_or_one_label_flag_nothing():
    proba = np.full((5, 2), 0.5)
    assert (
        find_label_issues(
            "d", False, ["a", "b"], list("vwxyz"), proba, np.eye(2, dtype=int)[[0] * 5], proba, ["own"] * 5
        )
        == []
    )


def test_issues_round_trip_with_the_model(tmp_path):
    issues = [LabelIssue("c1", "actors", ("public",), ("private", "citizens"), 0.12, "own")]
    write_issues(tmp_path / "label_issues.jsonl", issues)
    assert read_issues(tmp_path) == issues and read_issues(tmp_path / "absent") == []
