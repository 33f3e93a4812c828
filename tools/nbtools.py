"""Maintainer tools for the course notebooks: the standard header, execution in place, library sync.

    python tools/nbtools.py execute notebooks/01_double_convolution.ipynb [...]
    python tools/nbtools.py header 01_double_convolution     # print the standard first cells
    python tools/nbtools.py slides [notebooks/NN_x.ipynb ...]  # set slide metadata (execute does it too)
    python tools/nbtools.py sync [--check]                   # rewrite `#| unet_lib.X` cells from the library
    python tools/nbtools.py pair [--check]                   # write the text twins notebooks/text/NN_x.md
    python tools/nbtools.py pair --from-text notebooks/text/NN_x.md   # take edits of a twin into its notebook

Notebooks are stored executed top to bottom (nbval compares against the stored outputs),
so after editing a notebook run ``execute`` on it and commit the result.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import inspect
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BRANCH = "main"


def course_notebooks() -> list[Path]:
    """The full course notebooks ``notebooks/NN_*.ipynb`` in order (the student versions are generated)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def repository_url() -> str:
    """The one configured repository address (pyproject ``[project.urls] Repository``)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


def github_slug() -> str:
    return repository_url().removeprefix("https://github.com/")


def badges_markdown(stem: str) -> str:
    """Colab and Binder badges for ``notebooks/<stem>.ipynb``, built from the repository address."""
    slug = github_slug()
    colab = f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/notebooks/{stem}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{slug}/{BRANCH}?labpath=notebooks%2F{stem}.ipynb"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def setup_cell_source() -> str:
    """The first code cell of every notebook: installs unet_lib on Colab only, then seeds and picks the device.

    On Colab, pip adds only what Colab lacks (unet_lib, torchinfo): the course's version floors are ones that
    Colab's preinstalled packages already meet, so nothing Colab ships is upgraded and no restart is needed.
    ``UNET_INSTALL_SOURCE`` points the install at another source, e.g. a local checkout (the Colab-like test).
    The install runs ``python -m pip`` through ``!``, not ``%pip``: IPython 7 (Colab's) ends every ``%pip`` with
    "Note: you may need to restart the kernel", a restart nobody needs here (tools/colab_env.py checks both).
    """
    return (
        "# Setup. On Colab this first installs the course library and keeps Colab's own packages\n"
        "# (torch, ipywidgets, …); elsewhere the course environment already has it.\n"
        "import os\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    source = os.environ.get("UNET_INSTALL_SOURCE", "git+{repository_url()}@{BRANCH}")\n'
        '    !"{sys.executable}" -m pip install -q "{source}"\n'
        "\n"
        "from unet_lib import runtime\n"
        "\n"
        "device = runtime.setup_notebook(seed=0)"
    )


def execute(path: Path, timeout: int = 900) -> float:
    """Run a notebook top to bottom in its own folder and store the outputs; returns seconds taken."""
    from nbclient import NotebookClient

    env_data = ROOT.parent / "shared" / "data"
    if "UNET_DATA_DIR" not in os.environ and env_data.is_dir():
        os.environ["UNET_DATA_DIR"] = str(env_data)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    apply_slides(nb)
    nbformat.write(nb, path)
    if path.parent.resolve() == NOTEBOOKS:
        pair_notebook(path)
    return seconds


# -- lecture mode: slide metadata (issue 5) ---------------------------------------------------
# JupyterLab's RISE extension (jupyterlab_rise) and `jupyter nbconvert --to slides` read
# cell.metadata.slideshow.slide_type. `execute` applies these rules on every save, so no
# notebook can lose its slides to an editor or a cleaner that strips metadata.

SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
PAGE_LINES = 40
"""Lines of source and output that fit on one slide; longer stretches of prose continue on a subslide."""


def _first_line(source: str) -> str:
    stripped = source.strip()
    return stripped.splitlines()[0] if stripped else ""


def _page_lines(cell: nbformat.NotebookNode) -> int:
    """How much room a cell takes on a slide: its source lines plus its outputs (a figure counts 15).

    A ``<details>`` cell (hint, solution) counts as the one line it shows until it is opened.
    """
    if cell.cell_type == "markdown" and cell.source.lstrip().startswith("<details>"):
        return 1
    lines = len(cell.source.splitlines())
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data or "image/jpeg" in data:
            lines += 15
        else:
            text = output.get("text") or data.get("text/plain") or ""
            lines += min(len(str(text).splitlines()), 15)
    return lines


def slide_type(cell: nbformat.NotebookNode, index: int, page_lines: int, group_lines: int) -> str:
    """The slide type a cell gets; ``page_lines`` is how full the current slide already is.

    Title: a slide. ``##`` section headings start a slide, ``###`` headings (exercises too) and the
    learning-objectives cell a subslide. The setup cell is skipped. Hints and solutions
    (``<details>``) appear as fragments on a key press. A prose cell whose ``group_lines`` (itself
    and the code cells after it) would overfill the slide continues on a subslide, and so does a
    code cell that still does not fit; everything else stays on the current slide ("-").
    """
    first = _first_line(cell.source)
    if index == 0:
        return "slide"
    if cell.cell_type == "code" and cell.source.strip() == setup_cell_source().strip():
        return "skip"
    if cell.cell_type == "markdown" and first.startswith("## "):
        return "slide"
    if cell.cell_type == "markdown" and (first.startswith("### ") or "**Learning objectives**" in cell.source):
        return "subslide"
    if cell.cell_type == "markdown" and first.startswith("<details>"):
        return "fragment"
    if page_lines and page_lines + group_lines > PAGE_LINES:
        return "subslide"
    return "-"


def _group_lines(cells: list[nbformat.NotebookNode], index: int) -> int:
    """Room taken by cell ``index`` and, for prose, the code cells that follow it (they belong together)."""
    lines = _page_lines(cells[index])
    if cells[index].cell_type == "markdown":
        for cell in cells[index + 1 :]:
            if cell.cell_type != "code":
                break
            lines += _page_lines(cell)
    return lines


def apply_slides(nb: nbformat.NotebookNode) -> bool:
    """Set every cell's slide type by the rules of ``slide_type``; returns True if anything changed."""
    before = [cell.metadata.get("slideshow") for cell in nb.cells], nb.metadata.get("rise")
    page = 0
    for index, cell in enumerate(nb.cells):
        kind = slide_type(cell, index, page, _group_lines(nb.cells, index))
        cell.metadata["slideshow"] = {"slide_type": kind}
        if kind in ("slide", "subslide"):
            page = 0
        if kind != "skip":
            page += _page_lines(cell)
    nb.metadata["rise"] = {"scroll": True}  # long code cells scroll instead of overflowing the slide
    return before != ([cell.metadata.get("slideshow") for cell in nb.cells], nb.metadata.get("rise"))


def write_slides(path: Path) -> bool:
    """Apply the slide rules to a stored notebook without touching its outputs; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = apply_slides(nb)
    if changed:
        tmp = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    return changed


# -- one source of truth: `#| unet_lib.X` cells show the library's code (issue 11) ------------------
# A code cell whose first line is `#| unet_lib.<module>` shows definitions finalized in that module.
# `sync` rewrites every top-level def/class of such a cell with the module's source text, so a learner
# reads exactly the code unet_lib runs; tests/test_notebook_sync.py fails when a cell is out of date.

SYNC_MARKER = re.compile(r"^#\|\s*(unet_lib\.\w+)\s*$")


def synced_module(cell: nbformat.NotebookNode) -> str | None:
    """``"unet_lib.layers"`` for a cell marked ``#| unet_lib.layers``, else None."""
    if cell.cell_type != "code" or not cell.source:
        return None
    match = SYNC_MARKER.match(cell.source.splitlines()[0])
    return match.group(1) if match else None


def _definition_spans(source: str) -> list[tuple[str, int, int]]:
    """``(name, first line, last line)`` (0-based, inclusive, decorators included) of each top-level def/class."""
    spans = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            spans.append((node.name, first, node.end_lineno - 1))
    return spans


def library_source(module_name: str, name: str) -> str:
    """The source text of ``module_name.name`` as the library has it (``KeyError`` if it has none)."""
    module = importlib.import_module(module_name)
    if not hasattr(module, name):
        raise KeyError(f"{name} is shown in a cell marked {module_name} but {module_name} has no {name}")
    return inspect.getsource(getattr(module, name)).rstrip("\n")


def synced_source(module_name: str, source: str) -> str:
    """``source`` with each top-level def/class replaced by the library's text of the same name."""
    lines = source.splitlines()
    for name, first, last in reversed(_definition_spans(source)):
        lines[first : last + 1] = library_source(module_name, name).splitlines()
    return "\n".join(lines)


def sync_notebook(path: Path, write: bool = True) -> list[str]:
    """Bring every marked cell of ``path`` in line with the library; returns a unified diff per changed cell."""
    nb = nbformat.read(path, as_version=4)
    diffs = []
    for index, cell in enumerate(nb.cells):
        module_name = synced_module(cell)
        if module_name is None:
            continue
        fresh = synced_source(module_name, cell.source)
        if fresh != cell.source:
            diff = difflib.unified_diff(
                cell.source.splitlines(), fresh.splitlines(), f"{path.name} cell {index}", module_name, lineterm=""
            )
            diffs.append("\n".join(diff))
            cell.source = fresh
    if diffs and write:
        tmp = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
        if path.parent.resolve() == NOTEBOOKS:
            pair_notebook(path)
    return diffs


# -- diffable notebooks: a text twin for review (issue 11) -----------------------------------------------------
# Every course notebook has a twin in notebooks/text/, its cells as MyST Markdown without outputs or metadata,
# written by jupytext. Review a change by reading the twin's diff; edit either side: `pair` rewrites the twins
# from the notebooks, `pair --from-text` takes a twin's edits into its notebook (outputs of unchanged cells
# are kept; run `execute` afterwards). tests/test_notebook_text.py fails when a pair disagrees.

TEXT_DIR = NOTEBOOKS / "text"
TEXT_FORMAT = "md:myst"
_NO_METADATA = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}


def text_twin(path: Path) -> Path:
    """``notebooks/text/NN_x.md`` for ``notebooks/NN_x.ipynb``."""
    return TEXT_DIR / f"{path.stem}.md"


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The cells of ``nb`` as MyST Markdown: prose as it is, code in ``{code-cell}`` blocks, no outputs."""
    import jupytext

    bare = nbformat.from_dict({**nb, "metadata": {**nb.metadata, "jupytext": _NO_METADATA}})
    return jupytext.writes(bare, fmt=TEXT_FORMAT)


def pair_notebook(path: Path, write: bool = True) -> str:
    """Rewrite the twin of ``path`` from the notebook; returns a unified diff of what changed ("" if nothing)."""
    twin = text_twin(path)
    fresh = notebook_text(nbformat.read(path, as_version=4))
    old = twin.read_text(encoding="utf-8") if twin.is_file() else ""
    if fresh == old:
        return ""
    if write:
        TEXT_DIR.mkdir(exist_ok=True)
        tmp = twin.with_suffix(".md.tmp")
        tmp.write_text(fresh, encoding="utf-8")
        os.replace(tmp, twin)
    diff = difflib.unified_diff(
        old.splitlines(), fresh.splitlines(), str(twin.relative_to(ROOT)), path.name, lineterm=""
    )
    return "\n".join(diff)


def notebook_from_text(twin: Path, path: Path | None = None) -> Path:
    """Take the cells of a twin into its notebook, keeping the stored outputs of every unchanged cell."""
    import jupytext
    from jupytext.combine import combine_inputs_with_outputs

    path = path or NOTEBOOKS / f"{twin.stem}.ipynb"
    stored = nbformat.read(path, as_version=4)
    edited = jupytext.reads(twin.read_text(encoding="utf-8"), fmt=TEXT_FORMAT)
    combined = combine_inputs_with_outputs(edited, stored, fmt=TEXT_FORMAT)
    combined.metadata = stored.metadata
    apply_slides(combined)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(combined, tmp)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute notebooks in place")
    run.add_argument("paths", nargs="+", type=Path)
    head = sub.add_parser("header", help="print the standard badge markdown and setup cell")
    head.add_argument("stem")
    deck = sub.add_parser("slides", help="set the slide metadata of notebooks in place (outputs untouched)")
    deck.add_argument("paths", nargs="*", type=Path, help="default: every course notebook")
    sync = sub.add_parser("sync", help="rewrite `#| unet_lib.X` cells from the library and print the diff")
    sync.add_argument("paths", nargs="*", type=Path, help="default: every course notebook")
    sync.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell is out of date")
    twins = sub.add_parser("pair", help="write the text twins in notebooks/text/ (or take a twin's edits back)")
    twins.add_argument("paths", nargs="*", type=Path, help="default: every course notebook")
    twins.add_argument("--check", action="store_true", help="change nothing; exit 1 if a twin is out of date")
    twins.add_argument("--from-text", action="store_true", help="the paths are twins: update their notebooks")
    args = parser.parse_args(argv)
    if args.command == "pair":
        if args.from_text:
            for twin in args.paths:
                print(f"{notebook_from_text(twin).name}: updated from {twin.name}; now run `execute` on it")
            return
        diffs = [d for path in args.paths or course_notebooks() if (d := pair_notebook(path, write=not args.check))]
        print("\n".join(diffs) if diffs else "every notebook matches its text twin")
        if diffs and args.check:
            sys.exit(1)
    elif args.command == "execute":
        for path in args.paths:
            print(f"{path.name}: {execute(path):.1f} s", file=sys.stderr)
    elif args.command == "sync":
        sys.path.insert(0, str(ROOT))
        diffs = [d for path in args.paths or course_notebooks() for d in sync_notebook(path, write=not args.check)]
        print("\n".join(diffs) if diffs else "every `#| unet_lib.X` cell matches the library")
        if diffs and args.check:
            sys.exit(1)
    elif args.command == "slides":
        for path in args.paths or course_notebooks():
            print(f"{path.name}: {'updated' if write_slides(path) else 'unchanged'}", file=sys.stderr)
    else:
        print(badges_markdown(args.stem))
        print()
        print(setup_cell_source())


if __name__ == "__main__":
    main()
