"""unet_lib reads like a textbook appendix (CONTRIBUTING.md, "The library"): every public function and class says
why in a docstring, every public function has type hints, and no function grows past a page without a reason."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "unet_lib"

LONGEST = 60
"""Lines a function may span: about a screen, what a reader follows in one sitting."""

LONG_ON_PURPOSE = {
    "train.py fit": 110,  # notebook 08 reads it line by line (a synced cell): budget, validation, stops, checkpoints
    "export.py describe": 94,  # the bioimage.io description: one field after another
    "viz/network.py draw_unet": 91,  # the U-Net diagram, box by box
}
"""Today's functions over ``LONGEST`` lines, at their length today: they may shrink, not grow."""


def _functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """``("file name", node, public)`` for every function of unet_lib (methods included, nested ones not)."""
    for path in sorted(LIBRARY.rglob("*.py")):
        where = path.relative_to(LIBRARY).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield where, node, not node.name.startswith("_")
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        public = not node.name.startswith("_") and not item.name.startswith("_")
                        yield where, item, public or (item.name == "__init__" and not node.name.startswith("_"))


def test_public_functions_and_classes_have_docstrings():
    missing = []
    for path in sorted(LIBRARY.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            defined = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if defined and not node.name.startswith("_") and not ast.get_docstring(node):
                missing.append(f"unet_lib/{path.relative_to(LIBRARY).as_posix()}:{node.lineno} {node.name}")
    assert not missing, "say why (and which notebook) in a docstring:\n" + "\n".join(missing)


def test_public_functions_have_type_hints():
    missing = []
    for where, node, public in _functions():
        if not public:
            continue
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]
        bare = [a.arg for a in arguments if a is not None and a.arg not in ("self", "cls") and a.annotation is None]
        if bare or (node.returns is None and node.name != "__init__"):
            missing.append(f"unet_lib/{where}:{node.lineno} {node.name} ({', '.join(bare) or 'return'})")
    assert not missing, "add type hints:\n" + "\n".join(missing)


def test_functions_fit_on_a_screen():
    too_long = []
    for where, node, _ in _functions():
        lines = node.end_lineno - node.lineno + 1
        allowed = LONG_ON_PURPOSE.get(f"{where} {node.name}", LONGEST)
        if lines > allowed:
            too_long.append(f"unet_lib/{where}:{node.lineno} {node.name}: {lines} lines (at most {allowed})")
    assert not too_long, "split these into named steps:\n" + "\n".join(too_long)


def test_the_long_list_shrinks_with_the_functions():
    lengths = {f"{where} {node.name}": node.end_lineno - node.lineno + 1 for where, node, _ in _functions()}
    stale = [name for name in LONG_ON_PURPOSE if lengths.get(name, 0) <= LONGEST]
    assert not stale, f"remove from LONG_ON_PURPOSE (gone or short now): {', '.join(stale)}"


def test_no_condition_is_a_constant():
    """``if True:`` around a block (a leftover of a restructuring in images._files_by_stem) only hides the code."""
    constant = [
        f"unet_lib/{path.relative_to(LIBRARY).as_posix()}:{node.lineno}"
        for path in sorted(LIBRARY.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.If) and isinstance(node.test, ast.Constant)
    ]
    assert not constant, "drop the constant condition:\n" + "\n".join(constant)
