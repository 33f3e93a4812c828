"""Make the student version of every course notebook: exercises become stubs, solutions fold away.

    python tools/make_student.py            # write notebooks/student/NN_*.ipynb from notebooks/NN_*.ipynb
    python tools/make_student.py --check    # exit 1 if a student notebook is missing or out of date

The full notebooks are the one source. In a student notebook every block between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by ``raise NotImplementedError("Your turn: …")``
at the same indentation; the checkers (``unet_lib.checks.attempt``) turn that into a friendly
"your turn" message, so "Run all" keeps going. After each exercise's check cell (and its hint) a
collapsed ``<details><summary>Show solution</summary>`` cell holds the solution. Outputs are cleared.
``tests/test_student.py`` regenerates everything and fails if a committed file differs, so the two
versions never drift.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import NOTEBOOKS, STAMP_KEY, apply_slides, badges_markdown  # noqa: E402

STUDENT_DIR = NOTEBOOKS / "student"
COURSE_GLOB = "[0-9][0-9]_*.ipynb"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+(\w+)")
_EXERCISE = re.compile(r"Exercise\s+(\d+)")
_LINK = re.compile(r"(\]\(|src=\")(?!https?:|mailto:|#|/|data:)([^)\"\s]+)")
_COURSE_NOTEBOOK = re.compile(r"^\d\d_[\w-]+\.ipynb(#.*)?$")
_DROPPED_CELL_METADATA = ("execution", "collapsed", "scrolled")
MARKER_NOTE = "your code goes between the markers"
STUB_NOTE = "replace the `raise NotImplementedError` line with your code"


class SolutionMarkerError(ValueError):
    """A cell's solution markers do not pair up; the message names the cell and says how to fix it."""


def _qualified_name(lines: list[str], begin: int) -> str | None:
    """``Class.method`` or ``function`` that encloses line ``begin`` (None at the top level)."""
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    names: list[str] = []
    for line in reversed(lines[:begin]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < indent:
            names.append(match.group(3))
            indent = len(match.group(1))
    return ".".join(reversed(names)) or None


def _exercise_label(source: str, heading: str | None) -> str:
    """ "Exercise N" from the cell's first line or the exercise heading above it ("" when neither says)."""
    for text in (source.splitlines()[0] if source else "", heading or ""):
        match = _EXERCISE.search(text)
        if match:
            return f"Exercise {match.group(1)}"
    return ""


def stub_source(source: str, exercise: str = "") -> str:
    """Replace each solution block by ``raise NotImplementedError("Your turn: …")``, same indentation."""
    lines = source.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != BEGIN:
            if lines[i].strip() == END:
                raise SolutionMarkerError(f"{END!r} without {BEGIN!r} in:\n{source}")
            out.append(lines[i])
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() in (BEGIN, END)), None)
        if end is None or lines[end].strip() != END:
            raise SolutionMarkerError(f"{BEGIN!r} needs a matching {END!r} before the next block in:\n{source}")
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        name = _qualified_name(lines, i)
        what = f"complete `{name}`" if name else "write your code here"
        where = f" ({exercise})" if exercise else ""
        out.append(f'{indent}raise NotImplementedError("Your turn: {what}{where}, then run the check cell below.")')
        i = end + 1
    if out and MARKER_NOTE in out[0]:  # there are no markers left to speak of
        out[0] = out[0].replace(MARKER_NOTE, STUB_NOTE)
    return "\n".join(out)


def solution_source(source: str) -> str:
    """The full solution as the learner should read it: the cell without its markers or the note about them."""
    lines = [line for line in source.splitlines() if line.strip() not in (BEGIN, END)]
    if lines and MARKER_NOTE in lines[0]:
        lines[0] = lines[0].split(":")[0]
    return "\n".join(lines)


def solution_cell(source: str, cell_id: str | None) -> nbformat.NotebookNode:
    body = (
        "<details><summary>Show solution</summary>\n\n"
        "Try it yourself first: the check above tells you what is still wrong.\n\n"
        f"```python\n{solution_source(source)}\n```\n\n</details>"
    )
    cell = nbformat.v4.new_markdown_cell(body)
    if cell_id is None:
        cell.pop("id", None)
    else:
        cell["id"] = f"{cell_id[:55]}-solution"
    return cell


def _split_hint(cell: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """Cut what follows a hint's ``</details>`` (say, the next exercise's heading) into a cell of its own.

    The solution goes right after the hint; without the cut it would land under the next heading.
    """
    head, closing, rest = cell.source.partition("</details>")
    if not closing or not rest.strip():
        return None
    cell.source = head + closing
    after = nbformat.v4.new_markdown_cell(rest.strip())
    if "id" in cell:
        after["id"] = f"{cell['id'][:58]}-rest"
    else:
        after.pop("id", None)
    return after


def _relink(markdown: str, siblings: set[str]) -> str:
    """Relative links one folder deeper (student/), except links to sibling course notebooks."""

    def fix(match: re.Match[str]) -> str:
        target = match.group(2)
        if _COURSE_NOTEBOOK.match(target) and target.split("#")[0] in siblings:
            return match.group(0)
        return f"{match.group(1)}../{target}"

    return _LINK.sub(fix, markdown)


def _student_title(title: str, stem: str) -> str:
    """The title cell with badges that open the student version, and a pointer to the full one."""
    full = badges_markdown(stem)
    student = full.replace(f"notebooks/{stem}.ipynb", f"notebooks/student/{stem}.ipynb").replace(
        f"notebooks%2F{stem}.ipynb", f"notebooks%2Fstudent%2F{stem}.ipynb"
    )
    note = (
        f"\n\n*Student version: the exercises are yours to fill in. "
        f"The full version with solutions is [`{stem}.ipynb`](../{stem}.ipynb).*"
    )
    if full in title:
        return title.replace(full, student) + note
    return title + note


def make_student(nb: nbformat.NotebookNode, stem: str, siblings: set[str] | None = None) -> nbformat.NotebookNode:
    """The student version of notebook ``stem`` (the full notebook ``nb`` is left untouched)."""
    siblings = siblings if siblings is not None else set()
    full = copy.deepcopy(nb)
    cells: list[nbformat.NotebookNode] = []
    pending: list[tuple[str, str | None]] = []  # solutions waiting for their check cell
    insert_after_hint = False
    heading: str | None = None
    for index, cell in enumerate(full.cells):
        if insert_after_hint and not (cell.cell_type == "markdown" and cell.source.lstrip().startswith("<details>")):
            cells.extend(solution_cell(src, cid) for src, cid in pending)
            pending, insert_after_hint = [], False
        if cell.cell_type == "markdown":
            headings = [line for line in cell.source.splitlines() if line.startswith("### ")]
            heading = headings[-1] if headings else heading
            cell.source = _relink(cell.source, siblings)
            if index == 0:
                cell.source = _student_title(cell.source, stem)
            rest = _split_hint(cell) if insert_after_hint else None
            cells.append(cell)
            if insert_after_hint:  # the hint stays between the check and the solution
                cells.extend(solution_cell(src, cid) for src, cid in pending)
                pending, insert_after_hint = [], False
            if rest is not None:
                cells.append(rest)
            continue
        for key in _DROPPED_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if BEGIN in cell.source:
                if pending:  # two exercise cells with no check between: keep each solution with its cell
                    cells.extend(solution_cell(src, cid) for src, cid in pending)
                pending = [(cell.source, cell.get("id"))]
                cell.source = stub_source(cell.source, _exercise_label(cell.source, heading))
                cells.append(cell)
                continue
            cells.append(cell)
            if pending:
                insert_after_hint = True
            continue
        cells.append(cell)
    cells.extend(solution_cell(src, cid) for src, cid in pending)
    full.cells = cells
    full.metadata.pop("widgets", None)  # widget state belongs to stored outputs, which are cleared
    full.metadata.pop(STAMP_KEY, None)  # so is what the outputs were computed against
    apply_slides(full)
    nbformat.validate(full)
    return full


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob(COURSE_GLOB))


def render(path: Path, siblings: set[str]) -> str:
    """The exact text of the student notebook for the full notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    return nbformat.writes(make_student(nb, path.stem, siblings)) + "\n"


def build(source_dir: Path = NOTEBOOKS, out_dir: Path = STUDENT_DIR) -> dict[str, str]:
    """File name → text of every student notebook that ``source_dir`` produces."""
    paths = course_notebooks(source_dir)
    siblings = {p.name for p in paths}
    return {p.name: render(p, siblings) for p in paths}


def stale(source_dir: Path = NOTEBOOKS, out_dir: Path = STUDENT_DIR) -> list[str]:
    """Student notebooks that are missing, differ from a fresh build, or have no full version."""
    wanted = build(source_dir, out_dir)
    have = {p.name for p in course_notebooks(out_dir)}
    problems = [n for n, text in wanted.items() if not (out_dir / n).is_file() or (out_dir / n).read_text() != text]
    return problems + sorted(have - set(wanted))


def write(source_dir: Path = NOTEBOOKS, out_dir: Path = STUDENT_DIR) -> list[str]:
    """Write every student notebook atomically and delete orphans; returns the names written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = build(source_dir, out_dir)
    for name, text in wanted.items():
        target = out_dir / name
        if target.is_file() and target.read_text() == text:
            continue
        tmp = target.with_suffix(".ipynb.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
    for orphan in set(p.name for p in course_notebooks(out_dir)) - set(wanted):
        (out_dir / orphan).unlink()
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report student notebooks that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for name in problems:
            print(f"out of date: notebooks/student/{name} (run `python tools/make_student.py`)", file=sys.stderr)
        return 1 if problems else 0
    for name in write():
        print(f"notebooks/student/{name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
