"""index.html of a real gate run, opened in headless Chromium (Debian's ``chromium``, driven
by Playwright with ``executable_path``), offline: nothing fails, nothing is fetched, every
chart is drawn, the verdict and the readiness scorecard show without scrolling at 1366x768
and nothing overflows the page's width. The screenshots are kept in ``build/browser/``
(``MOONBASE_ARTIFACTS_DIR`` to put them elsewhere); with ``MOONBASE_README_PICTURE=1`` the
first screen is also written to ``docs/report.png``, the README's picture."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.plugin import require_component

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1366, "height": 768}
# headless and quiet: no GPU, no first-run screens, no background calls home
_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _chromium() -> str | None:
    return os.environ.get("MOONBASE_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def gate_page(smoke_gate: Any) -> Path:
    """The index.html of a real smoke gate (tests, coverage, load, chaos, the prober)."""
    done = smoke_gate.result
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return (smoke_gate.report_dir / "latest" / "index.html").resolve()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = _chromium()
    require_component("Chromium", chromium is not None, " (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_component("Playwright for Python", False, " (pip install -e '.[dev]')")
        raise
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=_FLAGS)
        yield launched
        launched.close()


def _artifacts() -> Path:
    out = Path(os.environ.get("MOONBASE_ARTIFACTS_DIR") or ROOT / "build" / "browser")
    out.mkdir(parents=True, exist_ok=True)
    return out


_CHARTS = """() => [...document.querySelectorAll("figure.chart svg")].map(svg => {
  const box = svg.getBoundingClientRect();
  const shapes = [...svg.querySelectorAll("path, rect, polyline, line, circle")]
    .filter(s => { const b = s.getBBox(); return b.width > 0 || b.height > 0; });
  const caption = svg.closest("figure").querySelector("figcaption");
  return {caption: caption ? caption.textContent.trim() : "(none)", width: box.width,
          height: box.height, drawn: shapes.length};
})"""


def test_the_report_opens_offline_clean_complete_and_fits(browser: Any, gate_page: Path) -> None:
    url = gate_page.as_uri()
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    requested: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        requested.append(r.request.url)
        r.continue_() if r.request.url == url else r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    out = _artifacts()
    page.screenshot(path=str(out / "report-1366x768.png"))
    page.screenshot(path=str(out / "report-full.png"), full_page=True)
    if os.environ.get("MOONBASE_README_PICTURE") == "1":
        page.screenshot(path=str(ROOT / "docs" / "report.png"))

    assert errors == []
    assert requested == [url]  # the page itself; nothing else is fetched, from anywhere

    charts = page.evaluate(_CHARTS)
    captions = {c["caption"] for c in charts}
    assert len(charts) >= 5, captions  # the timeline, resources, load and chaos at least
    empty = [c for c in charts if not (c["width"] > 0 and c["height"] > 0 and c["drawn"] > 0)]
    assert empty == []

    for element in ("#verdict", "#scorecard"):
        box = page.locator(element).bounding_box()
        assert box is not None, element
        assert page.locator(element).is_visible(), element
        inside = (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
        assert min(inside) >= 0, (element, box)
        assert inside[2] <= VIEWPORT["width"], (element, box)
        assert inside[3] <= VIEWPORT["height"], (element, box)  # seen without scrolling
    assert page.locator("#verdict").inner_text().strip().lower() == "pass"
    chips = page.locator("#scorecard .chip")
    assert chips.count() == 11  # a chip per row of the users' checklist

    overflow = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert overflow[0] <= overflow[1], f"the body is {overflow[0]} px wide in {overflow[1]} px"
    context.close()
