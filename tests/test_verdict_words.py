"""No hand-written verdicts: a judgement of measured numbers is printed by the cell that measures (issue 17).

Words such as "better", "slower" or "within noise" in a notebook's markdown are claims that the numbers beside
them may contradict on another processor, precision or seed. Each occurrence in a markdown cell must either go
(the code prints the verdict with ``unet_lib.verdicts``) or sit in a paragraph marked as a fact that no run can
change, with its reason:

    ... overlaps unevenly and favours checkerboard artefacts. <!-- fact: arithmetic of the overlap, section 2 -->

The marker covers the paragraph it is in (text between blank lines). Code spans, code blocks and quotations
marked as such are text too: a quotation of the paper needs a marker saying so. CONTRIBUTING.md, "Writing a
verdict", says how to print one instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

VERDICT_WORDS = re.compile(
    r"\b(better|worse|pays? off|paid off|closes|close (?:the |a )?gaps?|beats?|beaten|favou?rs?|favou?red|"
    r"beyond (?:the )?(?:seed )?noise|within (?:the )?(?:seed )?noise|faster|slower|outperforms?|"
    r"improves?|improvement|wins)\b",
    re.IGNORECASE,
)
"""Words that judge measured numbers."""

FACT = re.compile(r"<!--\s*fact:\s*(?P<reason>[^-]\S.*?)\s*-->", re.DOTALL)
"""``<!-- fact: why no run can change this -->``: the reason must be there, and say something."""


def without_code(text: str) -> str:
    """Markdown without code blocks and code spans (identifiers such as ``better_threshold`` are no prose)."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def unmarked_verdicts(markdown: str) -> list[str]:
    """The verdict words of a markdown cell that stand in a paragraph without a fact marker, in context."""
    found = []
    for paragraph in re.split(r"\n\s*\n", markdown):
        reasons = [m.group("reason") for m in FACT.finditer(paragraph)]
        if any(len(reason.split()) >= 3 for reason in reasons):
            continue
        prose = without_code(FACT.sub("", re.sub(r"<!--(?!\s*fact:).*?-->", "", paragraph, flags=re.DOTALL)))
        for match in VERDICT_WORDS.finditer(prose):
            start = max(0, match.start() - 50)
            found.append(" ".join(prose[start : match.end() + 30].split()))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_hand_written_verdicts_in_the_markdown(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    found = [hit for cell in nb.cells if cell.cell_type == "markdown" for hit in unmarked_verdicts(cell.source)]
    assert not found, (
        f"{path.name}: verdict words in markdown. Print the verdict from the numbers (unet_lib.verdicts), or mark a "
        f"fact no run can change with <!-- fact: reason --> in the paragraph (CONTRIBUTING.md, 'Writing a "
        f"verdict'):\n  " + "\n  ".join(found)
    )


def test_the_lint_finds_verdicts_and_accepts_marked_facts() -> None:
    assert unmarked_verdicts("Four rotations close the gaps that one view opens.") != []
    assert unmarked_verdicts("The chosen threshold is better than 0.5 on held-out slices.") != []
    assert unmarked_verdicts("Within the seed noise, depth 3 is slower.") != []
    assert unmarked_verdicts("It beat the best earlier method. <!-- fact: the paper's reported 2015 result -->") == []
    assert unmarked_verdicts("It is faster. <!-- fact: -->") != []  # a marker needs its reason
    assert unmarked_verdicts("It is faster. <!-- fact: yes -->") != []  # … and a reason of a few words
    assert unmarked_verdicts("Call `better_of(a, b)`:\n\n```python\nworse = 1\n```") == []
    marked = "A is faster. <!-- fact: a 3×3 kernel has 9 weights -->\n\nB is slower."
    assert unmarked_verdicts(marked) == ["A is faster. B is slower."[len("A is faster. ") :]]
