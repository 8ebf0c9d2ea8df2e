"""The HTML report on the demo organisation: every section, escaped GitHub text, and a clean render in Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from github import Auth, Github

from tasks.report_html import render_html, write_report

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "output"
SECTIONS = ("health", "budget", "epics", "forecast", "stuck", "ready", "outcomes", "plan")
HOSTILE = 'Epic: <img src=x onerror="console.error(\'xss\')"><script>console.error("xss")</script> & "quotes"'
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def demo_report(sandbox_server, tmp_path_factory, prefect_harness):
    """The demo organisation, an epic title made hostile, snapshotted, planned, forecast; the report written."""
    from flows.snapshot import snapshot
    from sandbox.seed import reset_demo
    from tests.conftest import SANDBOX_NOW, make_settings

    state = sandbox_server.state
    state.set_faults()
    reset_demo(state, seed=7, now=SANDBOX_NOW)
    gh = Github(base_url=sandbox_server.url, auth=Auth.Token(sandbox_server.token), seconds_between_writes=None)
    gh.get_repo("dappcore/core").get_issue(299).edit(title=HOSTILE)

    folder = tmp_path_factory.mktemp("report")
    os.environ.pop("GITHUB_TOKEN", None)
    settings = make_settings(sandbox_server.url, folder / "orchestrator.duckdb")
    cwd = os.getcwd()
    os.chdir(folder)  # plans/ and reports/forecast/ of the sibling flows go here
    try:
        snapshot(settings)
        try:
            from flows.plan import plan_flow
        except ImportError:
            plan_flow = None
        if plan_flow is not None:
            plan_flow(settings=settings)
        try:
            from flows.forecast import forecast_flow
        except ImportError:
            forecast_flow = None
        if forecast_flow is not None:
            forecast_flow(settings=settings, trials=500)
        began = time.monotonic()
        path, data = write_report(settings, folder / "reports" / "report.html")
        elapsed = time.monotonic() - began
    finally:
        os.chdir(cwd)
    print(f"\nreport written in {elapsed:.1f} s ({path.stat().st_size // 1024} KiB): {path}")
    return path, data, settings


def test_report_shows_every_section_with_data_from_the_demo_org(demo_report):
    path, data, _ = demo_report
    html = path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'data-section="{section}"' in html, section
    assert data.last_run and data.last_run["status"] == "complete"
    assert data.last_run["requests"] > 0 and data.last_run["rate_limit_remaining"] is not None
    assert not data.epics.empty and not data.stuck.empty and not data.ready.empty and not data.by_day.empty
    assert html.count("data:image/png;base64,") >= 2  # budget by day and burn-up at least
    assert "<script" not in html.lower().replace("&lt;script", "")  # no script of ours, none of GitHub's
    assert "http://" not in html.replace('href="http://', "")  # nothing to fetch: self-contained
    if data.plan is not None:
        assert data.plan["plan_id"] in html


def test_github_text_is_escaped(demo_report):
    path, _, _ = demo_report
    html = path.read_text(encoding="utf-8")
    assert "<img src=x" not in html and '<script>console.error("xss")' not in html
    assert "&lt;img src=x onerror=" in html
    assert "&lt;script&gt;" in html


def test_render_html_escapes_every_table_cell(demo_report):
    _, data, _ = demo_report
    hostile = data.stuck.copy()
    hostile.loc[hostile.index[0], "title"] = "</td><b>bold</b>"
    hostile.loc[hostile.index[0], "html_url"] = 'javascript:alert(1)" onmouseover="x'
    data.stuck = hostile
    html = render_html(data, {})
    assert "</td><b>bold</b>" not in html and "&lt;/td&gt;&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'onmouseover="x' not in html


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=20)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.05))))
            except TimeoutError:
                break

    def close(self) -> None:
        self.ws.close()


def console_errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            errors.append("uncaught: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_report_renders_in_headless_chromium_without_console_errors(demo_report):
    binary = chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    path, _, _ = demo_report
    OUTPUT.mkdir(parents=True, exist_ok=True)
    screenshot = OUTPUT / "report.png"
    port = free_port()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        browser = subprocess.Popen(
            [
                binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "--remote-allow-origins=*",
                "--window-size=1280,2000", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            pages = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not pages:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
                        pages = [t for t in json.load(answer) if t.get("type") == "page"]
                except OSError:
                    time.sleep(0.2)
            assert pages, "chromium's DevTools endpoint never answered"
            tools = DevTools(pages[0]["webSocketDebuggerUrl"])
            try:
                for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                    tools.call(domain)
                tools.call("Page.navigate", url=path.resolve().as_uri())
                tools.wait_for("Page.loadEventFired")
                tools.drain(1.0)  # late console messages and image decoding errors
                layout = tools.call(
                    "Runtime.evaluate",
                    returnByValue=True,
                    expression="""JSON.stringify({
                        sections: Array.from(document.querySelectorAll('section[data-section]')).map(
                            s => [s.dataset.section, Math.round(s.getBoundingClientRect().height)]),
                        images: Array.from(document.images).map(i => [i.alt, i.naturalWidth]),
                        height: document.documentElement.scrollHeight,
                        injected: document.querySelectorAll('img[src="x"], script').length
                    })""",
                )
                shown = json.loads(layout["result"]["value"])
                shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                errors = console_errors(tools.events)
            finally:
                tools.close()
        finally:
            browser.terminate()
            try:
                browser.wait(timeout=15)
            except subprocess.TimeoutExpired:
                browser.kill()
    elapsed = time.monotonic() - began
    print(f"\nchromium render in {elapsed:.1f} s, page height {shown['height']} px; screenshot: {screenshot}")
    assert not errors, errors
    assert [name for name, _ in shown["sections"]] == list(SECTIONS)
    assert all(height > 40 for _, height in shown["sections"]), shown["sections"]
    assert shown["images"] and all(width > 0 for _, width in shown["images"]), shown["images"]
    assert shown["injected"] == 0
    assert screenshot.stat().st_size > 10_000


def test_burnup_draws_the_demo_epics_with_weeks_of_history_finished_and_in_progress(demo_report):
    import pandas as pd

    from tasks.charts import burnup_epics

    _, data, _ = demo_report
    chosen = burnup_epics(data.burnup, data.epics)
    state = {(r.repo, int(r.epic)): bool(r.is_open) for r in data.epics.itertuples()}
    assert {state[key] for key in chosen} == {True, False}  # in progress and finished
    for repo, epic in chosen:
        children = data.burnup[(data.burnup["repo"] == repo) & (data.burnup["epic"] == epic)]
        times = pd.concat([pd.to_datetime(children["created_at"]), pd.to_datetime(children["closed_at"])]).dropna()
        assert times.max() - times.min() > pd.Timedelta(days=1), (repo, epic)
