"""``python -m unet_lib``: train, predict and evaluate end to end on small data, and the error paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unet_lib import checkpoints
from unet_lib.cli import main
from unet_lib.images import COLOUR_ADVICE
from unet_lib.model import UNetModel

TINY = ["--base-channels", "2", "--depth", "2", "--tile-size", "92", "--batch-size", "2", "--val-tiles", "2"]
ISBI = Path(os.environ.get("UNET_DATA_DIR", "")) / "isbi2012"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def blobs(size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fluorescence-like image: bright round nuclei on a dark background, and their mask."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: size[0], : size[1]]
    mask = np.zeros(size, bool)
    for _ in range(6):
        r, c = rng.integers(0, size[0]), rng.integers(0, size[1])
        mask |= (rows - r) ** 2 + (cols - c) ** 2 < rng.integers(8, 20) ** 2
    image = (mask * 150 + rng.normal(40, 15, size)).clip(0, 255).astype(np.uint8)
    return image, mask.astype(np.uint8) * 255


@pytest.fixture(scope="module")
def own_data(tmp_path_factory) -> Path:
    """An own-data folder with images of other sizes than ISBI's: 256×256 and 520×696."""
    root = tmp_path_factory.mktemp("own")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for k, size in enumerate([(256, 256), (520, 696), (256, 256)]):
        image, mask = blobs(size, k)
        Image.fromarray(image).save(root / "images" / f"cells{k}.png")
        Image.fromarray(mask).save(root / "masks" / f"cells{k}.png")
    return root


@pytest.fixture(scope="module")
def trained(own_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    assert main(["train", "--data", str(own_data), "--steps", "3", "--out", str(out), "--threads", "1", *TINY]) == 0
    return out


def test_train_writes_checkpoints_metrics_and_figure(trained, capsys):
    for name in ("model.ckpt", "last.ckpt", "metrics.json", "validation.png"):
        assert (trained / name).is_file(), name
    record = json.loads((trained / "metrics.json").read_text())
    assert record["steps"] == 3 and record["stopped_by"] == "steps" and record["seed"] == 0
    assert record["command"].startswith("python -m unet_lib train --data")
    assert set(record["validation"]["mean"]) >= {"pixel_accuracy", "iou", "dice", "isbi_pixel_error", "rand_error"}
    assert 0.0 <= record["validation"]["threshold"] <= 1.0
    assert record["rotations"] == 4  # validation maps averaged over the four right-angle rotations, as the paper
    state = checkpoints.load_checkpoint(trained / "model.ckpt")
    assert state["rotations"] == 4  # stored with the thresholds chosen on such maps, for evaluate
    assert state["optimizer_state"] is None and state["recipe"]["base_channels"] == 2  # small: no optimiser state
    assert Image.open(trained / "validation.png").size[0] > 100


def test_resume_continues_the_run(trained, own_data, tmp_path):
    out = tmp_path / "resumed"
    assert (
        main(
            [
                "train",
                "--data",
                str(own_data),
                "--steps",
                "4",
                "--resume",
                str(trained / "last.ckpt"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "metrics.json").read_text())["steps"] == 4


def test_predict_writes_probability_mask_and_overlay_for_any_size(trained, own_data, tmp_path, capsys):
    out = tmp_path / "predicted"
    assert (
        main(["predict", "--checkpoint", str(trained / "model.ckpt"), str(own_data / "images"), "--out", str(out)]) == 0
    )
    for k, size in enumerate([(256, 256), (520, 696), (256, 256)]):
        for kind in ("probability", "mask", "overlay"):
            picture = Image.open(out / f"cells{k}_{kind}.png")
            assert picture.size == (size[1], size[0]), (k, kind)
    assert set(np.unique(np.asarray(Image.open(out / "cells0_mask.png")))) <= {0, 255}
    printed = capsys.readouterr().out
    assert "520×696" in printed
    assert f"model: {trained / 'model.ckpt'} (" in printed and "steps, trained on your own data (" in printed


def test_predict_says_which_threshold_makes_its_masks_as_evaluate_does(trained, own_data, tmp_path, capsys):
    """A last.ckpt stores no threshold: predict used 0.5 without a word where model.ckpt's calibrated one made the
    masks, so the same weights gave other masks silently (evaluate says where its thresholds come from)."""
    image = str(own_data / "images" / "cells0.png")
    stored = checkpoints.load_checkpoint(trained / "model.ckpt")["threshold"]
    for name, extra, said in (
        ("last.ckpt", [], "threshold used: pixel 0.5 (the default 0.5: the checkpoint stores none)"),
        ("model.ckpt", [], f"threshold used: pixel {stored:g} (stored in the checkpoint)"),
        ("model.ckpt", ["--threshold", "0.3"], "threshold used: pixel 0.3 (given)"),
    ):
        out = str(tmp_path / f"{name}{len(extra)}")
        assert main(["predict", "--checkpoint", str(trained / name), image, "--out", out, *extra]) == 0
        assert said in capsys.readouterr().out.splitlines()


def test_the_threshold_options_help_names_the_default_of_a_checkpoint_that_stores_none(capsys):
    for command in ("predict", "evaluate"):
        assert main([command, "--help"]) == 0
        said = " ".join(capsys.readouterr().out.split())
        assert (
            "pixel threshold (default: the one stored with the model; 0.5 for a last.ckpt, which stores none)" in said
        )
        if command == "evaluate":  # its segmentation threshold said only "(default: stored)"
            assert "(default: the one stored with the model; the pixel threshold for a last.ckpt" in said


def test_predict_says_when_it_uses_the_shipped_em_model(own_data, tmp_path, capsys):
    # A learner's walk-through: forgetting --checkpoint predicted own images with the EM model, without a word.
    assert main(["predict", str(own_data / "images" / "cells0.png"), "--out", str(tmp_path / "p")]) == 0
    model_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("model: "))
    assert "the shipped checkpoint, trained on ISBI 2012 electron microscopy" in model_line
    assert "pass --checkpoint" in model_line


def test_evaluate_prints_a_table_and_writes_json(trained, own_data, tmp_path, capsys):
    assert (
        main(["evaluate", "--checkpoint", str(trained / "model.ckpt"), "--data", str(own_data), "--out", str(tmp_path)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "cells2.png" in printed and "mean" in printed and "Rand err" in printed and "IoU object" in printed
    state = torch.load(trained / "model.ckpt", weights_only=True)  # issue 17: evaluate says which thresholds
    assert f"thresholds used: pixel {state['threshold']:g} (stored in the checkpoint)" in printed
    assert 'against answering "' in printed and "image by image: model vs majority-class baseline" in printed
    # the folder it trained on: only the image it did not train on (the others would flatter it), and it says so
    assert "evaluating it on the one image it did not train on" in printed
    assert "note: left out: 2 other images that trained the checkpoint and would flatter it" in printed
    assert printed.splitlines()[1].startswith(f"model: {trained / 'model.ckpt'} (")
    assert set(json.loads((tmp_path / "metrics.json").read_text())["per_image"]) == {"cells2.png"}
    every = ["--slices", "all", "--out", str(tmp_path / "all")]
    assert main(["evaluate", "--checkpoint", str(trained / "model.ckpt"), "--data", str(own_data), *every]) == 0
    assert "the checkpoint was trained on 2 of these images, which flatters the scores" in capsys.readouterr().out
    result = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert set(result["per_image"]) == {"cells0.png", "cells1.png", "cells2.png"}
    assert result["mean"]["pixel_accuracy"] == pytest.approx(
        np.mean([r["pixel_accuracy"] for r in result["per_image"].values()])
    )
    assert result["rotations"] == 4 and "4 views (rotations) and averaged" in printed  # as train measured
    # the checkpoint knows its training images by their pixels: renamed, in another folder, with a new image beside
    copy = tmp_path / "copy"
    for sub in ("images", "masks"):
        (copy / sub).mkdir(parents=True)
        for k, path in enumerate(sorted((own_data / sub).iterdir())):
            shutil.copy(path, copy / sub / f"renamed{k}{path.suffix}")
        shutil.copy(copy / sub / "renamed2.png", copy / sub / "new.png")  # a held-out image twice: still unseen
    assert main(["evaluate", "--checkpoint", str(trained / "model.ckpt"), "--data", str(copy), "--out", str(copy)]) == 0
    printed = capsys.readouterr().out
    assert "evaluating it on the 2 images it did not train on" in printed
    assert "note: left out: 2 other images that trained the checkpoint and would flatter it" in printed
    assert set(json.loads((copy / "metrics.json").read_text())["per_image"]) == {"new.png", "renamed2.png"}


def test_a_last_ckpt_knows_its_training_images_as_a_model_ckpt_does(trained, own_data):
    # evaluate on last.ckpt (an interrupted run's) scored the images it trained on, unsaid: it had no fingerprints
    from unet_lib.commands import images_to_score
    from unet_lib.images import load_folder

    folder = load_folder(own_data)
    for name in ("last.ckpt", "model.ckpt"):
        scored, which, note = images_to_score(folder, checkpoints.load_checkpoint(trained / name), "val")
        assert scored.names == ["cells2.png"] and which == "the one image it did not train on", name
        assert note.startswith("left out: 2 other images that trained the checkpoint"), name


def test_evaluate_measures_as_train_did_unless_told(trained, own_data, tmp_path, capsys):
    """The same thresholds and views give the numbers train wrote; ``--rotations 1`` measures single views."""
    trained_record = json.loads((trained / "metrics.json").read_text())["validation"]

    def evaluate(out: str, *options: str) -> int:
        folder = ["--out", str(tmp_path / out)]
        return main(
            ["evaluate", "--checkpoint", str(trained / "model.ckpt"), "--data", str(own_data), *folder, *options]
        )

    assert evaluate("a", "--slices", "all") == 0
    again = json.loads((tmp_path / "a" / "metrics.json").read_text())
    for name, report in trained_record["per_image"].items():
        assert again["per_image"][name] == pytest.approx(report, abs=1e-6)
    assert evaluate("b", "--rotations", "1") == 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["rotations"] == 1
    assert "each image predicted once" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(trained / "model.ckpt"), "--rotations", "3"]) == 2
    assert "--rotations: invalid choice: 3 (choose from 1, 4, 8)" in capsys.readouterr().err


@pytest.mark.skipif(not ISBI.is_dir(), reason="needs the shared ISBI 2012 slices (UNET_DATA_DIR)")
def test_train_on_isbi_by_default(tmp_path, capsys):
    assert main(["train", "--steps", "1", "--out", str(tmp_path), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "real ISBI 2012" in printed
    assert json.loads((tmp_path / "metrics.json").read_text())["validation_images"][0].endswith("25.png")


@pytest.mark.skipif(not ISBI.is_dir(), reason="needs the shared ISBI 2012 slices (UNET_DATA_DIR)")
def test_the_shipped_checkpoint_meets_the_quality_bar_on_isbi_validation(tmp_path, capsys):
    """The issue's bar: pixel accuracy ≥ 0.92 and adapted Rand error ≤ 0.10 on slices 25–29."""
    assert main(["evaluate", "--out", str(tmp_path)]) == 0  # default: the shipped checkpoint, ISBI validation slices
    result = json.loads((tmp_path / "metrics.json").read_text())
    mean = result["mean"]
    assert mean["pixel_accuracy"] >= 0.92 and mean["rand_error"] <= 0.10, mean
    # the V_Rand and V_Info that unet_lib/assets/README.md quotes to 4 places (notebook 10), measured in fp32: within
    # half a unit of the last place, plus 0.00001 for another processor's fp32 kernels, which round differently and
    # may flip an edge pixel (V_Rand is 0.97065013, 1.3e-7 above the boundary between 0.9706 and 0.9707, so the
    # rounded value alone would hang on one pixel; noise of 1e-5 on every probability moved it by 2e-6). A processor
    # that predicts in bf16 (auto) gets them to within a few thousandths (AMX: 0.00025).
    tolerance = 0.00005 + 0.00001 if result["precision"]["precision"] == "fp32" else 0.003
    best = result["challenge"]
    quoted = {"v_rand": 0.9707, "v_info": 0.9749, "best v_rand": 0.9765, "best v_info": 0.9817}
    measured = {"v_rand": mean["v_rand"], "v_info": mean["v_info"], "best v_rand": best["v_rand"]}
    measured["best v_info"] = best["v_info"]
    assert all(abs(measured[k] - v) <= tolerance for k, v in quoted.items()), measured


def test_every_command_says_how_many_threads_it_uses_and_why(trained, own_data, tmp_path, capsys):
    record = json.loads((trained / "metrics.json").read_text())
    assert record["threads"].startswith("1 thread (requested 1;") and record["torch_threads"] == 1
    checkpoint = str(trained / "model.ckpt")
    images = str(own_data / "images")
    assert main(["predict", "--checkpoint", checkpoint, images, "--out", str(tmp_path / "p"), "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("model: ") and lines[1].startswith("using 1 thread (requested 1;")
    assert lines[2].startswith("predicting 3 images in")  # not "image(s)"
    assert main(["evaluate", "--checkpoint", checkpoint, "--data", str(own_data), "--out", str(tmp_path / "e")]) == 0
    assert "\nusing 1 thread (UNET_THREADS 1;" in capsys.readouterr().out  # one_thread sets UNET_THREADS=1
    assert main(["predict", "--checkpoint", checkpoint, images, "--threads", "0"]) == 2
    assert capsys.readouterr().err == (
        "error: argument --threads: must be at least 1, got 0 (`python -m unet_lib predict --help` lists the options)\n"
    )


def test_clear_errors(tmp_path, own_data, capsys):
    def error_of(*argv: str) -> str:
        assert main(list(argv)) == 2
        return capsys.readouterr().err

    assert "no checkpoint at" in error_of(
        "predict", "--checkpoint", str(tmp_path / "none.ckpt"), str(own_data / "images")
    )
    foreign = tmp_path / "foreign.ckpt"
    state = torch.load(
        checkpoints.save_checkpoint(tmp_path / "ok.ckpt", UNetModel(base_channels=2, depth=2)), weights_only=True
    )
    state["model_config"]["base_channels"] = 4  # weights of another architecture
    torch.save(state, foreign)
    assert "do not fit" in error_of("evaluate", "--checkpoint", str(foreign), "--data", str(own_data))
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bare.pt")
    assert "state_dict" in error_of("predict", "--checkpoint", str(tmp_path / "bare.pt"), str(own_data / "images"))
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    assert "cannot read" in error_of("predict", "--checkpoint", str(tmp_path / "ok.ckpt"), str(tmp_path / "broken.png"))
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    assert "holds no images" in error_of("train", "--data", str(empty), "--steps", "1")
    # the folder given to train, or the run folder train wrote, name what is inside them
    assert f"its images are in {own_data / 'images'}: give that folder" in error_of(
        "predict", "--checkpoint", str(tmp_path / "ok.ckpt"), str(own_data), "--out", str(tmp_path / "never")
    )
    (tmp_path / "run").mkdir()
    checkpoints.save_checkpoint(tmp_path / "run" / "model.ckpt", UNetModel(base_channels=2, depth=2))
    assert f"is a folder: give a file in it, {tmp_path / 'run' / 'model.ckpt'} (or " in error_of(
        "predict", "--checkpoint", str(tmp_path / "run"), str(own_data / "images"), "--out", str(tmp_path / "never")
    )
    assert not (tmp_path / "never").exists()
    lonely = tmp_path / "lonely"
    (lonely / "images").mkdir(parents=True)
    (lonely / "masks").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(lonely / "images" / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(lonely / "masks" / "b.png")
    assert "same file names" in error_of("evaluate", "--checkpoint", str(tmp_path / "ok.ckpt"), "--data", str(lonely))
    assert "tile-size" in error_of("train", "--data", str(own_data), "--steps", "1", "--tile-size", "93", *TINY[:4])
    # a learner's walk-through: the same slip (a mistyped folder) gets the same words from train and doctor
    assert "no_such_folder: no such folder; give 'isbi2012'" in error_of(
        "train", "--data", str(tmp_path / "no_such_folder")
    )
    said = error_of("predict", "--checkpoint", str(tmp_path / "ok.ckpt"), str(tmp_path / "no_such_dir"))
    assert "no_such_dir: no such image or folder; give image files (" in said


def test_train_warns_of_masks_with_class_numbers_as_the_doctor_does(tmp_path, capsys):
    """A walk: masks of three classes (0 background, 128 cell border, 255 cell inside) are read as instance labels,
    every nonzero value foreground. The doctor warns; train printed only "instance labels: 2 objects" and trained."""
    root = tmp_path / "three_classes"
    for k in range(2):
        image, mask = np.zeros((96, 96), np.uint8), np.zeros((96, 96), np.uint8)
        for row in range(4, 96, 23):
            for col in range(4 + 3 * k, 90, 23):
                mask[row : row + 16, col : col + 16] = 128  # the border …
                mask[row + 2 : row + 14, col + 2 : col + 14] = 255  # … around the inside
        image[mask > 0] = 180
        image += np.random.default_rng(k).integers(0, 40, image.shape, dtype=np.uint8)
        for sub, array in (("images", image), ("masks", mask)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / sub / f"s{k}.png")
    argv = ["train", "--data", str(root), "--steps", "1", "--out", str(tmp_path / "run"), "--rotations", "1", *TINY]
    assert main(argv) == 0
    assert "[warning] masks: 2 masks hold a few values in many pieces" in capsys.readouterr().out


def test_predict_says_what_to_do_with_a_blank_image(trained, tmp_path, capsys):
    """A walk: a folder with one empty frame was refused with "… has the same value (7) in every pixel: there is
    nothing to segment in it" and no word on what to do."""
    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((40, 40), 7, np.uint8)).save(tmp_path / "in" / "empty_frame.png")
    argv = ["predict", "--checkpoint", str(trained / "model.ckpt"), str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: empty_frame.png has the same value (7) in every pixel: there is nothing to segment")
    assert said.rstrip().endswith("; leave it out of the images to predict")


def test_a_damaged_tiff_is_one_line_that_names_it(trained, tmp_path, capsys, caplog):
    """A walk: a TIFF cut short (a copy that did not finish) printed tifffile's log lines above the error, and the
    error, "failed to read 32768 bytes, got 2744", named neither the file nor what to do."""
    import tifffile

    tifffile.imwrite(tmp_path / "whole.tif", np.random.default_rng(0).integers(0, 4000, (128, 128), dtype=np.uint16))
    data = (tmp_path / "whole.tif").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.tif").write_bytes(data[:3000])  # the pixels cut short
    (tmp_path / "in2").mkdir()
    (tmp_path / "in2" / "header.tif").write_bytes(b"II*\x00\x08\x00\x00\x00")  # a header and nothing else
    for folder, name in (("in", "cut.tif"), ("in2", "header.tif")):
        argv = ["predict", "--checkpoint", str(trained / "model.ckpt"), str(tmp_path / folder)]
        assert main([*argv, "--out", str(tmp_path / f"out_{folder}")]) == 2
        said = capsys.readouterr().err
        assert said.count("\n") == 1 and said.startswith(f"error: cannot read {name} as an image ("), said
        assert said.rstrip().endswith("; give a PNG, TIFF, JPEG or BMP file")
        assert not [record for record in caplog.records if record.name == "tifffile"]  # on stderr outside pytest


def test_a_refused_command_leaves_no_empty_folders_behind(tmp_path, own_data, monkeypatch, capsys):
    """A walk: train, predict and evaluate refused a folder with a file that is no image, but left the runs/ they had
    made for their default --out (or a/ of --out a/b) behind, empty: only the last folder was removed again."""
    junk = tmp_path / "junk"
    shutil.copytree(own_data, junk)
    (junk / "images" / "cells0.png").write_bytes(b"not an image")
    checkpoint = checkpoints.save_checkpoint(tmp_path / "ok.ckpt", UNetModel(base_channels=2, depth=2))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for argv in (
        ["train", "--data", str(junk), "--steps", "1"],
        ["train", "--data", str(junk), "--steps", "1", "--out", "a/b/c"],
        ["predict", "--checkpoint", str(checkpoint), str(junk / "images")],
        ["evaluate", "--checkpoint", str(checkpoint), "--data", str(junk), "--out", "a/b"],
    ):
        assert main(argv) == 2, argv
        assert "cannot read" in capsys.readouterr().err
        assert list(work.iterdir()) == [], argv


def test_a_mistake_is_one_line_even_when_the_default_folder_is_taken(tmp_path, own_data, monkeypatch, capsys):
    # A learner's walk-through: "runs/evaluate holds an earlier run, so this one writes into runs/evaluate-2" came
    # before the error line; the folder line now waits until the inputs are read (outputs.FolderLock.announce).
    monkeypatch.chdir(tmp_path)
    for command in ("train", "evaluate", "predict"):
        (tmp_path / "runs" / command).mkdir(parents=True)
        (tmp_path / "runs" / command / "metrics.json").write_text("{}")
        (tmp_path / "runs" / command / "cells0_mask.png").write_bytes(b"")
    for argv in (
        ["train", "--data", "no_such_folder"],
        ["evaluate", "--checkpoint", "none.ckpt", "--data", str(own_data)],
        ["predict", "--checkpoint", "none.ckpt", str(own_data / "images" / "cells0.png")],
    ):
        assert main(argv) == 2, argv
        printed = capsys.readouterr()
        assert printed.out == "" and printed.err.count("\n") == 1 and printed.err.startswith("error: "), argv
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["evaluate", "predict", "train"]
    # a mistyped option names its command's help and the option meant
    assert main(["doctor", "--dta"]) == 2
    assert capsys.readouterr().err == (
        "error: unrecognized arguments: --dta; did you mean --data? (`python -m unet_lib doctor --help` lists the "
        "options)\n"
    )
    assert main(["predict", "--foo"]) == 2 and "did you mean" not in capsys.readouterr().err
    assert main(["predict", "--data", str(own_data)]) == 2  # the option of train and evaluate
    assert "predict takes the images themselves: give their folder, e.g. my_folder/images" in capsys.readouterr().err


def test_several_mistyped_options_get_one_question(capsys):
    assert main(["train", "--stpes", "3", "--dta", "x"]) == 2
    assert capsys.readouterr().err == (
        "error: unrecognized arguments: --stpes 3 --dta x; did you mean --steps and --data? "
        "(`python -m unet_lib train --help` lists the options)\n"
    )


def test_predict_reads_16_bit_tiff_and_colour_images(trained, tmp_path, capsys):
    import tifffile

    tifffile.imwrite(tmp_path / "deep.tif", (np.random.default_rng(0).random((100, 130)) * 60000).astype(np.uint16))
    colour = np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)  # a constant image is refused
    Image.fromarray(colour).save(tmp_path / "colour.png")
    tifffile.imwrite(tmp_path / "stained.tif", np.stack([colour] * 3), photometric="rgb")  # 3 RGB slices
    out = tmp_path / "out"
    inputs = [str(tmp_path / name) for name in ("deep.tif", "colour.png", "stained.tif")]
    assert main(["predict", "--checkpoint", str(trained / "model.ckpt"), *inputs, "--out", str(out)]) == 0
    assert Image.open(out / "deep_mask.png").size == (130, 100) and Image.open(out / "colour_overlay.png").size == (
        80,
        64,
    )
    printed = capsys.readouterr().out
    assert "stained.tif (3 slices of 64×80)" in printed
    said = [line for line in printed.splitlines() if " colour, read as gray" in line]
    assert said == [  # one line for the run, counted by file, not one per slice
        "note: 2 of 3 images (colour.png, stained.tif) are colour, read as gray (the mean of the red, green and blue "
        f"channels); {COLOUR_ADVICE}"
    ]


def test_predict_says_nothing_of_colour_for_gray_images_even_if_saved_as_rgb(trained, tmp_path, capsys):
    gray = np.random.default_rng(2).integers(0, 256, (64, 80, 1), dtype=np.uint8)
    Image.fromarray(np.repeat(gray, 3, axis=-1)).save(tmp_path / "gray_rgb.png")
    out = tmp_path / "out"
    assert (
        main(
            ["predict", "--checkpoint", str(trained / "model.ckpt"), str(tmp_path / "gray_rgb.png"), "--out", str(out)]
        )
        == 0
    )
    assert " colour, read as gray" not in capsys.readouterr().out


def test_predict_and_evaluate_name_images_at_another_pixel_size(tmp_path, capsys):
    # A walk: predict and evaluate said nothing of an image at 1 µm per pixel for a model trained at 0.5 µm.
    import tifffile

    def tiff_folder(root: Path, micrometres: float) -> Path:
        for sub in ("images", "masks"):
            (root / sub).mkdir(parents=True)
        for k in range(3):
            image, mask = blobs((128, 128), k)
            scale = {"resolution": (1 / micrometres, 1 / micrometres), "metadata": {"unit": "um"}, "imagej": True}
            tifffile.imwrite(root / "images" / f"c{k}.tif", image, **scale)
            Image.fromarray(mask).save(root / "masks" / f"c{k}.png")
        return root

    fine, coarse = tiff_folder(tmp_path / "fine", 0.5), tiff_folder(tmp_path / "coarse", 1.0)
    run = tmp_path / "run"
    assert main(["train", "--data", str(fine), "--steps", "2", "--out", str(run), "--threads", "1", *TINY]) == 0
    assert torch.load(run / "model.ckpt", weights_only=False)["data_profile"]["pixel_size"] == 0.5
    inputs = [str(fine / "images" / "c0.tif"), str(coarse / "images" / "c1.tif")]
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(run / "model.ckpt"), *inputs, "--out", str(tmp_path / "p")]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if "µm per pixel" in line]
    assert notes == [
        "note: c1.tif records 1 µm per pixel, the model trained at 0.5: objects span 0.5× the pixels it knows; "
        "rescale by 2 (images.rescale, notebook 11) or train on images like these"
    ]
    for data, said in ((coarse, ["note: coarse/images records 1 µm per pixel"]), (fine, [])):
        assert main(["evaluate", "--checkpoint", str(run / "model.ckpt"), "--data", str(data), "--threads", "1",
                     "--out", str(tmp_path / f"e-{data.name}")]) == 0  # fmt: skip
        lines = [line for line in capsys.readouterr().out.splitlines() if "µm per pixel" in line]
        assert [line.split(", the model")[0] for line in lines] == said


def test_the_module_runs_as_a_command():
    result = subprocess.run([sys.executable, "-m", "unet_lib", "--help"], capture_output=True, text=True, check=True)
    assert "train" in result.stdout and "predict" in result.stdout and "evaluate" in result.stdout
    assert "front door" not in result.stdout and "``" not in result.stdout  # user text, not the maintainers' (issue 17)


def test_evaluate_on_the_folder_a_checkpoint_trained_on_scores_the_held_out_images():
    # A learner's walk-through: `evaluate --data my_folder` averaged in the images the model had trained on.
    from unet_lib.commands import images_to_score
    from unet_lib.data import train_val_split
    from unet_lib.images import SegmentationData

    def data(count: int, source: str = "folder", description: str = "your own data (f)") -> SegmentationData:
        images = [np.zeros((8, 8), np.float32) for _ in range(count)]
        labels = [np.ones((8, 8), np.uint8) for _ in range(count)]
        return SegmentationData(images, labels, [f"{k}.png" for k in range(count)], source, description)

    folder = data(4)
    state = {"record": {"data": folder.description, "validation_images": ["3.png"]}}
    held_out, which, note = images_to_score(folder, state, "val")
    assert held_out.names == ["3.png"] and which == "the one image it did not train on"
    assert note.startswith("left out: 3 other images that trained the checkpoint") and "--slices all" in note
    # the one-image note's "a folder of 12 images or more holds out 2 or more" is the split's own rule
    assert [len(train_val_split(data(n))[1]) for n in (11, 12)] == [1, 2]
    pair = data(2)
    pair_state = {"record": {"data": pair.description, "validation_images": ["1.png"]}}
    assert images_to_score(pair, pair_state, "val")[2].startswith("left out: 1 other image that trained")
    whole, which, note = images_to_score(folder, state, "all")
    assert whole.names == folder.names and which == "all 4 images"
    assert note == "the checkpoint was trained on 3 of these images, which flatters the scores"
    # a one-image folder trained and validated on its one image: scored, and said to flatter
    one = data(1)
    whole, which, note = images_to_score(
        one, {"record": {"data": one.description, "validation_images": ["0.png"]}}, "val"
    )
    assert (
        whole.names == ["0.png"]
        and which == "the one image"
        and note.startswith("the checkpoint was trained on this image too")
    )
    # ISBI-like data: --slices all includes the 25 training slices of a checkpoint trained on it
    isbi = data(30, "isbi2012", "ISBI 2012 training slices")
    trained_on_isbi = {"record": {"data": isbi.description}}
    assert images_to_score(isbi, trained_on_isbi, "val")[1:] == ("the 5 validation images", "")
    assert (
        images_to_score(isbi, trained_on_isbi, "all")[2] == "the checkpoint was trained on 25 of these images, "
        "which flatters the scores"
    )
    # another folder (or a checkpoint with no record) is scored whole, without a note
    other = {"record": {"data": "your own data (g)", "validation_images": ["3.png"]}}
    for state in (other, {}):
        whole, which, note = images_to_score(folder, state, "val")
        assert whole.names == folder.names and which == "all 4 images" and note == ""
    assert images_to_score(isbi, {}, "all")[2] == ""
    # fingerprints that match nothing here (the folder saved again at another bit depth): the record still knows it
    resaved = {"record": {"data": folder.description, "validation_images": ["3.png"]}, "training_images": ["0" * 16]}
    assert images_to_score(folder, resaved, "val")[0].names == ["3.png"]


def test_a_held_out_copy_of_a_training_image_is_named_by_train_and_evaluate():
    # A biologist's walk-through: a duplicate under another name was held out; train's table scored it unsaid, and
    # evaluate said only "trained on these images too", not why (every image's pixels had trained the checkpoint).
    from unet_lib.commands import images_to_score, seen_copies
    from unet_lib.images import SegmentationData, fingerprint

    rng = np.random.default_rng(0)
    first, second = (rng.random((8, 8)).astype(np.float32) for _ in range(2))
    labels = [np.ones((8, 8), np.uint8)] * 2

    def data(images: list[np.ndarray], names: list[str]) -> SegmentationData:
        return SegmentationData(images, labels[: len(images)], names, "folder", "your own data (f)")

    train_part = data([first], ["a.png"])
    assert seen_copies(train_part, data([first], ["copy_of_a.png"])) == (
        "copy_of_a.png has the pixels of a training image, so its scores flatter the model"
    )
    assert seen_copies(train_part, data([second], ["b.png"])) == ""
    many = SegmentationData([first] * 5, [labels[0]] * 5, [f"c{k}.png" for k in range(5)], "folder", "own (f)")
    assert seen_copies(train_part, many).startswith("c0.png, c1.png, c2.png and 2 more have the pixels")  # not all
    folder = data([first, first], ["a.png", "copy_of_a.png"])
    scored, which, note = images_to_score(folder, {"training_images": [fingerprint(first)]}, "val")
    assert which == "both images" and "a copy under another name counts" in note
    # a folder of training images only (copied out of the training folder): the same sentence, from one place
    distinct = data([first, second], ["a.png", "b.png"])
    both = {"training_images": [fingerprint(first), fingerprint(second)]}
    assert images_to_score(distinct, both, "all")[2].startswith("each of these 2 images has the pixels of an image")
    assert images_to_score(data([first], ["a.png"]), both, "all")[2].startswith("the checkpoint was trained on this")


def test_train_describes_its_recipe_in_words_not_python_values(tmp_path):
    # "batch norm True | augmentation False" was Python's repr of the recipe, not a sentence
    from dataclasses import replace

    from unet_lib.commands import TrainPlan, describe_run, train

    tiny = replace(train.CPU_DEFAULT, base_channels=2, depth=1)

    def line(recipe: train.Recipe) -> str:
        plan = TrainPlan(recipe=recipe, data="synthetic", out=tmp_path, steps=20, minutes=None, seed=0)
        return describe_run(plan, recipe.model(), 100)

    cpu, paper = line(tiny), line(replace(tiny, batch_norm=False, augment=True, elastic=True))
    assert "True" not in cpu + paper and "False" not in cpu + paper
    assert "with batch norm" in cpu and "no augmentation" in cpu
    assert "no batch norm" in paper and ", augmentation" in paper


def test_the_model_line_says_a_budget_of_one_minute_in_the_singular(tmp_path):
    from dataclasses import replace

    from unet_lib.commands import TrainPlan, describe_run, train

    tiny = replace(train.CPU_DEFAULT, base_channels=2, depth=1)
    plan = TrainPlan(recipe=tiny, data="synthetic", out=tmp_path, steps=None, minutes=1, seed=0)
    assert describe_run(plan, tiny.model(), 100).endswith("| budget 1 minute")  # a walk printed "budget 1 minutes"
    one_step = TrainPlan(
        recipe=replace(tiny, warmup_steps=1), data="synthetic", out=tmp_path, steps=1, minutes=None, seed=0
    )
    line = describe_run(one_step, tiny.model(), 100)
    assert ", warm-up 1 step |" in line and line.endswith("| budget 1 step")  # printed "1 steps" both times


def test_the_model_line_counts_one_step_in_the_singular():
    from unet_lib.checkpoints import model_origin

    assert model_origin("nuclei.ckpt", {"step": 1}) == "nuclei.ckpt (1 step)"  # notebook 11 printed "(1 steps)"
    assert model_origin("m.ckpt", {"step": 20, "record": {"data": "f"}}) == "m.ckpt (20 steps, trained on f)"
