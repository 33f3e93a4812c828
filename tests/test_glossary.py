"""docs/glossary.md: every link to it from a notebook lands on a term, and every term is linked from a notebook."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"
COURSE = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
STUDENT = sorted(p for p in (ROOT / "notebooks" / "student").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
LINK = re.compile(r"\]\(([^)\s]*glossary\.md)(?:#([^)\s]*))?\)")


def anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown viewers) give a heading: lower case, punctuation dropped, - for spaces."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def terms() -> dict[str, str]:
    """``{anchor: term}`` for every ``## Term`` of the glossary."""
    headings = re.findall(r"^## (.+)$", GLOSSARY.read_text(), re.MULTILINE)
    return {anchor(h): h for h in headings}


def glossary_links(path: Path) -> list[tuple[str, str]]:
    """``(target file, anchor)`` of every glossary link in a notebook's markdown cells."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return [(target, fragment) for target, fragment in LINK.findall(text)]


def test_anchor_follows_github():
    assert anchor("Valid and same padding") == "valid-and-same-padding"
    assert anchor("Up-convolution") == "up-convolution"
    assert anchor("Dice and IoU") == "dice-and-iou"


def test_glossary_has_the_terms_a_learner_needs():
    needed_terms = ("logits", "feature-map", "valid-and-same-padding", "skip-connection", "receptive-field")
    needed_terms += ("rand-error",)
    for needed in needed_terms:
        assert needed in terms(), f"the glossary needs the term {needed!r}"


@pytest.mark.parametrize("path", COURSE + STUDENT, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_every_glossary_link_resolves(path):
    known = terms()
    links = glossary_links(path)
    if path in COURSE:
        assert links, f"{path.name} links no term to docs/glossary.md"
    for target, fragment in links:
        assert (path.parent / target).resolve() == GLOSSARY, f"{path.name}: {target} is not docs/glossary.md"
        assert fragment in known, f"{path.name}: docs/glossary.md has no term #{fragment}"


def test_every_term_is_linked_from_a_notebook():
    linked = {fragment for path in COURSE for _, fragment in glossary_links(path)}
    unlinked = [term for key, term in terms().items() if key not in linked]
    assert not unlinked, f"link these glossary terms from the notebook that first uses them: {unlinked}"


def test_the_glossary_links_to_notebooks_that_exist():
    targets = re.findall(r"\]\((\.\./notebooks/[^)#]+)\)", GLOSSARY.read_text())
    assert targets
    for target in targets:
        assert (GLOSSARY.parent / target).is_file(), f"docs/glossary.md links the missing {target}"
