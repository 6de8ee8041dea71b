"""The review service: what the review screen does, without the screen.

It ties a model registry, the embedding cache and the annotation store together:
the cases to review (a project's own collection) and their suggestions, the queue
(see :mod:`iesi_nlp.active_learning`), recording decisions with the suggestion the
annotator was shown, and retraining from the decisions in a background thread: the
new version is added to the registry and serves once ready, the old one stays.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iesi_nlp.active_learning import QueueOptions, build_queue, priority
from iesi_nlp.annotation import (
    LABELLING_ACTIONS,
    Action,
    AnnotationError,
    AnnotationStore,
    Decision,
    merge_decisions,
)
from iesi_nlp.classify import ClassifyReport, embed_cases
from iesi_nlp.codebook import Codebook
from iesi_nlp.embedding import Embedder
from iesi_nlp.model import CodingModel
from iesi_nlp.project import Project
from iesi_nlp.records import Case
from iesi_nlp.registry import SERVING_FILE, resolve_model_dir
from iesi_nlp.training import TrainOptions
from iesi_nlp.workflow import open_model, train_on_store


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

    model: CodingModel
    embedder: Embedder
    path: Path
    version: str | None
    pointer: tuple[int, int] | None
    suggestions: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ReviewService:
    """One review workspace: a model registry, an annotation store (cases and decisions) and the seed.

    ``models`` is a registry (its serving version is used, and retraining adds a version
    and serves it); a single model folder works too and becomes a registry on the first
    retraining. ``project``, when given, is the project these belong to (the screen adds
    cases through it).
    """

    store: AnnotationStore
    models: Path
    seed: Sequence[Case]
    codebook: Codebook
    retrain_every: int = DEFAULT_RETRAIN_EVERY
    train_options: TrainOptions = REVIEW_TRAIN_OPTIONS
    retrain: RetrainState = field(default_factory=RetrainState)
    project: Project | None = None

    #: How long a case shown to one annotator is kept out of the others' queues.
    claim_minutes: float = 15.0

    @classmethod
    def for_project(
        cls, project: Project, retrain_every: int = DEFAULT_RETRAIN_EVERY, train_options: TrainOptions | None = None
    ) -> ReviewService:
        return cls(
            project.store,
            project.models_dir,
            project.seed_cases(),
            project.codebook,
            retrain_every=retrain_every,
            train_options=train_options or REVIEW_TRAIN_OPTIONS,
            project=project,
        )

    def __post_init__(self) -> None:
        self.models = Path(self.models)
        self._lock = threading.Lock()
        # annotator -> (case id, when): the case on each annotator's screen, so that two people
        # working at once are not handed the same case. In memory: one server serves every tab.
        self._claims: dict[str, tuple[str, float]] = {}
        self._label_counts: tuple[tuple[int, int], dict[str, Counter]] | None = None
        # Case vectors depend on the embedder only, so they outlive a change of model version.
        self._vectors: dict[str, np.ndarray] = {}
        self._vectors_of: str | None = None
        self._load_model()
        self.retrain.decisions_through = int(self.model.card["training_set"].get("decisions_through", 0))

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
        model, embedder = open_model(path, codebook=self.codebook)
        version = path.name if path != self.models else None
        with self._lock:
            if self._vectors_of != embedder.id:
                self._vectors, self._vectors_of = {}, embedder.id
            self._serving = _Serving(model, embedder, path, version, stamp)

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
        return self._serving.model

    @property
    def embedder(self) -> Embedder:
        return self._serving.embedder

    @property
    def version(self) -> str | None:
        """The serving version's id (``v0003-…``), or None for a model folder outside a registry."""
        return self._serving.version

    @property
    def model_age(self) -> dt.timedelta:
        created = dt.datetime.fromisoformat(self.model.card["created"])  # loaded with the model: no disk read per click
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
        elif filters.status == "mine":
            cases = [c for c in cases if annotator in decided_by.get(c.id, set())]
        elif filters.status == "disagreements":
            disputed = {
                case_id
                for case_id, dimension, _ in self.store.disagreements()
                if filters.dimension in (None, dimension)
            }
            cases = [c for c in cases if c.id in disputed]
        return cases

    def suggestions(self, cases: Sequence[Case]) -> list[dict[str, Any]]:
        """Suggestions of the serving model for ``cases`` (embedded once, kept in memory per model).

        Each carries ``case_id``, ``model`` (the model id) and ``version`` besides the
        model's labels, scores, source and evidence: what the screen shows is what a
        decision then records (see :meth:`decide`).
        """
        serving = self._serving  # one model for the whole call, even if another starts serving meanwhile
        missing = [c for c in cases if c.id not in serving.suggestions]
        if missing:
            documents = embed_cases(missing, serving.embedder, ClassifyReport())
            results = serving.model.suggest(documents, [c.text for c in missing])
            with self._lock:
                for case, document, result in zip(missing, documents, results, strict=True):
                    serving.suggestions[case.id] = {
                        **result,
                        "case_id": case.id,
                        "model": serving.model.id,
                        "version": serving.version,
                    }
                    if self._vectors_of == serving.embedder.id:
                        self._vectors[case.id] = document.vector
        return [serving.suggestions[c.id] for c in cases]

    def claim(self, case: Case, annotator: str) -> None:
        """Mark ``case`` as on ``annotator``'s screen (one case per annotator at a time)."""
        with self._lock:
            self._claims[annotator] = (case.id, time.monotonic())

    def release(self, annotator: str) -> None:
        with self._lock:
            self._claims.pop(annotator, None)

    def claimed_by_others(self, annotator: str | None) -> set[str]:
        """Ids of cases on another annotator's screen (claims expire after ``claim_minutes``)."""
        horizon = time.monotonic() - 60 * self.claim_minutes
        with self._lock:
            return {
                case_id for holder, (case_id, since) in self._claims.items() if holder != annotator and since > horizon
            }

    def next_case(self, cases: Sequence[Case], annotator: str | None = None) -> Case | None:
        """The first case of the queue over ``cases`` that no other annotator has on screen, claimed for ``annotator``.

        When every candidate is on someone else's screen, the queue's first case is
        returned anyway: a second opinion beats an idle annotator.
        """
        if not cases:
            return None
        taken = self.claimed_by_others(annotator)
        free = [c for c in cases if c.id not in taken] or list(cases)
        case = self.queue(free, length=1)[0]
        if annotator:
            self.claim(case, annotator)
        return case

    def queue(self, cases: Sequence[Case], length: int = 20, options: QueueOptions | None = None) -> list[Case]:
        """``cases`` in review order: most uncertain first, rare labels boosted, look-alikes spread out."""
        if not cases:
            return []
        model = self.model
        suggestions = self.suggestions(cases)
        scores = {
            d.id: np.array([[s["scores"][d.id][label] for label in d.label_ids] for s in suggestions])
            for d in self.codebook.dimensions
        }
        thresholds = {d: m.thresholds() for d, m in model.dimensions.items()}
        counts = self.label_counts()
        ranked = priority(scores, self.codebook, counts, thresholds, options)
        missing = [c for c in cases if c.id not in self._vectors]
        if missing:  # another embedder started serving between the two calls: embed again
            for case, document in zip(missing, embed_cases(missing, self.embedder, ClassifyReport()), strict=True):
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

    # -- decisions ---------------------------------------------------------------

    def decide(
        self,
        case: Case,
        annotator: str,
        final: dict[str, list[str]],
        action: Action,
        comment: str | None = None,
        *,
        shown: dict[str, Any],
    ) -> list[int]:
        """Record one decision per dimension in ``final``, answering the suggestion ``shown`` to the annotator.

        ``shown`` is the suggestion the screen displayed (from :meth:`suggestions`): its
        labels, scores and model id are what the decision records, even if another model
        version has started serving since (a background retraining may finish while the
        annotator reads the case).
        """
        if shown.get("case_id", case.id) != case.id:
            raise AnnotationError(
                f"decision on case {case.id!r}: the suggestion given as shown is for case {shown['case_id']!r}"
            )
        missing = [d for d in final if d not in shown.get("labels", {})]
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
                suggested_labels=tuple(shown["labels"][dimension]),
                suggested_scores=shown["scores"][dimension],
                model_id=shown.get("model"),
                comment=comment,
            )
            for dimension, labels in final.items()
        ]
        sequence = self.store.record(decisions)
        reviewed = self.reviewed_since_training()
        if reviewed >= self.retrain_every:
            self.start_retraining(by="review screen", reason=f"retrained after {reviewed} newly reviewed cases")
        return sequence

    def accept_all(
        self, case: Case, annotator: str, dimensions: Sequence[str] | None = None, *, shown: dict[str, Any]
    ) -> list[int]:
        """Accept the labels of the suggestion ``shown`` on ``dimensions`` (default: every dimension)."""
        labels = shown["labels"]
        chosen = labels if dimensions is None else {d: labels[d] for d in dimensions}
        return self.decide(case, annotator, {d: list(v) for d, v in chosen.items()}, Action.ACCEPTED, shown=shown)

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
                name=card["name"],
                embedder_spec=card["embedder"]["spec"],
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


def app_environment(project: str | Path, retrain_every: int = DEFAULT_RETRAIN_EVERY) -> dict[str, str]:
    """The environment variables that configure the review app (see ``app/screens.py``)."""
    return {"IESI_NLP_PROJECT": str(Path(project).resolve()), "IESI_NLP_RETRAIN_EVERY": str(retrain_every)}


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
