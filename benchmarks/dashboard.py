"""Dashboard on a busy store: its counts and tables, and the whole page, on 5,000 decisions.

Makes a project in a temporary folder (400 cases, served by a copy of ``models/default``),
records 5,000 decisions (three annotators; the second disagrees on every third case; a
hundred skips), then times, in one process and one run:

* ``dashboard_tables`` on a service that has not read the decisions yet (what the first
  visit to the page computes);
* the whole dashboard page through Streamlit's ``AppTest`` (first render, then a second
  render with nothing changed).

Goal: under 1 s. Writes ``benchmarks/results/dashboard.json``.

    python benchmarks/dashboard.py [--decisions 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

from iesi_nlp.annotation.store import Action, Decision
from iesi_nlp.coding.suggestion import DimensionSuggestion
from iesi_nlp.project import Project
from iesi_nlp.records import Case
from iesi_nlp.registry import import_version, resolve_model_dir, serving_version
from iesi_nlp.review import ReviewService, app_environment

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
APP = ROOT / "app" / "review_app.py"


def busy_project(folder: Path, model: Path, n_cases: int = 400) -> Project:
    """A project of ``n_cases`` short cases and 5,000 decisions (7 per case for anna, 7 per case for ben on
    three quarters of them, 100 skips by carl)."""
    project = Project.create(folder / "project")
    import_version(project.models_dir, resolve_model_dir(model), by="benchmark", reason="dashboard run")
    store = project.store
    codebook = project.codebook
    store.add_cases(
        [
            Case(id=f"bulk-{i}", text=f"Case {i}: volunteers and the city run a video-call service.", language="en")
            for i in range(n_cases)
        ],
        added_by="benchmark",
    )
    version = serving_version(project.models_dir)

    def decision(case_id: str, dimension, annotator: str, turn: int, skip: bool = False) -> Decision:
        labels = dimension.label_ids
        shown = DimensionSuggestion((labels[0],), {label: 1 / len(labels) for label in labels}, "supervised")
        if skip:
            return Decision(case_id, dimension.id, (), Action.SKIPPED, annotator, shown, version.card.model_id)
        pick = labels[turn % len(labels)]
        action = Action.ACCEPTED if pick == labels[0] else Action.CORRECTED
        return Decision(case_id, dimension.id, (pick,), action, annotator, shown, version.card.model_id, version.id)

    decisions = []
    for i in range(n_cases):
        decisions += [decision(f"bulk-{i}", d, "anna", i) for d in codebook.dimensions]
    for i in range(n_cases * 3 // 4):
        decisions += [decision(f"bulk-{i}", d, "ben", i + (i % 3 == 0)) for d in codebook.dimensions]
    for i in range(100):
        decisions.append(decision(f"bulk-{i}", codebook.dimensions[0], "carl", i, skip=True))
    for start in range(0, len(decisions), 1000):
        store.record(decisions[start : start + 1000])
    return project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "app"))
    from screens import dashboard_tables
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as folder:
        project = busy_project(Path(folder), args.model)
        decisions = project.store.count()
        service = ReviewService.for_project(Project.open(project.root))
        started = time.perf_counter()
        tables = dashboard_tables(service)
        tables_seconds = time.perf_counter() - started
        os.environ.update(app_environment(project.root))
        page = AppTest.from_file(str(APP), default_timeout=300)
        page.session_state["annotator"] = "anna"
        page.run()
        page.switch_page("views/dashboard.py")
        started = time.perf_counter()
        page.run()
        first_render = time.perf_counter() - started
        started = time.perf_counter()
        page.run()
        second_render = time.perf_counter() - started
        assert not page.exception, page.exception
    results = {
        "decisions": decisions,
        "cases_reviewed": tables.counts.reviewed_cases,
        "disagreements": tables.counts.disagreements,
        "tables_seconds": round(tables_seconds, 3),
        "page_first_render_seconds": round(first_render, 3),
        "page_second_render_seconds": round(second_render, 3),
    }
    print(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
