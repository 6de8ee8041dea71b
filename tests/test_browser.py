"""End to end in a real headless Chromium: a user's CSV through `iesi-nlp review --cases`, accept, correct, skip,
add a long case, adjudicate, the dashboard, retrain; and stopping `iesi-nlp review` stops its Streamlit server.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright; it never
downloads a browser.
"""

from __future__ import annotations

import os
import re
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
from iesi_nlp.annotation.store import Action, Decision
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


#: A case text that fills about 2,400 px of the review page: its actions must stay in reach.
LONG_TEXT = " ".join(
    f"Paragraph {n}: the municipality and a local charity run a digital help desk where older people learn to use "
    "video calls, online banking and telemedicine appointments, and volunteers visit those who cannot come."
    for n in range(1, 46)
)
LONG_TITLE = "Digital help desk for older people"
#: Labels with long names: shown in full, never cut short with an ellipsis.
LONG_LABELS = ["Change in inter-institutional relations", "Collaborative innovation networks"]


def source_env() -> dict[str, str]:
    """The environment of the child processes: this checkout's code, no password."""
    source = str(Path(iesi_nlp.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    env.pop("IESI_NLP_PASSWORD", None)
    return env


def start_screen(arguments: list[str], log: Path, timeout: float = 600) -> tuple[subprocess.Popen, int]:
    """`iesi-nlp review ARGUMENTS --port P` running and healthy on a free port P (output in ``log``)."""
    port = free_port()
    command = [sys.executable, "-m", "iesi_nlp", "review", *arguments, "--port", str(port)]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=source_env(), stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout  # with --cases, the project's first model is trained before the screen starts
    while time.time() < deadline and process.poll() is None and not healthy(port):
        time.sleep(0.5)
    if not healthy(port):
        process.kill()
        pytest.fail(f"the review screen did not start: {log.read_text()[-3000:]}")
    return process, port


@pytest.fixture(scope="module")
def review_server(tmp_path_factory):
    """`iesi-nlp review --cases collection.csv --project tmp/project --seed small-corpus --adjudicators anna,lead`.

    One server for the module's browser session; its output (the Streamlit server's too) is in ``review.log``.
    """
    folder = tmp_path_factory.mktemp("browser")
    table = folder / "collection.csv"
    pd.DataFrame(COLLECTION).to_csv(table, index=False)
    seed = write_seed_corpus(folder / "seed")
    project = folder / "project"
    log = folder / "review.log"
    arguments = ["--cases", str(table), "--project", str(project), "--seed", str(seed), "--column", "url=link"]
    arguments += ["--retrain-every", "1000", "--adjudicators", "anna,lead"]
    process, port = start_screen(arguments, log)
    yield process, port, project, log
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(message)


def wait_idle(page) -> None:
    """Until Streamlit has finished the script run a click started (its indicator shows only after a moment)."""
    page.wait_for_timeout(500)
    page.wait_for_function(APP_IDLE_JS, polling="raf", timeout=60_000)


#: For each element given: is its text shown in full? Not if it, or a box around it up to its
#: widget's button or label, is narrower than its content (cut off, ended with an ellipsis, or
#: scrolled out of sight, as a multiselect's chips are in a column).
FULLY_SHOWN_JS = """(elements) => elements.map(e => {
  let full = true;
  for (let box = e; box && full; box = box.parentElement) {
    full = box.scrollWidth <= box.clientWidth + 1 || getComputedStyle(box).overflowX === 'visible';
    if (['BUTTON', 'LABEL'].includes(box.tagName) || box.dataset.testid === 'stMultiSelect') break;
  }
  return {text: e.innerText, full};
})"""


def test_a_review_session_in_a_real_browser(review_server):
    from playwright.sync_api import expect, sync_playwright

    _, port, root, log = review_server
    project = Project.open(root)
    store = project.store
    assert sorted(c.id for c in project.cases()) == ["u1", "u2", "u3", "u4"]
    first_version = serving_version(project.models_dir)
    assert first_version.card.training_set.own == 1  # u1 came labelled
    titles = {row["title"]: row for row in COLLECTION}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_label("Your name").fill("anna")
        page.get_by_role("button", name="Start reviewing").click()
        accept = page.get_by_role("button", name="Accept all")
        expect(accept).to_be_visible(timeout=120_000)

        # The case is the user's own, shown with its title, country and source.
        main_area = page.get_by_test_id("stMain")
        first_title = main_area.locator("h3").first.inner_text()
        assert first_title in titles
        row = titles[first_title]
        caption = main_area.get_by_text(f"id {row['case_id']} ·").first.inner_text()
        assert row["source"] in caption and ("FI" if row["country"] == "Finland" else row["country"]) in caption
        accept.click()
        # Interact only once the next case is on screen: the old page's buttons linger during the rerun.
        page.wait_for_function(NEXT_CASE_SHOWN_JS, arg=first_title, polling="raf", timeout=60_000)
        wait_until(lambda: store.count() >= 7, 60, "the accepted case was not recorded")
        accepted = store.decisions()
        assert [d.action for d in accepted] == [Action.ACCEPTED] * 7
        assert accepted[0].case_id == row["case_id"]
        assert {d.model_id for d in accepted} == {first_version.card.model_id}
        assert {d.model_version for d in accepted} == {first_version.id}

        # Correct the next case: pick another ICT-innovation type than the one suggested.
        expect(page.get_by_role("button", name="Save my labels")).to_be_visible(timeout=60_000)
        # The first dimension (ICT-enabled innovation) is single-label: its radio group comes first.
        radios = main_area.get_by_role("radiogroup", name="Your label").first
        options = radios.get_by_role("radio")
        checked = [i for i in range(options.count()) if options.nth(i).is_checked()]
        target = (checked[0] + 1) % options.count()
        radios.locator("label").nth(target).click()
        # The radio change reruns the script: save only once the choice is shown and the run is over,
        # or the click may land on the page being replaced.
        expect(options.nth(target)).to_be_checked(timeout=30_000)
        wait_idle(page)
        second_title = main_area.locator("h3").first.inner_text()
        page.get_by_role("button", name="Save my labels").click()
        page.wait_for_function(NEXT_CASE_SHOWN_JS, arg=second_title, polling="raf", timeout=60_000)
        wait_until(lambda: any(d.action == Action.CORRECTED for d in store.decisions()), 60, "no correction")
        corrected = [d for d in store.decisions() if d.action == Action.CORRECTED]
        assert corrected[0].dimension == "ict_innovation"
        assert corrected[0].case_id == titles[second_title]["case_id"] != row["case_id"]

        # The keyboard (Streamlit's own button shortcuts): Alt+S skips the case on screen.
        wait_idle(page)
        page.keyboard.press("Alt+s")
        wait_until(lambda: any(d.action == Action.SKIPPED for d in store.decisions()), 60, "Alt+S did not skip")

        # Retrain now: a new version serves, the first stays as it was.
        before = (first_version.path / "classifiers.skops").read_bytes()
        page.get_by_role("button", name="Retrain now").click()
        wait_until(lambda: len(versions(project.models_dir)) == 2, 300, "the retrained model was not saved")
        wait_idle(page)
        new = serving_version(project.models_dir)
        assert new.number == 2 and (first_version.path / "classifiers.skops").read_bytes() == before
        # The imported label of u1 and the two reviewed cases are the user's own; a skip sets no label.
        own = {"u1", row["case_id"], corrected[0].case_id}
        training = new.card.training_set
        assert (training.seed, training.own, training.unlabelled) == (len(small_cases()), len(own), 4 - len(own))

        # Add a case: a long text, with its title, link and country; its language is detected.
        page.get_by_role("link", name="Add a case").click()
        expect(page.get_by_label("Paste a case description")).to_be_visible(timeout=60_000)
        page.get_by_label("Title (optional)").fill(LONG_TITLE)
        page.get_by_label("URL (optional)").fill("https://example.org/help-desk")
        page.get_by_label("Country (optional)").fill("Ireland")
        page.get_by_label("Paste a case description").fill(LONG_TEXT)
        page.get_by_role("button", name="Add and suggest").click()
        added = main_area.get_by_text("Added as case")
        expect(added).to_be_visible(timeout=60_000)
        assert "language: en" in added.inner_text() and "country: IE" in added.inner_text()
        pasted = next(c for c in project.cases() if c.source == "pasted")
        assert (pasted.title, pasted.url, pasted.country, pasted.language) == (
            LONG_TITLE,
            "https://example.org/help-desk",
            "IE",
            "en",
        )
        # Pasted twice: not added again, and the page says where the text already is.
        wait_idle(page)
        page.get_by_role("button", name="Add and suggest").click()
        expect(main_area.get_by_text(f"this text is already in the project as case {pasted.id}")).to_be_visible(
            timeout=60_000
        )
        assert [c.id for c in project.cases() if c.source == "pasted"] == [pasted.id]

        # Review the long case (the queue filtered to pasted cases): the actions stay in reach.
        page.get_by_role("link", name="Review").click()
        expect(accept).to_be_visible(timeout=60_000)
        wait_idle(page)
        source_filter = page.get_by_test_id("stSidebar").locator(".st-key-filter-source")
        source_filter.click()
        page.get_by_role("option", name="pasted").click()
        page.keyboard.press("Escape")
        expect(main_area.locator("h3").first).to_have_text(LONG_TITLE, timeout=60_000)
        wait_idle(page)
        text_height = main_area.locator(".case-text").bounding_box()["height"]
        assert text_height > 2000, f"the long case takes {text_height:.0f} px"
        viewport = page.viewport_size["height"]
        box = accept.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport, "Accept all is out of sight on a long case"
        # Scrolled to the end of the text, the action bar is still there, on top of the page.
        page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 100000)")
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") > 1000
        box = accept.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport, "Accept all scrolled out of sight"
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('.st-key-accept-all')", centre)

        # Full label names: no option cut short.
        texts = main_area.locator(
            '[data-testid="stButtonGroup"] button p, [data-testid="stRadio"] label p, [data-testid="stMultiSelect"] span'
        )
        shown = texts.evaluate_all(FULLY_SHOWN_JS)
        assert len(shown) > 30
        assert [s["text"] for s in shown if not s["full"]] == []
        for name in LONG_LABELS:
            label = main_area.get_by_role("button", name=name, exact=True).first
            expect(label).to_be_visible()
            assert label.inner_text().strip() == name

        accept.click()  # from the bottom of the text
        wait_until(lambda: len(store.decisions(case_id=pasted.id)) == 7, 60, "the long case was not accepted")
        wait_idle(page)

        # Adjudicate: a colleague coded the long case differently.
        anna_domains = next(d.final_labels for d in store.decisions(case_id=pasted.id) if d.dimension == "actors")
        ben_actors = ("citizens",) if "citizens" not in anna_domains else ("private",)
        store.record([Decision(pasted.id, "actors", ben_actors, Action.CORRECTED, "ben")])
        page.get_by_role("link", name="Adjudicate").click()
        settle = page.get_by_role("button", name="Settle")
        expect(settle).to_be_visible(timeout=60_000)
        # Streamlit's class for a keyed container: st-key- and the key, other characters made "-".
        case_box = main_area.locator(".st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", f"disagreement:{pasted.id}:actors"))
        expect(case_box.locator(".case-text")).to_contain_text("Paragraph 45")
        expect(case_box.get_by_text("ben", exact=True)).to_be_visible()
        expect(case_box.get_by_text("anna", exact=True)).to_be_visible()
        settle.click()
        wait_until(
            lambda: any(d.action == Action.ADJUDICATED for d in store.decisions(case_id=pasted.id)),
            60,
            "the adjudication was not recorded",
        )
        ruling = next(d for d in store.decisions(case_id=pasted.id) if d.action == Action.ADJUDICATED)
        assert ruling.annotator == "anna" and ruling.dimension == "actors"
        assert ruling.model_version == serving_version(project.models_dir).id  # the version that serves now
        expect(main_area.get_by_text("No disagreements.")).to_be_visible(timeout=60_000)

        # The dashboard, its counts in full words.
        page.get_by_role("link", name="Dashboard").click()
        expect(main_area.get_by_text("Cases reviewed", exact=True)).to_be_visible(timeout=60_000)
        wait_idle(page)
        reviewed = main_area.get_by_test_id("stMetric").first.get_by_test_id("stMetricValue").inner_text()
        assert reviewed == "3 / 5"
        labels = main_area.get_by_test_id("stMetricLabel").evaluate_all(FULLY_SHOWN_JS)
        assert [s["text"] for s in labels if not s["full"]] == []
        expect(main_area.get_by_text("1 case skipped or flagged")).to_be_visible()

        browser.close()

    # The whole session left no deprecation warning and no traceback in the server's output.
    time.sleep(1)
    output = log.read_text(errors="replace")
    assert "You can now view your Streamlit app" in output  # the Streamlit server's output is there
    assert "deprecat" not in output.lower(), output[-5000:]
    assert "Traceback" not in output, output[-5000:]


def children(pid: int) -> list[int]:
    """The ids of the processes ``pid`` started (Linux)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_iesi_nlp_review_stops_the_screen(review_server, tmp_path, stop):
    """`kill` (SIGTERM, from a service manager) or `kill -INT` / Ctrl+C: the Streamlit server stops too."""
    _, _, project, _ = review_server
    process, port = start_screen(["--project", str(project)], tmp_path / "review.log", timeout=120)
    servers = children(process.pid)
    assert servers, "iesi-nlp review runs the Streamlit server as its child"
    process.send_signal(stop)
    assert process.wait(timeout=60) is not None
    wait_until(lambda: not any(alive(pid) for pid in servers), 30, "the Streamlit server outlived `iesi-nlp review`")
    wait_until(lambda: not healthy(port), 30, "the screen still answers")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would: only a listener blocks it
        sock.bind(("127.0.0.1", port))
