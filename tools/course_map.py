"""Write the README's course map from the notebooks themselves.

    python tools/course_map.py          # rewrite the block between <!-- course-map --> markers
    python tools/course_map.py --check  # exit 1 if README.md is out of date (tests/test_course_map.py)

Titles and minutes come from each notebook's title cell and plan cell, so the README can
never promise a different time than the notebook does.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import NOTEBOOKS, ROOT, badges_markdown  # noqa: E402

README = ROOT / "README.md"
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


def course_map() -> str:
    rows = ["| # | notebook | topic | minutes | open in |", "|---|---|---|---|---|"]
    total = 0
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        number = path.name[:2]
        title, minutes = notebook_facts(path)
        total += minutes
        rows.append(
            f"| {number} | [{title}](notebooks/{path.name}) | {TOPICS.get(number, '')} | {minutes} "
            f"| {badges_markdown(path.stem)} |"
        )
    rows.append(f"| | **whole course** | | **{total}** | |")
    return "\n".join(rows)


def updated_readme() -> str:
    text = README.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{course_map()}\n{END}{after}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = parser.parse_args()
    new = updated_readme()
    if args.check:
        if new != README.read_text():
            sys.exit("README.md's course map is out of date: run `python tools/course_map.py`")
        return
    README.write_text(new)


if __name__ == "__main__":
    main()
