"""Data-parallel training (unet_lib.distributed): torchrun, gloo on this CPU, two processes.

Two processes with one tile each must reach the weights of one process with both tiles; a checkpoint from
either world size resumes in the other; a process that dies ends the job with a clear message and leaves
the last checkpoint loadable. These tests start real ``torchrun`` jobs of ``python -m unet_lib train`` on a
tiny own-data folder, so they take a few seconds each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from unet_lib import checkpoints, distributed, runtime
from unet_lib.batches import StepBatches, batch_indices
from unet_lib.distributed import World

TINY = ["--base-channels", "2", "--depth", "2", "--tile-size", "92", "--val-tiles", "1", "--precision", "fp32"]
pytestmark = pytest.mark.slow


def test_the_world_comes_from_torchruns_variables(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.world_from_env() == World(0, 1, 0) and distributed.world_from_env().is_main
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.world_from_env() == World(2, 4, 0) and not World(2, 4, 0).is_main


def test_the_ranks_share_exactly_one_processs_batch():
    one = StepBatches(5, 4, 30, seed=3, world=World())
    two = [StepBatches(5, 2, 30, seed=3, world=World(rank, 2)) for rank in range(2)]
    for _, whole, first, second in zip(range(6), one, *two):
        assert first + second == whole
    assert next(iter(one)) == batch_indices(5, 4, 30, seed=3)
    assert distributed.agree(World(), "time", 0.5) == ("time", 0.5)  # one process: nothing to agree on


def own_folder(root: Path) -> Path:
    """Two tiny labelled images: enough for a training split and one validation image."""
    rng = np.random.default_rng(0)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    rows, cols = np.mgrid[:96, :96]
    for k in range(2):
        mask = (rows - 30 - 20 * k) ** 2 + (cols - 50) ** 2 < 400
        image = (mask * 150 + rng.normal(40, 15, (96, 96))).clip(0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"{k}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{k}.png")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return own_folder(tmp_path_factory.mktemp("ddp_data"))


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", "UNET_FAST": "1"}


def train(out: Path, data: Path, processes: int, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    command = ["-m", "unet_lib", "train", "--data", str(data), "--out", str(out), *TINY, *options]
    if processes > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        command = launcher + command
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True, env=environment())
    if check:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def weights(path: Path) -> dict[str, torch.Tensor]:
    return checkpoints.load_checkpoint(path)["model_state"]


def test_two_ranks_with_one_tile_equal_one_process_with_two(folder, tmp_path):
    options = ["--steps", "3", "--no-batch-norm", "--checkpoint-every", "3", "--val-every", "3"]
    ddp_run = train(tmp_path / "ddp", folder, 2, *options, "--batch-size", "1")
    train(tmp_path / "one", folder, 1, *options, "--batch-size", "2")
    # each rank takes its share of the CPUs granted (here capped by the OMP_NUM_THREADS=1 torchrun also sets)
    share = runtime.decide_threads(processes=2, environ={"OMP_NUM_THREADS": "1"})
    assert "share of 2 processes" in share.describe() and f"using {share.describe()}\n" in ddp_run.stdout
    ddp, one = weights(tmp_path / "ddp" / "last.ckpt"), weights(tmp_path / "one" / "last.ckpt")
    assert all(torch.allclose(ddp[k], one[k], rtol=0, atol=1e-6) for k in one)  # up to the order of float sums
    start = weights(tmp_path / "one" / "last.ckpt")
    train(tmp_path / "other", folder, 1, *options, "--batch-size", "1")  # half the batch: other weights
    assert not all(torch.allclose(start[k], weights(tmp_path / "other" / "last.ckpt")[k], atol=1e-6) for k in start)
    record = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert record["world_size"] == 2 and record["steps"] == 3
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["world_size"] == 1


def test_a_checkpoint_resumes_across_world_sizes(folder, tmp_path):
    options = ["--checkpoint-every", "2", "--val-every", "2", "--batch-size", "1"]
    train(tmp_path / "a", folder, 2, "--steps", "4", *options)
    train(tmp_path / "a", folder, 1, "--steps", "6", "--resume", str(tmp_path / "a" / "last.ckpt"), *options)
    state = checkpoints.load_checkpoint(tmp_path / "a" / "last.ckpt")
    assert state["step"] == 6 and state["history"]["world_size"] == 1
    train(tmp_path / "b", folder, 1, "--steps", "3", *options)
    train(tmp_path / "b", folder, 2, "--steps", "5", "--resume", str(tmp_path / "b" / "last.ckpt"), *options)
    state = checkpoints.load_checkpoint(tmp_path / "b" / "last.ckpt")
    assert state["step"] == 5 and state["history"]["world_size"] == 2
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["world_size"] == 2


def rank_pids(parent: int) -> dict[int, int]:
    """{rank: pid} of the worker processes that the torchrun process ``parent`` started (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            variables = dict(line.split("=", 1) for line in (entry / "environ").read_text().split("\0") if "=" in line)
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
        if "RANK" in variables:
            found[int(variables["RANK"])] = int(entry.name)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes through /proc (Linux)")
def test_a_rank_that_dies_ends_the_job_clearly_and_keeps_the_last_checkpoint(folder, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "unet_lib"]
    command += ["train", "--data", str(folder), "--out", str(out), *TINY, "--steps", "100000", "--batch-size", "1"]
    command += ["--checkpoint-every", "2", "--val-every", "1000"]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    deadline = time.monotonic() + 120
    while not (out / "last.ckpt").is_file() and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.2)
    assert (out / "last.ckpt").is_file(), "the job wrote no checkpoint"
    pids = rank_pids(job.pid)
    os.kill(pids[1], signal.SIGKILL)
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode != 0
    assert "another training process stopped" in stdout + stderr
    survivor = [line for line in stderr.splitlines() if line.startswith("error: rank 0: another training process")]
    assert len(survivor) == 1 and "last good checkpoint" in survivor[0], stderr  # issue 18: one line, no traceback
    assert "Traceback" not in stderr.split(survivor[0])[0], "the survivor printed a traceback before its line"
    assert "Traceback" not in stdout.split("another training process stopped")[0][-500:]
    state = checkpoints.load_checkpoint(out / "last.ckpt")  # whole, and a real checkpoint
    assert state["step"] >= 2 and state["step"] % 2 == 0


def _precision_of_rank(rank: int, store: str, results: Any) -> None:
    import torch.distributed as dist

    from unet_lib import runtime

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    mine = runtime.Precision("cpu", None, channels_last=rank == 1, reason=f"measured by rank {rank}")
    results[rank] = distributed.same_precision(World(rank, 2), mine)
    dist.destroy_process_group()


def test_every_rank_takes_rank_0s_precision(tmp_path):
    """Issue 17: two ranks that measured "auto" differently (NCHW vs channels_last) made DDP refuse the model."""
    import torch.multiprocessing as mp

    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_precision_of_rank, args=(str(tmp_path / "store"), results), nprocs=2)
        chosen = dict(results)
    assert chosen[0] == chosen[1] and not chosen[1].channels_last and chosen[1].reason == "measured by rank 0"


def test_a_rank_other_than_0_leaves_without_the_interpreters_teardown(monkeypatch, capsys):
    """Rank 1 of a torchrun job that finished: output flushed, then ``os._exit`` with train's code (a teardown abort
    in rank 1 made torchrun kill rank 0 before it wrote model.ckpt, issue 17); rank 0 returns as usual."""
    from types import SimpleNamespace

    from unet_lib import commands

    exits = []

    def fake_exit(code):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(distributed.os, "_exit", fake_exit)
    monkeypatch.setattr(commands, "train_into", lambda plan, out, created, started, world: print("rank done") or 0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit):
        commands.command_train(SimpleNamespace(out="unused"))
    assert exits == [0] and "rank done" in capsys.readouterr().out
