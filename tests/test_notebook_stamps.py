"""No stale stored outputs (issue 23): every stored notebook was executed against the unet_lib of today.

``tools/nbtools.py execute`` records in the notebook's metadata a hash of its code cells and of each unet_lib file
it runs (the rule: ``tools/nbtools.py``, ``stamp``; CONTRIBUTING.md, *Stamps*). These tests compare hashes and
execute nothing; a stale notebook fails with the command that re-executes it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402
import nbtools  # noqa: E402

code = nbformat.v4.new_code_cell


@pytest.mark.parametrize("notebook", nbtools.course_notebooks(), ids=lambda p: p.stem)
def test_stored_outputs_are_as_new_as_what_the_notebook_runs(notebook):
    reasons = nbtools.stale_reasons(notebook)
    assert not reasons, (
        f"{notebook.name}'s stored outputs predate changes ({'; '.join(reasons)}): run "
        f"`{nbtools.execute_command(notebook)}` (`python tools/nbtools.py execute --stale` re-executes every stale one)"
    )


@pytest.mark.parametrize("notebook", nbtools.course_notebooks(), ids=lambda p: p.stem)
def test_stored_outputs_were_made_in_the_reference_configuration(notebook):
    """Issue 17: stored outputs say where they were made, and all in one declared configuration (README)."""
    setup = next(c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in setup.get("outputs", []) if o.get("output_type") == "stream")
    assert printed.startswith("Running on "), f"{notebook.name}'s setup cell does not say where it ran"
    precision = nbtools.REFERENCE_CONFIGURATION["UNET_PRECISION"]
    assert f"precision {precision} (set by UNET_PRECISION)" in printed, (
        f"{notebook.name} was not executed in the reference configuration: run `{nbtools.execute_command(notebook)}`"
    )


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A copy of unet_lib's code, to change without touching the real one (the checkpoint is a small stand-in)."""
    copy = tmp_path / "unet_lib"
    shutil.copytree(nbtools.LIBRARY, copy, ignore=shutil.ignore_patterns("__pycache__", "*.ckpt"))
    (copy / "assets" / "isbi2012_unet.ckpt").write_bytes(b"weights")
    return copy


def stamped(tmp_path: Path, library: Path, *sources: str) -> Path:
    """A notebook of these code cells, stamped as ``execute`` stamps it."""
    nb = nbformat.v4.new_notebook(cells=[code(source) for source in sources])
    nb.metadata[nbtools.STAMP_KEY] = nbtools.stamp(nb, library)
    path = tmp_path / "98_fixture.ipynb"
    nbformat.write(nb, path)
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_stamp_covers_what_the_notebook_imports_transitively(library, tmp_path):
    nb = nbformat.v4.new_notebook(cells=[code("import numpy as np\nfrom unet_lib import evaluation")])
    files = set(nbtools.stamp(nb, library))
    assert {"code cells", "unet_lib/__init__.py", "unet_lib/evaluation.py", "unet_lib/metrics.py"} <= files
    assert {"unet_lib/tiling.py", "unet_lib/data.py", "unet_lib/augment.py", "unet_lib/runtime.py"} <= files, (
        "evaluation imports tiling, which imports data, which imports augment"
    )
    assert not {"unet_lib/widgets.py", "unet_lib/cli.py", "unet_lib/checks/__init__.py"} & files
    assert "unet_lib/assets/isbi2012_unet.ckpt" in files, "evaluation.choose_course_model names the shipped model"
    assert "unet_lib/assets/ablation.json" not in files, "no code it runs names the ablation table"


def test_submodules_packages_main_and_data_files_count():
    nb = nbformat.v4.new_notebook(
        cells=[
            code("from unet_lib.viz import network\n%matplotlib inline\nif True:\n    !pip install x"),
            code('!torchrun --standalone -m unet_lib train\n(ASSETS / "ablation.json").read_text()'),
        ]
    )
    files = set(nbtools.stamp(nb))
    assert {"unet_lib/viz/__init__.py", "unet_lib/viz/network.py", "unet_lib/__main__.py", "unet_lib/cli.py"} <= files
    assert {"unet_lib/assets/ablation.json", "unet_lib/assets/isbi2012_unet.ckpt"} <= files, (
        "named by the cell; the checkpoint through cli → checkpoints"
    )


def test_a_changed_module_makes_the_notebook_stale_and_comments_do_not(library, tmp_path):
    path = stamped(tmp_path, library, "from unet_lib import evaluation\nprint(evaluation.COLUMNS)")
    assert nbtools.stale_reasons(path, library) == []
    metrics = library / "metrics.py"
    edit(metrics, '"""', '"""A reworded docstring. ')
    edit(metrics, "\ndef ", "\n# a new comment\n\n\ndef ")
    edit(library / "widgets.py", "def ", "def _unused():\n    return 1\n\n\ndef ")
    assert nbtools.stale_reasons(path, library) == [], "comments, docstrings and modules it does not run"
    edit(metrics, "RAND_MIN_SIZE = 20", "RAND_MIN_SIZE = 25")
    assert nbtools.stale_reasons(path, library) == ["unet_lib/metrics.py changed"]


def test_a_notebook_that_shows_source_counts_docstrings(library, tmp_path):
    path = stamped(tmp_path, library, "import inspect\nfrom unet_lib import layers\nprint(inspect.getsource(layers))")
    edit(library / "layers.py", '"""', '"""A reworded docstring. ')
    assert nbtools.stale_reasons(path, library) == ["unet_lib/layers.py changed"]


def test_changed_code_cells_and_new_imports_make_it_stale(library, tmp_path):
    path = stamped(tmp_path, library, "from unet_lib import layers")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\nfrom unet_lib import objects"
    nbformat.write(nb, path)
    reasons = nbtools.stale_reasons(path, library)
    assert reasons[0] == "code cells changed" and "unet_lib/objects.py is used now" in reasons
    nb.metadata.pop(nbtools.STAMP_KEY)
    nbformat.write(nb, path)
    assert nbtools.stale_reasons(path, library) == ["it has no stamp (executed before `execute` recorded one)"]


def test_the_stale_command_names_the_command_that_re_executes(tmp_path, capsys):
    path = stamped(tmp_path, nbtools.LIBRARY, "print(1)")
    assert nbtools.main(["stale", str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "print(2)"
    nbformat.write(nb, path)
    assert nbtools.main(["stale", str(path)]) == 1
    assert "98_fixture.ipynb: code cells changed: run `python tools/nbtools.py execute notebooks/98_fixture.ipynb`" in (
        capsys.readouterr().out
    )


def test_execute_stores_the_stamp_and_the_student_version_drops_it(tmp_path, monkeypatch):
    import nbclient

    class NoKernel:  # executing for real takes seconds; what matters here is what is written afterwards
        def __init__(self, nb, **_):
            self.nb = nb

        def execute(self, env):
            assert "UNET_FAST" not in env, "stored notebooks hold the full run"
            assert Path(env["UNET_RUNS_DIR"]).is_dir(), "and neither read nor overwrite the runs in the checkout"

    monkeypatch.setattr(nbclient, "NotebookClient", NoKernel)
    monkeypatch.setenv("UNET_FAST", "1")
    path = tmp_path / "98_fixture.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[code("from unet_lib import layers")]), path)
    nbtools.execute(path)
    assert nbtools.stale_reasons(path) == []
    student = make_student.make_student(nbformat.read(path, as_version=4), path.stem, {path.name})
    assert nbtools.STAMP_KEY not in student.metadata


def test_rebuild_names_notebooks_by_number():
    first = nbtools.course_notebooks()[0]
    assert nbtools.resolve_notebooks([first.name[:2], first.stem, str(first)]) == [first] * 3
    with pytest.raises(ValueError, match="no single course notebook '99'"):
        nbtools.resolve_notebooks(["99"])
    assert nbtools.main(["rebuild", "99"]) == 2


def test_stored_notebooks_run_without_the_runs_in_the_checkout(tmp_path, monkeypatch):
    """``execute`` points ``UNET_RUNS_DIR`` at an empty folder: notebook 09 then opens the shipped model, as stored."""
    from unet_lib import checkpoints

    monkeypatch.setenv("UNET_FAST", "0")
    monkeypatch.setenv(checkpoints.RUNS_ENV, str(tmp_path))
    assert checkpoints.runs_dir() == tmp_path
    assert checkpoints.course_checkpoint() == checkpoints.SHIPPED_CHECKPOINT
    fresh = tmp_path / checkpoints.NOTEBOOK08_RUN / "model.ckpt"
    fresh.parent.mkdir()
    fresh.write_bytes(b"a run of notebook 08")
    assert checkpoints.course_checkpoint() == fresh
    monkeypatch.delenv(checkpoints.RUNS_ENV)
    assert checkpoints.runs_dir() == ROOT / "runs"
