"""Likely-mislabeled cases: labels the model, cross-validated, finds hard to believe (cleanlab).

At training, each dimension's out-of-fold probabilities over the labelled cases (seed and
own, or the own cases alone where they chose the recipe) go to cleanlab's
``find_label_issues`` (confident learning: it estimates how often each label is confused
with each other from the probabilities, and flags the cases whose given label is least
credible under that estimate). The flagged cases, ranked by cleanlab's label quality (lowest
first), are saved with the model; the review screen's "Check these" page lists the own ones
for a reviewer to confirm or correct, and that decision is recorded like any other.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from iesi_nlp.errors import ModelError
from iesi_nlp.records import Case

#: In a model folder: the labelled cases cleanlab flagged when it was trained.
LABEL_ISSUES_FILE = "label_issues.jsonl"


@dataclass(frozen=True)
class LabelIssue:
    """A labelled case whose label on one dimension looks wrong, with what the model would say instead.

    ``quality``: cleanlab's label quality score, 0 to 1, lower is likelier wrong.
    ``origin``: ``"own"`` (the user's case, which the review screen can correct) or ``"seed"``.
    """

    case_id: str
    dimension_id: str
    given: tuple[str, ...]
    predicted: tuple[str, ...]
    quality: float
    origin: str


def find_label_issues(
    dimension_id: str,
    multi_label: bool,
    label_ids: Sequence[str],
    case_ids: Sequence[str],
    proba: np.ndarray,
    given: np.ndarray,
    predicted: np.ndarray,
    origins: Sequence[str],
) -> list[LabelIssue]:
    """The cases of one dimension whose given labels (0/1 rows of ``given``) cleanlab flags, likeliest first.

    ``proba`` are out-of-fold probabilities, ``predicted`` the out-of-fold decisions (0/1 rows).
    Too few cases or labels for confident learning: no issue rather than a guess.
    """
    from cleanlab.filter import find_label_issues as cleanlab_find
    from cleanlab.rank import get_label_quality_scores

    present = np.flatnonzero(given.sum(axis=0))
    if len(case_ids) < 10 or len(present) < 2:
        return []
    # cleanlab wants every class it is given to occur: keep the labels some case carries.
    probabilities = proba[:, present]
    if multi_label:
        labels = [list(np.flatnonzero(row[present])) for row in given]
    else:
        probabilities = probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
        labels = np.argmax(given[:, present], axis=1)
    try:
        with warnings.catch_warnings():  # small classes draw warnings, not errors: the flags are still sound
            warnings.simplefilter("ignore")
            # n_jobs=1: cleanlab's default forks a process pool, which deadlocks when training runs on a
            # thread of a multi-threaded process (the review screen's background retraining).
            ranked = cleanlab_find(
                labels,
                probabilities,
                multi_label=multi_label,
                return_indices_ranked_by="self_confidence",
                n_jobs=1,
            )
            if multi_label:
                from cleanlab.multilabel_classification.rank import get_label_quality_scores as multilabel_scores

                quality = multilabel_scores(labels, probabilities)
            else:
                quality = get_label_quality_scores(labels, probabilities)
    except (ValueError, IndexError, ZeroDivisionError):
        return []

    def names(row: np.ndarray) -> tuple[str, ...]:
        return tuple(label_ids[j] for j in np.flatnonzero(row))

    return [
        LabelIssue(
            case_ids[i], dimension_id, names(given[i]), names(predicted[i]), round(float(quality[i]), 4), origins[i]
        )
        for i in ranked.tolist()
    ]


def issues_of_validation(validation, cases: Sequence[Case], own_ids: set[str]) -> list[LabelIssue]:
    """Issues in every cross-validated dimension (``validation``: training's CrossValidation, rows index ``cases``)."""
    issues: list[LabelIssue] = []
    for dimension_id, choice in validation.choices.items():
        result = choice.kept_result
        ids = [cases[row].id for row in result.targets.rows.tolist()]
        issues += find_label_issues(
            dimension_id,
            result.multi_label,
            result.label_ids,
            ids,
            result.proba,
            result.targets.matrix,
            result.chosen,
            ["own" if case_id in own_ids else "seed" for case_id in ids],
        )
    return issues


def write_issues(path: Path, issues: Iterable[LabelIssue]) -> None:
    with path.open("wb") as handle:
        for issue in issues:
            handle.write(orjson.dumps(dataclasses.asdict(issue)) + b"\n")


def read_issues(model_dir: str | Path) -> list[LabelIssue]:
    """The issues saved with a model (none for a model trained before them)."""
    path = Path(model_dir) / LABEL_ISSUES_FILE
    if not path.exists():
        return []
    issues = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
            issues.append(LabelIssue(**{**raw, "given": tuple(raw["given"]), "predicted": tuple(raw["predicted"])}))
        except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
            raise ModelError(f"{path} line {number}: damaged ({exc}); retrain the model") from None
    return issues
