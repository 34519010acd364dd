"""The page in a real browser: headless Chromium (Debian's package) driven by Playwright.

Starts ``streamlit run analysis/app/main.py`` on a free localhost port, opens the teach
view, moves the repair-skill slider, presses Run and reads the dropout figure off the page.
Skips, saying why, only where Chromium or Playwright is missing (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import re

import pytest

from analysis.app import browser as B

REPAIR = "Repair skill (log-odds of repairing a noticed rupture)"


def _skip_reason() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (it is in the test extra: pip install -e '.[test]')"
    if B.chromium_path() is None:
        return "Debian's chromium is not installed and could not be (.ci/run runs: apt-get install -y chromium)"
    return ""


pytestmark = pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or "ok")


def test_browser_moves_a_slider_runs_and_reads_dropout(tmp_path):
    with B.serve(log=tmp_path / "streamlit.log") as url, B.browser() as page:
        page.goto(url)
        page.get_by_text("Ruptures, repair and dropout").first.wait_for(timeout=120_000)
        B.wait_idle(page)
        assert B.move_slider(page, REPAIR, 4) == "2"  # 0 -> 2 in steps of 0.5
        B.press(page, "Run")
        usual = B.metric_value(page, re.compile(r"^Dropout.*, usual care$"))
        yours = B.metric_value(page, re.compile(r"^Dropout.*, your settings$"))
        for v in (usual, yours):
            assert re.fullmatch(r"\d{1,3}\.\d%", v), v
        diff = B.metric_value(page, re.compile(r"^Dropout.*: difference$"))
        assert re.fullmatch(r"[+-]\d+\.\d pp", diff), diff
        # The run used the moved slider (the page states its settings), and better repair lowers dropout.
        page.get_by_text(re.compile(r"repair skill 2, 0% trained")).first.wait_for(timeout=10_000)
        assert float(yours[:-1]) < float(usual[:-1])
        assert page.locator('[data-testid="stException"]').count() == 0
