"""End to end in a real headless Chromium: sign in, accept a case, correct one, retrain.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright; it never
downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from iesi_nlp.annotation import Action, AnnotationStore
from iesi_nlp.codebook import load_codebook
from iesi_nlp.review import NEXT_CASE_SHOWN_JS, app_environment, streamlit_command
from tests.small_corpus import small_cases

CHROMIUM = "/usr/bin/chromium"
#: True once Streamlit has finished the current script run.
APP_IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it; CI never skips this test)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def running_app(review_workspace):
    store, model_dir, corpus = review_workspace
    port = free_port()
    env = {**os.environ, **app_environment(store, model_dir, corpus, retrain_every=1000)}
    env.pop("IESI_NLP_PASSWORD", None)
    server = subprocess.Popen(
        streamlit_command("127.0.0.1", port), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"the app did not start: {server.stdout.read().decode()[-2000:]}")
    yield f"http://127.0.0.1:{port}", store, model_dir
    server.terminate()
    server.wait(timeout=20)


def test_accept_correct_and_retrain_in_a_real_browser(running_app):
    from playwright.sync_api import expect, sync_playwright

    url, store_path, model_dir = running_app
    store = AnnotationStore(store_path, load_codebook())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_label("Your name").fill("anna")
        page.get_by_role("button", name="Start reviewing").click()
        expect(page.get_by_role("button", name="Accept all")).to_be_visible(timeout=120_000)

        main_area = page.get_by_test_id("stMain")
        first_title = main_area.locator("h3").first.inner_text()
        page.get_by_role("button", name="Accept all").click()
        # Interact only once the next case is on screen: the old page's buttons linger during the rerun.
        page.wait_for_function(NEXT_CASE_SHOWN_JS, arg=first_title, polling="raf", timeout=60_000)
        deadline = time.time() + 60
        while store.count() < 7 and time.time() < deadline:
            time.sleep(0.5)
        assert [d.action for d in store.decisions()] == [Action.ACCEPTED] * 7
        accepted_case = store.decisions()[0].case_id

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
        deadline = time.time() + 60
        while not any(d.action == Action.CORRECTED for d in store.decisions()) and time.time() < deadline:
            time.sleep(0.5)
        corrected = [d for d in store.decisions() if d.action == Action.CORRECTED]
        recorded = [(d.case_id, d.dimension, d.action.value, d.final_labels) for d in store.decisions()[7:]]
        assert corrected, f"no correction recorded; decisions after the accept: {recorded}"
        assert corrected[0].dimension == "ict_innovation" and corrected[0].case_id != accepted_case

        # The keyboard: Alt+S skips the case on screen.
        page.wait_for_timeout(1500)  # the shortcut listener is installed by a component after the render
        page.keyboard.press("Alt+s")
        deadline = time.time() + 60
        while not any(d.action == Action.SKIPPED for d in store.decisions()) and time.time() < deadline:
            time.sleep(0.5)
        assert any(d.action == Action.SKIPPED for d in store.decisions()), "Alt+S did not skip"

        old_model = orjson.loads((model_dir / "model.json").read_bytes())["model_id"]
        page.get_by_role("button", name="Retrain now").click()
        deadline = time.time() + 300
        card = {}
        while time.time() < deadline:
            try:
                card = orjson.loads((model_dir / "model.json").read_bytes())
            except (OSError, orjson.JSONDecodeError):
                card = {}
            if card.get("model_id", old_model) != old_model:
                break
            time.sleep(1)
        browser.close()
    assert card.get("model_id") != old_model, "the retrained model was not saved"
    # The two reviewed pool cases joined the 48 seed cases (a skip sets no label).
    assert card["training_set"]["size"] == len(small_cases()) + 2
