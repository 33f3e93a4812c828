"""tools/bench_threads.py: concurrent training processes, PyTorch's default threads against the cap (issue 22).

The quick run starts both sides for real — two processes at once each — with a tiny network; the full
measurement is docs/measured/bench_threads.json (its command is stored in it)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bench_threads  # noqa: E402

from unet_lib import runtime  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, str, Path]:
    path = tmp_path_factory.mktemp("bench") / "threads.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert bench_threads.main(["--quick", "--json", str(path)]) == 0
    return json.loads(path.read_text()), printed.getvalue(), path


def test_each_side_ran_two_processes_with_its_threads(quick):
    result, *_ = quick
    capped, default = result["summary"]["capped"], result["summary"]["default"]
    share = runtime.decide_threads(quota=(os.cpu_count() or 1) / 2, environ={})  # what a hub granting half gives
    assert capped["threads_each"] == [share.threads] and capped["why"] == share.describe()
    assert "PyTorch's default" in default["why"] and default["threads_each"][0] >= share.threads
    steps = result["settings"]["steps"] * result["settings"]["processes"] * result["settings"]["rounds"]
    assert capped["steps_timed"] == default["steps_timed"] == steps


def test_the_stored_command_writes_the_same_file(quick):
    """docs/measured/bench_threads_4.json stored `python tools/bench_threads.py --processes 4`, a command that
    overwrites docs/measured/bench_threads.json: the stored command names the file it wrote."""
    result, _, path = quick
    assert result["command"] == f"python tools/bench_threads.py --quick --json {path}"


def test_every_timed_step_ran_beside_the_other_process(quick):
    result, *_ = quick
    for side, records in result["runs"].items():
        assert len(records) == 2
        assert max(r["timed_until"] for r in records) <= min(r["busy_until"] for r in records), side


def test_it_prints_the_short_table(quick):
    result, printed, _ = quick
    lines = printed.splitlines()
    assert lines[1].split() == ["side", "threads", "each", "s/step", "CPU", "s/step"]
    assert lines[2].split()[0] == "default" and lines[3].split()[0] == "capped"
    assert f"{result['capped_speedup']:.2f}×" in lines[4] and lines[5].startswith("wrote ")
