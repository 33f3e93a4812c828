"""Maintainer tools for the course notebooks: the standard header, execution in place, library sync.

    python tools/nbtools.py execute notebooks/01_double_convolution.ipynb [...]   # run, store outputs, stamp
    python tools/nbtools.py execute --stale                  # re-execute only the notebooks whose stamp is stale
    python tools/nbtools.py stale                            # list them and what changed (exit 1 if any)
    python tools/nbtools.py rebuild [NN ...] [--all]         # the whole chain: twin → notebook → sync → execute
                                                             # → twins, student versions, guide, README, CONTRIBUTING
    python tools/nbtools.py header 01_double_convolution     # print the standard first cells
    python tools/nbtools.py slides [notebooks/NN_x.ipynb ...]  # set slide metadata (execute does it too)
    python tools/nbtools.py sync [--check]                   # rewrite `#| unet_lib.X` cells from the library
    python tools/nbtools.py pair [--check]                   # write the text twins notebooks/text/NN_x.md
    python tools/nbtools.py pair --from-text notebooks/text/NN_x.md   # take edits of a twin into its notebook

Notebooks are stored executed top to bottom (nbval compares against the stored outputs),
so after editing a notebook run ``execute`` on it and commit the result. ``execute`` records in the notebook's
metadata what it ran against (``executed_against``: see ``stamp``); ``tests/test_notebook_stamps.py`` fails when
that changed since, so stored outputs never silently predate the library they show.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import hashlib
import importlib
import inspect
import io
import json
import os
import re
import sys
import tempfile
import time
import tokenize
from collections.abc import Iterable
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


def kernel_env(fast: bool = False) -> dict[str, str]:
    """The environment a notebook runs in: the real data when it lies beside the checkout, figures inline, and fast
    mode only when asked (stored notebooks hold the full run a learner sees; the tests run them with UNET_FAST=1)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "UNET_FAST", "UNET_RUNS_DIR")}
    shared = ROOT.parent / "shared" / "data"
    if "UNET_DATA_DIR" not in env and shared.is_dir():
        env["UNET_DATA_DIR"] = str(shared)
    if fast:
        env["UNET_FAST"] = "1"
    return env


REFERENCE_CONFIGURATION = {"UNET_PRECISION": "fp32"}
"""Stored notebooks are executed in one declared configuration, so that their numbers compare across runs and
processors: fp32 (what every CPU computes alike, and what a learner without fast bf16 gets), the threads the machine
grants, the processor printed by each setup cell. Set ``UNET_PRECISION`` yourself to store another (README says
which one the stored outputs used)."""


def execute(path: Path, timeout: int = 900) -> float:
    """Run a notebook top to bottom in its own folder, store the outputs and the stamp; returns seconds taken.

    It runs as a learner's first run does: the real data when it lies beside the checkout, no fast mode, and no runs
    of yours (``checkpoints.runs_dir`` is a temporary folder), so notebook 09 stores the shipped model's results and
    notebook 08 leaves ``runs/notebook08`` alone.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    executed_against = stamp(nb)  # what the kernel is about to import: a change during the run makes it stale
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unet-runs-") as runs:  # not your runs/: 09 opens the shipped model
        client.execute(env={**REFERENCE_CONFIGURATION, **kernel_env(), "UNET_RUNS_DIR": runs})
    seconds = time.perf_counter() - start
    apply_slides(nb)
    nb.metadata[STAMP_KEY] = executed_against
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
    edited = jupytext.reads(twin.read_text(encoding="utf-8"), fmt=TEXT_FORMAT)
    if path.is_file():
        stored = nbformat.read(path, as_version=4)
        combined = combine_inputs_with_outputs(edited, stored, fmt=TEXT_FORMAT)
        combined.metadata = stored.metadata
    else:  # a new notebook, written first as its twin
        combined = edited
        combined.metadata = {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        }
    apply_slides(combined)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(combined, tmp)
    os.replace(tmp, path)
    return path


# -- no stale stored outputs: what a notebook was executed against (issue 23) -------------------------------------
# `execute` stores in the notebook's metadata, under "executed_against", a short hash of its code cells and of every
# unet_lib file it runs. The rule for "every file it runs":
#   1. the unet_lib modules its code cells import (`import unet_lib.x`, `from unet_lib import x`, `from unet_lib.x
#      import y`), and unet_lib/__main__.py when a cell runs `-m unet_lib` (python or torchrun);
#   2. then, transitively, the modules those import (their `from . import x` / `from .x import y` lines, read from
#      the source wherever they stand, inside functions too), and the package __init__.py above each module;
#   3. the package's data files (assets/…, isbi2012_sha256.txt) whose file name appears in that code.
# A module is hashed without its comments, docstrings and blank lines, so editing those makes nothing stale, unless
# the notebook shows source or docstrings (inspect.getsource, __doc__, help(…)): then its modules count whole.
# tests/test_notebook_stamps.py compares the stamps with the files of today (it executes nothing); `stale` lists the
# notebooks that differ, `execute --stale` re-executes them, `rebuild` does that and regenerates what follows.

LIBRARY = ROOT / "unet_lib"
STAMP_KEY = "executed_against"
CODE_CELLS = "code cells"
_SHELL_LINE = re.compile(r"^(\s*)[!%].*$", re.MULTILINE)
_IMPORT_LINE = re.compile(
    r"^\s*(?:from\s+(unet_lib[\w.]*)\s+import\s+([\w, ]+)|import\s+(unet_lib[\w.]*))", re.MULTILINE
)
_RUNS_MAIN = re.compile(r"-m\W{0,6}unet_lib\b")
_SHOWS_SOURCE = re.compile(r"getsource|__doc__|\bhelp\(|\?\?")


def module_file(name: str, library: Path = LIBRARY) -> Path | None:
    """The file of module ``unet_lib.a.b``: ``unet_lib/a/b.py`` or ``unet_lib/a/b/__init__.py`` (None if neither)."""
    parts = name.split(".")
    if parts[0] != "unet_lib":
        return None
    base = library.joinpath(*parts[1:])
    candidates = ([base.with_suffix(".py")] if len(parts) > 1 else []) + [base / "__init__.py"]
    return next((path for path in candidates if path.is_file()), None)


def imported_modules(tree: ast.AST, package: str = "unet_lib") -> set[str]:
    """The unet_lib module names that the import statements anywhere in ``tree`` may load; ``package`` is where a
    relative import (``from .x import y``, ``from .. import x``) starts. Names that are no module are dropped later."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from unet_lib import metrics`
    return {name for name in names if name == "unet_lib" or name.startswith("unet_lib.")}


@functools.cache
def _module_imports(source: str, package: str) -> frozenset[str]:
    """``imported_modules`` of a module's source, parsed once per process (the stamp test reads 12 notebooks)."""
    return frozenset(imported_modules(ast.parse(source), package))


def _with_parents(name: str) -> list[str]:
    """``unet_lib.checks.data`` → ``unet_lib``, ``unet_lib.checks``, ``unet_lib.checks.data``: importing a module
    runs the ``__init__.py`` of every package above it."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def library_closure(names: Iterable[str], library: Path = LIBRARY) -> set[str]:
    """``names`` and every unet_lib module they import, directly or through each other, with their packages."""
    todo, seen = list(names), set()
    while todo:
        for name in _with_parents(todo.pop()):
            path = module_file(name, library)
            if name in seen or path is None:
                continue
            seen.add(name)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            todo.extend(_module_imports(path.read_text(encoding="utf-8"), package))
    return seen


def cell_imports(source: str) -> set[str]:
    """The unet_lib modules a code cell imports (IPython's ``!`` and ``%`` lines are skipped; a cell Python cannot
    parse is read line by line), plus ``unet_lib.__main__`` when it runs ``-m unet_lib``."""
    try:
        names = imported_modules(ast.parse(_SHELL_LINE.sub(r"\1pass", source)))
    except SyntaxError:
        names = set()
        for module, members, plain in _IMPORT_LINE.findall(source):
            names.add(module or plain)
            names.update(f"{module}.{member.strip()}" for member in members.split(",") if module)
    return names | ({"unet_lib.__main__"} if _RUNS_MAIN.search(source) else set())


@functools.cache
def code_text(source: str) -> str:
    """A module's source without comments, docstrings and blank lines: the part whose change can change an output.

    Docstrings here are the string statements that do nothing: those of modules, classes and functions, and the
    ones under a constant that document it.
    """
    lines = source.splitlines()
    tree = ast.parse(source)
    dropped, kept_whole = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            first, last = node.lineno - 1, node.end_lineno - 1
            if not lines[first][: node.col_offset].strip() and not lines[last][node.end_col_offset :].strip():
                dropped.update(range(first, last + 1))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno > node.lineno:
            kept_whole.update(range(node.lineno, node.end_lineno))  # lines inside a multi-line string stay as they are
    cut = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            cut[token.start[0] - 1] = token.start[1]
    code = []
    for index, line in enumerate(lines):
        if index in dropped:
            continue
        if index in kept_whole:
            code.append(line)
            continue
        line = line[: cut.get(index, len(line))].rstrip()
        if line.strip():
            code.append(line)
    return "\n".join(code)


def _digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()[:16]


@functools.cache
def _file_digest(path: Path, modified_ns: int, size: int) -> str:
    """``_digest`` of a data file, once per process and version of the file (the checkpoint is 8 MB)."""
    return _digest(path.read_bytes())


def library_data_files(library: Path = LIBRARY) -> list[Path]:
    """The package's files that are neither Python nor a README: the shipped checkpoint, the ablation table, …"""
    return sorted(
        path
        for path in library.rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and not path.name.startswith("README")
        and "__pycache__" not in path.parts
    )


def stamp(nb: nbformat.NotebookNode, library: Path = LIBRARY) -> dict[str, str]:
    """What the notebook runs: ``{"code cells": hash, "unet_lib/x.py": hash, …}`` by the rule above."""
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    whole = bool(_SHOWS_SOURCE.search("\n".join(code)))
    names = set().union(*(cell_imports(source) for source in code)) if code else set()
    result = {CODE_CELLS: _digest(json.dumps(code))}
    texts = ["\n".join(code)]
    for name in sorted(library_closure(names, library)):
        path = module_file(name, library)
        text = path.read_text(encoding="utf-8")
        text = text if whole else code_text(text)
        result[f"{library.name}/{path.relative_to(library).as_posix()}"] = _digest(text)
        texts.append(text)
    for path in library_data_files(library):
        if any(path.name in text for text in texts):
            info = path.stat()
            result[f"{library.name}/{path.relative_to(library).as_posix()}"] = _file_digest(
                path, info.st_mtime_ns, info.st_size
            )
    return dict(sorted(result.items()))


def stale_reasons(path: Path, library: Path = LIBRARY) -> list[str]:
    """What changed since ``path`` was executed ([] when its stored outputs are up to date)."""
    nb = nbformat.read(path, as_version=4)
    stored = nb.metadata.get(STAMP_KEY)
    if not stored:
        return ["it has no stamp (executed before `execute` recorded one)"]
    fresh = stamp(nb, library)
    reasons = []
    for key in sorted(stored.keys() | fresh.keys(), key=lambda k: (k != CODE_CELLS, k)):
        if key not in fresh:
            reasons.append(f"{key} is no longer used")
        elif key not in stored:
            reasons.append(f"{key} is used now")
        elif stored[key] != fresh[key]:
            reasons.append(f"{key} changed")
    return reasons


def execute_command(path: Path) -> str:
    """The command that re-executes one course notebook, as the messages name it."""
    return f"python tools/nbtools.py execute notebooks/{path.name}"


def stale_notebooks(paths: Iterable[Path] | None = None) -> dict[Path, list[str]]:
    """``{notebook: reasons}`` for each notebook whose stored outputs predate a change to what it runs."""
    return {path: reasons for path in paths or course_notebooks() if (reasons := stale_reasons(path))}


# -- one command for the whole chain (issue 23) ---------------------------------------------------------------------
# twin → notebook → sync → execute → twins → student versions → instructor guide → README course map → CONTRIBUTING.


def resolve_notebooks(names: Iterable[str]) -> list[Path]:
    """``09``, ``09_inference_and_evaluation`` or a path → the notebook (which may not exist yet if its twin does).
    A name that matches nothing raises ``ValueError`` with the one-line answer."""
    found = []
    for name in names:
        stem = Path(name).stem
        matches = sorted({p.stem for p in [*NOTEBOOKS.glob(f"{stem}*.ipynb"), *TEXT_DIR.glob(f"{stem}*.md")]})
        matches = [m for m in matches if re.fullmatch(r"\d\d_[\w-]+", m) and (m == stem or m.startswith(f"{stem}_"))]
        if len(matches) != 1:
            known = ", ".join(p.stem[:2] for p in course_notebooks())
            raise ValueError(f"no single course notebook {name!r} (the notebooks are {known}; name one as NN)")
        found.append(NOTEBOOKS / f"{matches[0]}.ipynb")
    return found


def take_twin_edits(path: Path) -> bool:
    """If the twin of ``path`` is newer than the notebook and says something else, take it into the notebook
    (a twin with no notebook yet makes one); returns True if the notebook changed."""
    twin = text_twin(path)
    if not twin.is_file():
        return False
    if path.is_file() and (twin.stat().st_mtime <= path.stat().st_mtime or not pair_notebook(path, write=False)):
        return False
    notebook_from_text(twin, path)
    return True


def regenerate_followers() -> None:
    """Everything made from the notebooks: twins, student versions, the guide's blocks, README's course map and
    CONTRIBUTING's tables (each tool writes only what changed)."""
    import contributing
    import course_map
    import instructor_guide
    import make_student

    for path in course_notebooks():
        pair_notebook(path)
    make_student.write()
    instructor_guide.main([])
    readme = course_map.updated_readme()
    if readme != course_map.README.read_text():
        course_map.README.write_text(readme)
    contributing.write()


def rebuild(
    paths: list[Path] | None = None, everything: bool = False, timeout: int = 900
) -> tuple[list[Path], list[Path]]:
    """The regeneration chain in one call; returns the notebooks it stored executed, and those that failed.

    Named notebooks are executed whatever their stamp says; with none named, every notebook is considered and only
    those whose stamp is stale after taking twin edits and syncing are executed (``everything``: all of them).
    """
    sys.path.insert(0, str(ROOT))
    named = bool(paths)
    targets = paths or sorted({*course_notebooks(), *(NOTEBOOKS / f"{t.stem}.ipynb" for t in TEXT_DIR.glob("*.md"))})
    for path in targets:
        if take_twin_edits(path):
            print(f"{path.name}: took the edits of notebooks/text/{path.stem}.md", file=sys.stderr)
        for diff in sync_notebook(path):
            print(diff, file=sys.stderr)
    run = targets if named or everything else list(stale_notebooks(targets))
    failed = []
    for path in run:
        print(f"{path.name}: executing …", file=sys.stderr, flush=True)
        try:
            print(f"{path.name}: {execute(path, timeout):.1f} s", file=sys.stderr, flush=True)
        except Exception as error:  # nbclient's CellExecutionError and kernel deaths: the others still run
            print(f"{path.name}: NOT stored, a cell failed:\n{error}", file=sys.stderr, flush=True)
            failed.append(path)
    regenerate_followers()
    for path in failed:
        print(f"{path.name} failed and keeps its old outputs: fix it, then `{execute_command(path)}`", file=sys.stderr)
    return [path for path in run if path not in failed], failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute notebooks in place (outputs, stamp, twin)")
    run.add_argument("paths", nargs="*", type=Path)
    run.add_argument("--stale", action="store_true", help="only those whose stamp is stale (default: every notebook)")
    run.add_argument("--timeout", type=int, default=900, help="seconds one cell may take (default 900)")
    old = sub.add_parser("stale", help="list the notebooks whose stored outputs predate what they run; exit 1 if any")
    old.add_argument("paths", nargs="*", type=Path, help="default: every course notebook")
    chain = sub.add_parser("rebuild", help="twin → notebook → sync → execute → twins, student versions, guide, maps")
    chain.add_argument("notebooks", nargs="*", help="NN, a name or a path (default: the edited and the stale ones)")
    chain.add_argument("--all", action="store_true", help="execute every notebook")
    chain.add_argument("--timeout", type=int, default=900, help="seconds one cell may take (default 900)")
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
    missing = [str(p) for p in getattr(args, "paths", []) if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.command == "pair":
        if args.from_text:
            for twin in args.paths:
                print(f"{notebook_from_text(twin).name}: updated from {twin.name}; now run `execute` on it")
            return 0
        diffs = [d for path in args.paths or course_notebooks() if (d := pair_notebook(path, write=not args.check))]
        print("\n".join(diffs) if diffs else "every notebook matches its text twin")
        return 1 if diffs and args.check else 0
    if args.command == "execute":
        if not args.paths and not args.stale:
            print("error: name the notebooks to execute, or add --stale for the stale ones", file=sys.stderr)
            return 2
        paths = list(stale_notebooks(args.paths)) if args.stale else args.paths
        if args.stale and not paths:
            print("every stored notebook is up to date", file=sys.stderr)
        for path in paths:
            print(f"{path.name}: {execute(path, args.timeout):.1f} s", file=sys.stderr, flush=True)
        return 0
    if args.command == "stale":
        found = stale_notebooks(args.paths)
        for path, reasons in found.items():
            print(f"{path.name}: {'; '.join(reasons)}: run `{execute_command(path)}`")
        if found:
            print(f"{len(found)} stale: `python tools/nbtools.py execute --stale` re-executes them all")
        else:
            print("every stored notebook is up to date")
        return 1 if found else 0
    if args.command == "rebuild":
        try:
            paths = resolve_notebooks(args.notebooks)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 1 if rebuild(paths, everything=args.all, timeout=args.timeout)[1] else 0
    if args.command == "sync":
        sys.path.insert(0, str(ROOT))
        diffs = [d for path in args.paths or course_notebooks() for d in sync_notebook(path, write=not args.check)]
        print("\n".join(diffs) if diffs else "every `#| unet_lib.X` cell matches the library")
        return 1 if diffs and args.check else 0
    if args.command == "slides":
        for path in args.paths or course_notebooks():
            print(f"{path.name}: {'updated' if write_slides(path) else 'unchanged'}", file=sys.stderr)
        return 0
    print(badges_markdown(args.stem))
    print()
    print(setup_cell_source())
    return 0


if __name__ == "__main__":
    sys.exit(main())
