"""What the annotation store keeps: decisions, and the protocol every store implements.

A :class:`Decision` is one annotator's answer on one dimension of one case: the labels
they settled on, the action, who and when, and the :class:`~iesi_nlp.coding.suggestion.DimensionSuggestion`
that was on their screen with the model (id and registry version) that made it. Decisions
are only ever appended. How decisions become a case's labels (agreement, adjudication) is
policy, in :mod:`iesi_nlp.annotation.labels`; storing them is :mod:`iesi_nlp.annotation.sqlite`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.suggestion import DimensionSuggestion
from iesi_nlp.records import Case


class Action(StrEnum):
    ACCEPTED = "accepted"
    CORRECTED = "corrected"
    SKIPPED = "skipped"
    FLAGGED = "flagged"
    ADJUDICATED = "adjudicated"


#: Actions that say what a case's labels are.
LABELLING_ACTIONS = frozenset({Action.ACCEPTED, Action.CORRECTED, Action.ADJUDICATED})


@dataclass(frozen=True)
class Decision:
    """One annotator's decision on one dimension of one case."""

    case_id: str
    dimension: str
    final_labels: tuple[str, ...]
    action: Action
    annotator: str
    #: The model's suggestion on this dimension as the annotator saw it (None: decided without one).
    shown: DimensionSuggestion | None = None
    model_id: str | None = None
    #: The registry version that served the suggestion (None outside a registry, or before versions).
    model_version: str | None = None
    comment: str | None = None
    decided_at: str | None = None
    seq: int | None = None

    @property
    def suggested_labels(self) -> tuple[str, ...]:
        return self.shown.labels if self.shown is not None else ()

    @property
    def suggested_scores(self) -> Mapping[str, float]:
        return self.shown.scores if self.shown is not None else {}

    def to_record(self) -> dict[str, Any]:
        """The decision as JSON (exports): ``shown`` in :meth:`DimensionSuggestion.to_dict`'s form, as the store keeps it."""
        return {
            "seq": self.seq,
            "case_id": self.case_id,
            "dimension": self.dimension,
            "final_labels": list(self.final_labels),
            "action": self.action.value,
            "annotator": self.annotator,
            "decided_at": self.decided_at,
            "comment": self.comment,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "shown": self.shown.to_dict() if self.shown is not None else None,
        }


@dataclass(frozen=True)
class Claim:
    """A case on an annotator's screen, so that the queue hands it to nobody else meanwhile."""

    annotator: str
    case_id: str
    claimed_at: float


class DecisionStore(Protocol):
    """Cases to review and the append-only decisions about them (SQLite: :class:`~iesi_nlp.annotation.sqlite.SqliteDecisionStore`)."""

    codebook: Codebook

    def add_cases(self, cases: Iterable[Case], *, added_by: str) -> int:
        """Store cases; an id already stored keeps its first record. Returns how many were new."""
        ...

    def cases(self) -> list[Case]: ...

    def case(self, case_id: str) -> Case | None: ...

    def record(self, decisions: Sequence[Decision]) -> list[int]:
        """Append decisions (all or none) after checking them; returns their sequence numbers."""
        ...

    def decisions(self, case_id: str | None = None, annotator: str | None = None) -> list[Decision]: ...

    def version(self) -> tuple[int, int]:
        """(cases, last decision's sequence number): changes whenever anything was written."""
        ...

    def claim_first(
        self,
        case_ids: Sequence[str],
        annotator: str,
        *,
        max_age: float,
        exclusive: bool = True,
        undecided_only: bool = False,
    ) -> str | None:
        """Atomically claim for ``annotator`` the first of ``case_ids`` no one else holds (claims older than
        ``max_age`` seconds lapse), or with ``undecided_only`` has decided; None if there is none.
        ``exclusive=False`` (double coding wanted) takes the first."""
        ...

    def release(self, annotator: str) -> None: ...

    def claims(self, *, max_age: float) -> list[Claim]: ...
