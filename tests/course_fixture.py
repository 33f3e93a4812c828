"""A small notebook in the course's standard shape, for testing the course tools without the real notebooks.

It follows CONTRIBUTING.md: title with badges, plan, setup cell, imports, a section with a figure
and a slider, two exercises with check cells and hints, summary and what's next.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from nbtools import badges_markdown, setup_cell_source  # noqa: E402

md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

WIDGET_SOURCE = """import ipywidgets as widgets

def output_size(size: int) -> str:
    return f"output size: {size - 4} px"

slider = widgets.IntSlider(value=64, min=16, max=128, step=1, description="input")
readout = widgets.HTML(output_size(slider.value))
slider.observe(lambda change: setattr(readout, "value", output_size(change["new"])), names="value")
widgets.VBox([slider, readout])"""


def course_notebook(stem: str = "98_fixture", widget: bool = True) -> nbformat.NotebookNode:
    """An unexecuted notebook named ``stem`` in the standard shape (two exercises, a figure, optionally a slider)."""
    number = stem[:2]
    cells = [
        md(
            f"# {number} · Fixture notebook\n\n{badges_markdown(stem)}\n\nA tiny notebook for testing the course tools."
        ),
        md(
            "**Learning objectives**\n\n- Compute a valid convolution's output size\n- Plot a curve\n"
            "- Double a number\n\n**Estimated time:** 5 minutes\n\n**Builds on:** notebook 00"
        ),
        code(setup_cell_source()),
        code("import matplotlib.pyplot as plt\n\nfrom unet_lib import checks"),
        md("## 1. A picture\n\nA valid 3×3 convolution shrinks the image by 2 pixels."),
        code("sizes = list(range(8, 17))\nplt.plot(sizes, [s - 2 for s in sizes])\nplt.show()"),
        code("# NBVAL_CHECK_OUTPUT\nprint(16 - 2)"),
    ]
    if widget:
        cells += [md("## 2. Explore\n\nMove the slider."), code(WIDGET_SOURCE)]
    cells += [
        md("## Exercises\n\n### Exercise 1 — double a number"),
        code(
            "# Exercise 1: your code goes between the markers\n"
            "def double(x: int) -> int:\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
        ),
        code(
            '# NBVAL_CHECK_OUTPUT\nresult, feedback = checks.attempt("double", double, 3)\n'
            'feedback if feedback is not None else checks.Feedback(result == 6, "double(3) gives 6")'
        ),
        md("<details><summary>Hint</summary>Multiply by two.</details>"),
        md("### Exercise 2 — a valid convolution"),
        code(
            "# Exercise 2: your code goes between the markers\n"
            "class Shrinker:\n    def size(self, n: int) -> int:\n"
            "        ### BEGIN SOLUTION\n        return n - 2\n        ### END SOLUTION"
        ),
        code(
            '# NBVAL_CHECK_OUTPUT\nresult, feedback = checks.attempt("Shrinker.size", Shrinker().size, 10)\n'
            "feedback if feedback is not None else "
            'checks.Feedback(result == 8, "a valid 3×3 convolution of 10 pixels gives 8")'
        ),
        md("## Summary\n\n- Valid convolutions shrink images.\n\n## What's next\n\n[00 · Welcome](00_welcome.ipynb)"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Run ``nb`` in ``folder`` with the current environment's python3 kernel; returns it executed.

    The kernel gets the inline plot backend as a learner has (the test run's ``MPLBACKEND=Agg`` would
    leave figures out of the stored outputs).
    """
    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute(env=env)
    return nb
