"""Auto-accept: which suggestions may be taken without review, at a precision the user states.

The promise is "labels auto-accepted at 95% are right at least 95% of the time on *your*
collection", so precision is estimated only from the user's own cases whose truth a person
gave: suggestions reviewed while a model version served (prequential), and out-of-fold
predictions on the own labelled cases. The seed corpus never counts.

An accepted unit is one decided label of a multi-label dimension (right when the person's
labels hold it), or a single-label dimension's decision as a whole (right when it is the
person's label). Per dimension, the threshold is the lowest score at which the
**lower confidence bound** of precision (one-sided Clopper–Pearson) still reaches the
target. Thresholds are tested from the highest down, stopping at the first that fails
(fixed-sequence testing), so scanning many thresholds costs no extra error: with
probability ``confidence`` the chosen threshold's precision on new cases is at least the
target. A point estimate would not do: a threshold picked naively from 200 own cases to give
95% gave 0.87–0.94 on new cases of a real collection.

Too few own cases: nothing is auto-accepted, and :attr:`Threshold.reason` says how many
more reviews would be needed at the least.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from scipy.stats import beta

from iesi_nlp.annotation.store import LABELLING_ACTIONS, Decision
from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.suggestion import Suggestion
from iesi_nlp.errors import InputError, ModelError
from iesi_nlp.records import Case

#: How sure the bound is: the stated precision holds with this probability.
CONFIDENCE = 0.95

#: The precision targets the model card and the dashboard report coverage for.
REPORTED_TARGETS = (0.90, 0.95)

#: In a model folder: the out-of-fold outcomes of the own cases it was trained with.
OUTCOMES_FILE = "own_outcomes.jsonl"


@dataclass(frozen=True)
class Outcome:
    """One suggestion a person judged: its score and whether it was right.

    ``label_id`` is the decided label of a multi-label dimension, or None for a single-label
    dimension's decision as a whole. ``origin`` is ``"reviewed"`` (shown while a model version
    served) or ``"out_of_fold"`` (cross-validated on an own labelled case).
    """

    case_id: str
    dimension_id: str
    label_id: str | None
    score: float
    correct: bool
    origin: str = "reviewed"


def check_target(target: float) -> float:
    """A precision a user may ask for: at least 0.5 (below, "auto-accept" would mean guessing) and below 1."""
    if not 0.5 <= target < 1.0:
        raise InputError(f"--auto-accept: the precision must be at least 0.5 and below 1, e.g. 0.95; got {target}")
    return target


def precision_lower_bound(correct: int, accepted: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper–Pearson lower bound of a precision seen as ``correct`` of ``accepted``."""
    if accepted <= 0 or correct <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, correct, accepted - correct + 1))


def precision_upper_bound(correct: int, accepted: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper–Pearson upper bound (for the interval shown next to a coverage)."""
    if accepted <= 0:
        return 1.0
    if correct >= accepted:
        return 1.0
    return float(beta.ppf(confidence, correct + 1, accepted - correct))


def fewest_cases(target: float, confidence: float = CONFIDENCE) -> int:
    """The fewest accepted suggestions, all of them right, whose lower bound reaches ``target``.

    59 at 95% and 29 at 90% (confidence 0.95): below that nothing can be promised.
    """
    return math.ceil(math.log(1.0 - confidence) / math.log(target))


@dataclass(frozen=True)
class Threshold:
    """The auto-accept rule of one dimension at one target precision, and the evidence behind it.

    ``threshold`` is None when nothing may be auto-accepted (``reason`` says why).
    ``outcomes``: own judged suggestions behind the estimate; ``accepted``/``correct``: those
    at or over the threshold and how many were right; ``lower``/``upper``: the precision's
    confidence interval there; ``coverage``: the share of ``outcomes`` auto-accepted.
    """

    dimension_id: str
    target: float
    threshold: float | None
    outcomes: int
    accepted: int = 0
    correct: int = 0
    lower: float = 0.0
    upper: float = 1.0
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.threshold is not None

    @property
    def precision(self) -> float | None:
        return self.correct / self.accepted if self.accepted else None

    @property
    def coverage(self) -> float:
        return self.accepted / self.outcomes if self.outcomes else 0.0


def choose_threshold(
    dimension_id: str,
    scores: Sequence[float],
    correct: Sequence[bool],
    target: float,
    *,
    confidence: float = CONFIDENCE,
) -> Threshold:
    """The lowest score threshold whose precision's lower bound reaches ``target`` (fixed-sequence test).

    Candidate thresholds are the observed scores, from the highest down, starting where at
    least :func:`fewest_cases` suggestions are over it (above that no bound can pass); the
    scan stops at the first threshold that fails. The order depends on the scores only, not
    on which suggestions were right, which is what makes the sequence's error that of one test.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"the target precision must be between 0 and 1, got {target}")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    ranked_scores = np.asarray(scores, dtype=float)[order]
    ranked_correct = np.asarray(correct, dtype=bool)[order]
    n = len(ranked_scores)
    fewest = fewest_cases(target, confidence)
    if n < fewest:
        return Threshold(
            dimension_id,
            target,
            None,
            n,
            reason=f"{n} own judged suggestions; at least {fewest} are needed to promise {target:.0%} "
            f"({fewest - n} more reviews)",
        )
    right_so_far = np.cumsum(ranked_correct)
    chosen: Threshold | None = None
    first_failure: tuple[int, int] | None = None
    position = fewest - 1
    while position < n:
        # Ties: a threshold accepts every suggestion with that score, so test at the last of a run of ties.
        score = ranked_scores[position]
        while position + 1 < n and ranked_scores[position + 1] == score:
            position += 1
        accepted, right = position + 1, int(right_so_far[position])
        lower = precision_lower_bound(right, accepted, confidence)
        if lower < target:
            first_failure = (right, accepted)
            break
        chosen = Threshold(
            dimension_id,
            target,
            float(score),
            n,
            accepted,
            right,
            lower,
            precision_upper_bound(right, accepted, confidence),
        )
        position += 1
    if chosen is not None:
        return chosen
    right, accepted = first_failure if first_failure else (int(right_so_far[-1]), n)
    return Threshold(
        dimension_id,
        target,
        None,
        n,
        reason=f"the {accepted} highest-scored of {n} own judged suggestions were right {right} times: "
        f"too few to promise {target:.0%} (lower bound {precision_lower_bound(right, accepted, confidence):.2f})",
    )


def choose_thresholds(
    outcomes: Iterable[Outcome], dimension_ids: Sequence[str], target: float, *, confidence: float = CONFIDENCE
) -> dict[str, Threshold]:
    """One :class:`Threshold` per dimension from the own judged suggestions (one per case and unit, see below).

    A case judged twice for the same unit (reviewed, and also predicted out of fold) counts once,
    as reviewed: what was actually shown is the better evidence.
    """
    kept: dict[tuple[str, str, str | None], Outcome] = {}
    for outcome in outcomes:
        key = (outcome.dimension_id, outcome.case_id, outcome.label_id)
        if key not in kept or (outcome.origin == "reviewed" and kept[key].origin != "reviewed"):
            kept[key] = outcome
    by_dimension: dict[str, list[Outcome]] = {d: [] for d in dimension_ids}
    for outcome in kept.values():
        if outcome.dimension_id in by_dimension:
            by_dimension[outcome.dimension_id].append(outcome)
    return {
        dimension_id: choose_threshold(
            dimension_id,
            [o.score for o in judged],
            [o.correct for o in judged],
            target,
            confidence=confidence,
        )
        for dimension_id, judged in by_dimension.items()
    }


def outcomes_of_decision(
    case_id: str,
    dimension_id: str,
    multi_label: bool,
    shown_labels: Sequence[str],
    shown_scores: Mapping[str, float],
    truth: Sequence[str],
    origin: str,
) -> list[Outcome]:
    """What one suggestion, judged against ``truth``, says about auto-accepting: one outcome per accept unit."""
    if not shown_labels:
        return []
    if not multi_label:
        label = shown_labels[0]
        return [Outcome(case_id, dimension_id, None, float(shown_scores[label]), label in truth, origin)]
    return [
        Outcome(case_id, dimension_id, label, float(shown_scores[label]), label in truth, origin)
        for label in shown_labels
    ]


def outcomes_out_of_fold(
    dimension_id: str,
    multi_label: bool,
    label_ids: Sequence[str],
    case_ids: Sequence[str],
    proba: np.ndarray,
    chosen: np.ndarray,
    truth: np.ndarray,
) -> list[Outcome]:
    """Outcomes of cross-validated predictions (``proba``/``chosen``/``truth`` rows: the cases of ``case_ids``).

    The caller passes the own cases only: the seed corpus never counts.
    """
    outcomes: list[Outcome] = []
    for row, case_id in enumerate(case_ids):
        decided = [label_ids[j] for j in np.flatnonzero(chosen[row])]
        true = [label_ids[j] for j in np.flatnonzero(truth[row])]
        scores = dict(zip(label_ids, proba[row].tolist(), strict=True))
        outcomes += outcomes_of_decision(case_id, dimension_id, multi_label, decided, scores, true, "out_of_fold")
    return outcomes


def outcomes_of_validation(validation, cases: Sequence[Case], own_ids: set[str]) -> list[Outcome]:
    """Out-of-fold outcomes of the own cases, from training's cross-validation (the kept recipe of each dimension).

    ``validation``: a :class:`~iesi_nlp.coding.training.CrossValidation`; its rows index ``cases``.
    """
    outcomes: list[Outcome] = []
    for dimension_id, choice in validation.choices.items():
        result = choice.kept_result
        own = [i for i, row in enumerate(result.targets.rows.tolist()) if cases[row].id in own_ids]
        if not own:
            continue
        outcomes += outcomes_out_of_fold(
            dimension_id,
            result.multi_label,
            result.label_ids,
            [cases[result.targets.rows[i]].id for i in own],
            result.proba[own],
            result.chosen[own],
            result.targets.matrix[own],
        )
    return outcomes


def outcomes_of_decisions(decisions: Iterable[Decision], codebook: Codebook) -> list[Outcome]:
    """Prequential outcomes: each suggestion a person accepted or corrected, judged by what they decided."""
    outcomes: list[Outcome] = []
    for decision in decisions:
        if decision.shown is None or decision.action not in LABELLING_ACTIONS:
            continue
        dimension = codebook.dimension(decision.dimension)
        outcomes += outcomes_of_decision(
            decision.case_id,
            decision.dimension,
            dimension.multi_label,
            decision.shown.labels,
            decision.shown.scores,
            decision.final_labels,
            "reviewed",
        )
    return outcomes


def write_outcomes(path: Path, outcomes: Iterable[Outcome]) -> None:
    with path.open("wb") as handle:
        for outcome in outcomes:
            handle.write(orjson.dumps(dataclasses.asdict(outcome)) + b"\n")


def read_outcomes(model_dir: str | Path) -> list[Outcome]:
    """The out-of-fold outcomes saved with a model (none for a model trained without own cases, or before them)."""
    path = Path(model_dir) / OUTCOMES_FILE
    if not path.exists():
        return []
    outcomes = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            outcomes.append(Outcome(**orjson.loads(line)))
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise ModelError(f"{path} line {number}: damaged ({exc}); retrain the model") from None
    return outcomes


@dataclass(frozen=True)
class AutoAccept:
    """Which suggested labels pass, at one target precision: one :class:`Threshold` per dimension."""

    target: float
    thresholds: Mapping[str, Threshold]

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Outcome], dimension_ids: Sequence[str], target: float) -> AutoAccept:
        return cls(target, choose_thresholds(outcomes, dimension_ids, target))

    def accepted(self, suggestion: Suggestion) -> dict[str, list[str]]:
        """Dimension → its decided labels that pass (a single-label dimension passes whole or not at all)."""
        passed: dict[str, list[str]] = {}
        for dimension_id, part in suggestion.dimensions.items():
            rule = self.thresholds.get(dimension_id)
            if rule is None or not rule.active:
                passed[dimension_id] = []
                continue
            passed[dimension_id] = [label for label in part.labels if part.scores[label] >= rule.threshold]
        return passed


#: Auto-accepted units audited since the threshold was set before realised precision can switch a dimension off.
MIN_AUDITS = 20

#: The share of auto-accepted cases the review queue still hands out, to audit the promise.
DEFAULT_AUDIT_SHARE = 0.05


def is_audit(case_id: str, share: float) -> bool:
    """Whether ``case_id`` is in the audit sample: random-like but the same on every screen and run."""
    digest = hashlib.sha256(f"audit:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class Audit:
    """What reviews since the threshold was set say: of the units it would accept, how many people kept."""

    dimension_id: str
    audited: int
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.audited if self.audited else None


def audits(later: Iterable[Outcome], policy: AutoAccept) -> dict[str, Audit]:
    """Per dimension, the outcomes judged after the threshold was set that it accepts (score at or over it)."""
    counts: dict[str, list[int]] = {d: [0, 0] for d in policy.thresholds}
    for outcome in later:
        rule = policy.thresholds.get(outcome.dimension_id)
        if rule is not None and rule.active and outcome.score >= rule.threshold:
            counts[outcome.dimension_id][0] += 1
            counts[outcome.dimension_id][1] += outcome.correct
    return {d: Audit(d, audited, correct) for d, (audited, correct) in counts.items()}


def switch_off_failing(policy: AutoAccept, found: Mapping[str, Audit]) -> AutoAccept:
    """``policy`` without the dimensions whose realised precision fell below the target (with enough audits)."""
    thresholds = dict(policy.thresholds)
    for dimension_id, audit in found.items():
        rule = thresholds.get(dimension_id)
        if rule is None or not rule.active or audit.audited < MIN_AUDITS or audit.precision >= policy.target:
            continue
        thresholds[dimension_id] = dataclasses.replace(
            rule,
            threshold=None,
            reason=f"switched off: since score ≥ {rule.threshold:.3f} was set, reviewers kept {audit.correct} of "
            f"{audit.audited} such labels ({audit.precision:.0%}), below the {policy.target:.0%} promised",
        )
    return AutoAccept(policy.target, thresholds)
