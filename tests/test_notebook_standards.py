"""Every course notebook has the standard shape of CONTRIBUTING.md and launches the same way everywhere.

Checked for each ``notebooks/NN_*.ipynb``: the title and the Colab/Binder badges built from the one
configured repository address, the plan (learning objectives, estimated time), the standard setup cell
(installs unet_lib on Colab only), at least two exercises with passing checks, the summary, a clean
executed-in-order store (no memory addresses or machine paths in outputs), and slide metadata that
presents as a sensible deck. The README course map opens every notebook with the same badges.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
import pytest
from course_fixture import course_notebook, execute

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BEGIN = "### BEGIN SOLUTION"
MACHINE_DETAILS = re.compile(
    r"(?<![\w/])(/work/|/home/|/tmp/|/root/|/Users/|/private/var/|[A-Z]:\\\\Users)|site-packages|"
    r" at 0x[0-9a-fA-F]{6,}"
)
"""Output text that differs from machine to machine: paths, memory addresses."""
MAX_PAGE_LINES = 60
"""A slide (or subslide) of several cells taller than this does not fit a projector."""


def markdown(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def output_text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return str(output.text)
    if output.output_type == "error":
        return "\n".join(output.traceback)
    data = output.get("data", {})
    return "\n".join(str(data[k]) for k in ("text/plain", "text/html", "text/markdown") if k in data)


def header_problems(nb: nbformat.NotebookNode, stem: str) -> list[str]:
    """Title, badges, plan and setup cell."""
    problems = []
    title = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    if not re.match(rf"# {stem[:2]} · \S", title):
        problems.append(f"the first cell must be the title `# {stem[:2]} · Title`")
    if nbtools.badges_markdown(stem) not in title:
        problems.append(f"the title cell lacks the badges of `python tools/nbtools.py header {stem}`")
    plan = next((s for s in markdown(nb)[:3] if "**Learning objectives**" in s), "")
    bullets = re.findall(r"^[-*] \S", plan.split("**Estimated time:**")[0], re.MULTILINE)
    if not 3 <= len(bullets) <= 5:
        problems.append(f"the plan cell needs **Learning objectives** with 3–5 bullets (found {len(bullets)})")
    if not re.search(r"\*\*Estimated time:\*\* \d+ minutes", plan):
        problems.append("the plan cell needs `**Estimated time:** N minutes`")
    if not stem.startswith("00") and "**Builds on:**" not in plan:
        problems.append("the plan cell needs `**Builds on:** notebook NN`")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or code[0].source != nbtools.setup_cell_source():
        problems.append("the first code cell must be exactly tools/nbtools.setup_cell_source()")
    return problems


def body_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Exercises with checks, summary and what's next."""
    problems = []
    text = "\n".join(markdown(nb))
    if not re.search(r"^## Exercises", text, re.MULTILINE):
        problems.append("missing the `## Exercises` section")
    exercises = re.findall(r"^### Exercise \d+", text, re.MULTILINE)
    if len(exercises) < 2:
        problems.append(f"needs at least two `### Exercise N — …` (found {len(exercises)})")
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        if BEGIN in cell.source:
            check = code[i + 1] if i + 1 < len(code) else None
            stored = "".join(output_text(o) for o in check.outputs) if check else ""
            if check is None or not check.source.startswith("# NBVAL_CHECK_OUTPUT") or "✅ Correct!" not in stored:
                problems.append(
                    f"exercise cell {cell.source.splitlines()[0]!r} needs a check cell with a stored ✅ Correct!"
                )
    for source in markdown(nb):
        if source.lstrip().startswith("<details>") and source.rstrip().split("</details>")[-1].strip():
            problems.append(
                f"the cell {source.strip().splitlines()[0][:40]!r}… holds more than its <details> block: "
                "start what follows "
                "(the next exercise, the summary) in a cell of its own, so that it gets its slide and the student "
                "version's solution lands right after the hint"
            )
    if not re.search(r"^## Summary\s*\n+(.*\n)*?[-*] \S", text, re.MULTILINE):
        problems.append("missing `## Summary` with bullets")
    if not re.search(r"^## What's next", text, re.MULTILINE):
        problems.append("missing `## What's next`")
    return problems


def store_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Executed top to bottom, outputs present, nothing machine-specific in them."""
    problems = []
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    if None in counts:
        problems.append("some code cells were never run: store the notebook executed (tools/nbtools.py execute)")
    elif counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts are not 1, 2, 3, … in order: {counts}")
    if not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        problems.append("no outputs stored")
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        for output in cell.outputs:
            if output.output_type == "error":
                problems.append(f"an error is stored in cell {cell.source.splitlines()[0]!r}")
            if "image/svg+xml" in output.get("data", {}):
                problems.append("SVG output (random ids make nbval fail): use PNG")
            found = MACHINE_DETAILS.search(output_text(output))
            if found:
                problems.append(f"machine-specific output {found.group(0)!r} in cell {cell.source.splitlines()[0]!r}")
    return problems


def pages(nb: nbformat.NotebookNode) -> list[list[nbformat.NotebookNode]]:
    """The deck as a presenter sees it: cells grouped into slides and subslides (skipped cells left out)."""
    deck: list[list[nbformat.NotebookNode]] = []
    for cell in nb.cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if kind in ("skip", "notes"):
            continue
        if kind in ("slide", "subslide") or not deck:
            deck.append([])
        deck[-1].append(cell)
    return deck


def slide_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Slide metadata on every cell, applied with the current rules, giving a deck that fits a projector."""
    problems = []
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    if None in kinds or not set(kinds) <= set(nbtools.SLIDE_TYPES):
        return ["cells without slide metadata: run `python tools/nbtools.py slides` (execute does it too)"]
    fresh = copy.deepcopy(nb)
    if nbtools.apply_slides(fresh):
        problems.append("slide metadata differs from the current rules: run `python tools/nbtools.py slides`")
    if kinds[0] != "slide":
        problems.append("the title cell must open the deck as a slide")
    for cell, kind in zip(nb.cells, kinds):
        first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        if cell.cell_type == "code" and cell.source == nbtools.setup_cell_source() and kind != "skip":
            problems.append("the setup cell must be skipped in the slides")
        if cell.cell_type == "markdown" and first.startswith("## ") and kind != "slide":
            problems.append(f"section heading {first!r} must start a slide")
        if cell.cell_type == "markdown" and first.startswith("### ") and kind != "subslide":
            problems.append(f"heading {first!r} must start a subslide")
    sections = sum(1 for s in markdown(nb) if s.lstrip().startswith("## "))
    slides = kinds.count("slide")
    if slides != sections + 1:
        problems.append(f"{slides} slides for {sections} sections: expected the title plus one per section")
    for page in pages(nb):
        lines = sum(nbtools._page_lines(c) for c in page)
        if len(page) > 1 and lines > MAX_PAGE_LINES:
            problems.append(f"the slide starting {page[0].source.splitlines()[0][:50]!r} has {lines} lines")
    return problems


def course_map_rows(readme: str) -> dict[str, str]:
    """README course-map table rows keyed by the notebook stem they link to."""
    block = readme.split("<!-- course-map -->")[-1].split("<!-- /course-map -->")[0]
    rows = {}
    for line in block.splitlines():
        match = re.search(r"\(notebooks/(\d\d_[\w-]+)\.ipynb\)", line)
        if match:
            rows[match.group(1)] = line
    return rows


# -- the real notebooks -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request) -> tuple[str, nbformat.NotebookNode]:
    return request.param.stem, nbformat.read(request.param, as_version=4)


def test_header(notebook):
    stem, nb = notebook
    assert header_problems(nb, stem) == []


def test_exercises_and_summary(notebook):
    _, nb = notebook
    assert body_problems(nb) == []


def test_stored_executed_and_clean(notebook):
    _, nb = notebook
    assert store_problems(nb) == []


def test_slides(notebook):
    _, nb = notebook
    assert slide_problems(nb) == []


def test_whats_next_links_the_next_notebook(notebook):
    stem, nb = notebook
    later = [p for p in NOTEBOOKS if p.stem > stem]
    if not later:
        pytest.skip(f"{stem} is the last notebook so far")
    assert later[0].name.startswith(f"{int(stem[:2]) + 1:02d}_"), f"no notebook {int(stem[:2]) + 1:02d} after {stem}"
    next_section = next((s for s in markdown(nb) if "## What's next" in s), "")
    assert f"({later[0].name})" in next_section, f"`## What's next` should link to {later[0].name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_course_map_opens_each_notebook_with_badges(path):
    rows = course_map_rows((ROOT / "README.md").read_text())
    assert path.stem in rows, f"README's course map has no row for {path.name}"
    assert nbtools.badges_markdown(path.stem) in rows[path.stem], (
        f"README's course-map row for {path.name} needs the badges of `python tools/nbtools.py header {path.stem}`"
    )


def test_badges_come_from_the_one_repository_address():
    url = nbtools.repository_url()
    badges = nbtools.badges_markdown("01_x")
    assert url.startswith("https://github.com/") and nbtools.github_slug() in badges
    assert f"colab.research.google.com/github/{nbtools.github_slug()}/blob/main/notebooks/01_x.ipynb" in badges
    assert f"mybinder.org/v2/gh/{nbtools.github_slug()}/main?labpath=notebooks%2F01_x.ipynb" in badges
    assert f"git+{url}@main" in nbtools.setup_cell_source()


# -- the checks themselves, on a small notebook in the standard shape ---------------------------


@pytest.fixture(scope="module")
def executed_fixture(tmp_path_factory) -> nbformat.NotebookNode:
    nb = execute(course_notebook("98_fixture"), tmp_path_factory.mktemp("fixture"))
    nbtools.apply_slides(nb)
    return nb


def test_checks_accept_a_standard_notebook(executed_fixture):
    nb = executed_fixture
    assert header_problems(nb, "98_fixture") == []
    assert body_problems(nb) == []
    assert store_problems(nb) == []
    assert slide_problems(nb) == []


def test_checks_reject_typical_mistakes(executed_fixture):
    nb = copy.deepcopy(executed_fixture)
    assert header_problems(nb, "97_other"), "badges for another notebook"
    nb.cells[2].source = nb.cells[2].source.replace("seed=0", "seed=1")
    nb.cells[1].source = nb.cells[1].source.replace("**Estimated time:** 5 minutes", "")
    assert len(header_problems(nb, "98_fixture")) == 2
    nb.cells[5].execution_count = None
    nb.cells[6].outputs = [nbformat.v4.new_output("stream", text="<Net object at 0x7f3a2b1c9d00> /tmp/x\n")]
    problems = store_problems(nb)
    assert any("never run" in p for p in problems) and any("0x7f3a2b1c9d00" in p for p in problems)
    exercises = [i for i, c in enumerate(nb.cells) if BEGIN in c.source]
    nb.cells[exercises[0] + 1].outputs = [nbformat.v4.new_output("stream", text="❌ Not yet: off by one\n")]
    assert any("✅ Correct!" in p for p in body_problems(nb))
    hint = next(c for c in nb.cells if c.source.startswith("<details>"))
    hint.source += "\n\n### Exercise 3 — squeezed in"
    assert any("holds more than its <details> block" in p for p in body_problems(nb))


def test_slide_checks_reject_missing_or_stale_metadata(executed_fixture):
    nb = copy.deepcopy(executed_fixture)
    heading = next(c for c in nb.cells if c.source.startswith("## 1."))
    heading.metadata["slideshow"] = {"slide_type": "-"}
    assert any("must start a slide" in p for p in slide_problems(nb))
    del nb.cells[3].metadata["slideshow"]
    assert slide_problems(nb) == [
        "cells without slide metadata: run `python tools/nbtools.py slides` (execute does it too)"
    ]


def test_readme_rows_are_found():
    rows = course_map_rows("<!-- course-map -->\n| 01 | [A](notebooks/01_a.ipynb) | x |\n<!-- /course-map -->")
    assert set(rows) == {"01_a"}


def test_slides_command_sets_metadata_and_leaves_outputs(executed_fixture, tmp_path):
    nb = copy.deepcopy(executed_fixture)
    for cell in nb.cells:
        cell.metadata.pop("slideshow", None)
    path = tmp_path / "98_fixture.ipynb"
    nbformat.write(nb, path)
    assert nbtools.write_slides(path) is True
    assert nbtools.write_slides(path) is False, "applying the rules twice changes nothing"
    stored = nbformat.read(path, as_version=4)
    assert slide_problems(stored) == []
    assert [c.get("outputs") for c in stored.cells] == [c.get("outputs") for c in executed_fixture.cells]
