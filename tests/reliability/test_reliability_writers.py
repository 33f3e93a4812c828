"""Reliability (issue 18): a lost peer, two writers at once, a diverged run, an input destroyed, and the smaller
cases of the third round. Every refusal is one line on stderr with exit status 2 (``Result.refused``); the
concurrency cases start real processes (``python -m unet_lib``) beside this one.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from reliability_helpers import TINY, Result, make_own_data, mixed_size_stack, tiny_checkpoint

from unet_lib import checkpoints, distributed, outputs, runtime, train
from unet_lib.cli import main
from unet_lib.data import TileDataset
from unet_lib.model import UNetModel

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]


def gray(path: Path, seed: int = 0, size: tuple[int, int] = (24, 24)) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, size, dtype=np.uint8)).save(path)
    return path


def edited(source: Path, target: Path, change) -> Path:
    """A copy of a checkpoint with ``change(state)`` applied, saved the way torch saves."""
    state = torch.load(source, weights_only=True)
    change(state)
    torch.save(state, target)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- 1. inputs are never outputs -------------------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_predict_into_its_own_input_folder_is_refused_and_touches_nothing(cli, run, tmp_path, overwrite):
    """1: ``predict inout --out inout`` called the input ``a_probability.png`` "a file from an earlier run", and with
    --overwrite replaced it with a.png's output and then predicted that as an input."""
    out, _ = run
    inout = tmp_path / "inout"
    inout.mkdir()
    gray(inout / "a.png", 1), gray(inout / "a_probability.png", 2)  # an earlier export, now an input
    before = snapshot(inout)
    cli("predict", "--checkpoint", out / "model.ckpt", inout, "--out", inout, *overwrite).refused(
        f"--out {inout} holds the input a.png", "choose another --out"
    )
    assert snapshot(inout) == before
    cli("predict", "--checkpoint", out / "model.ckpt", inout / "a.png", "--out", inout, *overwrite).refused(
        "holds the input a.png"
    )
    assert snapshot(inout) == before


def test_an_output_name_that_is_an_input_elsewhere_is_refused(cli, run, tmp_path):
    """1: the input reached through a link into --out would be replaced by its own output's name."""
    out, _ = run
    (tmp_path / "O").mkdir()
    gray(tmp_path / "O" / "b_probability.png", 3)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.png").symlink_to(tmp_path / "O" / "b_probability.png")  # b.png → b_probability.png
    before = snapshot(tmp_path / "O")
    cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "in" / "b.png", "--out", tmp_path / "O").refused(
        "holds the input b.png"
    )
    assert snapshot(tmp_path / "O") == before


# -- 2, 3. one writer per output folder -----------------------------------------------------------------------
def command(*argv) -> list[str]:
    return [sys.executable, "-m", "unet_lib", *[str(a) for a in argv]]


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", UNET_FAST="1")


def wait_for_lock(folder: Path, pid: int, process: subprocess.Popen, seconds: float = 120) -> None:
    lock, deadline = folder / outputs.LOCK_NAME, time.monotonic() + seconds
    while not (lock.is_file() and lock.read_text().startswith(f"{pid}\n")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


def test_a_second_command_into_a_folder_in_use_is_refused_naming_the_first(cli, run, own_data, tmp_path):
    """2, 3: two ``train`` (or ``predict``) commands into one --out both exited 0 and mixed their files. Now the
    second is refused naming the first process; once that one is SIGKILLed, its lock no longer blocks anyone."""
    out, _ = run
    target = tmp_path / "shared"
    first = subprocess.Popen(
        command("train", "--data", own_data, "--minutes", 5, "--out", target, *TINY),
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_lock(target, first.pid, first)
        second = subprocess.run(
            command("train", "--data", own_data, "--steps", 1, "--out", target, "--overwrite", *TINY),
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        Result(second.returncode, second.stdout, second.stderr).refused(
            f"--out {target} is being written by process {first.pid} (python -m unet_lib train", "wait for it"
        )
        image = gray(tmp_path / "x.png")
        cli("predict", "--checkpoint", out / "model.ckpt", image, "--out", target, "--overwrite").refused(
            f"is being written by process {first.pid}"
        )
        assert first.poll() is None, "the first command was disturbed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert (target / outputs.LOCK_NAME).is_file(), "the killed command left its lock file (the kernel freed the lock)"
    result = cli("train", "--data", own_data, "--steps", 1, "--out", target, "--overwrite", *TINY)
    assert result.code == 0, result.err
    assert not (target / outputs.LOCK_NAME).exists()
    assert checkpoints.load_checkpoint(target / "model.ckpt")["step"] == 1


@pytest.mark.slow  # two real runs; the test above already pins the lock with two processes
def test_two_trains_started_at_once_never_mix_their_files(own_data, tmp_path):
    """2: started at the same moment, exactly one of two runs writes the folder; every file is from that run."""
    target = tmp_path / "R"
    processes = [
        subprocess.Popen(
            command("train", "--data", own_data, "--steps", 2, "--seed", seed, "--out", target, *TINY),
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    results = [Result(p.wait(timeout=300), *p.communicate()) for p in processes]
    assert sorted(r.code for r in results) == [0, 2], results
    winner, loser = (0, 1) if results[0].code == 0 else (1, 0)
    loser_line = results[loser].refused().err
    assert "is being written by process" in loser_line or "from an earlier run" in loser_line
    seed = 1 + winner
    assert json.loads((target / "metrics.json").read_text())["seed"] == seed
    assert checkpoints.load_checkpoint(target / "model.ckpt")["record"]["seed"] == seed
    assert checkpoints.load_checkpoint(target / "last.ckpt")["seed"] == seed


def test_a_stale_lock_file_without_a_living_holder_does_not_block(tmp_path):
    """2: a lock file that names a dead process (the kernel released its lock) is taken over."""
    folder = tmp_path / "F"
    folder.mkdir()
    (folder / outputs.LOCK_NAME).write_text("999999999\npython -m unet_lib train\n")
    with outputs.claim_folder(folder, True, False, outputs.occupied) as lock:
        assert lock.folder == folder
        assert (folder / outputs.LOCK_NAME).read_text().startswith(f"{os.getpid()}\n")
        assert not outputs.locked(tmp_path / "elsewhere")
    assert not (folder / outputs.LOCK_NAME).exists() and folder.is_dir()


# -- 4. a diverged run ----------------------------------------------------------------------------------------
DIVERGING = ["--lr", "1e10", "--optimizer", "sgd", "--no-batch-norm", "--precision", "fp32"]


def test_a_diverged_run_stops_at_that_step_and_writes_no_model(cli, own_data, tmp_path):
    """4: ``--lr 1e10 --optimizer sgd --no-batch-norm`` showed loss=nan from step 2, exited 0 and saved 46
    non-finite tensors as model.ckpt. Now the run stops at the step that diverged, says what to try, and
    last.ckpt holds the last finite step."""
    out = tmp_path / "R"
    argv = ["train", "--data", own_data, "--steps", 6, "--out", out, *TINY, *DIVERGING, "--checkpoint-every", 1]
    result = cli(*argv).refused("training diverged at step", "no model.ckpt", "Try a lower --lr (this run: 1e+10)")
    assert "batch norm (leave out --no-batch-norm)" in result.err and "--precision fp32" not in result.err
    assert not (out / "model.ckpt").exists() and not (out / "metrics.json").exists()
    step = checkpoints.load_checkpoint(out / "last.ckpt")["step"]  # loads: its weights are finite
    assert f"{out / 'last.ckpt'} holds step {step}, the last finite one" in result.err
    assert f"diverged at step {step + 1} " in result.err


def test_fit_records_the_divergence_so_a_notebook_can_draw_the_curve(tmp_path, own_data):
    """4: ``fit`` does not raise; its history says why and where it stopped, and holds only finite losses."""
    from unet_lib.images import load_folder

    torch.manual_seed(0)
    model = UNetModel(base_channels=2, depth=2, batch_norm=False)
    tiles = TileDataset(load_folder(own_data), 92, model.output_size(92), num_tiles=40, augment=False, seed=0)
    history = train.fit(
        model, tiles, steps=8, batch_size=2, optimizer="sgd", lr=1e10, precision="fp32",
        checkpoint=tmp_path / "last.ckpt", checkpoint_every=1, workers=0,
    )  # fmt: skip
    assert history.stopped == "diverged" and 1 <= history.diverged_at <= 8
    assert history.step == list(range(1, history.diverged_at)) and all(np.isfinite(history.loss))
    assert "NaN or infinite" in history.divergence or "the loss was" in history.divergence
    assert all(bool(p.isfinite().all()) for p in model.parameters()), "the weights stay the last finite ones"
    if history.diverged_at > 1:
        assert checkpoints.load_checkpoint(tmp_path / "last.ckpt")["step"] == history.diverged_at - 1


def test_a_step_whose_weights_overflow_is_a_divergence():
    """4: finite gradients can still push a weight to infinity; the optimiser's step says so at once."""
    weight = torch.nn.Parameter(torch.full((3,), 3e38))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    train.stop_on_divergence(optimizer)
    weight.grad = torch.full((3,), -3e38)
    with pytest.raises(train.Diverged, match="a weight became NaN or infinite"):
        optimizer.step()
    weight.grad = torch.tensor([1.0, float("nan"), 0.0])
    with torch.no_grad():
        weight.fill_(1.0)
    with pytest.raises(train.Diverged, match="a gradient was NaN or infinite"):
        optimizer.step()
    assert torch.equal(weight.detach(), torch.ones(3)), "a step with a NaN gradient never reaches the weights"


def test_a_checkpoint_with_non_finite_weights_is_refused_by_name(cli, run, own_data, tmp_path):
    """4: predict and evaluate loaded such a model without a check and wrote "0.0 % foreground"."""
    out, _ = run

    def poison(state):
        name = next(iter(state["model_state"]))
        state["model_state"][name] = torch.full_like(state["model_state"][name], float("nan"))

    bad = edited(out / "model.ckpt", tmp_path / "nan.ckpt", poison)
    first = next(iter(checkpoints.load_checkpoint(out / "model.ckpt")["model_state"]))
    image = gray(tmp_path / "x.png")
    cli("predict", "--checkpoint", bad, image, "--out", tmp_path / "P").refused(
        f"{bad} holds NaN or infinite weights ({first})", "diverged"
    )
    cli("evaluate", "--checkpoint", bad, "--data", own_data, "--out", tmp_path / "E").refused("NaN or infinite weights")
    assert not (tmp_path / "P").exists() and not (tmp_path / "E").exists(), "a refused run leaves no empty folder"


# -- 5. a lost DDP peer ----------------------------------------------------------------------------------------
def test_a_lost_peer_is_one_line_and_exit_status_2(cli, own_data, tmp_path, monkeypatch):
    """5: ``PeerLost`` is a RuntimeError, and cli.main caught RuntimeError first and re-raised it: a 30-line
    traceback. Now each rank says one line naming the last good checkpoint."""
    world = distributed.World(rank=1, size=2)
    message = train.peer_lost_message(world, 7, RuntimeError("Connection closed by peer [127.0.0.1]:1234"), None)

    def lost(*args, **kwargs):
        raise distributed.PeerLost(message)

    monkeypatch.setattr(train, "fit", lost)
    cli("train", "--data", own_data, "--steps", 9, "--out", tmp_path / "R", *TINY).refused(
        "rank 1: another training process stopped at step 7 (Connection closed by peer", "start the run again"
    )
    assert not (tmp_path / "R").exists()


def test_the_lost_peer_message_names_the_last_good_checkpoint(run):
    out, _ = run
    world = distributed.World(rank=0, size=2)
    text = train.peer_lost_message(world, 5, RuntimeError("Connection reset\nmore"), out / "last.ckpt")
    assert text == (
        f"rank 0: another training process stopped at step 5 (Connection reset); the last good checkpoint, "
        f"{out / 'last.ckpt'} (step 2), is intact: resume from it with --resume {out / 'last.ckpt'}"
    )


def test_out_of_memory_is_still_one_line_and_other_runtime_errors_are_not_hidden(cli, own_data, tmp_path, monkeypatch):
    """5: the order of cli.main's clauses: PeerLost, then out of memory, then a real bug keeps its traceback."""
    monkeypatch.setattr(train, "fit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")))
    cli("train", "--data", own_data, "--steps", 1, "--out", tmp_path / "R", *TINY).refused("out of memory")
    monkeypatch.setattr(train, "fit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        cli("train", "--data", own_data, "--steps", 1, "--out", tmp_path / "R2", *TINY)


# -- 6. seeds --------------------------------------------------------------------------------------------------
def test_a_seed_numpy_cannot_take_is_refused(cli, run, own_data, tmp_path):
    """6: ``--seed 4294967296`` (or a last.ckpt storing it) ended in NumPy's ValueError traceback."""
    out, _ = run
    cli("train", "--data", own_data, "--steps", 1, "--seed", 2**32, "--out", tmp_path / "R", *TINY).refused(
        "argument --seed: must be at most 4294967295, got 4294967296"
    )
    bad = edited(out / "last.ckpt", tmp_path / "last.ckpt", lambda state: state.update(seed=2**32))
    cli("train", "--resume", bad, "--steps", 3).refused(f"{bad} stores seed 4294967296, not a whole number")


# -- 7. output that cannot encode UTF-8 ----------------------------------------------------------------------
def ascii_streams(monkeypatch) -> tuple[io.BytesIO, io.BytesIO]:
    raw = io.BytesIO(), io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw[0], encoding="ascii", write_through=True))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(raw[1], encoding="ascii", write_through=True))
    return raw


def test_ascii_only_output_degrades_instead_of_dying(run, own_data, tmp_path, monkeypatch):
    """7: with PYTHONIOENCODING=ascii, train died before step 1 and predict wrote one image of many."""
    out, _ = run
    stdout, _ = ascii_streams(monkeypatch)
    assert main(["train", "--data", str(own_data), "--steps", "1", "--out", str(tmp_path / "R"), *TINY]) == 0
    images = [str(gray(tmp_path / f"i{k}.png", k)) for k in range(3)]
    assert main(["predict", "--checkpoint", str(out / "model.ckpt"), *images, "--out", str(tmp_path / "P")]) == 0
    text = stdout.getvalue().decode("ascii")
    assert "tiles 92->4 px" in text or "->" in text
    assert "(24x24)" in text and "\u00d7" not in text
    assert len(list((tmp_path / "P").glob("*_mask.png"))) == 3


def test_a_real_ascii_terminal(run, tmp_path):
    """7: the same as a separate process with PYTHONIOENCODING=ascii."""
    out, _ = run
    image = gray(tmp_path / "x.png")
    done = subprocess.run(
        command("predict", "--checkpoint", out / "model.ckpt", image, "--out", tmp_path / "P"),
        cwd=ROOT,
        env=child_env() | {"PYTHONIOENCODING": "ascii"},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert b"(24x24)" in done.stdout and b"-> " in done.stdout


# -- 8. a symlink loop -----------------------------------------------------------------------------------------
def test_a_symlink_loop_is_refused_in_one_line(cli, run, tmp_path):
    """8: ``RuntimeError: Symlink loop`` from ``Path.resolve()`` in gather_sources."""
    out, _ = run
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    cli("predict", "--checkpoint", out / "model.ckpt", loop, "--out", tmp_path / "P").refused(
        f"{loop} is a symbolic link that leads back to itself"
    )


# -- 9. resume with optimiser state that does not fit -----------------------------------------------------------
def extra_group(state):
    groups = state["optimizer_state"]["param_groups"]
    groups.append(dict(groups[0], params=[999]))


def wrong_moment(state):
    first = sorted(state["optimizer_state"]["state"])[0]
    state["optimizer_state"]["state"][first]["momentum_buffer"] = torch.zeros(3)
    state["optimizer_state"]["state"][first]["exp_avg"] = torch.zeros(3)


@pytest.mark.parametrize("change", [extra_group, wrong_moment])
def test_resume_with_optimizer_state_that_does_not_fit_is_refused(cli, run, tmp_path, change):
    """9: ``ValueError: loaded state dict has a different number of parameter groups`` (or, with a moment of the
    wrong shape, a failure inside the first step)."""
    out, _ = run
    bad = edited(out / "last.ckpt", tmp_path / "last.ckpt", change)
    cli("train", "--resume", bad, "--steps", 3).refused(f"the optimiser state in {bad} does not fit this U-Net")


# -- 10. the smaller cases -------------------------------------------------------------------------------------
def test_a_stack_of_several_sizes_is_summarised_with_all_of_them(cli, run, tmp_path):
    """10: the summary named only the last page's size."""
    out, _ = run
    mixed_size_stack(tmp_path / "mixed.tif")
    result = cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "mixed.tif", "--out", tmp_path / "O")
    assert result.code == 0 and "mixed.tif (3 slices of sizes 30×40, 24×24)" in result.out, result.out


def test_a_refused_run_leaves_no_empty_folder(cli, run, tmp_path):
    """10: a bad image, a bad checkpoint or all-foreground masks left an empty --out behind."""
    out, _ = run
    Image.fromarray(np.full((20, 20), 7, np.uint8)).save(tmp_path / "flat.png")
    cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "flat.png", "--out", tmp_path / "P").refused(
        "the same value"
    )
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    cli("predict", "--checkpoint", tmp_path / "bad.ckpt", gray(tmp_path / "x.png"), "--out", tmp_path / "Q").refused(
        "cannot read"
    )
    full = make_own_data(tmp_path / "full", count=2)
    for mask in (full / "masks").iterdir():
        Image.fromarray(np.full((96, 96), 255, np.uint8)).save(mask)
    cli("train", "--data", full, "--steps", 1, "--out", tmp_path / "T", *TINY).refused("every training mask marks")
    assert not any((tmp_path / name).exists() for name in ("P", "Q", "T"))


def test_warnings_before_a_refusal_are_not_shown(cli, run, tmp_path, monkeypatch, recwarn):
    """10: tifffile's and Pillow's warnings (a DecompressionBombWarning) printed before the one-line error; a
    command that succeeds still shows them."""
    from unet_lib import prediction

    out, _ = run
    real = prediction.read_image_with_colour

    def noisy(path, index=None):
        warnings.warn(
            "Image size exceeds limit, could be decompression bomb", Image.DecompressionBombWarning, stacklevel=2
        )
        return real(path, index)

    monkeypatch.setattr(prediction, "read_image_with_colour", noisy)
    Image.fromarray(np.full((20, 20), 7, np.uint8)).save(tmp_path / "flat.png")
    cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "flat.png", "--out", tmp_path / "P").refused()
    assert not [w for w in recwarn if w.category is Image.DecompressionBombWarning]
    assert (
        cli("predict", "--checkpoint", out / "model.ckpt", gray(tmp_path / "x.png"), "--out", tmp_path / "Q").code == 0
    )
    assert [w for w in recwarn if w.category is Image.DecompressionBombWarning]


def test_a_full_disk_during_training_is_said_on_a_line_of_its_own(cli, own_data, tmp_path, monkeypatch):
    """10: the disk-full message was glued to the progress bar's line."""
    real_bar, real_save = train.progress_bar, train.save_checkpoint
    monkeypatch.setattr(train, "progress_bar", lambda steps, initial, enabled=None: real_bar(steps, initial, True))

    def full(path, *args, **kwargs):
        if kwargs.get("seed") is not None and args[2] >= 2:
            raise runtime.OutputError(runtime.write_error_message(Path(path), OSError(28, "No space left on device")))
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(train, "save_checkpoint", full)
    result = cli("train", "--data", own_data, "--steps", 4, "--out", tmp_path / "R", *TINY, "--checkpoint-every", 1)
    assert result.code == 2 and "Traceback" not in result.err
    assert "training" in result.err, "the progress bar was drawn"
    assert result.err.rstrip("\n").split("\n")[-1].startswith("error: the disk is full: could not write")


def test_a_mask_is_named_with_its_folder(cli, tmp_path):
    """10: "s0.png has shape (200, 200, 3)" did not say which of images/s0.png and masks/s0.png."""
    own = make_own_data(tmp_path / "own", count=2)
    colour = np.zeros((96, 96, 3), np.uint8)
    colour[10:40, 10:40] = (255, 0, 0)
    colour[50:80, 50:80] = (0, 0, 255)
    Image.fromarray(colour).save(own / "masks" / "cells0.png")
    cli("train", "--data", own, "--steps", 1, "--out", tmp_path / "R", *TINY).refused(
        "masks/cells0.png is a colour image"
    )


@pytest.mark.parametrize(
    "tile, message",
    [(10**9 + 1, "cannot be trained (tile_size 1000000001 does not fit"), (10**9, "needs about")],
)
def test_a_recipe_that_lies_about_its_tile_size_is_blamed_on_the_file(cli, run, tmp_path, tile, message):
    """10: it was blamed on "--tile-size 1000000000", which the user never passed."""
    out, _ = run
    bad = edited(out / "last.ckpt", tmp_path / "last.ckpt", lambda state: state["recipe"].update(tile_size=tile))
    result = cli("train", "--resume", bad, "--steps", 3).refused(f"the training recipe stored in {bad}", message)
    assert "--tile-size" not in result.err


def test_a_two_channel_hyperstack_is_predicted_with_a_note(cli, run, tmp_path):
    """10: a 2-channel ImageJ hyperstack (3 slices) was predicted as 6 slices without a word."""
    out, _ = run
    stack = np.random.default_rng(5).integers(0, 255, (3, 2, 24, 24), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "hyper.tif", stack, imagej=True, metadata={"axes": "ZCYX"})
    result = cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "hyper.tif", "--out", tmp_path / "O")
    assert result.code == 0, result.err
    assert "note: hyper.tif is an ImageJ hyperstack with 2 channels; each of its 6 pages" in result.out


def test_one_blank_slice_does_not_refuse_a_stack(cli, run, tmp_path):
    """10: a single blank slice (a microscope's empty frame) refused the whole stack."""
    out, _ = run
    stack = np.random.default_rng(6).integers(0, 255, (3, 24, 24), dtype=np.uint8)
    stack[1] = 0
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    result = cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "stack.tif", "--out", tmp_path / "O")
    assert result.code == 0, result.err
    assert "slice 1 is blank (one value everywhere): written as background" in result.out
    masks = tifffile.imread(tmp_path / "O" / "stack_mask.tif")
    assert masks.shape == (3, 24, 24) and not masks[1].any()
    Image.fromarray(stack[1]).save(tmp_path / "blank.png")  # alone, a blank image is still refused
    cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "blank.png", "--out", tmp_path / "B").refused(
        "nothing to segment"
    )


def test_a_config_edited_against_its_recipe_is_refused(cli, run, tmp_path):
    """10: a checkpoint edited to say padding "same" while its recipe says "valid" loaded silently."""
    out, _ = run
    bad = edited(out / "model.ckpt", tmp_path / "same.ckpt", lambda state: state["model_config"].update(padding="same"))
    with pytest.raises(checkpoints.CheckpointError, match="padding 'same' in its model config but 'valid' in its"):
        checkpoints.load_model(bad)
    cli("predict", "--checkpoint", bad, gray(tmp_path / "x.png"), "--out", tmp_path / "O").refused("changed or damaged")
    assert checkpoints.load_model(tiny_checkpoint(tmp_path / "plain.ckpt")) is not None  # no recipe: nothing to compare
