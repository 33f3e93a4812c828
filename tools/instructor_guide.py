"""Keep the facts in docs/instructor_guide.md in step with the notebooks.

    python tools/instructor_guide.py            # refresh the generated blocks in the guide
    python tools/instructor_guide.py --check    # exit 1 if a block is stale or a notebook has no section

The guide has one section per notebook. Its objectives, estimated time, section list and exercise
answers come from the notebook itself, between ``<!-- generated NN -->`` and ``<!-- /generated NN -->``;
the key figure, the common misconceptions and the lesson plans are written by hand around them.
``tests/test_instructor_guide.py`` fails when a generated block is out of date.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student import BEGIN, course_notebooks, solution_source  # noqa: E402
from nbtools import ROOT  # noqa: E402

GUIDE = ROOT / "docs" / "instructor_guide.md"
_BLOCK = re.compile(r"<!-- generated (\d\d) -->\n.*?<!-- /generated \1 -->", re.DOTALL)


def _plan(nb: nbformat.NotebookNode) -> tuple[list[str], str]:
    text = next((c.source for c in nb.cells[:3] if "**Learning objectives**" in c.source), "")
    objectives = re.findall(r"^[-*] (.+)$", text.split("**Estimated time:**")[0], re.MULTILINE)
    minutes = re.search(r"\*\*Estimated time:\*\* (\d+) minutes", text)
    return objectives, minutes.group(1) if minutes else "?"


def _exercises(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(heading, solution code) for each exercise cell, under the nearest ``### Exercise`` heading."""
    found, heading = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = [line[4:].strip() for line in cell.source.splitlines() if line.startswith("### ")]
            heading = headings[-1] if headings else heading
        elif BEGIN in cell.source:
            found.append((heading, solution_source(cell.source)))
    return found


def generated_block(path: Path) -> str:
    """The generated part of a notebook's section: time, objectives, sections, exercise answers."""
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    objectives, minutes = _plan(nb)
    headings = [
        c.source.splitlines()[0][3:] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    sections = [h for h in headings if h[:1].isdigit()]  # the numbered ones: exercises and summary are always there
    lines = [
        f"<!-- generated {number} -->",
        f"*File:* [`notebooks/{path.name}`](../notebooks/{path.name}) · "
        f"*student version:* [`notebooks/student/{path.name}`](../notebooks/student/{path.name}) · "
        f"*estimated time:* {minutes} minutes",
        "",
        "**Objectives**",
        "",
    ]
    lines += [f"- {o}" for o in objectives]
    lines += ["", "**Sections:** " + " · ".join(sections), "", "**Exercise answers**", ""]
    for heading, code in _exercises(nb):
        lines += [f"*{heading}*", "", "```python", code, "```", ""]
    lines.append(f"<!-- /generated {number} -->")
    return "\n".join(lines)


def refresh(text: str, paths: list[Path]) -> tuple[str, list[str]]:
    """The guide with every generated block rebuilt; also the notebooks that have no block yet."""
    blocks = {p.name[:2]: generated_block(p) for p in paths}
    missing = [p.name for p in paths if f"<!-- generated {p.name[:2]} -->" not in text]
    return _BLOCK.sub(lambda m: blocks.get(m.group(1), m.group(0)), text), missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report a stale or missing section")
    args = parser.parse_args(argv)
    text = GUIDE.read_text()
    new, missing = refresh(text, course_notebooks())
    for name in missing:
        print(
            f"docs/instructor_guide.md has no section for {name}: add one with an empty "
            f"`<!-- generated {name[:2]} -->`…`<!-- /generated {name[:2]} -->` block and run this tool",
            file=sys.stderr,
        )
    if args.check:
        if new != text:
            print("docs/instructor_guide.md is out of date: run `python tools/instructor_guide.py`", file=sys.stderr)
        return 1 if new != text or missing else 0
    if new != text:
        tmp = GUIDE.with_suffix(".md.tmp")
        tmp.write_text(new)
        os.replace(tmp, GUIDE)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
