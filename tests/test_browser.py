"""End to end in a real headless Chromium: a user's CSV through `iesi-nlp review --cases`, accept, correct, retrain.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright; it never
downloads a browser.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import iesi_nlp
from iesi_nlp.annotation.store import Action
from iesi_nlp.project import Project
from iesi_nlp.registry import serving_version, versions
from iesi_nlp.review import NEXT_CASE_SHOWN_JS
from tests.conftest import DE_TEXT, EN_TEXT, PL_TEXT, write_seed_corpus
from tests.small_corpus import small_cases

CHROMIUM = "/usr/bin/chromium"
#: True once Streamlit has finished the current script run.
APP_IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it; CI never skips this test)",
)

#: The user's own collection: titles, links, sources and countries, one case labelled on one dimension.
COLLECTION = [
    {
        "case_id": "u1",
        "title": "Morning calls for older people",
        "description": EN_TEXT,
        "link": "https://example.org/u1",
        "source": "our-survey",
        "country": "Finland",
        "service_domain": "long_term_care",
    },
    {
        "case_id": "u2",
        "title": "Entlastung für pflegende Angehörige",
        "description": DE_TEXT,
        "link": "https://example.org/u2",
        "source": "our-survey",
        "country": "DE",
        "service_domain": "",
    },
    {
        "case_id": "u3",
        "title": "Pomoc sąsiedzka",
        "description": PL_TEXT,
        "link": "",
        "source": "our-survey",
        "country": "PL",
        "service_domain": "",
    },
    {
        "case_id": "u4",
        "title": "Shelter beds online",
        "description": "Homeless people find a free bed in an emergency shelter through a booking app that "
        "volunteers keep up to date every evening.",
        "link": "",
        "source": "scraped",
        "country": "ES",
        "service_domain": "",
    },
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.fixture
def review_command(tmp_path):
    """`iesi-nlp review --cases collection.csv --project tmp/project --seed small-corpus` running on a free port."""
    table = tmp_path / "collection.csv"
    pd.DataFrame(COLLECTION).to_csv(table, index=False)
    seed = write_seed_corpus(tmp_path / "seed")
    project = tmp_path / "project"
    port = free_port()
    source = str(Path(iesi_nlp.__file__).resolve().parents[1])  # this checkout's code, in the child processes too
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    env.pop("IESI_NLP_PASSWORD", None)
    command = [
        sys.executable,
        "-m",
        "iesi_nlp",
        "review",
        "--cases",
        str(table),
        "--project",
        str(project),
        "--seed",
        str(seed),
        "--column",
        "url=link",
        "--port",
        str(port),
        "--retrain-every",
        "1000",
    ]
    log = (tmp_path / "review.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 600  # the project's first model is trained before the screen starts
    while time.time() < deadline and process.poll() is None and not healthy(port):
        time.sleep(0.5)
    if not healthy(port):
        process.kill()
        pytest.fail(f"the review screen did not start: {(tmp_path / 'review.log').read_text()[-3000:]}")
    yield process, port, project
    if process.poll() is None:
        process.kill()
    log.close()


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(message)


def test_review_a_users_csv_in_a_real_browser(review_command):
    from playwright.sync_api import expect, sync_playwright

    process, port, root = review_command
    project = Project.open(root)
    store = project.store
    assert sorted(c.id for c in project.cases()) == ["u1", "u2", "u3", "u4"]
    first_version = serving_version(project.models_dir)
    assert first_version.card["training_set"]["own"] == 1  # u1 came labelled
    titles = {row["title"]: row for row in COLLECTION}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_label("Your name").fill("anna")
        page.get_by_role("button", name="Start reviewing").click()
        expect(page.get_by_role("button", name="Accept all")).to_be_visible(timeout=120_000)

        # The case is the user's own, shown with its title, country and source.
        main_area = page.get_by_test_id("stMain")
        first_title = main_area.locator("h3").first.inner_text()
        assert first_title in titles
        row = titles[first_title]
        caption = main_area.get_by_text(f"id {row['case_id']} ·").first.inner_text()
        assert row["source"] in caption and ("FI" if row["country"] == "Finland" else row["country"]) in caption
        page.get_by_role("button", name="Accept all").click()
        # Interact only once the next case is on screen: the old page's buttons linger during the rerun.
        page.wait_for_function(NEXT_CASE_SHOWN_JS, arg=first_title, polling="raf", timeout=60_000)
        wait_until(lambda: store.count() >= 7, 60, "the accepted case was not recorded")
        accepted = store.decisions()
        assert [d.action for d in accepted] == [Action.ACCEPTED] * 7
        assert accepted[0].case_id == row["case_id"]
        assert {d.model_id for d in accepted} == {first_version.card["model_id"]}

        # Correct the next case: pick another ICT-innovation type than the one suggested.
        expect(page.get_by_role("button", name="Save my labels")).to_be_visible(timeout=60_000)
        # The first dimension (ICT-enabled innovation) is single-label: its radio group comes first.
        radios = page.get_by_test_id("stMain").get_by_role("radiogroup", name="Your label").first
        options = radios.get_by_role("radio")
        checked = [i for i in range(options.count()) if options.nth(i).is_checked()]
        target = (checked[0] + 1) % options.count()
        radios.locator("label").nth(target).click()
        # The radio change reruns the script: save only once the choice is shown and the run is over,
        # or the click may land on the page being replaced.
        expect(options.nth(target)).to_be_checked(timeout=30_000)
        page.wait_for_timeout(500)  # Streamlit shows its running indicator only after a moment
        page.wait_for_function(APP_IDLE_JS, polling="raf", timeout=60_000)
        second_title = main_area.locator("h3").first.inner_text()
        page.get_by_role("button", name="Save my labels").click()
        page.wait_for_function(NEXT_CASE_SHOWN_JS, arg=second_title, polling="raf", timeout=60_000)
        wait_until(lambda: any(d.action == Action.CORRECTED for d in store.decisions()), 60, "no correction")
        corrected = [d for d in store.decisions() if d.action == Action.CORRECTED]
        assert corrected[0].dimension == "ict_innovation"
        assert corrected[0].case_id == titles[second_title]["case_id"] != row["case_id"]

        # The keyboard: Alt+S skips the case on screen.
        page.wait_for_timeout(1500)  # the shortcut listener is installed by a component after the render
        page.keyboard.press("Alt+s")
        wait_until(lambda: any(d.action == Action.SKIPPED for d in store.decisions()), 60, "Alt+S did not skip")

        # Retrain now: a new version serves, the first stays as it was.
        before = (first_version.path / "classifiers.skops").read_bytes()
        page.get_by_role("button", name="Retrain now").click()
        wait_until(lambda: len(versions(project.models_dir)) == 2, 300, "the retrained model was not saved")
        browser.close()
    new = serving_version(project.models_dir)
    assert new.number == 2 and (first_version.path / "classifiers.skops").read_bytes() == before
    # The imported label of u1 and the two reviewed cases are the user's own; a skip sets no label.
    own = {"u1", row["case_id"], corrected[0].case_id}
    training = new.card["training_set"]
    assert (training["seed"], training["own"], training["unlabelled"]) == (len(small_cases()), len(own), 4 - len(own))

    # Stopping `iesi-nlp review` stops the screen too, and frees its port.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) is not None
    wait_until(lambda: not healthy(port), 30, "the Streamlit server outlived `iesi-nlp review`")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would: only a listener blocks it
        sock.bind(("127.0.0.1", port))
