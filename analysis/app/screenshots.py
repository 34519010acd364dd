"""Screenshots of the three views for the README: ``python -m analysis.app.screenshots [OUT_DIR]``.

Serves the page, drives it in headless Chromium as a user would (teach: repair skill 2 and
half the clinicians trained; plan: two fewer therapists and 20% turnover; explore: a small
default run), and saves small palette PNGs (each well under 200 KB).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from analysis.app import browser as B

OUT = Path(__file__).resolve().parent / "screenshots"
SIZE = (1400, 1050)


def save(page, path: Path, colours: int = 96) -> Path:
    """A viewport screenshot, reduced to a small palette PNG."""
    from PIL import Image

    raw = path.with_suffix(".raw.png")
    page.screenshot(path=str(raw))
    Image.open(raw).convert("RGB").quantize(colours).save(path, optimize=True)
    raw.unlink()
    return path


def scroll_and_save(page, path: Path, scroll: int) -> Path:
    """Save the view once the run has finished, scrolled down ``scroll`` pixels to its results."""
    B.wait_idle(page)
    page.mouse.wheel(0, scroll)
    page.wait_for_timeout(500)
    return save(page, path)


def view(page, name: str) -> None:
    """Switch the sidebar's view radio."""
    page.locator('[data-testid="stRadio"] label', has_text=name).first.click()
    B.wait_idle(page)


def main(out: Path = OUT) -> list[Path]:
    """Take the three screenshots into ``out``."""
    from analysis.report import build_report
    from simulation.api import run

    out.mkdir(parents=True, exist_ok=True)
    done = []
    with tempfile.TemporaryDirectory() as tmp, B.serve() as url, B.browser(*SIZE) as page:
        run_dir = Path(tmp) / "run"
        run(["experiment=default", "run.replications=3", "run.progress=false"], out_dir=run_dir)
        build_report(run_dir)
        page.goto(url)
        page.get_by_text("Ruptures, repair and dropout").first.wait_for(timeout=120_000)
        B.wait_idle(page)
        B.move_slider(page, "Repair skill (log-odds of repairing a noticed rupture)", 4)
        B.move_slider(page, "Clinicians trained in rupture repair (%)", 5)
        B.press(page, "Run")
        B.metric_value(page, re.compile(r"^Dropout.*, your settings$"))
        done.append(scroll_and_save(page, out / "teach.png", 430))

        view(page, "Plan")
        posts = page.locator('input[aria-label="Posts: therapist"]').first
        posts.fill("8")
        posts.press("Enter")
        B.wait_idle(page)
        B.move_slider(page, "Staff turnover (% of clinicians leaving per year)", 4)
        B.wait_idle(page)
        B.press(page, "Run")
        page.get_by_text("Plan minus current").first.wait_for(timeout=600_000)
        done.append(scroll_and_save(page, out / "plan.png", 150))

        view(page, "Explore")
        box = page.locator('input[aria-label="Run directory"]').first
        box.fill(str(run_dir))
        box.press("Enter")
        B.wait_idle(page)
        page.get_by_role("tab", name="Figures").click()
        page.wait_for_timeout(1500)
        done.append(save(page, out / "explore.png"))
    return done


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p, f"{p.stat().st_size / 1024:.0f} KB")
