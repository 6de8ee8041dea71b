"""Review screen latency: from clicking "Accept all" to the next case shown with its suggestions.

Starts the real app on the bundled pool with ``models/default`` (run ``iesi-nlp
quickstart`` first, so the pool's embeddings are cached), signs in in headless
Chromium, and accepts N cases in a row. Each measurement runs from the click to
the moment the next case's title and its "Accept all" button are on the page, the
app is idle and no element of the previous case is left (``NEXT_CASE_SHOWN_JS``).
Two clocks: the page's, from the click event (what the annotator waits), and the
benchmark's, from its call of Playwright's ``click()`` (which adds Playwright's own
checks before it clicks).
Goal: under 300 ms with cached embeddings. Also writes the two README screenshots
(review screen and dashboard) to ``docs/``.

    python benchmarks/review_latency.py [--cases 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

from iesi_nlp.corpus import bundled_pool_dir
from iesi_nlp.project import Project
from iesi_nlp.registry import import_version
from iesi_nlp.review import NEXT_CASE_SHOWN_JS, app_environment, streamlit_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"


def start_app(folder: Path, model: Path) -> tuple[subprocess.Popen, str]:
    """The app on a fresh project in ``folder``: the bundled pool, served by a copy of ``model``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project = Project.create(folder / "project")
    project.add_files([bundled_pool_dir()], added_by="benchmark")
    import_version(project.models_dir, model, by="benchmark", reason="latency run")
    env = {**os.environ, **app_environment(project.root, retrain_every=100_000)}
    server = subprocess.Popen(
        streamlit_command("127.0.0.1", port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the app did not start")


#: Installed before the app loads: timestamps the click as the page receives it, and every
#: message the server sends (Streamlit talks over one WebSocket).
RECORD_FRAMES_JS = """
window.__frames = [];
document.addEventListener('click', () => { window.__clickEventAt = performance.now(); }, true);
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new NativeWebSocket(...args);
  socket.addEventListener('message', () => window.__frames.push(performance.now()));
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, NativeWebSocket);
"""

#: Wraps NEXT_CASE_SHOWN_JS to note, in the page's own clock, when it first held.
SHOWN_AT_JS = (
    "(old) => { const shown = (" + NEXT_CASE_SHOWN_JS + ")(old);"
    " if (shown) { window.__shownAt = performance.now(); } return shown; }"
)


def p90(values: list[float]) -> float:
    """The 90th percentile, as the value at that rank (no interpolation)."""
    return sorted(values)[int(0.9 * (len(values) - 1))]


def resident_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main() -> int:
    parser = argparse.ArgumentParser(description="review screen latency")
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_app(Path(tmp), args.model)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1440, "height": 1100})
                page.add_init_script(RECORD_FRAMES_JS)
                page.goto(url)
                page.get_by_label("Your name").fill("anna")
                page.get_by_role("button", name="Start reviewing").click()
                accept = page.get_by_role("button", name="Accept all")
                expect(accept).to_be_visible(timeout=300_000)  # first load computes the pool's suggestions
                main_area = page.get_by_test_id("stMain")
                page.wait_for_timeout(1000)
                DOCS.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS / "review-screen.png"), full_page=False)
                timings, in_page, last_messages = [], [], []
                # Streamlit's collection after every run is off (see streamlit_command): watch the memory.
                rss_before = resident_mb(server.pid)
                for _ in range(args.cases):
                    title = main_area.locator("h3").first.inner_text()
                    page.evaluate("() => { window.__frames = []; }")
                    started = time.perf_counter()
                    accept.click()
                    # Polled on every animation frame (Playwright's expect() backs off up to a second).
                    page.wait_for_function(SHOWN_AT_JS, arg=title, polling="raf", timeout=30_000)
                    timings.append((time.perf_counter() - started) * 1000)
                    # The same in the page's clock, from the click event; and to the run's last message.
                    frames, shown_at, clicked_at = page.evaluate(
                        "() => [window.__frames, window.__shownAt, window.__clickEventAt]"
                    )
                    in_page.append(shown_at - clicked_at)
                    before_shown = [f for f in frames if f <= shown_at]
                    if before_shown:
                        last_messages.append(max(before_shown) - clicked_at)
                rss_after = resident_mb(server.pid)
                page.get_by_role("link", name="Dashboard").click()
                expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=60_000)
                page.wait_for_timeout(1500)  # let the charts draw
                page.screenshot(path=str(DOCS / "dashboard.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    result = {
        "cases": len(timings),
        # From the click event in the page to the next case fully shown (the page's own clock).
        "from_click_event_median_ms": round(statistics.median(in_page), 1),
        "from_click_event_p90_ms": round(p90(in_page), 1),
        # The same, plus Playwright's own work before the click (scrolling, waiting until the
        # button is stable and enabled): from the benchmark's call of click().
        "median_ms": round(statistics.median(timings), 1),
        "p90_ms": round(p90(timings), 1),
        "max_ms": round(max(timings), 1),
        "all_ms": [round(t, 1) for t in timings],
        # Click to the run's last message, stamped on the page's main thread: it includes the
        # browser's work on the earlier messages, so it is not the server's time alone.
        "last_message_median_ms": round(statistics.median(last_messages), 1) if last_messages else None,
        "server_rss_mb_first_case": round(rss_before),
        "server_rss_mb_after_all": round(rss_after),
    }
    print(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "review_latency.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
