"""Two review screens on one store, in separate processes, while a retraining runs.

Every decision is kept and attributed to the annotator who made it, and the queue never
hands one case to two annotators (no double coding asked for).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from iesi_nlp.annotation.store import Action
from iesi_nlp.coding.training import TrainOptions
from iesi_nlp.records import Case
from iesi_nlp.review import ReviewService
from tests.small_corpus import small_cases

ROOT = Path(__file__).resolve().parents[1]


def _screen(project_root: str, annotator: str, log: str) -> None:
    """One screen: take cases from the queue until none is left, accepting each; log what was handed out."""
    from iesi_nlp.project import Project

    service = ReviewService.for_project(Project.open(project_root), retrain_every=10_000)
    handed = []
    while True:
        case = service.next_case(service.cases(), annotator)
        if case is None:
            break
        handed.append(case.id)
        time.sleep(0.02)  # the annotator reads: the other screen asks for cases meanwhile
        service.accept_all(case, annotator, shown=service.suggestions([case])[0])
    Path(log).write_text(json.dumps(handed))


def test_two_screens_in_two_processes_while_a_retraining_runs(review_project, tmp_path):
    # Overlapping work: both screens draw from the same 16 cases.
    extra = [
        Case(id=f"x{i}", text=case.text, language=case.language, title=case.title)
        for i, case in enumerate(small_cases()[:12])
    ]
    review_project.store.add_cases(extra, added_by="test")
    main = ReviewService.for_project(
        review_project, retrain_every=10_000, train_options=TrainOptions(folds=3, feature_set="dense")
    )
    all_ids = {c.id for c in main.cases()}
    main.suggestions(main.cases())  # embed once, so the screens read vectors from the shared cache
    assert main.start_retraining(by="test", reason="during concurrent review")
    logs = {who: tmp_path / f"{who}.json" for who in ("anna", "ben")}
    screens = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from tests.test_concurrency import _screen; "
                f"_screen({str(review_project.root)!r}, {who!r}, {str(log)!r})",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )
        for who, log in logs.items()
    ]
    for screen in screens:
        assert screen.wait(timeout=600) == 0
    main.wait_for_retraining(timeout=600)
    assert main.retrain.last_error is None

    handed = {who: json.loads(log.read_text()) for who, log in logs.items()}
    assert handed["anna"] and handed["ben"]  # both screens worked at the same time
    # Never one case to two annotators, and every case to someone.
    assert not set(handed["anna"]) & set(handed["ben"])
    assert set(handed["anna"]) | set(handed["ben"]) == all_ids
    assert len(handed["anna"]) == len(set(handed["anna"])) and len(handed["ben"]) == len(set(handed["ben"]))
    # Every decision kept (one per dimension), each by the annotator the case was handed to.
    decisions = main.store.decisions()
    dimensions = len(main.codebook.dimensions)
    assert len(decisions) == dimensions * len(all_ids)
    owner = {case_id: who for who, ids in handed.items() for case_id in ids}
    assert all(d.annotator == owner[d.case_id] and d.action == Action.ACCEPTED for d in decisions)
    assert all(d.shown is not None and d.model_id for d in decisions)
