"""tools/bench_ddp.py: 1 process vs 2 DDP processes, measured by the training loop itself (notebook 10).

The quick run starts every side for real (a 2-rank ``torchrun`` job among them) with a tiny network; the
stored measurement that notebook 10 displays must be a full run of the same tool, with ratios that follow
from its own medians.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bench_ddp  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_quick_run_measures_each_side_with_its_processes_and_threads(tmp_path):
    path = tmp_path / "ddp.json"
    assert bench_ddp.main(["--quick", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert set(result["runs"]) == set(bench_ddp.SIDES)
    for name, (processes, threads) in bench_ddp.SIDES.items():
        (measured,) = result["runs"][name]  # one round
        assert measured["world_size"] == processes and measured["threads"] == threads, name
        assert measured["tiles_per_second"] > 0 and "fp32" in measured["precision"]
    assert result["command"] == "python tools/bench_ddp.py --quick" and result["settings"] == bench_ddp.QUICK


def test_the_stored_measurement_is_a_full_run_and_its_ratios_follow_from_its_medians():
    result = json.loads(bench_ddp.TABLE.read_text())
    assert result["command"] == "python tools/bench_ddp.py" and result["settings"] == bench_ddp.FULL
    rates = {}
    for name, (processes, threads) in bench_ddp.SIDES.items():
        runs = result["runs"][name]
        assert len(runs) == bench_ddp.FULL["rounds"]
        assert all(r["world_size"] == processes and r["threads"] == threads for r in runs)
        rates[name] = statistics.median(r["tiles_per_second"] for r in runs)
    assert result["median_tiles_per_second"] == pytest.approx(rates)
    assert result["speedup_2x1_vs_1x2"] == pytest.approx(rates["2x1"] / rates["1x2"])
    assert result["scaling_2x1_vs_1x1"] == pytest.approx(rates["2x1"] / rates["1x1"])


def test_the_readme_quotes_the_stored_measurement():
    """README, "What speed-up to expect": the numbers of ``unet_lib/assets/ddp_throughput.json``."""
    result = json.loads(bench_ddp.TABLE.read_text())
    readme = " ".join((ROOT / "README.md").read_text().split("<!-- ddp -->")[1].split("<!-- /ddp -->")[0].split())
    rates = result["median_tiles_per_second"]
    for text in (
        f"2 threads trains {rates['1x2']:.2f} tiles/s",
        f"{rates['2x1']:.2f} tiles/s (× {result['speedup_2x1_vs_1x2']:.2f})",
        f"one thread {rates['1x1']:.2f} tiles/s",
        f"× {result['scaling_2x1_vs_1x1']:.2f} of one, {result['scaling_2x1_vs_1x1'] / 2:.2f} of perfect scaling",
    ):
        assert text in readme, text
