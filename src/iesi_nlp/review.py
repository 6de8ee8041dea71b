"""The review service: what the review screen does, without the screen. The screen's only door to the data.

It ties a model registry, a :class:`~iesi_nlp.suggest.Suggester` and a decision store
together: the cases to review (a project's own collection) and their typed suggestions,
the queue (see :mod:`iesi_nlp.active_learning`) with claims so that two screens are not
handed the same case, recording decisions with the :class:`~iesi_nlp.coding.suggestion.Suggestion`
the annotator was shown, adjudication (by the adjudicators, when named), adding cases
(through the project's ingestion), the figures of the dashboard, and retraining from the
decisions in a background thread: the new version is added to the registry and serves
once ready, the old one stays.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iesi_nlp.active_learning import QueueOptions, build_queue, priority
from iesi_nlp.annotation.agreement import Agreement, OverrideRate, krippendorff_alpha, override_rates
from iesi_nlp.annotation.labels import LabelState, disagreements, label_state, merge_decisions
from iesi_nlp.annotation.store import LABELLING_ACTIONS, Action, Decision, DecisionStore
from iesi_nlp.codebook import Codebook
from iesi_nlp.coding.auto_accept import (
    DEFAULT_AUDIT_SHARE,
    Audit,
    AutoAccept,
    audits,
    is_audit,
    outcomes_of_decisions,
    read_outcomes,
    switch_off_failing,
)
from iesi_nlp.coding.label_issues import LabelIssue, read_issues
from iesi_nlp.coding.model import CodingModel
from iesi_nlp.coding.suggestion import Suggestion
from iesi_nlp.coding.training import TrainOptions
from iesi_nlp.embedding import Embedder
from iesi_nlp.errors import AnnotationError, InputError
from iesi_nlp.project import AddReport, Project
from iesi_nlp.records import Case
from iesi_nlp.registry import SERVING_FILE, resolve_model_dir
from iesi_nlp.suggest import Suggester
from iesi_nlp.workflow import open_suggester, train_on_store


@dataclass
class ReviewFilters:
    """Which cases the queue draws from."""

    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    dimension: str | None = None
    #: ``todo`` (no decision by anyone), ``mine`` (decided by this annotator), ``disagreements``, ``all``.
    status: str = "todo"


#: Retrain in the background after this many newly reviewed cases (the one default; CLI and app use it).
DEFAULT_RETRAIN_EVERY = 20
#: How the review screen trains (a project's first model and every retraining): three folds, for speed.
REVIEW_TRAIN_OPTIONS = TrainOptions(folds=3)


@dataclass
class RetrainState:
    running: bool = False
    last_error: str | None = None
    last_finished: str | None = None
    #: The last decision (sequence number) the serving model's training saw.
    decisions_through: int = 0


@dataclass
class _Serving:
    """The model in use and what was computed with it; swapped as a whole when another version serves."""

    suggester: Suggester
    path: Path
    pointer: tuple[int, int] | None
    suggestions: dict[str, Suggestion] = field(default_factory=dict)


@dataclass(frozen=True)
class DashboardCounts:
    """What the dashboard's headline counts mean: cases, and decisions counted per case and dimension."""

    cases: int
    #: Cases with at least one labelling decision (accepted, corrected or adjudicated) by anyone.
    reviewed_cases: int
    #: Decisions as the store keeps them: one per case, dimension and annotator action.
    decisions: int
    #: Distinct cases that have a skipped or flagged decision.
    skipped_or_flagged_cases: int
    disagreements: int
    annotators: int


@dataclass(frozen=True)
class AutoAcceptStatus:
    """Auto-accept as the review queue applies it: the rule (with failing dimensions off) and the audits."""

    policy: AutoAccept
    audits: dict[str, Audit]


@dataclass
class ReviewService:
    """One review workspace: a model registry, a decision store (cases and decisions) and the seed.

    ``models`` is a registry (its serving version is used, and retraining adds a version
    and serves it); a single model folder works too and becomes a registry on the first
    retraining. ``project``, when given, is the project these belong to (cases are added
    through it). ``adjudicators``: the names allowed to adjudicate (empty: anyone).
    ``double_coding``: hand a case on another annotator's screen to a second annotator too.
    """

    store: DecisionStore
    models: Path
    seed: Sequence[Case]
    codebook: Codebook
    retrain_every: int = DEFAULT_RETRAIN_EVERY
    train_options: TrainOptions = REVIEW_TRAIN_OPTIONS
    retrain: RetrainState = field(default_factory=RetrainState)
    project: Project | None = None
    adjudicators: tuple[str, ...] = ()
    double_coding: bool = False
    #: Precision at which suggestions are auto-accepted and leave the queue (None: every case is reviewed).
    auto_accept_target: float | None = None
    #: Of the auto-accepted cases, the share still handed out, to audit the promise.
    audit_share: float = DEFAULT_AUDIT_SHARE

    #: How long a case shown to one annotator is kept out of the others' queues.
    claim_minutes: float = 15.0

    @classmethod
    def for_project(
        cls,
        project: Project,
        retrain_every: int = DEFAULT_RETRAIN_EVERY,
        train_options: TrainOptions | None = None,
        *,
        adjudicators: Sequence[str] = (),
        double_coding: bool = False,
        auto_accept_target: float | None = None,
        audit_share: float = DEFAULT_AUDIT_SHARE,
    ) -> ReviewService:
        return cls(
            project.store,
            project.models_dir,
            project.seed_cases(),
            project.codebook,
            retrain_every=retrain_every,
            train_options=train_options or REVIEW_TRAIN_OPTIONS,
            project=project,
            adjudicators=tuple(a.strip() for a in adjudicators if a.strip()),
            double_coding=double_coding,
            auto_accept_target=auto_accept_target,
            audit_share=audit_share,
        )

    def __post_init__(self) -> None:
        self.models = Path(self.models)
        self._lock = threading.Lock()
        self._label_counts: tuple[tuple[int, int], dict[str, Counter]] | None = None
        self._label_state: tuple[tuple[int, int], dict[tuple[str, str], LabelState]] | None = None
        self._auto_accept: tuple[tuple, AutoAcceptStatus] | None = None
        # Case vectors depend on the embedder only, so they outlive a change of model version.
        self._vectors: dict[str, np.ndarray] = {}
        self._vectors_of: str | None = None
        self._load_model()
        self.retrain.decisions_through = self.model.card.training_set.decisions_through

    # -- model -------------------------------------------------------------------

    def _pointer_stamp(self) -> tuple[int, int] | None:
        try:
            stat = (self.models / SERVING_FILE).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _load_model(self) -> None:
        stamp = self._pointer_stamp()
        path = resolve_model_dir(self.models)
        suggester = open_suggester(path, codebook=self.codebook)
        with self._lock:
            if self._vectors_of != suggester.embedder.id:
                self._vectors, self._vectors_of = {}, suggester.embedder.id
            self._serving = _Serving(suggester, path, stamp)

    def refresh(self) -> bool:
        """Load the serving version if another one serves now (e.g. after `iesi-nlp models serve`); True if so."""
        stamp = self._pointer_stamp()
        if stamp == self._serving.pointer:
            return False
        if resolve_model_dir(self.models) == self._serving.path:
            self._serving.pointer = stamp
            return False
        self._load_model()
        return True

    @property
    def model(self) -> CodingModel:
        return self._serving.suggester.model

    @property
    def embedder(self) -> Embedder:
        return self._serving.suggester.embedder

    @property
    def version(self) -> str | None:
        """The serving version's id (``v0003-…``), or None for a model folder outside a registry."""
        return self._serving.suggester.version

    @property
    def model_age(self) -> dt.timedelta:
        created = dt.datetime.fromisoformat(self.model.card.created)  # loaded with the model: no disk read per click
        return dt.datetime.now(dt.UTC) - created

    # -- cases and suggestions ---------------------------------------------------

    def cases(self, filters: ReviewFilters | None = None, annotator: str | None = None) -> list[Case]:
        self.refresh()
        filters = filters or ReviewFilters()
        cases = self.store.cases()
        if filters.languages:
            cases = [c for c in cases if c.language in filters.languages]
        if filters.countries:
            cases = [c for c in cases if c.country in filters.countries]
        if filters.sources:
            cases = [c for c in cases if c.source in filters.sources]
        decided_by: dict[str, set[str]] = {}
        for decision in self.store.decisions():
            if filters.dimension is None or decision.dimension == filters.dimension:
                decided_by.setdefault(decision.case_id, set()).add(decision.annotator)
        if filters.status == "todo":
            cases = [c for c in cases if c.id not in decided_by]
            if self.auto_accept_target is not None:
                # Auto-accepted cases leave the queue, but for the audit sample.
                cases = [c for c in cases if not self.auto_accepted(c) or is_audit(c.id, self.audit_share)]
        elif filters.status == "mine":
            cases = [c for c in cases if annotator in decided_by.get(c.id, set())]
        elif filters.status == "disagreements":
            disputed = {
                case_id for case_id, dimension, _ in self.disagreements() if filters.dimension in (None, dimension)
            }
            cases = [c for c in cases if c.id in disputed]
        return cases

    def case(self, case_id: str) -> Case | None:
        return self.store.case(case_id)

    def suggestions(self, cases: Sequence[Case]) -> list[Suggestion]:
        """Suggestions of the serving model for ``cases`` (embedded once, kept in memory per model version).

        Each carries the model id and version: what the screen shows is what a decision then
        records (see :meth:`decide`).
        """
        serving = self._serving  # one model for the whole call, even if another starts serving meanwhile
        missing = [c for c in cases if c.id not in serving.suggestions]
        if missing:
            documents = serving.suggester.embed(missing)
            results = serving.suggester.suggest_embedded(missing, documents)
            with self._lock:
                for case, document, result in zip(missing, documents, results, strict=True):
                    serving.suggestions[case.id] = result
                    if self._vectors_of == serving.suggester.embedder.id:
                        self._vectors[case.id] = document.vector
        return [serving.suggestions[c.id] for c in cases]

    # -- auto-accept -----------------------------------------------------------------------

    def auto_accept_status(self) -> AutoAcceptStatus | None:
        """The auto-accept rule now (None when off): thresholds set at training, audits since, dimensions switched off.

        Thresholds come from the serving version's own out-of-fold outcomes and the reviews it
        was trained with; reviews since then audit them (:func:`~iesi_nlp.coding.auto_accept.audits`).
        """
        if self.auto_accept_target is None:
            return None
        key = (self.store.version(), self._serving.path)
        if self._auto_accept is not None and self._auto_accept[0] == key:
            return self._auto_accept[1]
        through = self.model.card.training_set.decisions_through
        decisions = self.store.decisions()
        before = [d for d in decisions if d.seq is not None and d.seq <= through]
        after = [d for d in decisions if d.seq is not None and d.seq > through]
        judged = read_outcomes(self._serving.path) + outcomes_of_decisions(before, self.codebook)
        chosen = AutoAccept.from_outcomes(judged, list(self.model.dimensions), self.auto_accept_target)
        found = audits(outcomes_of_decisions(after, self.codebook), chosen)
        status = AutoAcceptStatus(switch_off_failing(chosen, found), found)
        self._auto_accept = (key, status)
        return status

    def auto_accepted(self, case: Case) -> bool:
        """Every dimension of the case's suggestion passes auto-accept (nothing left for a person)."""
        status = self.auto_accept_status()
        if status is None:
            return False
        suggestion = self.suggestions([case])[0]
        passed = status.policy.accepted(suggestion)
        return all(
            part.labels and len(passed.get(dimension_id, ())) == len(part.labels)
            for dimension_id, part in suggestion.dimensions.items()
        )

    # -- likely-mislabeled cases ----------------------------------------------------------

    def label_issues(self) -> tuple[list[tuple[LabelIssue, Case]], int]:
        """The own labels cleanlab flagged when the serving version was trained, not yet checked since, with
        their cases (likeliest wrong first); and how many seed labels it flagged (not editable here)."""
        through = self.model.card.training_set.decisions_through
        checked = {
            (d.case_id, d.dimension)
            for d in self.store.decisions()
            if d.seq is not None and d.seq > through and d.action in LABELLING_ACTIONS
        }
        found = read_issues(self._serving.path)
        cases = {c.id: c for c in self.store.cases()}
        to_check = [
            (issue, cases[issue.case_id])
            for issue in found
            if issue.origin == "own" and issue.case_id in cases and (issue.case_id, issue.dimension_id) not in checked
        ]
        return to_check, sum(issue.origin == "seed" for issue in found)

    def check_label(
        self, case: Case, issue: LabelIssue, annotator: str, labels: Sequence[str], *, shown: Suggestion
    ) -> list[int]:
        """Record a reviewer's answer to a flagged label: the labels they confirm or correct it to."""
        part = shown[issue.dimension_id]
        action = Action.ACCEPTED if tuple(labels) == tuple(part.labels) else Action.CORRECTED
        comment = f"checked: flagged as likely mislabeled (was {', '.join(issue.given)})"
        return self.decide(case, annotator, {issue.dimension_id: list(labels)}, action, comment, shown=shown)

    # -- the queue, and who has which case on screen ----------------------------------------

    def release(self, annotator: str) -> None:
        self.store.release(annotator)

    def claimed_by_others(self, annotator: str | None) -> set[str]:
        """Ids of cases on another annotator's screen (claims lapse after ``claim_minutes``)."""
        return {c.case_id for c in self.store.claims(max_age=60 * self.claim_minutes) if c.annotator != annotator}

    def next_case(
        self, cases: Sequence[Case], annotator: str | None = None, *, undecided_only: bool = True
    ) -> Case | None:
        """The first case of the queue over ``cases`` that no other annotator has, claimed for ``annotator``.

        The claim is taken in the store, in one transaction, so screens in other processes
        see it too. ``undecided_only`` (the "not yet reviewed" queue) also passes over the
        cases another annotator decided meanwhile. When no candidate is left, None, unless
        ``double_coding`` is on (then the queue's first case: a second opinion is wanted).
        """
        if not cases:
            return None
        if not annotator:
            return self.queue(cases, length=1)[0]
        taken = self.claimed_by_others(annotator)
        free = [c for c in cases if c.id not in taken]
        if not free and not self.double_coding:
            return None
        pool = free or list(cases)
        by_id = {c.id: c for c in cases}
        tried: set[str] = set()
        while True:
            # The first few of the queue, then the rest: another screen may claim some meanwhile.
            remaining = [c for c in pool if c.id not in tried]
            if not remaining:
                return None
            ordered = self.queue(remaining, length=min(len(remaining), 10 if not tried else len(remaining)))
            chosen = self.store.claim_first(
                [c.id for c in ordered],
                annotator,
                max_age=60 * self.claim_minutes,
                exclusive=not self.double_coding,
                undecided_only=undecided_only,
            )
            if chosen is not None:
                return by_id[chosen]
            tried |= {c.id for c in ordered}

    def queue(self, cases: Sequence[Case], length: int = 20, options: QueueOptions | None = None) -> list[Case]:
        """``cases`` in review order: most uncertain first, rare labels boosted, look-alikes spread out."""
        if not cases:
            return []
        model = self.model
        suggestions = self.suggestions(cases)
        scores = {
            d.id: np.array([[s[d.id].scores[label] for label in d.label_ids] for s in suggestions])
            for d in self.codebook.dimensions
        }
        thresholds = {d: head.thresholds() for d, head in model.dimensions.items()}
        counts = self.label_counts()
        ranked = priority(scores, self.codebook, counts, thresholds, options)
        missing = [c for c in cases if c.id not in self._vectors]
        if missing:  # another embedder started serving between the two calls: embed again
            for case, document in zip(missing, self._serving.suggester.embed(missing), strict=True):
                self._vectors[case.id] = document.vector
        vectors = np.stack([self._vectors[c.id] for c in cases])
        return [cases[i] for i in build_queue(vectors, ranked, length, options)]

    def label_counts(self) -> dict[str, Counter]:
        """Examples per label in the grown training set (seed, imported labels and settled decisions)."""
        version = self.store.version()
        cached = self._label_counts
        if cached is not None and cached[0] == version:
            return cached[1]
        counts: dict[str, Counter] = {d.id: Counter() for d in self.codebook.dimensions}
        for case in merge_decisions(self.seed, self.store):
            for dimension, labels in case.labels.items():
                counts.setdefault(dimension, Counter()).update(labels)
        self._label_counts = (version, counts)
        return counts

    # -- what the decisions say -----------------------------------------------------

    def label_state(self) -> dict[tuple[str, str], LabelState]:
        """(case, dimension) → :class:`LabelState`, computed once per change of the store."""
        version = self.store.version()
        cached = self._label_state
        if cached is None or cached[0] != version:
            cached = (version, label_state(self.store.decisions()))
            self._label_state = cached
        return cached[1]

    def disagreements(self) -> list[tuple[str, str, dict[str, tuple[str, ...]]]]:
        return disagreements(self.label_state())

    def counts(self) -> DashboardCounts:
        decisions = self.store.decisions()
        return DashboardCounts(
            cases=len(self.store.cases()),
            reviewed_cases=len({d.case_id for d in decisions if d.action in LABELLING_ACTIONS}),
            decisions=len(decisions),
            skipped_or_flagged_cases=len(
                {d.case_id for d in decisions if d.action in (Action.SKIPPED, Action.FLAGGED)}
            ),
            disagreements=len(self.disagreements()),
            annotators=len({d.annotator for d in decisions}),
        )

    def agreement(self) -> list[Agreement]:
        return krippendorff_alpha(self.store.decisions(), self.codebook)

    def override_rates(self) -> list[OverrideRate]:
        return override_rates(self.store.decisions())

    # -- decisions ---------------------------------------------------------------

    def decide(
        self,
        case: Case,
        annotator: str,
        final: dict[str, list[str]],
        action: Action,
        comment: str | None = None,
        *,
        shown: Suggestion,
    ) -> list[int]:
        """Record one decision per dimension in ``final``, answering the suggestion ``shown`` to the annotator.

        ``shown`` is the :class:`Suggestion` the screen displayed (from :meth:`suggestions`): each
        decision records its part for that dimension with the model id and version, even if
        another model version has started serving since (a background retraining may finish
        while the annotator reads the case).
        """
        if action == Action.ADJUDICATED:
            raise AnnotationError(f"decision on case {case.id!r}: adjudications go through adjudicate()")
        if shown.case_id != case.id:
            raise AnnotationError(
                f"decision on case {case.id!r}: the suggestion given as shown is for case {shown.case_id!r}"
            )
        missing = [d for d in final if d not in shown.dimensions]
        if missing:
            raise AnnotationError(
                f"decision on case {case.id!r}: the suggestion shown has no {', '.join(map(repr, missing))}"
            )
        decisions = [
            Decision(
                case_id=case.id,
                dimension=dimension,
                final_labels=tuple(labels),
                action=action,
                annotator=annotator,
                shown=shown[dimension],
                model_id=shown.model_id,
                model_version=shown.version,
                comment=comment,
            )
            for dimension, labels in final.items()
        ]
        sequence = self.store.record(decisions)
        self.release(annotator)
        reviewed = self.reviewed_since_training()
        if reviewed >= self.retrain_every:
            self.start_retraining(by="review screen", reason=f"retrained after {reviewed} newly reviewed cases")
        return sequence

    def accept_all(
        self, case: Case, annotator: str, dimensions: Sequence[str] | None = None, *, shown: Suggestion
    ) -> list[int]:
        """Accept the labels of the suggestion ``shown`` on ``dimensions`` (default: every dimension)."""
        labels = shown.labels
        chosen = labels if dimensions is None else {d: labels[d] for d in dimensions}
        return self.decide(case, annotator, {d: list(v) for d, v in chosen.items()}, Action.ACCEPTED, shown=shown)

    def may_adjudicate(self, annotator: str) -> bool:
        return not self.adjudicators or annotator in self.adjudicators

    def adjudicate(
        self, case_id: str, dimension: str, labels: Sequence[str], adjudicator: str, comment: str | None = None
    ) -> int:
        """Settle a dimension of a case, recorded as the ``adjudicator``'s decision with the serving model's suggestion.

        Refused (:class:`AnnotationError`) when adjudicators are named and this is not one of them.
        """
        if not self.may_adjudicate(adjudicator):
            raise AnnotationError(
                f"{adjudicator!r} may not adjudicate case {case_id!r}: adjudicators are {', '.join(self.adjudicators)}"
            )
        case = self.store.case(case_id)
        if case is None:
            raise AnnotationError(f"adjudication of case {case_id!r}: no such case in the store")
        shown = self.suggestions([case])[0]
        decision = Decision(
            case_id=case_id,
            dimension=dimension,
            final_labels=tuple(labels),
            action=Action.ADJUDICATED,
            annotator=adjudicator,
            shown=shown[dimension] if dimension in shown.dimensions else None,
            model_id=shown.model_id,
            model_version=shown.version,
            comment=comment,
        )
        return self.store.record([decision])[0]

    def reviewed_since_training(self) -> int:
        """Distinct cases with a labelling decision (accepted, corrected, adjudicated) since the last training."""
        through = self.retrain.decisions_through
        return len(
            {
                d.case_id
                for d in self.store.decisions()
                if d.seq is not None and d.seq > through and d.action in LABELLING_ACTIONS
            }
        )

    # -- adding cases ------------------------------------------------------------------

    def _project(self) -> Project:
        if self.project is None:
            raise InputError("cases are added to a project; start the screen with --project DIR or --cases FILE")
        return self.project

    def add_text(
        self, text: str, *, added_by: str, title: str = "", url: str | None = None, country: str | None = None
    ) -> AddReport:
        """Add one pasted case through the project's ingestion (validation, language detection, duplicates)."""
        return self._project().add_text(text, added_by=added_by, title=title, url=url, country=country)

    def add_upload(self, name: str, content: bytes, *, added_by: str) -> AddReport:
        """Add the cases of an uploaded file (kept in the project's ``uploads/``), as ``iesi-nlp add`` would."""
        project = self._project()
        return project.add_files([project.save_upload(name, content)], added_by=added_by)[0]

    # -- retraining ----------------------------------------------------------------

    def start_retraining(
        self, on_done: Callable[[], None] | None = None, *, by: str | None = None, reason: str = "retrained on request"
    ) -> bool:
        """Retrain in a background thread: a new version that serves once ready. False if one is already running.

        The old version stays in the registry (``iesi-nlp models serve`` takes it back).
        """
        with self._lock:
            if self.retrain.running:
                return False
            self.retrain.running = True
            self.retrain.decisions_through = self.store.version()[1]
        thread = threading.Thread(
            target=self._retrain, args=(on_done, by or "review screen", reason), daemon=True, name="iesi-retrain"
        )
        thread.start()
        self._thread = thread
        return True

    def _retrain(self, on_done, by: str, reason: str) -> None:
        try:
            card = self.model.card
            train_on_store(
                self.store,
                self.seed,
                self.codebook,
                registry=self.models,
                name=card.name,
                embedder_spec=card.embedder.spec,
                options=self.train_options,
                by=by,
                reason=reason,
            )
            self._load_model()
            self.retrain.last_error = None
            self.retrain.last_finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        except Exception as exc:  # noqa: BLE001 -- shown on the screen; the old model keeps serving
            self.retrain.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.retrain.running = False
            if on_done:
                on_done()

    def wait_for_retraining(self, timeout: float | None = None) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout)


#: The Streamlit script of the review screen (in the checkout, next to ``src/``).
APP_SCRIPT = Path(__file__).resolve().parents[2] / "app" / "review_app.py"


def app_environment(
    project: str | Path,
    retrain_every: int = DEFAULT_RETRAIN_EVERY,
    adjudicators: Sequence[str] = (),
    double_coding: bool = False,
    auto_accept: float | None = None,
    audit_share: float = DEFAULT_AUDIT_SHARE,
) -> dict[str, str]:
    """The environment variables that configure the review app (see ``app/screens.py``)."""
    return {
        "IESI_NLP_PROJECT": str(Path(project).resolve()),
        "IESI_NLP_RETRAIN_EVERY": str(retrain_every),
        "IESI_NLP_ADJUDICATORS": ",".join(adjudicators),
        "IESI_NLP_DOUBLE_CODING": "1" if double_coding else "",
        "IESI_NLP_AUTO_ACCEPT": "" if auto_accept is None else str(auto_accept),
        "IESI_NLP_AUDIT_SHARE": str(audit_share),
    }


def serve_app(command: Sequence[str], env: dict[str, str], *, stop_timeout: float = 20.0) -> int:
    """Run the Streamlit server ``command`` until it exits; pass SIGTERM and Ctrl+C on to it.

    Without this, stopping ``iesi-nlp review`` with SIGTERM (a service manager, ``kill``)
    would leave the server running and its port taken. Returns the server's exit status.
    """
    child = subprocess.Popen(list(command), env=env)

    def forward(signum, _frame) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {
        sig: signal.signal(sig, forward)
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None))
        if _can_handle(sig)
    }
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                # Ctrl+C in a terminal reaches the server too; `kill -INT` reaches only us: stop it either way.
                if child.poll() is None:
                    child.terminate()
                try:
                    return child.wait(timeout=stop_timeout)
                except subprocess.TimeoutExpired:
                    child.kill()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                child.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _can_handle(sig) -> bool:
    return threading.current_thread() is threading.main_thread() and sig is not None


def streamlit_command(host: str, port: int) -> list[str]:
    """The command that serves the review app on ``host:port`` without opening a browser."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Streamlit runs a full garbage collection after every script run by default. With
        # the model and caches in memory it takes ~175 ms and holds the interpreter while the
        # last messages of the run wait to be sent (see benchmarks/review_latency.py).
        # Python's own generational collector still runs.
        "--runner.postScriptGC",
        "false",
        # Annotators need no "Deploy" button or developer menu.
        "--client.toolbarMode",
        "minimal",
    ]


#: For browser automation (tests, latency benchmark): a JavaScript predicate, true once another
#: case's title is on the page, its Accept button is there, the app is idle and no element is
#: left over from the previous case (Streamlit marks those ``data-stale``; clicking one acts on
#: the old case).
NEXT_CASE_SHOWN_JS = """(old) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const title = main && main.querySelector('h3');
  const idle = !document.querySelector('[data-testid="stStatusWidget"]');
  const fresh = !document.querySelector('[data-stale="true"]');
  const accept = [...document.querySelectorAll('button')].some(b => b.innerText.includes('Accept all'));
  return title && title.innerText !== old && accept && idle && fresh;
}"""
