"""Write the course map of the README and of notebook 00 from the notebooks themselves.

    python tools/course_map.py          # rewrite the blocks between <!-- course-map --> markers
    python tools/course_map.py --check  # exit 1 if README.md or notebook 00 is out of date (tests/test_course_map.py)

Titles and minutes come from each notebook's title cell and plan cell, so the README can
never promise a different time than the notebook does; every numbered notebook gets a row, so a new
notebook appears in both maps the next time this runs (and the test fails until it has).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import NOTEBOOKS, ROOT, badges_markdown, pair_notebook  # noqa: E402

README = ROOT / "README.md"
WELCOME = NOTEBOOKS / "00_welcome.ipynb"
START, END = "<!-- course-map -->", "<!-- /course-map -->"

TOPICS = {
    "00": "environment check, how the course works, the finished U-Net at a glance",
    "01": "valid 3×3 convolution, ReLU, `double_conv`",
    "02": "2×2 max pooling, the contracting path 572 → 28",
    "03": "the up-convolution by hand, checkerboard artefacts, `up_conv`",
    "04": "`center_crop`, skip connections, valid input sizes, the receptive field",
    "05": "`UNetModel`: 23 convolutions, 31,030,658 parameters",
    "06": "ISBI 2012 EM slices, overlap tiles, elastic deformation",
    "07": "softmax cross-entropy, the paper's weight map, Dice",
    "08": "the training loop, a real run on EM tiles",
    "09": "overlap-tile prediction, the paper's metrics",
    "10": "an ablation of the variants, the challenge's V_Rand and V_Info, DDP with `torchrun`, GPUs",
    "11": "your own folder: mask formats, touching nuclei, objects rather than pixels, pixel size",
    "12": "overfit one tile first; six broken setups by their symptoms, named by you and by the doctor, fixed",
}


def notebook_facts(path: Path) -> tuple[str, int]:
    """(title, estimated minutes) read from a notebook's first cells."""
    cells = nbformat.read(path, as_version=4).cells
    title = re.match(r"#\s*\d\d\s*·\s*(.+)", cells[0].source).group(1).strip()
    minutes = next(int(m.group(1)) for c in cells[:4] if (m := re.search(r"Estimated time:\*\*\s*(\d+)", c.source)))
    return title, minutes


def first_objective(path: Path) -> str:
    """The first learning objective, lower-cased: the topic of a notebook that ``TOPICS`` does not list yet."""
    cells = nbformat.read(path, as_version=4).cells
    for cell in cells[:4]:
        if match := re.search(r"^- (.+)$", cell.source, flags=re.MULTILINE):
            text = match.group(1).rstrip(".")
            return text[0].lower() + text[1:]
    return ""


def topic(path: Path) -> str:
    return TOPICS.get(path.name[:2]) or first_objective(path)


def notebooks() -> list[Path]:
    """Every numbered course notebook, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def welcome_map() -> str:
    """The table of notebook 00's section "The course map": every notebook, linked beside it."""
    rows = ["| notebook | what you build and learn |", "|---|---|"]
    for path in notebooks():
        title, _ = notebook_facts(path)
        here = " (you are here)" if path.name == WELCOME.name else ""
        rows.append(f"| [{path.name[:2]} · {title}]({path.name}) | {topic(path)}{here} |")
    return "\n".join(rows)


def course_map() -> str:
    rows = ["| # | notebook | topic | minutes | open in |", "|---|---|---|---|---|"]
    total = 0
    for path in notebooks():
        number = path.name[:2]
        title, minutes = notebook_facts(path)
        total += minutes
        rows.append(
            f"| {number} | [{title}](notebooks/{path.name}) | {topic(path)} | {minutes} "
            f"| {badges_markdown(path.stem)} |"
        )
    rows.append(f"| | **whole course** | | **{total}** | |")
    return "\n".join(rows)


def replaced(text: str, table: str) -> str:
    """``text`` with the block between the course-map markers replaced by ``table``."""
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{table}\n{END}{after}"


def updated_readme() -> str:
    return replaced(README.read_text(), course_map())


def welcome_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The markdown cell of notebook 00 that holds the course-map markers."""
    return next(cell for cell in nb.cells if cell.cell_type == "markdown" and START in cell.source)


def stale() -> list[str]:
    """The files whose course map differs from a fresh one."""
    late = ["README.md"] if updated_readme() != README.read_text() else []
    cell = welcome_cell(nbformat.read(WELCOME, as_version=4))
    return late + ([f"notebooks/{WELCOME.name}"] if replaced(cell.source, welcome_map()) != cell.source else [])


def write() -> None:
    README.write_text(updated_readme())
    nb = nbformat.read(WELCOME, as_version=4)
    cell = welcome_cell(nb)
    fresh = replaced(cell.source, welcome_map())
    if fresh != cell.source:
        cell.source = fresh
        nbformat.write(nb, WELCOME)
        pair_notebook(WELCOME)  # the text twin follows the notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the course maps are up to date")
    args = parser.parse_args()
    if args.check:
        if late := stale():
            sys.exit(f"the course map of {' and '.join(late)} is out of date: run `python tools/course_map.py`")
        return
    write()


if __name__ == "__main__":
    main()
