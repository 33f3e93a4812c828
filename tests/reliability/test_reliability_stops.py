"""Reliability (issue 13), hard stops: signals, killed writers, full disks, damaged data and silent mirrors.

The kill loop SIGKILLs a writer mid-write many times: the target is always the old or the new complete
file, and the temporary files the dead writers left are removed by the next write.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_helpers import TINY

from unet_lib import checkpoints, data, evaluation, isbi2012, runtime
from unet_lib.isbi2012 import DataUnavailable, load_isbi2012
from unet_lib.model import UNetModel

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- the writer ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill loop forks a writer")
def test_a_writer_killed_mid_write_leaves_the_old_or_the_new_file(tmp_path):
    """The kill loop: 40 writers SIGKILLed at random moments; every time the file is whole, and then tidy."""
    target, size, rng = tmp_path / "big.bin", 2_000_000, np.random.default_rng(0)
    runtime.write_atomic(target, lambda tmp: Path(tmp).write_bytes(bytes([0]) * size))
    for round_ in range(40):
        pid = os.fork()
        if pid == 0:  # the child writes new versions of the file until it is killed
            version = 1
            while True:
                runtime.write_atomic(target, lambda tmp, v=version: Path(tmp).write_bytes(bytes([v % 256]) * size))
                version += 1
        time.sleep(float(rng.uniform(0.0, 0.05)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        content = target.read_bytes()
        assert len(content) == size and content.count(content[:1]) == size, f"round {round_}: a torn file"
    runtime.write_atomic(target, lambda tmp: Path(tmp).write_bytes(b"final"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"], "stale temporary files were not removed"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill loop forks a writer")
def test_a_checkpoint_killed_mid_save_always_loads(tmp_path):
    """The same through ``save_checkpoint`` (torch.save): ``last.ckpt`` always loads."""
    model, rng = UNetModel(base_channels=8, depth=2), np.random.default_rng(1)
    path = checkpoints.save_checkpoint(tmp_path / "last.ckpt", model, step=0)
    for _ in range(12):
        pid = os.fork()
        if pid == 0:
            step = 1
            while True:
                checkpoints.save_checkpoint(path, model, step=step)
                step += 1
        time.sleep(float(rng.uniform(0.0, 0.08)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert checkpoints.load_checkpoint(path)["step"] >= 0
    checkpoints.save_checkpoint(path, model, step=99)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_the_data_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    """4: ``write_atomic`` did not fsync before the rename (a power cut could leave an empty file)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(runtime.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(runtime.os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    runtime.write_atomic(tmp_path / "f.txt", lambda tmp: Path(tmp).write_text("data"))
    assert events[:2] == ["fsync", "replace"] and (tmp_path / "f.txt").read_text() == "data"


def test_stale_temporary_files_are_removed_but_live_ones_kept(tmp_path):
    """11: SIGKILL during a write left ``last.ckpt.*.tmp`` files (up to 23 MB) that nothing removed."""
    stale = tmp_path / f"last.ckpt.{dead_pid()}.abc123.tmp"
    live = tmp_path / f"last.ckpt.{os.getppid()}.def456.tmp"  # the parent of this process is alive
    other = tmp_path / "notes.1.x.tmp.txt"
    for file in (stale, live, other):
        file.write_bytes(b"x" * 100)
    runtime.write_atomic(tmp_path / "last.ckpt", lambda tmp: Path(tmp).write_text("new"))
    assert not stale.exists() and live.exists() and other.exists()


def test_train_removes_stale_temporaries_at_start(cli, own_data, tmp_path):
    """11: a run folder that holds only a dead writer's temporary file counts as empty, and is cleaned."""
    out = tmp_path / "R"
    out.mkdir()
    (out / f"last.ckpt.{dead_pid()}.zz9.tmp").write_bytes(b"half")
    assert cli("train", "--data", own_data, "--steps", 1, "--out", out, *TINY).code == 0
    assert not list(out.glob("*.tmp"))


def test_a_failed_write_says_why_in_one_line(tmp_path):
    """4: disk full used to give ``RuntimeError … unexpected pos``; now one line that says "disk full"."""

    def full_disk(tmp):
        Path(tmp).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(runtime.OutputError, match="the disk is full: could not write .*free some space"):
        runtime.write_atomic(tmp_path / "x.png", full_disk)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(runtime.OutputError, match="is a file, not a folder|a file of that name is in the way"):
        runtime.write_atomic(tmp_path / "file" / "x.png", lambda tmp: None)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (needs root and permission to mount; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_really_full_disk(tiny_disk, cli, own_data):
    """4: on a real full disk: torch.save and the PNG writer say "disk full"; train refuses before any work."""
    (tiny_disk / "filler").write_bytes(b"\0" * (200 * 1024))
    model = UNetModel(base_channels=16, depth=2)  # ~1.1 MB of weights: more than the disk has
    with pytest.raises(runtime.OutputError, match="the disk is full"):
        checkpoints.save_checkpoint(tiny_disk / "m.ckpt", model)
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]
    cli(
        "train", "--data", own_data, "--steps", 1, "--out", tiny_disk / "run", "--base-channels", 16, *TINY[2:]
    ).refused("MB are free on the disk of")


# -- signals -------------------------------------------------------------------------------------------------
def send_at_item(monkeypatch, signum: int, item: int) -> None:
    """Make the training tiles send ``signum`` to this process when item ``item`` is fetched."""
    real = data.TileDataset.__getitem__
    fetched = []

    def fetch(self, index):
        fetched.append(index)
        if len(fetched) == item and self.augment is not None and self.num_tiles > 4:
            os.kill(os.getpid(), signum)
        return real(self, index)

    monkeypatch.setattr(data.TileDataset, "__getitem__", fetch)


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
)
def test_a_signal_stops_at_a_step_boundary_and_the_resumed_run_matches(cli, own_data, tmp_path, monkeypatch, signum):
    """3, 10: SIGTERM/SIGHUP ended ``train`` with nothing saved; Ctrl-C did not say what was saved.

    Now all three save ``last.ckpt`` at the last whole step, write ``metrics.json`` and print the command that
    resumes; the resumed run ends with exactly the weights of an uninterrupted one.
    """
    argv = ["train", "--data", own_data, "--steps", 4, *TINY, "--checkpoint-every", 100]
    assert cli(*argv, "--out", tmp_path / "straight").code == 0
    with monkeypatch.context() as patch:
        send_at_item(patch, signum, item=5)  # the first tile of step 3 (batch 2): step 3 is finished, then saved
        stopped = cli(*argv, "--out", tmp_path / "R")
    assert stopped.code == 128 + signum, (stopped.out, stopped.err)
    assert "Traceback" not in stopped.err
    name = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}.get(signum, "SIGHUP")
    assert f"stopped by {name} while training: {tmp_path / 'R' / 'last.ckpt'} holds step 3" in stopped.out
    record = json.loads((tmp_path / "R" / "metrics.json").read_text())
    assert record["stopped_by"] == "interrupted" and record["steps"] == 3 and record["validation"] is None
    assert not (tmp_path / "R" / "model.ckpt").exists()
    command = shlex.split(record["resume_command"])
    assert command[:3] == ["python", "-m", "unet_lib"] and record["resume_command"] in stopped.out
    assert cli(*command[3:]).code == 0
    straight = checkpoints.load_checkpoint(tmp_path / "straight" / "model.ckpt")["model_state"]
    resumed = checkpoints.load_checkpoint(tmp_path / "R" / "model.ckpt")["model_state"]
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_during_a_step_the_first_signal_waits_for_its_end_and_a_second_stops_at_once(capsys):
    """3: a step is never cut in half by the first signal (the checkpoint holds whole steps), but a hung step
    is not waited for for ever: the second signal (any of the three) stops at once."""
    from unet_lib.cli import stop_signals
    from unet_lib.train import StopRequests

    with stop_signals() as signals, StopRequests() as stops:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs between two bytecodes; nothing was raised
        assert stops.reason == "interrupted" and stops.number == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert "SIGTERM: stopping after this step" in capsys.readouterr().out
    assert signals.received is None  # fit's handlers, not the command's, took both
    assert signal.getsignal(signal.SIGTERM) not in (stops._ask, signals.handle)  # both put the old ones back


def test_ctrl_c_before_training_says_nothing_was_saved(cli, own_data, tmp_path, monkeypatch):
    """10: Ctrl-C before the loop used to end in a traceback."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "load_folder", interrupted)
    result = cli("train", "--data", own_data, "--steps", 2, "--out", tmp_path / "R", *TINY)
    assert result.code == 130 and "Traceback" not in result.err
    assert "stopped by Ctrl-C while loading the data: nothing was saved" in result.out
    assert not (tmp_path / "R").exists(), "the empty folder this run made is gone"


def test_ctrl_c_during_calibration_keeps_the_trained_steps(cli, own_data, tmp_path, monkeypatch):
    """10: Ctrl-C during calibration used to end in a traceback, with no model.ckpt and no word on last.ckpt."""
    out = tmp_path / "R"
    with monkeypatch.context() as patch:
        patch.setattr(evaluation, "calibrate_thresholds", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        result = cli("train", "--data", own_data, "--steps", 3, "--out", out, *TINY)
    assert result.code == 130 and "Traceback" not in result.err
    assert f"{out / 'last.ckpt'} holds step 3" in result.out and "training had finished" in result.out
    record = json.loads((out / "metrics.json").read_text())
    command = shlex.split(record["resume_command"])
    assert command[command.index("--steps") + 1] == "3"
    assert cli(*command[3:]).code == 0
    assert checkpoints.load_checkpoint(out / "model.ckpt")["step"] == 3


@pytest.mark.slow
def test_sigterm_to_a_real_train_process_saves_and_says_how_to_resume(own_data, tmp_path):
    """3: the real thing, as a batch scheduler does it: a separate process, SIGTERM after the first save."""
    out = tmp_path / "R"
    argv = [sys.executable, "-m", "unet_lib", "train", "--data", str(own_data), "--minutes", "5", "--out", str(out)]
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [*argv, *TINY, "--checkpoint-every", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "last.ckpt").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, (stdout, stderr)
    assert b"Traceback" not in stderr and b"stopped by SIGTERM while training" in stdout
    record = json.loads((out / "metrics.json").read_text())
    assert record["steps"] == checkpoints.load_checkpoint(out / "last.ckpt")["step"] >= 1
    assert "--resume" in record["resume_command"] and "--minutes" in record["resume_command"]


# -- the data layer --------------------------------------------------------------------------------------------
@pytest.fixture
def local_slices(tmp_path, monkeypatch):
    """A data folder with 90 small PNGs and checksums made to match them."""
    import hashlib

    from PIL import Image

    root = tmp_path / "data" / "isbi2012"
    rng = np.random.default_rng(0)
    sums = {}
    for folder in ("images", "labels", "test_images"):
        (root / folder).mkdir(parents=True)
        for i in range(30):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(np.where(pixels > 60, 255, 0).astype(np.uint8) if folder == "labels" else pixels).save(
                root / folder / f"{i:02d}.png"
            )
            sums[f"{folder}/{i:02d}.png"] = hashlib.sha256((root / folder / f"{i:02d}.png").read_bytes()).hexdigest()
    monkeypatch.setattr(isbi2012, "isbi2012_checksums", lambda: sums)
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(isbi2012, "DOWNLOAD_RETRIES", 0)
    return root


def test_a_damaged_file_is_named_when_offline(local_slices, monkeypatch, capsys):
    """11: a damaged file in an ISBI copy was reported as "(no network)", never naming the file."""
    from unet_lib.data import load_dataset

    (local_slices / "labels" / "07.png").write_bytes(b"damaged")
    monkeypatch.setenv("UNET_DATA_URL", "http://127.0.0.1:9/")
    with pytest.raises(DataUnavailable) as caught:
        load_isbi2012("train")
    assert caught.value.reason == "labels/07.png is damaged and no network"
    assert "07.png does not match its SHA-256" in str(caught.value) and "delete it" in str(caught.value)
    capsys.readouterr()
    small = data.make_synthetic_em
    monkeypatch.setattr(data, "make_synthetic_em", lambda: small(2, 32))  # the message is the point, not the data
    load_dataset("isbi2012")
    assert "built-in synthetic EM-like data (labels/07.png is damaged and no network)" in capsys.readouterr().out


def test_a_damaged_file_in_a_read_only_copy_is_named(local_slices, monkeypatch):
    """11: … or as "(data folder not writable)"."""
    (local_slices / "images" / "03.png").write_bytes(b"damaged")

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(isbi2012.pooch.Pooch, "fetch", read_only)
    with pytest.raises(DataUnavailable) as caught:
        load_isbi2012("train")
    assert caught.value.reason == "images/03.png is damaged and the data folder is not writable"


def test_a_silent_mirror_times_out_with_a_message(local_slices, monkeypatch):
    """11: a mirror that never answers used to stall 65 s silently and then say "no network"."""
    (local_slices / "images" / "00.png").unlink()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()  # accepts, never answers
    monkeypatch.setenv("UNET_DATA_URL", f"http://127.0.0.1:{server.getsockname()[1]}/")
    monkeypatch.setattr(isbi2012, "DOWNLOAD_TIMEOUT_S", 0.5)
    start = time.perf_counter()
    try:
        with pytest.raises(DataUnavailable, match=r"did not answer within 0\.5 s") as caught:
            load_isbi2012("train")
    finally:
        server.close()
    assert caught.value.reason == "the mirror did not answer within 0.5 s"
    assert time.perf_counter() - start < 10
