"""One source of truth: code a learner reads in a notebook must be the code unet_lib runs.

A notebook code cell whose first line is ``#| unet_lib.<module>`` holds definitions that
are finalized in that module. Every top-level ``def`` and ``class`` in such a cell must be
identical (same syntax tree, docstring included) to the definition of the same name in
the module. Editing either side alone makes this test fail and say where.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARKER = re.compile(r"^#\|\s*(unet_lib\.\w+)\s*$")

# Every piece a notebook builds must be shown there verbatim; add new pieces here.
MUST_BE_SHOWN = {
    "unet_lib.layers": {"double_conv", "max_pool", "up_conv", "center_crop"},
    "unet_lib.model": {"UNetModel", "unet_output_size", "count_parameters", "count_conv_layers"},  # 04, 05
    "unet_lib.data": {"normalize"},  # 06
    "unet_lib.augment": {"smooth_field"},  # 06
    "unet_lib.losses": {"class_balance_weights", "nearest_two_distances", "weight_map", "weighted_cross_entropy", "dice_loss"},  # 07
    "unet_lib.train": {"train_step", "fit"},  # 08
    "unet_lib.tiling": {"mirror_indices", "tile_positions", "input_tile", "predict_logits"},  # 09
    "unet_lib.metrics": {"adapted_rand_error"},  # 09
}


def synced_cells(notebook: Path) -> list[tuple[str, str]]:
    """(module name, cell source) for each marked code cell of a notebook."""
    nb = nbformat.read(notebook, as_version=4)
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source:
            match = MARKER.match(cell.source.splitlines()[0])
            if match:
                found.append((match.group(1), cell.source))
    return found


def definitions(source: str) -> dict[str, ast.AST]:
    tree = ast.parse(source)
    return {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def drift(module_name: str, cell_source: str) -> list[str]:
    """Names whose notebook definition differs from the library's (empty when in sync)."""
    module = importlib.import_module(module_name)
    problems = []
    cell_defs = definitions(cell_source)
    if not cell_defs:
        problems.append(f"a cell marked {module_name} defines nothing")
    for name, node in cell_defs.items():
        if not hasattr(module, name):
            problems.append(f"{name} is shown in the notebook but missing from {module_name}")
            continue
        library_node = definitions(inspect.getsource(module))[name]
        if ast.dump(node) != ast.dump(library_node):
            problems.append(f"{module_name}.{name} differs between the notebook and the library")
    return problems


def all_synced() -> list[tuple[Path, str, str]]:
    return [(nb, mod, src) for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) for mod, src in synced_cells(nb)]


@pytest.mark.parametrize("notebook, module_name, source", all_synced(), ids=lambda v: getattr(v, "name", None))
def test_notebook_code_matches_library(notebook, module_name, source):
    assert drift(module_name, source) == [], f"in {notebook.name}"


def test_every_finalized_piece_is_shown_in_a_notebook():
    shown: dict[str, set[str]] = {}
    for _, module_name, source in all_synced():
        shown.setdefault(module_name, set()).update(definitions(source))
    missing = {m: names - shown.get(m, set()) for m, names in MUST_BE_SHOWN.items() if names - shown.get(m, set())}
    assert not missing, f"not shown verbatim in any notebook: {missing}"


def test_drift_is_detected():
    """The checker itself must notice a one-character change."""
    source = "#| unet_lib.layers\n" + inspect.getsource(importlib.import_module("unet_lib.layers").max_pool)
    assert drift("unet_lib.layers", source) == []
    assert drift("unet_lib.layers", source.replace("stride=2", "stride=1")) != []
    assert drift("unet_lib.layers", "#| unet_lib.layers\ndef not_in_library():\n    pass\n") != []
