"""One source of truth: code a learner reads in a notebook must be the code unet_lib runs.

A notebook code cell whose first line is ``#| unet_lib.<module>`` shows definitions that are
finalized in that module. Every top-level ``def`` and ``class`` in such a cell must be the
library's source text, character for character. ``python tools/nbtools.py sync`` rewrites such
cells from the library and prints what it changed; this test fails, and names that command,
when a cell is out of date.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402

# Every piece a notebook builds must be shown there verbatim; add new pieces here.
MUST_BE_SHOWN = {
    "unet_lib.layers": {"double_conv", "max_pool", "up_conv", "center_crop"},  # 01–04
    "unet_lib.model": {"size_walk", "unet_output_size", "UNetModel", "count_parameters", "count_conv_layers"},  # 04, 05
    "unet_lib.data": {"mirror_indices", "normalize"},  # 06
    "unet_lib.augment": {"smooth_field"},  # 06
    "unet_lib.losses": {
        "class_balance_weights",
        "nearest_two_distances",
        "weight_map",
        "weighted_cross_entropy",
        "dice_loss",
    },  # 07
    "unet_lib.train": {"train_step", "fit"},  # 08
    "unet_lib.tiling": {"tile_positions", "input_tile", "predict_logits"},  # 09
    "unet_lib.metrics": {"adapted_rand_error"},  # 09
    "unet_lib.objects": {"label_objects", "match_objects", "object_scores", "split_objects"},  # 11
}


def synced_cells() -> list[tuple[Path, int, str, str]]:
    """(notebook, cell index, module name, cell source) for each marked code cell of the course."""
    found = []
    for path in nbtools.course_notebooks():
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            module_name = nbtools.synced_module(cell)
            if module_name:
                found.append((path, index, module_name, cell.source))
    return found


def defined_names(source: str) -> set[str]:
    return {node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("notebook, index, module_name, source", synced_cells(), ids=lambda v: getattr(v, "name", None))
def test_notebook_code_is_the_library_code(notebook, index, module_name, source):
    assert defined_names(source), f"{notebook.name} cell {index} is marked {module_name} but defines nothing"
    assert nbtools.synced_source(module_name, source) == source, (
        f"{notebook.name} cell {index} differs from {module_name}: run `python tools/nbtools.py sync` "
        "(it rewrites the cell from the library and prints the diff), then re-execute the notebook"
    )


def test_every_finalized_piece_is_shown_in_a_notebook():
    shown: dict[str, set[str]] = {}
    for _, _, module_name, source in synced_cells():
        shown.setdefault(module_name, set()).update(defined_names(source))
    missing = {m: names - shown.get(m, set()) for m, names in MUST_BE_SHOWN.items() if names - shown.get(m, set())}
    assert not missing, f"not shown verbatim in any notebook: {missing}"


def test_drift_is_detected_and_sync_repairs_it(tmp_path):
    """The check itself must notice a one-character change, and `sync` must undo it."""
    library = "#| unet_lib.layers\n" + inspect.getsource(importlib.import_module("unet_lib.layers").max_pool).rstrip()
    drifted = library.replace("stride=2", "stride=1")
    assert nbtools.synced_source("unet_lib.layers", library) == library
    assert nbtools.synced_source("unet_lib.layers", drifted) == library
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(drifted)])
    path = tmp_path / "drifted.ipynb"
    nbformat.write(nb, path)
    diffs = nbtools.sync_notebook(path, write=False)
    assert len(diffs) == 1 and "-    return nn.MaxPool2d(kernel_size=2, stride=1)" in diffs[0]
    assert nbformat.read(path, as_version=4).cells[0].source == drifted  # --check writes nothing
    nbtools.sync_notebook(path)
    assert nbformat.read(path, as_version=4).cells[0].source == library
    with pytest.raises(KeyError, match="no not_in_library"):
        nbtools.synced_source("unet_lib.layers", "#| unet_lib.layers\ndef not_in_library():\n    pass\n")
