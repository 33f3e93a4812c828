"""The README's course map is generated from the notebooks (titles, minutes, badges)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_course_map_is_up_to_date():
    result = subprocess.run(
        [sys.executable, "tools/course_map.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_new_notebook_gets_a_row_in_both_maps(tmp_path, monkeypatch):
    """Issue 17: notebook 00's map stopped at 09; now every numbered notebook is a row, its topic read from it."""
    import nbformat

    sys.path.insert(0, str(ROOT / "tools"))
    import course_map

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 13 · Sharing a model\n\nWhy."),
        nbformat.v4.new_markdown_cell("**Learning objectives**\n\n- Export a model.\n\n**Estimated time:** 20 minutes"),
    ]
    new = tmp_path / "13_sharing.ipynb"
    nbformat.write(nb, new)
    existing = course_map.notebooks()
    monkeypatch.setattr(course_map, "notebooks", lambda: [*existing, new])
    assert "| [13 · Sharing a model](13_sharing.ipynb) | export a model |" in course_map.welcome_map()
    assert "| 13 | [Sharing a model](notebooks/13_sharing.ipynb) | export a model | 20 |" in course_map.course_map()
    assert "11 · Your own images" in course_map.welcome_map()
