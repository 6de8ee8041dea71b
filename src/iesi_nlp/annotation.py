"""The annotation store: every review decision as an append-only row in SQLite (WAL mode).

Nothing is ever updated or deleted. A decision records the case, the dimension,
what the model suggested (labels, scores, model id), the labels the annotator
settled on, the action, who, when, and an optional comment. The current label of
a case is derived from its decisions (:meth:`AnnotationStore.current_labels`):

* an ``adjudicated`` decision settles a dimension (the latest one wins);
* otherwise the latest ``accepted`` or ``corrected`` decision of each annotator
  counts, and the dimension has a label only when those annotators agree;
  when they do not, it is a *disagreement* waiting for adjudication;
* ``skipped`` and ``flagged`` decisions never set a label.

Several annotators write at once from several browser tabs (processes or
threads): each write is one short ``BEGIN IMMEDIATE`` transaction, SQLite
serialises them, and a busy database is waited for rather than failed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from iesi_nlp.codebook import Codebook
from iesi_nlp.errors import IesiError, LabelError
from iesi_nlp.records import Case
from iesi_nlp.training import TrainingData

DEFAULT_STORE = Path("annotation") / "decisions.sqlite"


class Action(StrEnum):
    ACCEPTED = "accepted"
    CORRECTED = "corrected"
    SKIPPED = "skipped"
    FLAGGED = "flagged"
    ADJUDICATED = "adjudicated"


#: Actions that say what a case's labels are.
LABELLING_ACTIONS = frozenset({Action.ACCEPTED, Action.CORRECTED, Action.ADJUDICATED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id        TEXT PRIMARY KEY,
    record    BLOB NOT NULL,          -- the Case as JSON
    added_by  TEXT NOT NULL,
    added_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id           TEXT NOT NULL,
    dimension         TEXT NOT NULL,
    suggested_labels  TEXT NOT NULL,  -- JSON list
    suggested_scores  TEXT NOT NULL,  -- JSON object label -> probability
    model_id          TEXT,
    final_labels      TEXT NOT NULL,  -- JSON list
    action            TEXT NOT NULL CHECK (action IN ('accepted','corrected','skipped','flagged','adjudicated')),
    annotator         TEXT NOT NULL,
    decided_at        TEXT NOT NULL,
    comment           TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_case ON decisions (case_id, dimension);
CREATE INDEX IF NOT EXISTS decisions_by_annotator ON decisions (annotator);
CREATE TRIGGER IF NOT EXISTS decisions_are_append_only_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_are_append_only_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""


class AnnotationError(IesiError):
    """A decision that cannot be recorded as given."""


@dataclass(frozen=True)
class Decision:
    """One annotator's decision on one dimension of one case."""

    case_id: str
    dimension: str
    final_labels: tuple[str, ...]
    action: Action
    annotator: str
    suggested_labels: tuple[str, ...] = ()
    suggested_scores: dict[str, float] | None = None
    model_id: str | None = None
    comment: str | None = None
    decided_at: str | None = None
    seq: int | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class AnnotationStore:
    """Append-only decisions and the cases they are about, in one SQLite file."""

    def __init__(self, path: str | Path, codebook: Codebook) -> None:
        self.path = Path(path)
        self.codebook = codebook
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._cases_cache: tuple[int, list[Case]] | None = None
        self._decisions_cache: tuple[int, list[Decision]] = (0, [])
        self._connection().executescript(_SCHEMA)  # idempotent; executescript commits itself

    # -- connections -----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")
            self._local.connection = connection
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; it takes the write lock at once, so concurrent writers queue."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    # -- cases -----------------------------------------------------------------

    def add_cases(self, cases: Iterable[Case], *, added_by: str) -> int:
        """Store cases to review; a case id already stored keeps its first record. Returns how many were new."""
        rows = [(c.id, orjson.dumps(c.model_dump(mode="json")), added_by, _now()) for c in cases]
        with self._write() as connection:
            before = connection.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
            connection.executemany("INSERT OR IGNORE INTO cases VALUES (?, ?, ?, ?)", rows)
            after = connection.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
        return after - before

    def cases(self) -> list[Case]:
        # Parsed once per change: the review screen lists the cases several times per click, and
        # rows are only ever added, so their count identifies the table's state.
        count = self._connection().execute("SELECT COUNT(*) FROM cases").fetchone()[0]
        cached = self._cases_cache
        if cached is None or cached[0] != count:
            rows = self._connection().execute("SELECT record FROM cases ORDER BY rowid")
            cached = (count, [Case.model_validate(orjson.loads(record)) for (record,) in rows])
            self._cases_cache = cached
        return list(cached[1])

    def version(self) -> tuple[int, int]:
        """(cases, decisions) stored: both only grow, so this changes whenever anything was written."""
        connection = self._connection()
        cases = connection.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
        decisions = connection.execute("SELECT COALESCE(MAX(seq), 0) FROM decisions").fetchone()[0]
        return cases, decisions

    def case(self, case_id: str) -> Case | None:
        row = self._connection().execute("SELECT record FROM cases WHERE id = ?", [case_id]).fetchone()
        return Case.model_validate(orjson.loads(row[0])) if row else None

    # -- decisions -------------------------------------------------------------

    def record(self, decisions: Sequence[Decision]) -> list[int]:
        """Append decisions (all or none); returns their sequence numbers.

        Labels are checked against the codebook first, so a bad label never reaches the store.
        """
        rows = []
        for decision in decisions:
            rows.append(self._row(decision))
        sequence_numbers = []
        with self._write() as connection:
            for row in rows:
                cursor = connection.execute(
                    "INSERT INTO decisions (case_id, dimension, suggested_labels, suggested_scores, model_id, "
                    "final_labels, action, annotator, decided_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                sequence_numbers.append(int(cursor.lastrowid))
        return sequence_numbers

    def _row(self, decision: Decision) -> tuple:
        where = f"decision on case {decision.case_id!r}"
        if not decision.annotator or not decision.annotator.strip():
            raise AnnotationError(f"{where}: every decision needs an annotator")
        try:
            action = Action(decision.action)
        except ValueError:
            raise AnnotationError(
                f"{where}: unknown action {decision.action!r}; allowed: {', '.join(a.value for a in Action)}"
            ) from None
        try:
            dimension = self.codebook.dimension(decision.dimension)
            final = dimension.validate_labels(decision.final_labels, where=where)
        except LabelError as exc:
            raise AnnotationError(f"{where}: {exc}" if not str(exc).startswith(where) else str(exc)) from None
        if action in LABELLING_ACTIONS and not final:
            raise AnnotationError(f"{where}: action {action.value!r} needs at least one label for {dimension.id!r}")
        return (
            decision.case_id,
            dimension.id,
            orjson.dumps(list(decision.suggested_labels)).decode(),
            orjson.dumps(decision.suggested_scores or {}).decode(),
            decision.model_id,
            orjson.dumps(final).decode(),
            action.value,
            decision.annotator.strip(),
            decision.decided_at or _now(),
            decision.comment,
        )

    _DECISION_COLUMNS = (
        "seq, case_id, dimension, suggested_labels, suggested_scores, model_id,"
        " final_labels, action, annotator, decided_at, comment"
    )

    def decisions(self, case_id: str | None = None, annotator: str | None = None) -> list[Decision]:
        if case_id is None and annotator is None:
            return self._all_decisions()
        clauses, params = [], []
        if case_id is not None:
            clauses.append("case_id = ?")
            params.append(case_id)
        if annotator is not None:
            clauses.append("annotator = ?")
            params.append(annotator)
        rows = self._connection().execute(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions WHERE {' AND '.join(clauses)} ORDER BY seq", params
        )
        return [self._decision(row) for row in rows]

    def _all_decisions(self) -> list[Decision]:
        # The screen reads every decision several times per click. Rows are only ever appended
        # (sequence numbers grow), so only the rows after the last one seen are read and parsed.
        last_seq, known = self._decisions_cache
        rows = self._connection().execute(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions WHERE seq > ? ORDER BY seq", [last_seq]
        )
        new = [self._decision(row) for row in rows]
        if new:
            known = known + new
            self._decisions_cache = (new[-1].seq, known)
        return list(known)

    @staticmethod
    def _decision(r: tuple) -> Decision:
        return Decision(
            case_id=r[1],
            dimension=r[2],
            suggested_labels=tuple(orjson.loads(r[3])),
            suggested_scores=orjson.loads(r[4]),
            model_id=r[5],
            final_labels=tuple(orjson.loads(r[6])),
            action=Action(r[7]),
            annotator=r[8],
            decided_at=r[9],
            comment=r[10],
            seq=r[0],
        )

    def count(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM decisions").fetchone()[0]

    # -- derived state -----------------------------------------------------------

    def label_state(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (case, dimension): the settled labels (or None), each annotator's latest labels, and why."""
        latest: dict[tuple[str, str], dict[str, tuple[str, ...]]] = defaultdict(dict)
        adjudicated: dict[tuple[str, str], tuple[str, ...]] = {}
        flagged: set[tuple[str, str]] = set()
        for decision in self.decisions():
            key = (decision.case_id, decision.dimension)
            if decision.action == Action.ADJUDICATED:
                adjudicated[key] = decision.final_labels
            elif decision.action in LABELLING_ACTIONS:
                latest[key][decision.annotator] = tuple(sorted(decision.final_labels))
            elif decision.action == Action.FLAGGED:
                flagged.add(key)
        state: dict[tuple[str, str], dict[str, Any]] = {}
        for key in set(latest) | set(adjudicated) | flagged:
            by_annotator = latest.get(key, {})
            if key in adjudicated:
                labels, status = list(adjudicated[key]), "adjudicated"
            elif len(set(by_annotator.values())) == 1:
                labels, status = list(next(iter(by_annotator.values()))), "agreed"
            elif by_annotator:
                labels, status = None, "disagreement"
            else:
                labels, status = None, "flagged"
            state[key] = {"labels": labels, "status": status, "annotators": dict(by_annotator)}
        return state

    def current_labels(self) -> dict[str, dict[str, list[str]]]:
        """Case id → {dimension: labels} for every dimension whose labels are settled."""
        labels: dict[str, dict[str, list[str]]] = defaultdict(dict)
        for (case_id, dimension), entry in self.label_state().items():
            if entry["labels"] is not None:
                labels[case_id][dimension] = entry["labels"]
        return dict(labels)

    def disagreements(self) -> list[tuple[str, str, dict[str, tuple[str, ...]]]]:
        return sorted(
            (case_id, dimension, entry["annotators"])
            for (case_id, dimension), entry in self.label_state().items()
            if entry["status"] == "disagreement"
        )


def settled_labels(store: AnnotationStore) -> dict[str, dict[str, tuple[list[str], str]]]:
    """Case id → dimension → (settled labels, how: ``agreed by anna+ben`` / ``adjudicated by lead``)."""
    settled: dict[str, dict[str, tuple[list[str], str]]] = defaultdict(dict)
    for (case_id, dimension), entry in store.label_state().items():
        if entry["labels"] is None:
            continue
        who = "+".join(sorted(entry["annotators"])) or "adjudicator"
        settled[case_id][dimension] = (entry["labels"], f"{entry['status']} by {who}")
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
    seed: Sequence[Case], collection: Sequence[Case] = (), store: AnnotationStore | None = None
) -> TrainingData:
    """What a model learns from, split the way :class:`~iesi_nlp.training.TrainingData` wants it.

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


def merge_decisions(seed: Sequence[Case], store: AnnotationStore) -> list[Case]:
    """The grown training set as one list: seed cases plus reviewed and labelled stored cases.

    A reviewed dimension replaces the seed's labels for that dimension; ``label_provenance``
    says which dimensions came from review, how (agreed / adjudicated) and by whom.
    """
    data = training_data(seed, (), store)
    return [*data.seed, *data.own]
