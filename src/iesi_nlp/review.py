"""The review service: what the review screen does, without the screen.

It ties a saved model, the embedding cache and the annotation store together:
the cases to review and their suggestions, the queue (see
:mod:`iesi_nlp.active_learning`), recording decisions with the suggestion they
answer, and retraining from the decisions in a background thread while the
current model keeps serving.
"""

from __future__ import annotations

import datetime as dt
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
from iesi_nlp.annotation import Action, AnnotationStore, Decision, merge_decisions
from iesi_nlp.artifacts import read_card
from iesi_nlp.classify import ClassifyReport, embed_cases
from iesi_nlp.codebook import Codebook
from iesi_nlp.records import Case
from iesi_nlp.training import TrainOptions
from iesi_nlp.workflow import open_model, train_and_save


@dataclass
class ReviewFilters:
    """Which cases the queue draws from."""

    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    dimension: str | None = None
    #: ``todo`` (no decision by anyone), ``mine`` (decided by this annotator), ``disagreements``, ``all``.
    status: str = "todo"


@dataclass
class RetrainState:
    running: bool = False
    last_error: str | None = None
    last_finished: str | None = None
    decisions_at_last_train: int = 0


@dataclass
class ReviewService:
    """One review workspace: a model folder, an annotation store and the seed training set."""

    store: AnnotationStore
    model_dir: Path
    seed: Sequence[Case]
    codebook: Codebook
    retrain_every: int = 20
    train_options: TrainOptions = field(default_factory=lambda: TrainOptions(folds=3))
    retrain: RetrainState = field(default_factory=RetrainState)

    #: How long a case shown to one annotator is kept out of the others' queues.
    claim_minutes: float = 15.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        # annotator -> (case id, when): the case on each annotator's screen, so that two people
        # working at once are not handed the same case. In memory: one server serves every tab.
        self._claims: dict[str, tuple[str, float]] = {}
        self._label_counts: tuple[tuple[int, int], dict[str, Counter]] | None = None
        self._load_model()

    # -- model -------------------------------------------------------------------

    def _load_model(self) -> None:
        model, embedder = open_model(self.model_dir, codebook=self.codebook)
        with self._lock:
            self.model, self.embedder = model, embedder
            self._suggestions: dict[str, dict[str, Any]] = {}
            self._vectors: dict[str, np.ndarray] = {}

    @property
    def model_age(self) -> dt.timedelta:
        created = dt.datetime.fromisoformat(self.model.card["created"])  # loaded with the model: no disk read per click
        return dt.datetime.now(dt.UTC) - created

    # -- cases and suggestions ---------------------------------------------------

    def cases(self, filters: ReviewFilters | None = None, annotator: str | None = None) -> list[Case]:
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
        """Suggestions of the current model for ``cases`` (embedded once, kept in memory per model)."""
        missing = [c for c in cases if c.id not in self._suggestions]
        if missing:
            documents = embed_cases(missing, self.embedder, ClassifyReport())
            results = self.model.suggest(documents, [c.text for c in missing])
            with self._lock:
                for case, document, result in zip(missing, documents, results, strict=True):
                    self._suggestions[case.id] = result
                    self._vectors[case.id] = document.vector
        return [self._suggestions[c.id] for c in cases]

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
        suggestions = self.suggestions(cases)
        scores = {
            d.id: np.array([[s["scores"][d.id][label] for label in d.label_ids] for s in suggestions])
            for d in self.codebook.dimensions
        }
        thresholds = {d: m.thresholds() for d, m in self.model.dimensions.items()}
        counts = self.label_counts()
        ranked = priority(scores, self.codebook, counts, thresholds, options)
        vectors = np.stack([self._vectors[c.id] for c in cases])
        return [cases[i] for i in build_queue(vectors, ranked, length, options)]

    def label_counts(self) -> dict[str, Counter]:
        """Examples per label in the grown training set (seed plus settled decisions)."""
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
    ) -> list[int]:
        """Record one decision per dimension in ``final`` (with the suggestion it answers)."""
        suggestion = self.suggestions([case])[0]
        decisions = [
            Decision(
                case_id=case.id,
                dimension=dimension,
                final_labels=tuple(labels),
                action=action,
                annotator=annotator,
                suggested_labels=tuple(suggestion["labels"][dimension]),
                suggested_scores=suggestion["scores"][dimension],
                model_id=self.model.id,
                comment=comment,
            )
            for dimension, labels in final.items()
        ]
        sequence = self.store.record(decisions)
        if self.store.count() - self.retrain.decisions_at_last_train >= self.retrain_every:
            self.start_retraining()
        return sequence

    def accept_all(self, case: Case, annotator: str, dimensions: Sequence[str] | None = None) -> list[int]:
        """Accept the suggestion on ``dimensions`` (default: every dimension)."""
        labels = self.suggestions([case])[0]["labels"]
        chosen = labels if dimensions is None else {d: labels[d] for d in dimensions}
        return self.decide(case, annotator, {d: list(v) for d, v in chosen.items()}, Action.ACCEPTED)

    # -- retraining ----------------------------------------------------------------

    def start_retraining(self, on_done: Callable[[], None] | None = None) -> bool:
        """Retrain from seed plus decisions in a background thread; False if one is already running."""
        with self._lock:
            if self.retrain.running:
                return False
            self.retrain.running = True
            self.retrain.decisions_at_last_train = self.store.count()
        thread = threading.Thread(target=self._retrain, args=(on_done,), daemon=True, name="iesi-retrain")
        thread.start()
        self._thread = thread
        return True

    def _retrain(self, on_done) -> None:
        try:
            cases = merge_decisions(self.seed, self.store)
            card = read_card(self.model_dir)
            train_and_save(
                cases,
                self.codebook,
                name=self.model_dir.name,
                models_dir=self.model_dir.parent,
                embedder_spec=card["embedder"]["spec"],
                options=self.train_options,
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


def app_environment(store: Path, model_dir: Path, corpus: Path | None, retrain_every: int) -> dict[str, str]:
    """The environment variables that configure the review app (see ``app/screens.py``)."""
    env = {"IESI_NLP_STORE": str(store), "IESI_NLP_MODEL": str(model_dir), "IESI_NLP_RETRAIN_EVERY": str(retrain_every)}
    if corpus is not None:
        env["IESI_NLP_CORPUS"] = str(corpus)
    return env


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
