"""Reliability (issue 13), the command line: consent before replacing, checks before work, one-line refusals.

Every refused command must print one line on stderr (``error: …`` saying what to do), exit with status 2
and show no traceback (``Result.refused``). Runs use the tiny recipe (``TINY``) on one thread.
"""

from __future__ import annotations

import errno
import json
import math
import shlex
import shutil
import tempfile

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from reliability_helpers import TINY, Payload, make_own_data, mixed_size_stack, tiny_checkpoint

from unet_lib import checkpoints, data, isbi2012

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def strict_json(path):
    """Parse JSON the way strict readers do: a bare NaN or Infinity is an error."""

    def refuse(constant):
        raise ValueError(f"invalid JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def run_main(*argv) -> int:
    from unet_lib.cli import main

    return main([str(a) for a in argv])


# -- 8, 10 and issue 12 item 9: impossible values, refused before any work -------------------------------
BAD_TRAIN_OPTIONS = [
    (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["--steps", "-5"], "argument --steps: must be at least 1, got -5"),
    (["--minutes", "0"], "argument --minutes: must be a number above 0"),
    (["--minutes", "-1"], "argument --minutes: must be a number above 0"),
    (["--minutes", "nan"], "argument --minutes: must be a number above 0"),
    (["--minutes", "inf"], "argument --minutes: must be a number above 0"),
    (["--val-every", "0"], "argument --val-every: must be at least 1"),
    (["--checkpoint-every", "0"], "argument --checkpoint-every: must be at least 1"),
    (["--val-tiles", "0"], "argument --val-tiles: must be at least 1"),
    (["--batch-size", "0"], "argument --batch-size: must be at least 1"),
    (["--lr", "-1"], "argument --lr: must be a number above 0"),
    (["--lr", "nan"], "argument --lr: must be a number above 0"),
    (["--base-channels", "0"], "argument --base-channels: must be at least 1"),
    (["--depth", "-1"], "argument --depth: must be at least 0"),
    (["--threshold", "2"], "argument --threshold: must be between 0 and 1"),
    (["--segmentation-threshold", "0"], "argument --segmentation-threshold: must be between 0 and 1"),
    (["--steps", "ten"], "argument --steps: must be a whole number, got 'ten'"),
    (["--depth", "20"], "more than the 12 poolings"),
    (["--base-channels", "200000"], "parameters, more than the 250,000,000 allowed"),
    (["--tile-size", "570", "--depth", "4"], "570 does not fit a depth-4 U-Net"),
    (["--tile-size", "60000", "--base-channels", "8"], "one training step needs about"),
]


@pytest.mark.parametrize("options, message", BAD_TRAIN_OPTIONS, ids=[" ".join(o) for o, _ in BAD_TRAIN_OPTIONS])
def test_impossible_training_options_are_refused_in_one_line(cli, own_data, tmp_path, monkeypatch, options, message):
    """8, 10: values that used to be accepted (an untrained model saved, exit 0) or ended in a traceback."""
    monkeypatch.setattr(data, "load_folder", lambda *a, **k: pytest.fail("work started before the check"))
    argv = ["train", "--data", own_data, "--out", tmp_path / "run", *TINY[:-2]]
    if "--tile-size" in options:
        argv = ["train", "--data", own_data, "--out", tmp_path / "run", "--base-channels", "2", "--depth", "2"]
    cli(*argv, *options).refused(message)
    assert not (tmp_path / "run").exists()


def test_the_tile_size_is_answered_with_the_models_own_sentence(cli, own_data):
    """Issue 12 item 9: ``--tile-size 570`` offers 556 or 572, as the model does."""
    cli("train", "--data", own_data, "--tile-size", "570").refused(
        "--tile-size 570 does not fit", "Use 556 or 572 (outputs 372 and 388)."
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "x.png", "--threshold", "2"], "argument --threshold: must be between 0 and 1"),
        (["predict"], "give images, folders of images, or --isbi2012-test"),
        (["evaluate", "--threshold", "-1"], "argument --threshold: must be between 0 and 1"),
        (["evaluate", "--segmentation-threshold", "1"], "must be between 0 and 1"),
        (["train", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice"),
        (["fly"], "argument command: invalid choice"),
    ],
)
def test_other_impossible_options_are_refused_in_one_line(cli, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    cli(*argv).refused(message)


# -- 1: nothing is replaced without consent ------------------------------------------------------------
def test_a_second_run_into_the_same_folder_is_refused_unless_overwrite(cli, own_data, tmp_path):
    """1: ``train --out R`` used to replace the run in R without a word (model.ckpt step 20 → 1)."""
    out = tmp_path / "R"
    assert cli("train", "--data", own_data, "--steps", 2, "--out", out, *TINY).code == 0
    before = checkpoints.load_checkpoint(out / "model.ckpt")["step"]
    cli("train", "--data", own_data, "--steps", 1, "--out", out, *TINY).refused(
        f"--out {out} already holds", "model.ckpt", "add --overwrite"
    )
    assert checkpoints.load_checkpoint(out / "model.ckpt")["step"] == before == 2
    assert cli("train", "--data", own_data, "--steps", 1, "--out", out, "--overwrite", *TINY).code == 0
    assert checkpoints.load_checkpoint(out / "model.ckpt")["step"] == 1


def test_the_default_folder_moves_on_to_a_numbered_one_and_says_so(cli, own_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data", own_data, "--steps", 1, *TINY).code == 0
    second = cli("train", "--data", own_data, "--steps", 1, *TINY)
    assert second.code == 0 and "runs/train holds an earlier run, so this one writes into runs/train-2" in second.out
    assert (tmp_path / "runs/train/model.ckpt").is_file() and (tmp_path / "runs/train-2/model.ckpt").is_file()


@pytest.mark.parametrize("names", [("a/img.png", "b/img.png"), ("slice.png", "slice.jpg"), ("s.tif", "s_000.png")])
def test_predict_refuses_inputs_whose_outputs_would_collide(cli, run, tmp_path, names):
    """2: ``predict a/img.png b/img.png`` wrote img_* twice, and the log claimed both."""
    out, _ = run
    rng = np.random.default_rng(0)
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".tif"):
            tifffile.imwrite(
                tmp_path / name, rng.integers(0, 255, (3, 20, 20), dtype=np.uint8), photometric="minisblack"
            )
        else:
            Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(tmp_path / name)
    result = cli("predict", "--checkpoint", out / "model.ckpt", *(tmp_path / n for n in names), "--out", tmp_path / "O")
    result.refused("would both be written as", "rename one of them")
    assert not (tmp_path / "O").exists()


def test_predict_into_a_folder_with_earlier_results_needs_consent(cli, run, tmp_path, monkeypatch):
    """1, 2: the same for a second ``predict`` into the same folder; the default folder moves on."""
    out, data = run
    images = data / "images"
    assert cli("predict", "--checkpoint", out / "model.ckpt", images, "--out", tmp_path / "O").code == 0
    cli("predict", "--checkpoint", out / "model.ckpt", images, "--out", tmp_path / "O").refused("add --overwrite")
    again = cli("predict", "--checkpoint", out / "model.ckpt", images, "--out", tmp_path / "O", "--overwrite")
    assert again.code == 0
    monkeypatch.chdir(tmp_path)
    assert cli("predict", "--checkpoint", out / "model.ckpt", images).code == 0
    moved = cli("predict", "--checkpoint", out / "model.ckpt", images)
    assert moved.code == 0 and "writes into runs/predict-2" in moved.out


# -- 4: the output folder is checked before any work ---------------------------------------------------------
def test_an_unusable_out_folder_is_found_before_any_work(cli, own_data, tmp_path, monkeypatch):
    """4: a file as --out, a folder below a file, no permission, no room — each found in the first second."""
    monkeypatch.setattr(data, "load_folder", lambda *a, **k: pytest.fail("work started before the check"))
    (tmp_path / "file").write_text("I am a file")
    argv = ["train", "--data", own_data, "--steps", 1, *TINY]
    cli(*argv, "--out", tmp_path / "file").refused("is a file, not a folder")
    cli(*argv, "--out", tmp_path / "file" / "below").refused("is a file, not a folder")

    def no_permission(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "TemporaryFile", no_permission)
        cli(*argv, "--out", tmp_path / "locked").refused("no permission to write", "choose a folder you can write to")
    with monkeypatch.context() as patch:
        patch.setattr(shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1000})())
        cli(*argv, "--out", tmp_path / "full").refused("only 0.0 MB are free on the disk of", "free some space")


def test_a_real_read_only_folder_is_refused(cli, own_data, tmp_path):
    """4: the same with a folder the user cannot write (root ignores permissions, so skip as root)."""
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    cli("train", "--data", own_data, "--steps", 1, "--out", locked, *TINY).refused("no permission to write")


# -- 7: --resume with conflicting options --------------------------------------------------------------
def test_resume_refuses_options_that_disagree_with_the_checkpoint(cli, run, tmp_path):
    """7: ``--resume`` used to ignore --depth, --tile-size, --lr, --paper … while the JSON recorded them."""
    out, data = run
    last = out / "last.ckpt"
    result = cli("train", "--resume", last, "--steps", 3, "--depth", 3, "--lr", 0.5, "--augment", "--out", tmp_path)
    result.refused(
        "these options disagree with it",
        "--depth 3 (the checkpoint has depth 2)",
        "--lr 0.5 (the checkpoint has lr 0.001)",
        "--augment (the checkpoint has augment False)",
    )
    cli("train", "--resume", last, "--steps", 3, "--paper", "--out", tmp_path).refused(
        "--paper (base_channels 64 where the checkpoint has 2, depth 4 where the checkpoint has 2, batch_norm False"
    )
    cli("train", "--resume", last, "--steps", 3, "--seed", 5, "--out", tmp_path).refused("--seed 5")
    cli("train", "--resume", last, "--data", "synthetic", "--steps", 3, "--out", tmp_path).refused("--data synthetic")
    cli("train", "--resume", last, "--steps", 1, "--out", tmp_path).refused("--steps 1 is below the 2 steps")
    cli("train", "--resume", out / "model.ckpt", "--out", tmp_path).refused("holds no optimiser state")


def test_resume_accepts_the_same_recipe_and_records_it(cli, run, tmp_path):
    """7: options equal to the stored recipe are fine; the data and seed come from the checkpoint."""
    out, _ = run
    result = cli("train", "--resume", out / "last.ckpt", "--steps", 3, "--depth", 2, "--no-augment", "--out", tmp_path)
    assert result.code == 0, result.err
    record = strict_json(tmp_path / "metrics.json")
    assert record["steps"] == 3 and record["recipe"]["depth"] == 2 and record["recipe"]["base_channels"] == 2
    assert "--depth 2" in record["command"]


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda r: r.update(momentum=0.9), "momentum"),
        (lambda r: r.update(lr=float("nan")), "lr"),
        (lambda r: r.update(batch_size=0), "batch_size"),
        (lambda r: r.update(optimizer="lbfgs"), "optimizer"),
        (lambda r: r.update(depth=True), "depth"),
    ],
)
def test_a_checkpoint_with_a_broken_recipe_is_refused_in_one_line(cli, run, tmp_path, change, named):
    """10: an unknown recipe key used to end in a TypeError."""
    out, _ = run
    state = torch.load(out / "last.ckpt", weights_only=True)
    change(state["recipe"])
    torch.save(state, tmp_path / "odd.ckpt")
    cli("train", "--resume", tmp_path / "odd.ckpt", "--out", tmp_path / "o").refused(
        f"malformed training recipe (check {named})"
    )


def test_the_memory_estimate_is_an_upper_bound_of_the_measured_peak():
    """The numbers in ``training_memory_bytes``' docstring: 2.2 GB for the paper's step, above the measured 1.45 GB."""
    from unet_lib import train
    from unet_lib.cli import training_memory_bytes

    assert round(training_memory_bytes(train.PAPER) / 1e9, 1) == 2.2 > 1.45


# -- 8, 10, 11: checkpoints that lie, through the command line --------------------------------------------
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.update(threshold=float("nan")), "stores threshold nan"),
        (lambda s: s.update(threshold=7.0), "stores threshold 7.0"),
        (lambda s: s.update(threshold="0.5"), "stores threshold '0.5'"),
        (lambda s: s.pop("model_state"), "holds no model weights"),
        (lambda s: s["model_config"].update(depth=20), "cannot be built"),
    ],
)
@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_lying_checkpoints_are_refused_in_one_line(cli, own_data, tmp_path, change, message, command):
    state = torch.load(tiny_checkpoint(tmp_path / "ok.ckpt", threshold=0.5), weights_only=True)
    change(state)
    torch.save(state, tmp_path / "bad.ckpt")
    target = {"predict": [own_data / "images"], "evaluate": ["--data", own_data], "export": []}[command]
    out = tmp_path / ("o.zip" if command == "export" else "o")
    cli(command, "--checkpoint", tmp_path / "bad.ckpt", *target, "--out", out).refused(message)


def test_a_checkpoint_carrying_code_is_refused_as_such(cli, own_data, tmp_path):
    torch.save({"format": checkpoints.CHECKPOINT_FORMAT, "x": Payload()}, tmp_path / "evil.ckpt")
    cli("predict", "--checkpoint", tmp_path / "evil.ckpt", own_data / "images", "--out", tmp_path / "o").refused(
        "was NOT loaded", "asks to import"
    )


# -- 8: data that cannot be learnt from, metrics JSON that strict readers accept, no silent fallback ---------
def test_all_empty_masks_are_refused_before_training(cli, tmp_path):
    """8: all-zero masks used to train and write bare NaN into the metrics JSON."""
    empty = make_own_data(tmp_path / "empty", empty_masks=True)
    cli("train", "--data", empty, "--steps", 1, "--out", tmp_path / "o", *TINY).refused("every training mask is empty")


def test_undefined_measures_are_null_in_valid_json(cli, own_data, tmp_path):
    """8: an image without cells has no Rand error: ``null``, never a bare NaN."""
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(own_data / "masks" / "cells2.png")
    tiny_checkpoint(tmp_path / "m.ckpt", threshold=0.5)
    assert cli("evaluate", "--checkpoint", tmp_path / "m.ckpt", "--data", own_data, "--out", tmp_path / "o").code == 0
    result = strict_json(tmp_path / "o" / "metrics.json")
    assert result["per_image"]["cells2.png"]["rand_error"] is None
    assert math.isfinite(result["per_image"]["cells0.png"]["rand_error"])


def test_evaluate_does_not_fall_back_to_other_data_silently(cli, tmp_path, monkeypatch):
    """8: ``evaluate`` with the default data used to score the synthetic set and exit 0."""
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("UNET_DATA_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(isbi2012, "DOWNLOAD_RETRIES", 0)
    tiny_checkpoint(tmp_path / "m.ckpt")
    cli("evaluate", "--checkpoint", tmp_path / "m.ckpt", "--out", tmp_path / "o").refused(
        "evaluate needs the real ISBI 2012 slices", "(no network)", "pass --data synthetic"
    )


def test_evaluate_says_when_a_model_is_worse_than_no_model(cli, own_data, tmp_path):
    """Issue 12 item 9: a model below the "cell everywhere" (here: background everywhere) answer says so."""
    tiny_checkpoint(tmp_path / "m.ckpt")
    result = cli(
        "evaluate",
        "--checkpoint",
        tmp_path / "m.ckpt",
        "--data",
        own_data,
        "--out",
        tmp_path / "o",
        "--threshold",
        0.01,
    )
    assert result.code == 0
    assert 'not above what answering "background everywhere" scores on these images: it does not fit' in result.out
    assert "thresholds used: pixel 0.01 (given), segmentation 0.01 (" in result.out
    baseline = strict_json(tmp_path / "o" / "metrics.json")["baseline"]
    labels = [np.asarray(Image.open(p)) > 0 for p in sorted((own_data / "masks").iterdir())]
    assert baseline["pixel_accuracy"] == pytest.approx(1 - np.mean([label.mean() for label in labels]))


def test_no_note_when_the_model_beats_the_constant_answer():
    from unet_lib import commands

    baseline = commands.constant_baseline([np.array([[1, 1, 1, 0]])])
    assert baseline == {"answer": "cell everywhere", "pixel_accuracy": 0.75}
    objects = commands.constant_baseline([np.array([[1, 1, 1, 0]])], "object")  # an own folder's words
    assert objects == {"answer": "object everywhere", "pixel_accuracy": 0.75}
    object_note = commands.baseline_note(
        {"per_image": {"a": {"pixel_accuracy": 0.5}}}, [np.array([[1, 1, 1, 0]])], objects
    )
    assert 'answering "object everywhere"' in object_note and "0.5000 vs 0.7500: worse" in object_note
    one_better = commands.baseline_note(
        {"per_image": {"a": {"pixel_accuracy": 1.0}}}, [np.array([[1, 1, 1, 0]])], objects
    )
    assert (
        "better" in one_better
        and "note: a folder of 12 images or more holds out 2 or more, enough to measure a spread" in one_better
    )  # no spread: said, always
    labels = [np.array([[1, 1, 1, 0]]), np.array([[1, 1, 0, 0]])]  # per image 0.75 and 0.5 for "cell everywhere"

    def note(*accuracies):
        per_image = {f"image {k}": {"pixel_accuracy": a} for k, a in enumerate(accuracies)}
        return commands.baseline_note({"per_image": per_image}, labels, commands.constant_baseline(labels))

    assert "better" in note(1.0, 1.0) and "note:" not in note(1.0, 1.0)
    assert "note:" in note(0.5, 0.25) and "worse" in note(0.5, 0.25)
    # issue 17: at the baseline (0.8011 vs 0.801) is not above it: gains on one image, losses on the other
    assert "within noise" in note(1.0, 0.25) and "note:" in note(1.0, 0.25)


# -- 11, 12: what predict reads --------------------------------------------------------------------------
def test_predict_skips_hidden_files_in_a_folder_and_reads_one_row_images(cli, run, tmp_path):
    """11: ``predict DIR`` aborted on a macOS ``._x.png`` that training skips; a 1×N image is an image."""
    out, _ = run
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "._row.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (folder / ".DS_Store").write_bytes(b"\x00")
    Image.fromarray(np.arange(50, dtype=np.uint8)[None]).save(folder / "row.png")
    result = cli("predict", "--checkpoint", out / "model.ckpt", folder, "--out", tmp_path / "O")
    assert result.code == 0, result.err
    assert Image.open(tmp_path / "O" / "row_mask.png").size == (50, 1)
    assert sorted(p.name for p in (tmp_path / "O").iterdir()) == [
        f"row_{k}.png" for k in ("mask", "overlay", "probability")
    ]


def test_predict_refuses_a_file_type_training_would_not_read(cli, run, tmp_path):
    out, _ = run
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "x.gif")
    cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "x.gif", "--out", tmp_path / "O").refused(
        "x.gif is not one of the image types the course reads"
    )


def test_predict_names_a_nan_pixel_before_any_work(cli, run, tmp_path):
    """5: one NaN pixel blanked the whole prediction ("100.0% foreground", exit 0)."""
    out, _ = run
    image = np.random.default_rng(0).random((30, 30)).astype(np.float32)
    image[3, 4] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", image)
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "a.png")
    result = cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "a.png", tmp_path / "nan.tif")
    result.refused("nan.tif holds 1 NaN and 0 infinite pixels")


def test_predict_reads_a_tiff_stack_slice_by_slice_and_writes_a_stack(cli, run, tmp_path):
    """12: multi-page TIFF stacks (5 × H × W) used to be refused by predict."""
    out, _ = run
    stack = np.random.default_rng(3).integers(0, 60000, (5, 40, 52), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    tifffile.imwrite(tmp_path / "alone.tif", stack[2])
    target = tmp_path / "O"
    argv = ["predict", "--checkpoint", out / "model.ckpt", tmp_path / "stack.tif", tmp_path / "alone.tif"]
    result = cli(*argv, "--out", target)
    assert result.code == 0 and "stack.tif (5 slices of 40×52)" in result.out, result.err
    probabilities = tifffile.imread(target / "stack_probability.tif")
    masks = tifffile.imread(target / "stack_mask.tif")
    assert probabilities.shape == masks.shape == (5, 40, 52)
    assert probabilities.dtype == np.float32 and masks.dtype == np.uint8
    assert 0 <= probabilities.min() and probabilities.max() <= 1 and set(np.unique(masks)) <= {0, 255}
    for k in range(5):
        for kind in ("probability", "mask", "overlay"):
            assert Image.open(target / f"stack_{k:03d}_{kind}.png").size == (52, 40)
    same = np.asarray(Image.open(target / "alone_probability.png"))
    assert np.array_equal(np.asarray(Image.open(target / "stack_002_probability.png")), same), "slice = lone image"
    assert not list(target.glob("*.tmp"))


def test_a_stack_of_slices_of_different_sizes_is_predicted_page_by_page(cli, run, tmp_path):
    """12: TIFF pages need not share a size; each page is predicted and written at its own size."""
    out, _ = run
    mixed_size_stack(tmp_path / "mixed.tif")
    assert cli("predict", "--checkpoint", out / "model.ckpt", tmp_path / "mixed.tif", "--out", tmp_path / "O").code == 0
    with tifffile.TiffFile(tmp_path / "O" / "mixed_probability.tif") as written:
        assert [page.shape for page in written.pages] == [(30, 40), (24, 24), (30, 40)]
    assert Image.open(tmp_path / "O" / "mixed_001_mask.png").size == (24, 24)


def test_predict_writes_the_isbi_challenge_submission_stack(cli, tmp_path, monkeypatch):
    """Issue 10 item 4: the 30 test slices as one 32-bit TIFF stack in the challenge's results format."""
    import hashlib

    data = tmp_path / "data" / "isbi2012" / "test_images"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sums = {}
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (24, 24), dtype=np.uint8)).save(data / f"{i:02d}.png")
        sums[f"test_images/{i:02d}.png"] = hashlib.sha256((data / f"{i:02d}.png").read_bytes()).hexdigest()
    monkeypatch.setattr(isbi2012, "isbi2012_checksums", lambda: sums)
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path / "data"))
    tiny_checkpoint(tmp_path / "m.ckpt")
    result = cli("predict", "--isbi2012-test", "--checkpoint", tmp_path / "m.ckpt", "--out", tmp_path / "O")
    assert result.code == 0, result.err
    with tifffile.TiffFile(tmp_path / "O" / "isbi2012_test_probability.tif") as tiff:
        assert len(tiff.pages) == 30 and all(page.dtype == np.float32 for page in tiff.pages)
        stack = tiff.asarray()
    assert stack.shape == (30, 24, 24) and 0 <= stack.min() and stack.max() <= 1
    cell = np.asarray(Image.open(tmp_path / "O" / "isbi2012_test_007_probability.png"))
    assert np.array_equal(np.round(stack[7] * 255).astype(np.uint8), cell), (
        "1 = non-membrane (cell), as the format says"
    )


def test_the_resume_command_in_an_interrupted_record_is_a_valid_command_line(run):
    from unet_lib import commands

    out, _ = run
    plan = commands.TrainPlan(
        recipe=commands.train.CPU_DEFAULT, data="isbi2012", out=out, steps=None, minutes=8.0, seed=0, threshold=0.3
    )
    words = shlex.split(plan.resume_command(out / "x y", 50, 2.5))
    assert words[:3] == ["python", "-m", "unet_lib"] and words[words.index("--out") + 1] == str(out / "x y")
    assert words[-6:] == ["--steps", "50", "--minutes", "2.5", "--threshold", "0.3"]
