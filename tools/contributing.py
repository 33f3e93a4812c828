"""Write CONTRIBUTING.md's module map and notebook table from the code, so that they cannot fall behind it.

    python tools/contributing.py          # rewrite both tables (between their <!-- … --> markers)
    python tools/contributing.py --check  # change nothing; name each missing or stale line, exit 1

The module map comes from ``unet_lib/__init__.py``'s table of contents (module, notebook, what it holds, in course
order) and its list of course tools; the notebook table from ``notebooks/NN_*.ipynb`` and the topics in
``tools/course_map.py`` (the README's course map takes them from there too). ``problems`` also holds the table of
contents to the package: every module and package of ``unet_lib`` has its line there, no line names a module
that is gone, a module imports only modules above it (through a course tool too), and a line sits above an earlier
notebook's module only when that module needs it; ``column_problems`` holds each notebook that shows a module's code
to that module's notebook column. ``tests/test_contributing.py`` fails on any of it, saying which line to add where.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_map import TOPICS  # noqa: E402
from nbtools import LIBRARY, ROOT, course_notebooks, imported_modules, synced_module  # noqa: E402

CONTRIBUTING = ROOT / "CONTRIBUTING.md"
MODULE_MAP = ("<!-- module-map -->", "<!-- /module-map -->")
NOTEBOOK_TABLE = ("<!-- notebooks -->", "<!-- /notebooks -->")
NOT_IN_THE_MAP = ("__init__", "__main__")
"""The package itself and ``python -m unet_lib``'s door to ``cli``."""
_ROW = re.compile(r"^``(\w+)``\s{2,}(\S+)\s{2,}(\S.*)$")
_TOOL = re.compile(r"^\* ``(\w+)`` — (.+?)[;.]?$")


@dataclass(frozen=True)
class Entry:
    """One line of the table of contents: a module, the notebook that builds it (or "course tool"), what it holds."""

    name: str
    notebook: str
    holds: str


def library_modules(library: Path = LIBRARY) -> dict[str, Path]:
    """``{name: path}`` of every module (``x.py``) and package (``x/__init__.py``) directly in ``unet_lib``."""
    modules = {p.stem: p for p in library.glob("*.py") if p.stem not in NOT_IN_THE_MAP}
    modules.update({p.parent.name: p.parent for p in library.glob("*/__init__.py")})
    return dict(sorted(modules.items()))


def table_of_contents(library: Path = LIBRARY) -> list[Entry]:
    """The lines of ``unet_lib/__init__.py``'s table (in order), then its course tools."""
    text = ast.get_docstring(ast.parse((library / "__init__.py").read_text(encoding="utf-8"))) or ""
    entries = [Entry(*m.groups()) for m in map(_ROW.match, text.splitlines()) if m and m.group(1) != "module"]
    tools = [Entry(m.group(1), "course tool", m.group(2)) for m in map(_TOOL.match, text.splitlines()) if m]
    return entries + tools


def _markdown(rst: str) -> str:
    """A cell of the table of contents as a Markdown table cell (a bare ``|`` would end the cell)."""
    return rst.replace("``", "`").replace("|", "\\|")


def module_map(library: Path = LIBRARY) -> str:
    """The Markdown table of CONTRIBUTING's module map."""
    modules = library_modules(library)
    rows = ["| module | file | notebook | what it holds |", "|---|---|---|---|"]
    for entry in table_of_contents(library):
        path = modules.get(entry.name)
        where = "" if path is None else f"`unet_lib/{entry.name}{'/' if path.is_dir() else '.py'}`"
        rows.append(f"| `{entry.name}` | {where} | {entry.notebook} | {_markdown(entry.holds)} |")
    return "\n".join(rows)


def notebook_table() -> str:
    """The Markdown table of CONTRIBUTING's notebooks, with the topics of the README's course map."""
    rows = ["| file | topic |", "|---|---|"]
    rows += [f"| `{p.name}` | {TOPICS.get(p.name[:2], '')} |" for p in course_notebooks()]
    return "\n".join(rows)


def _direct_imports(path: Path, library: Path) -> set[str]:
    """The top-level unet_lib modules that the module or package at ``path`` imports."""
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    names = set()
    for file in files:
        package = ".".join(("unet_lib", *file.parent.relative_to(library).parts))
        for name in imported_modules(ast.parse(file.read_text(encoding="utf-8")), package):
            names.add(name.split(".")[1] if "." in name else name)
    return names - {"unet_lib"}


def table_problems(library: Path = LIBRARY) -> list[str]:
    """Modules without a line in unet_lib/__init__.py's table of contents, and lines without a module."""
    modules, entries = library_modules(library), table_of_contents(library)
    listed = [e.name for e in entries if e.notebook != "course tool"]
    problems = []
    for name, path in modules.items():
        if name in {e.name for e in entries}:
            continue
        above = [m for m in listed if m in _direct_imports(path, library)]
        where = f"below the line of ``{above[-1]}`` (the last module it imports)" if above else "where it is taught"
        problems.append(
            f"unet_lib/__init__.py's table of contents has no line for unet_lib/{path.relative_to(library)}: add "
            f"``{name}``  NN  <what it holds>  {where}, or `* ``{name}`` — …` to the course tools"
        )
    for at, name in enumerate(listed):
        if name in modules:
            below = [m for m in listed[at + 1 :] if m in _direct_imports(modules[name], library)]
            problems += [
                f"unet_lib/{name} imports ``{m}``, which the table of contents lists below it: a module imports only "
                f"modules above it (move the line, or the code the two share into the module above)"
                for m in below
            ]
    problems += [
        f"unet_lib/__init__.py's table of contents names ``{e.name}``, which unet_lib does not have: remove its line"
        for e in entries
        if e.name not in modules
    ]
    return problems + _through_course_tools(library) + _order_problems(library)


def _through_course_tools(library: Path = LIBRARY) -> list[str]:
    """A listed module that imports a course tool (``train`` draws with ``viz``) imports what that tool imports:
    each of those must be listed above the module too."""
    modules, entries = library_modules(library), table_of_contents(library)
    listed = [e.name for e in entries if e.notebook != "course tool"]
    tools = {e.name for e in entries if e.notebook == "course tool"} & modules.keys()
    problems = []
    for at, name in enumerate(listed):
        if name not in modules:
            continue
        for tool in sorted(_direct_imports(modules[name], library) & tools):
            below = [m for m in listed[at + 1 :] if m in _direct_imports(modules[tool], library)]
            problems += [
                f"unet_lib/{name} imports the course tool ``{tool}``, which imports ``{m}``, listed below {name}: "
                f"a module imports only modules above it, through a course tool too"
                for m in below
            ]
    return problems


def notebook_numbers(column: str) -> list[int]:
    """The notebooks of a table row's notebook column: ``"06"`` → [6], ``"08–11"`` → [8, 9, 10, 11]."""
    first, _, last = column.partition("–")
    return list(range(int(first), int(last or first) + 1))


def _imported_closure(name: str, modules: dict[str, Path], library: Path) -> set[str]:
    """The listed modules that ``name`` imports, directly or through each other."""
    todo, seen = [name], set()
    while todo:
        for imported in _direct_imports(modules[todo.pop()], library) & modules.keys():
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def _order_problems(library: Path = LIBRARY) -> list[str]:
    """Course order where the imports allow: a line sits above the line of an earlier notebook's module only when
    a module of an earlier notebook, listed below it, needs it (``tiling``, 09, above ``checkpoints``, 08)."""
    modules = library_modules(library)
    listed = [e for e in table_of_contents(library) if e.notebook != "course tool" and e.name in modules]
    problems = []
    for at, entry in enumerate(listed):
        first = notebook_numbers(entry.notebook)[0]
        earlier = [e for e in listed[at + 1 :] if notebook_numbers(e.notebook)[0] < first]
        if earlier and not any(entry.name in _imported_closure(e.name, modules, library) for e in earlier):
            problems.append(
                f"``{entry.name}`` ({entry.notebook}) is listed above ``{earlier[0].name}`` ({earlier[0].notebook}), "
                f"though no module of an earlier notebook listed below it imports it: move its line down to "
                f"notebook {first:02d}'s modules"
            )
    return problems


def column_problems(library: Path = LIBRARY) -> list[str]:
    """A notebook that shows a module's code (a cell marked ``#| unet_lib.x``) builds it: its notebook column names
    that notebook."""
    import nbformat

    columns = {e.name: e.notebook for e in table_of_contents(library) if e.notebook != "course tool"}
    problems = []
    for path in course_notebooks():
        shown = {synced_module(cell) for cell in nbformat.read(path, as_version=4).cells} - {None}
        for module in sorted(m.removeprefix("unet_lib.") for m in shown):
            if module in columns and int(path.name[:2]) not in notebook_numbers(columns[module]):
                problems.append(
                    f"{path.name} shows unet_lib.{module}'s code, but the table of contents lists ``{module}`` under "
                    f"notebook {columns[module]}: name notebook {path.name[:2]} in its line"
                )
    return problems


def topic_problems() -> list[str]:
    """Notebooks without a topic in tools/course_map.py (CONTRIBUTING's and the README's tables need one)."""
    return [
        f'tools/course_map.py\'s TOPICS has no topic for {p.name}: add `"{p.name[:2]}": "<its topics>",`'
        for p in course_notebooks()
        if p.name[:2] not in TOPICS
    ]


def _block(text: str, markers: tuple[str, str]) -> str:
    start, end = markers
    if start not in text or end not in text:
        return ""
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def _replace_block(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    before, rest = text.split(start, 1)
    return f"{before}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def block_problems(text: str, library: Path = LIBRARY) -> list[str]:
    """Each line that CONTRIBUTING's tables lack or hold although the code no longer backs it."""
    problems = []
    for title, markers, fresh in (
        ("module map", MODULE_MAP, module_map(library)),
        ("notebook table", NOTEBOOK_TABLE, notebook_table()),
    ):
        if markers[0] not in text or markers[1] not in text:
            problems.append(f"CONTRIBUTING.md has no {title} between `{markers[0]}` and `{markers[1]}`")
            continue
        have, want = _block(text, markers).splitlines(), fresh.splitlines()
        wrong = [f"CONTRIBUTING.md's {title} lacks the line `{line}`" for line in want if line not in have]
        wrong += [
            f"CONTRIBUTING.md's {title} has the line `{line}`, which the code does not back: remove it"
            for line in have
            if line not in want
        ]
        if not wrong and have != want:
            wrong.append(f"CONTRIBUTING.md's {title} is out of order")
        problems += wrong
    return problems


_PATH = re.compile(r"`((?:unet_lib|tools|tests|docs|notebooks|\.ci)/[\w./-]*)`")
_PLACEHOLDER = re.compile(r"NN|_x\b|_name\b|/$")
_SUBCOMMAND = re.compile(r"python tools/nbtools\.py (\w+)")
_MAKE = re.compile(r"\bmake (\w+)")
_DOTTED = re.compile(r"`(\w+)\.(\w+)(?:\(.*?\))?`")
_NAME = re.compile(r"`(\w*(?:_|[A-Z])\w*)(?:\(.*?\))?`")
_ITEM = re.compile(r"^(?:\d+\.|-) .*?(?=^(?:\d+\.|-) |^#|^\n|\Z)", re.MULTILINE | re.DOTALL)


def _defines(paths: list[Path], name: str) -> bool:
    pattern = re.compile(rf"^\s*(?:def|class)\s+{name}\b|^\s*{name}\s*[:=]|\bimport .*\b{name}\b", re.MULTILINE)
    return any(pattern.search(p.read_text(encoding="utf-8")) for p in paths)


def reference_problems(text: str, library: Path = LIBRARY) -> list[str]:
    """What CONTRIBUTING names that does not exist: files, ``tools/nbtools.py`` commands, make targets,
    ``module.name`` of unet_lib, and the code names a recipe step says are in the files that step names."""
    problems = [
        f"CONTRIBUTING.md names `{path}`, which does not exist"
        for path in sorted(set(_PATH.findall(text)))
        if not _PLACEHOLDER.search(path) and not (ROOT / path).exists()
    ]
    commands = set(re.findall(r"add_parser\(\s*\"(\w+)\"", (ROOT / "tools" / "nbtools.py").read_text()))
    problems += [
        f"CONTRIBUTING.md names `python tools/nbtools.py {c}`, which is no command of it"
        for c in sorted(set(_SUBCOMMAND.findall(text)) - commands)
    ]
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    problems += [
        f"CONTRIBUTING.md names `make {t}`, which the Makefile lacks"
        for t in sorted(set(_MAKE.findall(text)) - targets)
    ]
    modules = library_modules(library)
    for module, name in sorted(set(_DOTTED.findall(text))):
        if module in modules and name != "py":
            path = modules[module]
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
            if not (path.is_dir() and (path / f"{name}.py").is_file()) and not _defines(files, name):
                problems.append(f"CONTRIBUTING.md names `{module}.{name}`, which unet_lib/{module} does not define")
    for item in _ITEM.findall(text):
        files = [ROOT / p for p in _PATH.findall(item) if (ROOT / p).is_file() and p.endswith(".py")]
        for name in sorted(set(_NAME.findall(item))) if files else []:
            if not any(re.search(rf"\b{name}\b", f.read_text(encoding="utf-8")) for f in files):
                shown = ", ".join(str(f.relative_to(ROOT)) for f in files)
                problems.append(f"CONTRIBUTING.md says `{name}` is in {shown}, which has no `{name}`")
    return problems


def problems(text: str | None = None, library: Path = LIBRARY) -> list[str]:
    """Everything that keeps CONTRIBUTING from being true to the code ([] when it is)."""
    text = CONTRIBUTING.read_text(encoding="utf-8") if text is None else text
    return (
        table_problems(library)
        + column_problems(library)
        + topic_problems()
        + block_problems(text, library)
        + reference_problems(text, library)
    )


def updated(text: str) -> str:
    """CONTRIBUTING.md with both tables written from the code."""
    text = _replace_block(text, MODULE_MAP, module_map())
    return _replace_block(text, NOTEBOOK_TABLE, notebook_table())


def write() -> bool:
    """Rewrite CONTRIBUTING.md's tables; True if anything changed."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    new = updated(text)
    if new == text:
        return False
    tmp = CONTRIBUTING.with_suffix(".md.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, CONTRIBUTING)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is not true")
    args = parser.parse_args(argv)
    found = problems()
    if not args.check:
        write()
        found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
