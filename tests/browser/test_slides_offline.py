"""An offline slide deck (tools/slides.py, ``make slides``) in headless Chromium with the network cut.

nbconvert's decks load reveal.js and require.js from CDNs and stay raw HTML without internet. This opens the deck
of a real course notebook from a ``file://`` URL with every other request aborted and the browser offline, and
checks that reveal.js started (``Reveal.isReady()``), shows the title slide and moves to the next slide, and that
the deck asked the network for nothing. A screenshot of the first slide is saved (``artefacts`` fixture).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "03_transposed_convolution.ipynb"

pytestmark = pytest.mark.browser

REVEAL = "() => new Promise(done => require(['lib/reveal.js/dist/reveal.js'], Reveal => done({"
REVEAL += "ready: Reveal.isReady(), slide: Reveal.getIndices().h, slides: Reveal.getTotalSlides()})))"


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    if shutil.which("npm") is None and not slides.installed() and not os.environ.get("CI"):
        pytest.skip("reveal.js is not installed for offline slides and npm is missing to fetch it (make setup)")
    return slides.build([NOTEBOOK], tmp_path_factory.mktemp("decks"))[0]


def test_a_deck_starts_reveal_js_with_the_network_cut(deck, page, artefacts):
    asked: list[str] = []

    def offline(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            asked.append(url)
            route.abort()

    page.context.route("**/*", offline)
    page.context.set_offline(True)
    page.goto(deck.as_uri())
    page.wait_for_selector(".reveal.ready", timeout=30_000)
    state = page.evaluate(REVEAL)
    assert state["ready"] and state["slide"] == 0 and state["slides"] > 5, state
    assert page.locator("section.present h1").first.text_content().strip() == "03 · Transposed convolution¶"
    screenshot = artefacts / "slides_03_offline.png"
    page.screenshot(path=str(screenshot))
    print(f"screenshot: {screenshot}")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => !document.querySelector('section.present h1')", timeout=10_000)
    assert page.evaluate(REVEAL)["slide"] == 1
    assert asked == [], f"the deck asked the network for {asked}"
