"""Serve the page on a free localhost port and drive it in Debian's headless Chromium (tests, screenshots).

Playwright drives the system's ``/usr/bin/chromium`` (package ``chromium``); it never
downloads a browser of its own (no ``playwright install``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

MAIN = Path(__file__).resolve().parent / "main.py"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> Optional[str]:
    """Debian's Chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def free_port() -> int:
    """A localhost TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(port: Optional[int] = None, timeout: float = 90.0, log: Optional[Path] = None) -> Iterator[str]:
    """Run ``streamlit run analysis/app/main.py`` on 127.0.0.1 and yield its URL; stop it afterwards."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(MAIN), "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(MAIN.parents[2]))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {proc.returncode} before serving {url}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


@contextlib.contextmanager
def browser(width: int = 1400, height: int = 1000) -> Iterator["object"]:
    """A Playwright page in headless Chromium (the system's browser)."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = b.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            b.close()


def wait_idle(page, timeout_ms: int = 180_000) -> None:
    """Wait until the app has finished its script run (Streamlit's status widget goes away)."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)


def metric_value(page, label, timeout_ms: int = 180_000) -> str:
    """The value shown by the ``st.metric`` whose label is ``label`` (a string, or a compiled regex)."""
    m = page.locator('[data-testid="stMetric"]', has=page.get_by_text(label, exact=isinstance(label, str)))
    m.first.wait_for(timeout=timeout_ms)
    return m.first.locator('[data-testid="stMetricValue"]').inner_text().strip()


def move_slider(page, label: str, steps: int) -> str:
    """Move the slider labelled ``label`` by ``steps`` arrow-key presses; its new value."""
    thumb = page.locator(f'[data-testid="stSlider"] input[type="range"][aria-label="{label}"]').first
    thumb.focus()
    for _ in range(abs(steps)):
        thumb.press("ArrowRight" if steps > 0 else "ArrowLeft")
    thumb.blur()  # Streamlit sends a slider's value when it is released
    page.wait_for_timeout(500)
    return thumb.input_value()


def press(page, label: str) -> None:
    """Click the button whose text is ``label``."""
    page.get_by_role("button", name=label, exact=True).first.click()
