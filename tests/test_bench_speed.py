"""tools/bench_speed.py runs end to end (tiny sizes) and reports every row with its ratio and precision."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bench_speed  # noqa: E402

pytestmark = pytest.mark.slow


def test_quick_benchmark_reports_ratios_for_every_row(tmp_path, capsys, one_thread):
    result = bench_speed.main(["--quick", "--json", str(tmp_path / "speed.json")])
    assert json.loads((tmp_path / "speed.json").read_text()) == json.loads(json.dumps(result))
    assert {"fp32 NCHW", "fp32 channels_last"} <= set(result["convolution_gflops"])
    names = [row["what"] for row in result["rows"]]
    assert names[:3] == ["paper forward 188²", "CPU-recipe training step 2 × 188²", "whole 200² slice, shipped model"]
    for row in result["rows"]:
        assert row["speedup"] == pytest.approx(row["textbook_s"] / row["course_s"])
    assert all("on cpu" in row["course_precision"] for row in result["rows"][:3])
    assert "speed-up" in capsys.readouterr().out


def test_the_textbook_loop_predicts_what_the_course_predicts():
    """The baseline is a fair one: same model, same answer (fp32), only computed the textbook way."""
    import numpy as np

    from unet_lib import tiling

    course, textbook = bench_speed.shipped_model()
    image = np.random.default_rng(0).random((150, 170)).astype(np.float32)
    expected = tiling.predict_probability(course, image, precision="fp32")
    assert np.abs(bench_speed.textbook_probability(textbook, image) - expected).max() <= 1e-4


STORED = sorted((Path(__file__).resolve().parents[1] / "docs" / "measured").glob("bench_speed_*.json"))


def test_a_measurement_is_stored_for_each_kind_of_processor_seen():
    """Real processors only: a stand-in (older code paths forced on a newer CPU) does not count for the older one."""
    results = [json.loads(p.read_text()) for p in STORED]
    assert {r["cpu_capability"] for r in results if not r.get("code_path_caps")} >= {"AVX2", "AVX512"}


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.stem)
def test_the_readme_speed_tables_are_the_stored_measurements(path):
    """README, "Speed": every row as docs/measured/bench_speed_*.json has it, with the processor it was run on."""
    root = Path(__file__).resolve().parents[1]
    result = json.loads(path.read_text())
    block = (root / "README.md").read_text().split("<!-- speed -->")[1].split("<!-- /speed -->")[0]
    assert f"{result['processor']} ({result['cpu_capability']}), torch {result['torch']}" in block
    assert f"(docs/measured/{path.name})" in block
    for name, value in result.get("code_path_caps", {}).items():  # a stand-in for an older processor says so
        assert f"{name}={value}" in block, name
    for row in result["rows"]:
        line = f"| {row['what']} | {row['course_s']:.3f} s | {row['textbook_s']:.3f} s | {row['speedup']:.2f}× |"
        assert line in block, line


def test_a_run_with_capped_code_paths_records_the_caps(monkeypatch):
    """A result made with older code paths forced (a stand-in for an older CPU) must not pass for that CPU."""
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert bench_speed.code_path_caps() == {}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert bench_speed.code_path_caps() == {"ONEDNN_MAX_CPU_ISA": "AVX2"}


def test_the_readme_quotes_the_stand_ins_before_from_its_stored_run():
    """The 'before' of the AVX2 stand-in (the library before issue 21's layout choice) is quoted from its JSON."""
    root = Path(__file__).resolve().parents[1]
    stored = json.loads((root / "docs" / "measured" / "before" / "bench_speed_xeon_as_avx2_d0aeef6.json").read_text())
    readme = (root / "README.md").read_text()
    link = "(docs/measured/before/bench_speed_xeon_as_avx2_d0aeef6.json)"
    paragraph = next(part for part in readme.split("\n\n") if link in part)  # wherever the lines wrap
    assert stored["commit"] in paragraph
    assert [f"{row['speedup']:.2f}×" in paragraph for row in stored["result"]["rows"]] == [True] * 4
    assert (
        stored["code_path_caps"]
        == json.loads((root / "docs/measured/bench_speed_xeon_as_avx2.json").read_text())["code_path_caps"]
    )
