"""In a real browser: open a course notebook with a widget in JupyterLab, run all, move the slider.

This catches what no kernel-side test can: a widget that does not render (missing front-end
extension, ipywidgets version mismatch), a notebook that fails under "Run all" in the browser, a
slider whose callback never updates the page. The notebook is notebook 04's valid-size calculator
or 07's weight-map explorer when they exist, else a small fixture notebook with a slider.
On failure a screenshot is saved (the path is in the error message).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from lab_harness import LabServer, copy_notebook

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ["04_center_crop_and_skips.ipynb", "07_weighted_loss.ipynb"]
RUN_ALL_S = 75

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# JavaScript run in the page. window.jupyterapp exists because the server runs with expose_app_in_browser.
NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext.session) return null;
  const cells = panel.content.model.cells;
  let code = 0, done = 0;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code' || !cell.sharedModel.getSource().trim()) continue;
    code += 1;
    if (cell.executionCount !== null) done += 1;
    for (const output of cell.outputs.toJSON()) {
      if (output.output_type === 'error') errors.push(output.ename + ': ' + output.evalue);
    }
  }
  const kernel = panel.sessionContext.session.kernel;
  return {code, done, errors, status: kernel ? kernel.status : 'none'};
}"""

# What the learner sees change: every output's text and pictures, without the sliders' own numbers.
DISPLAYED_OUTPUT = """() => {
  const parts = [];
  for (const area of document.querySelectorAll('.jp-Notebook .jp-OutputArea')) {
    const copy = area.cloneNode(true);
    copy.querySelectorAll('.widget-readout, .widget-slider, input').forEach(el => el.remove());
    parts.push(copy.innerText);
    for (const img of area.querySelectorAll('img')) parts.push(img.src.length + ':' + img.src.slice(-64));
  }
  return parts.join('\\n');
}"""


def widget_notebook(tmp_path: Path) -> Path:
    """The first candidate course notebook that has a slider, else the fixture notebook."""
    for name in CANDIDATES:
        path = ROOT / "notebooks" / name
        if path.is_file() and "Slider" in path.read_text():
            return path
    from course_fixture import course_notebook

    path = tmp_path / "98_fixture.ipynb"
    nbformat.write(course_notebook("98_fixture"), path)
    return path


def wait_for(page, script: str, condition, timeout_s: float, what: str):
    """Poll ``script`` in the page until ``condition(value)`` holds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = page.evaluate(script)
        if condition(value):
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout_s:.0f} s (last state: {value})")


def run_all(page) -> dict:
    """Clear the stored outputs, run all cells, wait until every code cell has run."""
    wait_for(
        page, NOTEBOOK_STATE, lambda s: s is not None and s["status"] == "idle", 45, "the kernel did not become idle"
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    wait_for(page, NOTEBOOK_STATE, lambda s: s["done"] == 0, 10, "the outputs were not cleared")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return wait_for(
        page,
        NOTEBOOK_STATE,
        lambda s: s["errors"] or (s["done"] == s["code"] and s["status"] == "idle"),
        RUN_ALL_S,
        "Run all did not finish",
    )


def drag_slider(page) -> None:
    """Drag the first slider's handle three quarters of the way along, as a learner would."""
    slider = page.locator(".jp-Notebook .widget-slider .noUi-target").first
    slider.scroll_into_view_if_needed()
    handle = page.locator(".jp-Notebook .widget-slider .noUi-handle").first
    box, track = handle.bounding_box(), slider.bounding_box()
    assert box and track, "the slider is not visible"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + 0.75 * track["width"], box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()


def test_slider_changes_the_displayed_output(lab_server: LabServer, page, artefacts: Path, tmp_path: Path):
    notebook = widget_notebook(tmp_path)
    name = copy_notebook(notebook, lab_server)
    shot = artefacts / f"{Path(name).stem}-failure.png"
    try:
        page.goto(lab_server.notebook_url(name))
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
        state = run_all(page)
        assert not state["errors"], f"Run all in JupyterLab raised: {state['errors']}"
        page.wait_for_selector(".jp-Notebook .widget-slider .noUi-handle")
        readout = page.locator(".jp-Notebook .widget-slider .widget-readout").first
        value_before, shown_before = readout.inner_text(), page.evaluate(DISPLAYED_OUTPUT)
        drag_slider(page)
        wait_for(
            page,
            DISPLAYED_OUTPUT,
            lambda shown: shown != shown_before,
            20,
            "the output did not change after the slider moved",
        )
        assert readout.inner_text() != value_before, "the slider's value did not change"
        wait_for(
            page,
            NOTEBOOK_STATE,
            lambda s: s["status"] == "idle",
            20,
            "the kernel did not settle after the slider moved",
        )
        if os.environ.get("UNET_BROWSER_ARTEFACTS"):
            page.screenshot(path=str(artefacts / f"{Path(name).stem}-after-slider.png"), full_page=False)
    except Exception as error:
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{error}\nscreenshot: {shot}") from error


def test_notebook_presents_as_a_rise_deck(lab_server: LabServer, page, artefacts: Path):
    """JupyterLab's RISE extension turns the slide metadata into a reveal.js deck: one column per section."""
    notebook = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[:2][-1:] or []
    if not notebook:
        pytest.skip("no course notebooks yet")
    name = copy_notebook(notebook[0], lab_server)
    nb = nbformat.read(notebook[0], as_version=4)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    shot = artefacts / f"{Path(name).stem}-rise-failure.png"
    try:
        page.goto(f"{lab_server.url}/rise/{name}?token={lab_server.token}")
        columns = wait_for(
            page,
            "() => document.querySelectorAll('.reveal .slides > section').length",
            lambda n: n == kinds.count("slide"),
            45,
            f"RISE did not show {kinds.count('slide')} slides",
        )
        pages = page.evaluate("() => document.querySelectorAll('.reveal .slides > section > section').length")
        assert pages == kinds.count("slide") + kinds.count("subslide"), f"{pages} pages for the slides and subslides"
        assert columns > 3
        if os.environ.get("UNET_BROWSER_ARTEFACTS"):  # a look at the first section's slide
            page.wait_for_timeout(3000)  # RISE binds its keys once the deck has settled
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(artefacts / f"{Path(name).stem}-rise-slide-2.png"))
    except Exception as error:
        page.screenshot(path=str(shot))
        raise AssertionError(f"{error}\nscreenshot: {shot}") from error
