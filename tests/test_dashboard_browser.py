"""`computesim dash` in a real browser: the server starts offline on 127.0.0.1, headless
Chromium (the system's, driven by Playwright) clicks Step four times and finds "month 4";
the screenshot is kept in results/test-artefacts/dashboard.png."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image as mpimg
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = ROOT / "results" / "test-artefacts"

playwright_api = pytest.importorskip("playwright.sync_api", reason="extra `dash` not installed")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.25)
    raise AssertionError(f"the server did not listen on port {port} within {timeout} s")


@pytest.fixture
def server(tmp_path: Path):
    """`computesim dash` on a 14-month baseline, at a free port; stopped after the test."""
    scenario = tmp_path / "short.toml"
    scenario.write_text(
        f'name = "short"\nbase = "{(ROOT / "experiments" / "baseline.toml").as_posix()}"\n'
        '[overrides]\n"run.months" = 14\n'
    )
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    command = [sys.executable, "-m", "sim", "dash", str(scenario)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc, timeout=90)
        yield f"http://127.0.0.1:{port}/"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()
        print((tmp_path / "server.log").read_text()[-3000:])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_step_four_times_in_headless_chromium(server: str) -> None:
    browser_path = chromium()
    if browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    outside: list[str] = []

    def offline(route) -> None:
        """Only the dashboard's own server may be reached (the test runs offline)."""
        url = route.request.url
        if url.startswith(server) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "dashboard.png"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_path, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.route("**/*", offline)
            page.goto(server, wait_until="domcontentloaded", timeout=90_000)
            step = page.get_by_role("button", name="Step", exact=True)
            step.wait_for(timeout=90_000)
            page.get_by_text("month 0 of 14").wait_for(timeout=60_000)
            for month in range(1, 5):
                step.click()
                page.get_by_text(f"month {month} of 14").wait_for(timeout=60_000)
            page.get_by_role("img").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)  # let the figure of month 4 arrive
            page.screenshot(path=str(shot), full_page=True)
            assert "month 4 of 14" in page.inner_text("body")
        finally:
            browser.close()
    image = mpimg.imread(shot)
    assert image.shape[0] >= 900 and image.std() > 0.05
    assert not outside, f"the page asked for files outside its server: {outside}"
