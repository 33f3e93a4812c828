"""The student notebooks: generated from the full ones, never drifting, and "Run all" works on them.

``tools/make_student.py`` turns every solution block into ``raise NotImplementedError("Your turn: …")``;
the checkers answer with "your turn" instead of a traceback. The student notebooks that train nothing
(00–07) are executed here with ``UNET_FAST=1`` to prove it (nbval does not collect ``notebooks/student``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from course_fixture import course_notebook, execute

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

FULL = make_student.course_notebooks()
STUDENT = make_student.STUDENT_DIR
CHEAP = [p for p in FULL if p.name[:2] <= "07"]
"""Notebooks that train nothing (00–07, a few seconds each under UNET_FAST=1): run in the student version under test."""


def test_student_notebooks_are_regenerated_identically():
    """Every full notebook has a committed student version, byte for byte what the script makes now."""
    problems = make_student.stale()
    assert not problems, f"out of date or orphaned in notebooks/student: {problems}; run `python tools/make_student.py`"


@pytest.mark.parametrize("path", FULL, ids=lambda p: p.name)
def test_no_solution_survives_in_the_student_version(path):
    student = nbformat.read(STUDENT / path.name, as_version=4)
    full = nbformat.read(path, as_version=4)
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        "student notebooks are stored without outputs"
    )
    assert not any(make_student.BEGIN in c.source or make_student.END in c.source for c in code)
    exercises = sum(make_student.BEGIN in c.source for c in full.cells if c.cell_type == "code")
    stubs = sum('raise NotImplementedError("Your turn:' in c.source for c in code)
    solutions = sum(c.source.startswith("<details><summary>Show solution</summary>") for c in student.cells)
    assert stubs >= exercises and solutions == exercises


def test_stub_keeps_indentation_and_names_the_function():
    source = "def f(x):\n    y = x + 1\n    ### BEGIN SOLUTION\n    return y\n    ### END SOLUTION\n"
    stub = make_student.stub_source(source, "Exercise 3")
    assert stub.splitlines() == [
        "def f(x):",
        "    y = x + 1",
        '    raise NotImplementedError("Your turn: complete `f` (Exercise 3), then run the check cell below.")',
    ]
    assert make_student.solution_source(source) == "def f(x):\n    y = x + 1\n    return y"


def test_stub_in_a_method_names_the_class():
    source = (
        "class Net:\n    def __init__(self):\n"
        "        ### BEGIN SOLUTION\n        self.a = 1\n        ### END SOLUTION\n"
    )
    assert "complete `Net.__init__`" in make_student.stub_source(source)


@pytest.mark.parametrize(
    "source", ["### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"]
)
def test_unpaired_markers_are_an_error(source):
    with pytest.raises(make_student.SolutionMarkerError):
        make_student.stub_source(source)


def test_fixture_student_version_has_stubs_solutions_and_student_badges():
    student = make_student.make_student(course_notebook("98_fixture"), "98_fixture", {"00_welcome.ipynb"})
    sources = [c.source for c in student.cells]
    assert "notebooks/student/98_fixture.ipynb" in sources[0] and "notebooks%2Fstudent%2F98_fixture.ipynb" in sources[0]
    assert "[`98_fixture.ipynb`](../98_fixture.ipynb)" in sources[0]
    hint = next(i for i, s in enumerate(sources) if s.startswith("<details><summary>Hint"))
    assert sources[hint + 1].startswith("<details><summary>Show solution</summary>"), "solution comes after the hint"
    assert "return 2 * x" in sources[hint + 1] and "return 2 * x" not in "".join(sources[: hint + 1])
    assert sources[-1].endswith("(00_welcome.ipynb)"), "links to sibling notebooks stay as they are"


def test_solution_lands_after_the_hint_even_when_the_next_heading_shares_its_cell():
    nb = course_notebook("98_fixture")
    hint = next(i for i, c in enumerate(nb.cells) if c.source.startswith("<details><summary>Hint"))
    nb.cells[hint].source += "\n\n" + nb.cells[hint + 1].source  # "### Exercise 2 — …" squeezed into the hint
    del nb.cells[hint + 1]
    sources = [c.source for c in make_student.make_student(nb, "98_fixture", set()).cells]
    hint = next(i for i, s in enumerate(sources) if s.startswith("<details><summary>Hint"))
    assert sources[hint].endswith("</details>") and "return 2 * x" in sources[hint + 1]
    assert sources[hint + 2].startswith("### Exercise 2")


def test_relative_links_to_other_files_go_one_folder_up():
    relinked = make_student._relink("[guide](../docs/x.md) ![fig](figures/a.png) [web](https://x.org) [s](#top)", set())
    assert relinked == "[guide](../../docs/x.md) ![fig](../figures/a.png) [web](https://x.org) [s](#top)"


def test_fixture_student_version_runs_all_with_your_turn(tmp_path):
    """Run-all on a student notebook goes to the end; each check says "your turn"."""
    student = make_student.make_student(course_notebook("98_fixture", widget=False), "98_fixture", set())
    executed = execute(student, tmp_path)
    checks = [c for c in executed.cells if c.cell_type == "code" and "checks.attempt" in c.source]
    assert len(checks) == 2
    assert all("your turn" in _text(c) for c in checks), [_text(c) for c in checks]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("path", CHEAP, ids=lambda p: p.name)
def test_student_notebook_runs_all_under_fast_mode(path, monkeypatch):
    if os.environ.get("UNET_CI_LATER"):
        pytest.skip("CI runs the student notebooks offline, beside the Colab-like job (.ci/offline)")
    """The committed student notebook runs top to bottom; every exercise check answers "your turn"."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("UNET_FAST", "1")
    nb = nbformat.read(STUDENT / path.name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(STUDENT)}})
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(
            f"Run all stops in the student version of {path.name}: a cell after an exercise probably uses its result. "
            f"Make that cell independent of the learner's answer (e.g. use the unet_lib version).\n{error}"
        )
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and 'raise NotImplementedError("Your turn:' in cell.source:
            check = next(c for c in nb.cells[index + 1 :] if c.cell_type == "code")
            assert "your turn" in _text(check).lower(), (
                f"{path.name}: the check after cell {index} says {_text(check)!r}"
            )
