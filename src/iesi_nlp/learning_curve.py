"""The user's own learning curve, measured prequentially: how good each model version was on the cases it served.

Every review decision records the suggestion the annotator was shown and the model
that made it. So each model version can be scored, without any extra labelling, on the
cases reviewed while it served (each is a case it had not learnt from):

* **accepted unchanged**: the share of its suggestions (one per case and dimension)
  that the annotator saved as they were; skipped and flagged cases are left out;
* **macro-F1 per dimension** of its suggested labels against the labels the annotator
  saved, averaged over the labels that occur in either (a label neither suggested nor
  chosen on any of these cases says nothing about this version).

A version that served few cases has a noisy score: the table gives the counts with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.codebook import Codebook

#: Actions that answer a suggestion with labels (an adjudication settles a dispute instead).
SCORED_ACTIONS = frozenset({Action.ACCEPTED, Action.CORRECTED})


@dataclass
class VersionScore:
    """One model version's prequential score on the cases reviewed while it served."""

    version: str
    model_id: str
    created: str | None = None
    own_cases: int | None = None
    #: Case-dimension decisions scored, and the distinct cases they are about.
    decisions: int = 0
    cases: int = 0
    accepted_unchanged: float | None = None
    macro_f1: dict[str, float | None] = field(default_factory=dict)
    #: Decisions scored per dimension.
    support: dict[str, int] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model": self.model_id,
            "trained": self.created,
            "own cases": self.own_cases,
            "cases reviewed": self.cases,
            "decisions": self.decisions,
            "accepted unchanged": self.accepted_unchanged,
            **{f"macro-F1 {d}": v for d, v in self.macro_f1.items()},
        }


def macro_f1(pairs: Sequence[tuple[Iterable[str], Iterable[str]]]) -> float | None:
    """Macro-F1 over the labels present in any (suggested, final) pair; None without pairs."""
    counts: dict[str, list[int]] = {}  # label -> [true positives, false positives, false negatives]
    for suggested, final in pairs:
        suggested, final = set(suggested), set(final)
        for label in suggested | final:
            tp_fp_fn = counts.setdefault(label, [0, 0, 0])
            if label in suggested and label in final:
                tp_fp_fn[0] += 1
            elif label in suggested:
                tp_fp_fn[1] += 1
            else:
                tp_fp_fn[2] += 1
    if not counts:
        return None
    scores = [2 * tp / (2 * tp + fp + fn) for tp, fp, fn in counts.values()]
    return sum(scores) / len(scores)


def learning_curve(
    decisions: Iterable[Decision], codebook: Codebook, versions: Sequence[Mapping[str, Any]] = ()
) -> list[VersionScore]:
    """Per model version (``versions``' order, then any other model in order of first decision), its score.

    ``versions`` are rows as :func:`iesi_nlp.registry.version_summaries` gives them
    (``version``, ``model_id``, ``created``, ``own_cases``); a version whose suggestions
    were never decided on is listed with no score.
    """
    by_model: dict[str, list[Decision]] = {}
    for decision in decisions:
        if decision.action in SCORED_ACTIONS and decision.model_id and decision.suggested_labels:
            by_model.setdefault(decision.model_id, []).append(decision)
    scores: list[VersionScore] = []
    listed: set[str] = set()
    for row in versions:
        listed.add(row["model_id"])
        scores.append(
            _score(
                VersionScore(row["version"], row["model_id"], row.get("created"), row.get("own_cases")),
                by_model.get(row["model_id"], []) if row["model_id"] not in {s.model_id for s in scores} else [],
                codebook,
            )
        )
    for model_id, decided in by_model.items():
        if model_id not in listed:
            scores.append(_score(VersionScore(model_id, model_id), decided, codebook))
    return scores


def _score(score: VersionScore, decided: Sequence[Decision], codebook: Codebook) -> VersionScore:
    score.decisions = len(decided)
    score.cases = len({d.case_id for d in decided})
    if decided:
        unchanged = sum(set(d.suggested_labels) == set(d.final_labels) for d in decided)
        score.accepted_unchanged = unchanged / len(decided)
    for dimension in codebook.dimension_ids:
        pairs = [(d.suggested_labels, d.final_labels) for d in decided if d.dimension == dimension]
        score.support[dimension] = len(pairs)
        score.macro_f1[dimension] = macro_f1(pairs)
    return score
