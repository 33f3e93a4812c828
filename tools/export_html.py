"""Static HTML of the whole course, for learners who only want to read: ``make html`` → ``site/``.

    python tools/export_html.py                      # every notebooks/NN_*.ipynb → site/NN_*.html + site/index.html
    python tools/export_html.py --out /tmp/site notebooks/01_double_convolution.ipynb

The notebooks are stored executed (the full learner run), so their figures and printed results are
exported as they are: nothing is re-run. Figures are embedded in the pages (PNG data URIs), links
between notebooks point at the exported pages, and each page gets previous / index / next links.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instructor_guide import bullets  # noqa: E402
from nbtools import NOTEBOOKS, ROOT  # noqa: E402

COURSE_TITLE = "U-Net from Scratch"
_NOTEBOOK_LINK = re.compile(r'href="(\d\d_[\w-]+)\.ipynb(#[^"]*)?"')
_BODY = re.compile(r"<body[^>]*>")


@dataclass
class Page:
    """One exported notebook: where it came from, where it goes, and what the index says about it."""

    source: Path
    title: str
    minutes: str
    objectives: list[str]

    @property
    def name(self) -> str:
        return f"{self.source.stem}.html"


def describe(path: Path, nb: nbformat.NotebookNode) -> Page:
    """Title, estimated time and learning objectives, read from the notebook's first cells."""
    text = "\n".join(c.source for c in nb.cells[:3] if c.cell_type == "markdown")
    title = re.search(r"^# (.+)$", text, re.MULTILINE)
    minutes = re.search(r"\*\*Estimated time:\*\* (\d+) minutes", text)
    plan = (
        text.split("**Learning objectives**")[-1].split("**Estimated time:**")[0]
        if "**Learning objectives**" in text
        else ""
    )
    objectives = bullets(plan)  # whole, also those that run over two lines
    return Page(path, title.group(1).strip() if title else path.stem, minutes.group(1) if minutes else "", objectives)


def _nav(pages: list[Page], index: int) -> str:
    links = []
    if index > 0:
        links.append(f'<a href="{pages[index - 1].name}">← {html.escape(pages[index - 1].title)}</a>')
    links.append('<a href="index.html">Course index</a>')
    if index + 1 < len(pages):
        links.append(f'<a href="{pages[index + 1].name}">{html.escape(pages[index + 1].title)} →</a>')
    return (
        '<nav class="course-nav" style="font-family: sans-serif; padding: 0.6em 1em; border-bottom: 1px solid #ccc;'
        ' display: flex; justify-content: space-between; gap: 1em">'
        + "".join(f"<span>{a}</span>" for a in links)
        + "</nav>"
    )


def notebook_html(nb: nbformat.NotebookNode, pages: list[Page], index: int, exported: set[str]) -> str:
    """One page: JupyterLab's look, figures embedded, course links rewritten, navigation on top and bottom."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": pages[index].title}})

    def relink(match: re.Match[str]) -> str:
        stem, anchor = match.group(1), match.group(2) or ""
        return f'href="{stem}.html{anchor}"' if stem in exported else match.group(0)

    body = _NOTEBOOK_LINK.sub(relink, body)
    nav = _nav(pages, index)
    body = _BODY.sub(lambda m: m.group(0) + nav, body, count=1)
    return body.replace("</body>", nav + "</body>", 1)


def _inline(markdown: str) -> str:
    """A line of markdown as HTML: escaped, with `code` spans (all that objectives use)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(markdown))


def index_html(pages: list[Page]) -> str:
    """The course map: one entry per notebook with its time and learning objectives."""
    items = []
    for page in pages:
        objectives = "".join(f"<li>{_inline(o)}</li>" for o in page.objectives)
        minutes = f" <small>({page.minutes} minutes)</small>" if page.minutes else ""
        items.append(f'<li><a href="{page.name}">{html.escape(page.title)}</a>{minutes}<ul>{objectives}</ul></li>')
    total = sum(int(p.minutes) for p in pages if p.minutes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{COURSE_TITLE}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em;line-height:1.5}"
        "li{margin:0.4em 0}</style></head><body>"
        f"<h1>{COURSE_TITLE}</h1>"
        "<p>Build the U-Net of Ronneberger, Fischer &amp; Brox (2015) piece by piece in PyTorch, train it on real "
        "electron-microscopy images and evaluate it the way the paper did. These pages are the executed notebooks, "
        "to read; open them in JupyterLab, Binder or Colab to run and change the code.</p>"
        f"<p>{len(pages)} notebooks, about {total} minutes in all.</p>"
        f'<ol start="0">{"".join(items)}</ol></body></html>\n'
    )


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def export(paths: list[Path], out: Path) -> list[Path]:
    """Write one page per notebook and the index into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    notebooks = [nbformat.read(p, as_version=4) for p in paths]
    pages = [describe(p, nb) for p, nb in zip(paths, notebooks)]
    exported = {p.stem for p in paths}
    written = []
    for index, nb in enumerate(notebooks):
        target = out / pages[index].name
        _write(target, notebook_html(nb, pages, index, exported))
        written.append(target)
    _write(out / "index.html", index_html(pages))
    return written + [out / "index.html"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks to export (default: the whole course)")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (default: site/)")
    args = parser.parse_args(argv)
    paths = sorted(args.paths) or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        sys.exit("no notebooks found in notebooks/")
    for path in export(paths, args.out):
        print(path, file=sys.stderr)


if __name__ == "__main__":
    main()
