"""Label policy: how a case's decisions become its labels, and the training set grown by review.

For each case and dimension (:func:`label_state`):

* an ``adjudicated`` decision settles it (the latest one wins), by its adjudicator;
* otherwise the latest ``accepted`` or ``corrected`` decision of each annotator counts,
  and the dimension is settled only when those annotators agree; when they do not, it is
  a *disagreement* waiting for adjudication;
* ``skipped`` and ``flagged`` decisions never set a label.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from iesi_nlp.annotation.store import LABELLING_ACTIONS, Action, Decision, DecisionStore
from iesi_nlp.coding.training import TrainingData
from iesi_nlp.records import Case

Status = Literal["agreed", "adjudicated", "disagreement", "flagged"]


@dataclass(frozen=True)
class LabelState:
    """Where one dimension of one case stands."""

    #: The settled labels, or None while there is none (a disagreement, or flagged only).
    labels: tuple[str, ...] | None
    status: Status
    #: Each annotator's latest labels (adjudications excluded).
    annotators: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Who settled a disagreement (``adjudicated`` only).
    adjudicator: str | None = None

    @property
    def settled_by(self) -> str:
        """``adjudicated by lead`` or ``agreed by anna+ben``: who settled the labels, for provenance."""
        if self.status == "adjudicated":
            return f"adjudicated by {self.adjudicator}"
        return f"{self.status} by {'+'.join(sorted(self.annotators))}"


def label_state(decisions: Iterable[Decision]) -> dict[tuple[str, str], LabelState]:
    """(case id, dimension) → its :class:`LabelState`, from decisions in the order they were made."""
    latest: dict[tuple[str, str], dict[str, tuple[str, ...]]] = defaultdict(dict)
    adjudicated: dict[tuple[str, str], Decision] = {}
    flagged: set[tuple[str, str]] = set()
    for decision in decisions:
        key = (decision.case_id, decision.dimension)
        if decision.action == Action.ADJUDICATED:
            adjudicated[key] = decision
        elif decision.action in LABELLING_ACTIONS:
            latest[key][decision.annotator] = tuple(sorted(decision.final_labels))
        elif decision.action == Action.FLAGGED:
            flagged.add(key)
    state: dict[tuple[str, str], LabelState] = {}
    for key in set(latest) | set(adjudicated) | flagged:
        by_annotator = dict(latest.get(key, {}))
        if key in adjudicated:
            ruling = adjudicated[key]
            state[key] = LabelState(tuple(ruling.final_labels), "adjudicated", by_annotator, ruling.annotator)
        elif len(set(by_annotator.values())) == 1:
            state[key] = LabelState(next(iter(by_annotator.values())), "agreed", by_annotator)
        elif by_annotator:
            state[key] = LabelState(None, "disagreement", by_annotator)
        else:
            state[key] = LabelState(None, "flagged", by_annotator)
    return state


def current_labels(states: dict[tuple[str, str], LabelState]) -> dict[str, dict[str, list[str]]]:
    """Case id → {dimension: labels} for every dimension whose labels are settled."""
    labels: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for (case_id, dimension), entry in states.items():
        if entry.labels is not None:
            labels[case_id][dimension] = list(entry.labels)
    return dict(labels)


def disagreements(states: dict[tuple[str, str], LabelState]) -> list[tuple[str, str, dict[str, tuple[str, ...]]]]:
    """(case id, dimension, annotator → labels) of every disagreement awaiting adjudication, sorted."""
    return sorted(
        (case_id, dimension, entry.annotators)
        for (case_id, dimension), entry in states.items()
        if entry.status == "disagreement"
    )


def settled_labels(store: DecisionStore) -> dict[str, dict[str, tuple[list[str], str]]]:
    """Case id → dimension → (settled labels, how: ``agreed by anna+ben`` / ``adjudicated by lead``)."""
    settled: dict[str, dict[str, tuple[list[str], str]]] = defaultdict(dict)
    for (case_id, dimension), entry in label_state(store.decisions()).items():
        if entry.labels is not None:
            settled[case_id][dimension] = (list(entry.labels), entry.settled_by)
    return dict(settled)


def _with_review(case: Case, reviewed: dict[str, tuple[list[str], str]] | None) -> Case:
    """``case`` with its settled review labels replacing its own on the reviewed dimensions."""
    if not reviewed:
        return case
    labels = {**case.labels, **{dimension: labels for dimension, (labels, _) in reviewed.items()}}
    review = "; ".join(f"{dimension} {how}" for dimension, (_, how) in sorted(reviewed.items()))
    provenance = f"{case.label_provenance}; review: {review}" if case.label_provenance else f"review: {review}"
    return case.model_copy(update={"labels": labels, "label_provenance": provenance})


def training_data(
    seed: Sequence[Case], collection: Sequence[Case] = (), store: DecisionStore | None = None
) -> TrainingData:
    """What a model learns from, split the way :class:`~iesi_nlp.coding.training.TrainingData` wants it.

    ``own``: the ``collection``'s cases (and the store's) that carry labels after review:
    the labels they were imported with, where a settled review decision replaces the
    imported labels of that dimension; a case may be labelled on some dimensions only.
    ``unlabelled``: the other cases of the collection and the store. ``seed``: the seed
    cases, except those the user's collection also holds (their own version wins) and
    those reviewed in the store (they move to ``own`` with the review's labels, since a
    human looked at them on this project).

    Each case id appears once; the first record of an id wins.
    """
    settled = settled_labels(store) if store is not None else {}
    stored = store.cases() if store is not None else []
    own: list[Case] = []
    unlabelled: list[Case] = []
    seen: set[str] = set()
    for case in [*collection, *stored]:
        if case.id in seen:
            continue
        seen.add(case.id)
        merged = _with_review(case, settled.get(case.id))
        (own if merged.is_labelled else unlabelled).append(merged)
    kept_seed: list[Case] = []
    for case in seed:
        if case.id in seen:
            continue
        seen.add(case.id)
        if case.id in settled:
            own.append(_with_review(case, settled[case.id]))
        else:
            kept_seed.append(case)
    return TrainingData(seed=kept_seed, own=own, unlabelled=unlabelled)


def merge_decisions(seed: Sequence[Case], store: DecisionStore) -> list[Case]:
    """The grown training set as one list: seed cases plus reviewed and labelled stored cases.

    A reviewed dimension replaces the seed's labels for that dimension; ``label_provenance``
    says which dimensions came from review, how (agreed / adjudicated) and by whom.
    """
    data = training_data(seed, (), store)
    return [*data.seed, *data.own]


class VerifiedLabels:
    """The labels people gave a store's cases, found by case id or, failing that, by the same text.

    A case's labels are those it was imported with, where a settled review decision replaces
    them dimension by dimension (as in :func:`training_data`). Bulk classification gives them
    with each case they cover, so a coordinator sees which suggestions a human already
    checked (scraped ids often change between runs; the text stays the same).
    """

    def __init__(self, store: DecisionStore) -> None:
        own = training_data((), (), store).own
        self._labels = {case.id: {d: list(v) for d, v in case.labels.items() if v} for case in own}
        self._by_text = {_text_key(case.text): case.id for case in own}

    def lookup(self, case: Case) -> dict[str, list[str]] | None:
        labels = self._labels.get(case.id)
        if labels is None:
            other = self._by_text.get(_text_key(case.text))
            labels = self._labels.get(other) if other is not None else None
        return dict(labels) if labels else None


def _text_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()
