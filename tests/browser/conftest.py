"""A JupyterLab server and a headless Chromium for the real-browser tests.

Chromium is Debian's package (``/usr/bin/chromium``), driven by Python Playwright through
``executable_path``; Playwright's own browser download is not used. The server runs on 127.0.0.1
with a random token on a free port, in a temporary folder with its own settings, so the
notebooks in the repository are never touched (JupyterLab autosaves what it runs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_harness import LabServer, missing_browser_reason, running_lab


@pytest.fixture(scope="session", autouse=True)
def browser_available() -> None:
    """Skip, saying why, when Chromium or Playwright is missing; in CI (CI=true) that fails instead."""
    reason = missing_browser_reason()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 with a token, serving an empty temporary folder (tests copy notebooks in)."""
    with running_lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where screenshots go: $UNET_BROWSER_ARTEFACTS when set, else the test's temporary folder."""
    folder = Path(os.environ.get("UNET_BROWSER_ARTEFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(tmp_path: Path):
    """A page in a fresh headless Chromium with a new, empty profile."""
    from lab_harness import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()
