"""CONTRIBUTING.md is true to the code (issue 23): its module map and notebook table follow unet_lib/__init__.py's
table of contents and notebooks/, which follow the package; the files, commands and names its recipes mention exist.

``python tools/contributing.py`` rewrites both tables; each failure below names the line to add and where.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import contributing  # noqa: E402

TEXT = contributing.CONTRIBUTING.read_text(encoding="utf-8")
FIX = "run `python tools/contributing.py` to rewrite CONTRIBUTING.md's tables"


def test_every_module_has_its_line_in_the_table_of_contents():
    problems = contributing.table_problems()
    assert not problems, "\n".join(problems)


def test_every_notebook_has_a_topic():
    problems = contributing.topic_problems()
    assert not problems, "\n".join(problems)


def test_contributing_tables_follow_the_code():
    problems = contributing.block_problems(TEXT)
    assert not problems, "\n".join(problems + [FIX])


def test_what_contributing_names_exists():
    problems = contributing.reference_problems(TEXT)
    assert not problems, "\n".join(problems)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A stand-in unet_lib: today's table of contents, and for each module a file holding only the imports of unet_lib
    modules that the real one makes (a package: a folder)."""
    copy = tmp_path / "unet_lib"
    copy.mkdir()
    shutil.copy(contributing.LIBRARY / "__init__.py", copy / "__init__.py")
    for name, path in contributing.library_modules().items():
        imported = ", ".join(sorted(contributing._direct_imports(path, contributing.LIBRARY) - {name}))
        if path.is_dir():
            (copy / name).mkdir()
            (copy / name / "__init__.py").write_text(f"from .. import {imported}\n" if imported else "")
        else:
            (copy / f"{name}.py").write_text(f"from . import {imported}\n" if imported else "")
    return copy


def test_a_module_added_without_its_line_is_named_with_where_it_goes(library):
    assert contributing.table_problems(library) == []
    (library / "boundary_scores.py").write_text("from .metrics import mean_report\nfrom . import runtime\n")
    (problem,) = contributing.table_problems(library)
    assert "unet_lib/boundary_scores.py" in problem and "``boundary_scores``  NN" in problem
    assert "below the line of ``metrics`` (the last module it imports)" in problem


def test_a_module_that_imports_one_listed_below_it_is_named(library):
    # checkpoints (08) once imported tiling (09), listed below it
    (library / "checkpoints.py").write_text("from .tiling import ROTATIONS\n")
    (library / "tiling.py").write_text("from . import runtime\n")
    assert contributing.table_problems(library) == []  # today tiling sits above checkpoints
    (library / "runtime.py").write_text("from .metrics import mean_report\n")
    (problem,) = contributing.table_problems(library)
    assert "unet_lib/runtime imports ``metrics``, which the table of contents lists below it" in problem


def test_a_line_without_its_module_is_named(library):
    (library / "objects.py").unlink()
    (problem,) = contributing.table_problems(library)
    assert "names ``objects``, which unet_lib does not have: remove its line" in problem


def test_the_map_names_the_line_it_lacks(library):
    init = library / "__init__.py"
    init.write_text(
        init.read_text().replace(
            "``objects``         11",
            "``verdicts``        09        verdicts printed from numbers\n``objects``         11",
        )
    )
    (library / "verdicts.py").write_text("")
    problems = contributing.block_problems(TEXT, library)
    assert problems == [
        "CONTRIBUTING.md's module map lacks the line "
        "`| `verdicts` | `unet_lib/verdicts.py` | 09 | verdicts printed from numbers |`"
    ]


def test_the_gaps_contributing_once_had_are_caught():
    """Before issue 23 the module list lacked `evaluation` and `commands`, named `unet_lib/viz.py` and the notebook
    table stopped at 10: each of these is a failure now."""
    rows = [line for line in TEXT.splitlines() if line.startswith(("| `evaluation`", "| `commands`", "| `11_"))]
    assert len(rows) == 3
    old = TEXT
    for row in rows:
        old = old.replace(row + "\n", "")
    old = old.replace("belong in the package `unet_lib/viz/`", "belong in `unet_lib/viz.py`")
    problems = "\n".join(contributing.problems(old))
    for row in rows:
        assert f"lacks the line `{row}`" in problems
    assert "names `unet_lib/viz.py`, which does not exist" in problems


def test_a_notebook_without_a_topic_is_named(monkeypatch):
    last = contributing.course_notebooks()[-1]
    monkeypatch.delitem(contributing.TOPICS, last.name[:2])
    assert contributing.topic_problems() == [
        f'tools/course_map.py\'s TOPICS has no topic for {last.name}: add `"{last.name[:2]}": "<its topics>",`'
    ]
    assert f"lacks the line `| `{last.name}` |  |`" in "\n".join(contributing.block_problems(TEXT))


def test_a_recipe_naming_a_missing_function_is_caught():
    wrong = TEXT.replace("`COLUMNS`, where it belongs", "`TABLE_COLUMNS`, where it belongs")
    assert "says `TABLE_COLUMNS` is in unet_lib/evaluation.py, which has no `TABLE_COLUMNS`" in "\n".join(
        contributing.reference_problems(wrong)
    )
    assert contributing.reference_problems(TEXT.replace("nbtools.py stale`", "nbtools.py outdated`")) == [
        "CONTRIBUTING.md names `python tools/nbtools.py outdated`, which is no command of it"
    ]


def test_every_notebook_that_shows_a_module_is_in_its_line():
    problems = contributing.column_problems()
    assert not problems, "\n".join(problems)


def test_a_notebook_showing_a_module_it_is_not_listed_under_is_named(library):
    """Notebook 10 shows metrics' thin_segments; the line once said 09 only."""
    init = library / "__init__.py"
    init.write_text(init.read_text().replace("``metrics``         09–10     ", "``metrics``         09        "))
    assert contributing.column_problems(library) == [
        "10_going_further.ipynb shows unet_lib.metrics's code, but the table of contents lists ``metrics`` under "
        "notebook 09: name notebook 10 in its line"
    ]


def test_a_line_above_earlier_notebooks_without_a_reason_is_named(library):
    """verdicts (08) once stood second, above layers (01), though only modules of 08 and later import it."""
    init = library / "__init__.py"
    text = init.read_text()
    line = next(x for x in text.splitlines() if x.startswith("``verdicts``"))
    text = text.replace(line + "\n", "").replace("``layers``", line + "\n``layers``", 1)
    init.write_text(text)
    (library / "evaluation.py").write_text("from . import verdicts\n")
    (problem,) = contributing.table_problems(library)
    assert problem.startswith("``verdicts`` (08–12) is listed above ``layers`` (01–04)")
    # tiling (09) above checkpoints (08) is fine as long as checkpoints imports it
    (library / "verdicts.py").write_text("")
    (library / "layers.py").write_text("from . import verdicts\n")
    assert contributing.table_problems(library) == []


def test_a_module_importing_through_a_course_tool_is_held_to_the_order(library):
    (library / "train.py").write_text("from .viz import LiveCurves\n")
    (library / "viz" / "__init__.py").write_text("from ..runtime import OKABE_ITO\n")
    assert contributing.table_problems(library) == []
    (library / "viz" / "__init__.py").write_text("from ..evaluation import COLUMNS\n")
    (problem,) = contributing.table_problems(library)
    assert "unet_lib/train imports the course tool ``viz``, which imports ``evaluation``, listed below train" in problem


def test_notebook_numbers_reads_the_column():
    assert contributing.notebook_numbers("06") == [6]
    assert contributing.notebook_numbers("08–11") == [8, 9, 10, 11]
