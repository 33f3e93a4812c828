"""Diffable notebooks: every course notebook has a text twin in notebooks/text/ that says the same (issue 11).

Reviewers read the twins' diffs (MyST Markdown, no outputs); ``python tools/nbtools.py pair`` rewrites them
from the notebooks, ``pair --from-text`` takes a twin's edits back into its notebook.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402


@pytest.mark.parametrize("notebook", nbtools.course_notebooks(), ids=lambda p: p.stem)
def test_the_text_twin_says_what_the_notebook_says(notebook):
    assert nbtools.text_twin(notebook).is_file(), f"no twin: run `python tools/nbtools.py pair {notebook}`"
    assert nbtools.pair_notebook(notebook, write=False) == "", (
        f"notebooks/text/{notebook.stem}.md differs from {notebook.name}: run `python tools/nbtools.py pair` "
        "after editing the notebook, or `python tools/nbtools.py pair --from-text` after editing the twin"
    )


def test_every_twin_belongs_to_a_notebook():
    stems = {path.stem for path in nbtools.course_notebooks()}
    assert {twin.stem for twin in nbtools.TEXT_DIR.glob("*.md")} <= stems


def test_an_edited_twin_goes_back_into_its_notebook_keeping_the_other_outputs(tmp_path):
    source = nbtools.course_notebooks()[0]
    notebook = tmp_path / source.name
    shutil.copy(source, notebook)
    stored = nbformat.read(notebook, as_version=4)
    text = nbtools.notebook_text(stored)
    first_code = next(c for c in stored.cells if c.cell_type == "code" and c.outputs)
    edited_code = next(c for c in stored.cells[stored.cells.index(first_code) + 1 :] if c.cell_type == "code")
    twin = tmp_path / f"{source.stem}.md"
    twin.write_text(text.replace(edited_code.source, edited_code.source + "\nprint('edited')", 1), encoding="utf-8")
    nbtools.notebook_from_text(twin, notebook)
    back = nbformat.read(notebook, as_version=4)
    assert [c.source for c in back.cells].count(edited_code.source + "\nprint('edited')") == 1
    assert next(c for c in back.cells if c.source == first_code.source).outputs == first_code.outputs
    assert nbtools.notebook_text(back) == twin.read_text(encoding="utf-8")
