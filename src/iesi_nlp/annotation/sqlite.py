"""The annotation store in one SQLite file (WAL mode): cases, append-only decisions, and screen claims.

Nothing in ``decisions`` is ever updated or deleted (triggers refuse it). A row records
the case, the dimension, the suggestion shown on that dimension (``shown``: the
:class:`~iesi_nlp.coding.suggestion.DimensionSuggestion`'s JSON, with the model id and
registry version that made it), the labels the annotator settled on, the action, who,
when, and an optional comment. ``suggested_labels`` and ``suggested_scores`` repeat the
shown labels and scores as plain columns for SQL readers (and are all that rows from
before ``shown`` existed carry).

``claims`` holds, per annotator, the case on their screen: several screens (processes)
on one store then never get the same case from the queue (:meth:`SqliteDecisionStore.claim_first`).

Several annotators write at once from several browser tabs (processes or threads): each
write is one short ``BEGIN IMMEDIATE`` transaction, SQLite serialises them, and a busy
database is waited for rather than failed.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from iesi_nlp.annotation.store import LABELLING_ACTIONS, Action, Claim, Decision
from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.suggestion import DimensionSuggestion
from iesi_nlp.errors import AnnotationError, LabelError
from iesi_nlp.records import Case

#: The store of the review screen before projects (``iesi-nlp export --store``, ``review`` imports it).
LEGACY_STORE = Path("annotation") / "decisions.sqlite"

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
CREATE TABLE IF NOT EXISTS claims (
    annotator   TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL,
    claimed_at  REAL NOT NULL       -- seconds since the epoch
);
"""

#: Columns added after the first release: added to an older store when it is opened (data kept).
_ADDED_COLUMNS = {"shown": "TEXT", "model_version": "TEXT"}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class SqliteDecisionStore:
    """Append-only decisions, the cases they are about and who has which case on screen, in one SQLite file."""

    def __init__(self, path: str | Path, codebook: Codebook) -> None:
        self.path = Path(path)
        self.codebook = codebook
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._cases_cache: tuple[int, list[Case]] | None = None
        self._decisions_cache: tuple[int, list[Decision]] = (0, [])
        # The screen's threads share the store: the cache of parsed decisions is extended under a lock.
        self._lock = threading.Lock()
        connection = self._connection()
        connection.executescript(_SCHEMA)  # idempotent; executescript commits itself
        with self._write() as writing:
            present = {row[1] for row in writing.execute("PRAGMA table_info(decisions)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    writing.execute(f"ALTER TABLE decisions ADD COLUMN {column} {kind}")

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
        rows = [self._row(decision) for decision in decisions]
        sequence_numbers = []
        with self._write() as connection:
            for row in rows:
                cursor = connection.execute(
                    "INSERT INTO decisions (case_id, dimension, suggested_labels, suggested_scores, model_id, "
                    "final_labels, action, annotator, decided_at, comment, shown, model_version) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        shown = decision.shown
        return (
            decision.case_id,
            dimension.id,
            orjson.dumps(list(decision.suggested_labels)).decode(),
            orjson.dumps(dict(decision.suggested_scores)).decode(),
            decision.model_id,
            orjson.dumps(final).decode(),
            action.value,
            decision.annotator.strip(),
            decision.decided_at or _now(),
            decision.comment,
            orjson.dumps(shown.to_dict()).decode() if shown is not None else None,
            decision.model_version,
        )

    _DECISION_COLUMNS = (
        "seq, case_id, dimension, suggested_labels, suggested_scores, model_id,"
        " final_labels, action, annotator, decided_at, comment, shown, model_version"
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
        with self._lock:
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
        if r[11] is not None:
            shown = DimensionSuggestion.from_dict(orjson.loads(r[11]))
        elif orjson.loads(r[3]) or orjson.loads(r[4]):  # a row from before ``shown``: labels and scores only
            shown = DimensionSuggestion.from_dict({"labels": orjson.loads(r[3]), "scores": orjson.loads(r[4])})
        else:
            shown = None
        return Decision(
            case_id=r[1],
            dimension=r[2],
            shown=shown,
            model_id=r[5],
            final_labels=tuple(orjson.loads(r[6])),
            action=Action(r[7]),
            annotator=r[8],
            decided_at=r[9],
            comment=r[10],
            model_version=r[12],
            seq=r[0],
        )

    def count(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM decisions").fetchone()[0]

    # -- claims: who has which case on screen -------------------------------------------

    def claim_first(
        self,
        case_ids: Sequence[str],
        annotator: str,
        *,
        max_age: float,
        exclusive: bool = True,
        undecided_only: bool = False,
    ) -> str | None:
        """Claim for ``annotator`` the first of ``case_ids`` that no other live claim holds; None if all are held.

        One write transaction reads the others' claims and writes this one, so two screens
        (threads or processes) asking at once never get the same case. ``undecided_only``
        also passes over cases another annotator decided since the caller listed them.
        ``exclusive=False`` (double coding wanted) claims the first case whoever holds it.
        """
        if not case_ids:
            return None
        now = time.time()
        with self._write() as connection:
            held = {
                case_id
                for (case_id,) in connection.execute(
                    "SELECT case_id FROM claims WHERE annotator != ? AND claimed_at > ?", [annotator, now - max_age]
                )
            }
            if exclusive and undecided_only:
                held |= {
                    case_id
                    for (case_id,) in connection.execute(
                        "SELECT DISTINCT case_id FROM decisions WHERE annotator != ?", [annotator]
                    )
                }
            chosen = next((c for c in case_ids if not exclusive or c not in held), None)
            if chosen is not None:
                connection.execute(
                    "INSERT INTO claims (annotator, case_id, claimed_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (annotator) DO UPDATE SET case_id = excluded.case_id, claimed_at = excluded.claimed_at",
                    [annotator, chosen, now],
                )
        return chosen

    def release(self, annotator: str) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM claims WHERE annotator = ?", [annotator])

    def claims(self, *, max_age: float) -> list[Claim]:
        rows = self._connection().execute(
            "SELECT annotator, case_id, claimed_at FROM claims WHERE claimed_at > ? ORDER BY annotator",
            [time.time() - max_age],
        )
        return [Claim(*row) for row in rows]
