"""tools/measure_notebooks.py: a notebook's time and the kernel's peak memory (Binder allows about 2 GB)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from course_fixture import course_notebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import measure_notebooks  # noqa: E402


def test_measures_time_and_peak_memory_without_writing(tmp_path):
    path = tmp_path / "98_fixture.ipynb"
    nbformat.write(course_notebook("98_fixture", widget=False), path)
    before = path.read_text()
    result = measure_notebooks.measure(path, fast=True)
    assert result.name == "98_fixture.ipynb" and result.seconds > 0
    assert 50 < result.peak_mb < measure_notebooks.BINDER_LIMIT_MB, "a kernel that imported torch and drew a figure"
    assert path.read_text() == before, "the notebook on disk is not changed"


def test_fast_mode_only_when_asked(monkeypatch):
    monkeypatch.setenv("UNET_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert "UNET_FAST" not in measure_notebooks.kernel_env(fast=False)
    assert measure_notebooks.kernel_env(fast=True)["UNET_FAST"] == "1"
    assert "MPLBACKEND" not in measure_notebooks.kernel_env(fast=True), "figures are drawn inline, as for a learner"


def test_json_keeps_the_numbers_with_the_machine(tmp_path, monkeypatch, capsys):
    """The guide's "the whole of 08 took 161 s" was measured once (issue 22) and kept nowhere: --json keeps each
    notebook's time and peak with the command, the processor, the threads and the load average."""
    import json

    fake = measure_notebooks.Measurement("08_training.ipynb", 161.04, 880.0, 0.0)
    monkeypatch.setattr(measure_notebooks, "measure", lambda path, fast=False, timeout=1800: fake)
    out = tmp_path / "notebooks.json"
    assert measure_notebooks.main(["notebooks/08_training.ipynb", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["memory_unit"] == "MB (10^6 bytes)", "the doctor's unit: ru_maxrss's KiB are converted"
    assert result["mode"] == "full" and result["command"].startswith("python tools/measure_notebooks.py")
    assert {"processor", "threads", "load_average_before", "load_average_after"} <= set(result["machine"])
    assert result["data"].startswith(("ISBI 2012", "built-in")), "the data the notebooks ran on: times depend on it"
    assert result["notebooks"] == [
        {"name": "08_training.ipynb", "seconds": 161.0, "peak_mb": 880.0, "children_mb": 0.0}
    ]
    assert "161.0" in capsys.readouterr().out
