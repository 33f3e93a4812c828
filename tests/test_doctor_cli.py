"""``python -m unet_lib doctor``: one line per finding, exit status 0 or 2; and train's lines before step 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unet_lib import diagnose, train
from unet_lib.checkpoints import save_checkpoint
from unet_lib.cli import main
from unet_lib.images import COLOUR_ADVICE
from unet_lib.model import UNetModel
from unet_lib.synthetic import make_synthetic_em

pytestmark = pytest.mark.usefixtures("one_thread", "quick")  # tests/conftest.py

TINY = ["--base-channels", "2", "--depth", "2", "--tile-size", "92", "--batch-size", "2", "--val-tiles", "2"]
SLOW_STEP = train.StepTime(seconds=2.0, spread=0.1, steps=2, precision="fp32, NCHW, on cpu (test)", device="cpu")


@pytest.fixture
def quick(monkeypatch):
    """fp32 without the precision probe, and a stand-in for the timed steps (``measure_step_time`` has its own
    test in test_diagnose.py): these tests check what the command does with the numbers."""
    monkeypatch.setenv("UNET_PRECISION", "fp32")
    monkeypatch.setattr(train, "measure_step_time", lambda *args, **kwargs: SLOW_STEP)


def em_folder(root: Path, invert: bool = False, swap: bool = False, n_images: int = 2, colour: bool = False) -> Path:
    data = make_synthetic_em(n_images, 256)
    images = [np.round(255 * image).astype(np.uint8) for image in data.images]
    if colour:  # a stain's tint: three channels that differ
        images = [np.stack([image, image // 2, image // 4], axis=-1) for image in images]
    masks = [((1 - label if invert else label) * 255).astype(np.uint8) for label in data.labels]
    if swap:
        images, masks = masks, images
    for sub, arrays in (("images", images), ("masks", masks)):
        (root / sub).mkdir(parents=True)
        for k, array in enumerate(arrays):
            Image.fromarray(array).save(root / sub / f"slice_{k}.png")
    return root


def run(capsys, *args: str) -> tuple[int, list[str], str]:
    status = main(["doctor", *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_a_healthy_folder_is_all_ok_and_exits_0(tmp_path, capsys):
    status, lines, err = run(capsys, "--data", str(em_folder(tmp_path / "em")))
    assert status == 0 and err == ""
    assert all(line.startswith("[ok] ") for line in lines[:-1]), lines
    subjects = {line.split("]", 1)[1].split(":", 1)[0].strip() for line in lines[:-1]}
    assert {"threads", "pairing", "masks", "swapped folders", "initial loss", "speed", "precision"} <= subjects
    assert any(line.startswith("[ok] speed: 2.00 s per step") and "about 150 steps" in line for line in lines)
    assert lines[-1].startswith("doctor: 0 problems, 0 warnings")


def test_swapped_folders_are_a_problem_exit_2(tmp_path, capsys):
    status, lines, _ = run(capsys, "--data", str(em_folder(tmp_path / "swapped", swap=True)))
    assert status == 2
    assert any(line.startswith("[problem] swapped folders: 2 of 2 masks look like pictures") for line in lines)


def test_inverted_labels_are_a_warning_exit_0(tmp_path, capsys):
    status, lines, _ = run(capsys, "--data", str(em_folder(tmp_path / "inverted", invert=True)))
    assert status == 0 and any(line.startswith("[warning] inverted labels") for line in lines)
    assert lines[-1].startswith("doctor: 0 problems, 1 warning,")


def test_colour_images_are_one_warning_of_the_doctor_and_one_note_of_train(tmp_path, capsys):
    folder = em_folder(tmp_path / "stained", colour=True)
    said = (
        "both images (slice_0.png, slice_1.png) are colour, read as gray (the mean of the red, green and blue channels)"
    )
    status, lines, _ = run(capsys, "--data", str(folder))
    assert status == 0 and [line for line in lines if "are colour" in line] == [
        f"[warning] colour images: {said} → {COLOUR_ADVICE}"
    ]
    assert main(["train", "--data", str(folder), "--steps", "1", "--out", str(tmp_path / "run"), *TINY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "are colour" in line] == [f"  note: {said}; {COLOUR_ADVICE}"]


def test_a_checkpoint_that_predicts_background_everywhere(tmp_path, capsys):
    model = UNetModel(base_channels=2, depth=1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head.bias.copy_(torch.tensor([5.0, -5.0]))
    checkpoint = save_checkpoint(tmp_path / "zero.ckpt", model)
    status, lines, _ = run(capsys, "--data", str(em_folder(tmp_path / "em")), "--checkpoint", str(checkpoint))
    assert status == 2
    assert any(line.startswith("[problem] checkpoint predictions: background everywhere") for line in lines)
    assert any(line.startswith("[problem] baseline: model vs majority-class baseline") for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "no/such/folder"], "no/such/folder: no such folder; give 'isbi2012', 'synthetic' or a folder with"),
        (["--checkpoint", "no/such.ckpt", "--data", "synthetic"], "no checkpoint at no/such.ckpt"),
        (["--class", "--data", "synthetic"], "doctor --class checks this machine and the course's own data"),
        (["--overfit", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    status, lines, err = run(capsys, *args)
    assert status == 2 and lines == [] and len(err.strip().splitlines()) == 1
    assert message in err


def test_the_pre_class_check(capsys):
    status, lines, _ = run(capsys, "--class")
    assert status == 0, lines
    said = {line.split("]", 1)[1].split(":", 1)[0].strip(): line for line in lines[:-1]}
    assert {"environment", "widgets", "threads", "speed", "notebook 08", "notebook 11", "memory"} <= set(said)
    steps08 = int(60 * diagnose.NOTEBOOK08_MINUTES / SLOW_STEP.seconds)
    assert f"about {steps08:,} steps here" in said["notebook 08"]
    capped = diagnose.NOTEBOOK11_STEPS * SLOW_STEP.seconds / 60 > diagnose.NOTEBOOK11_MINUTES
    assert capped, "SLOW_STEP is chosen so that notebook 11's training stops at its cap"
    steps11 = SLOW_STEP.steps_in(diagnose.NOTEBOOK11_MINUTES)
    assert f"after about {steps11} of its {diagnose.NOTEBOOK11_STEPS} steps" in said["notebook 11"]
    assert "GB" in said["memory"]


def test_the_pre_class_check_counts_kernels_by_the_memory_limit(capsys, monkeypatch):
    """On a hub pod or Binder (about 2 GB) the machine's memory is the node's: the kernels it holds are counted by the
    cgroup limit, not by the node's hundreds of GB."""
    from unet_lib import runtime

    monkeypatch.setattr(diagnose, "peak_memory_bytes", lambda: 700_000_000)
    monkeypatch.setattr(runtime, "cgroup_memory_limit", lambda *args: 2_000_000_000)
    status, lines, _ = run(capsys, "--class")
    memory = next(line for line in lines if "] memory:" in line)
    assert "memory limit (cgroup) of 2.0 GB holds about 2 such kernels" in memory, memory


def test_the_pre_class_check_says_which_data_the_notebooks_will_have(capsys, monkeypatch, tmp_path):
    """Run offline with an empty UNET_DATA_DIR, the check said nothing of data, and the notebooks then trained and
    scored on the built-in data, not the stored runs' ISBI slices: it says so, and what to do, before the class."""
    from unet_lib import isbi2012

    def offline(*args, **kwargs):
        print("Downloading 60 ISBI 2012 files …")  # the download's own line must not break one line per finding
        raise isbi2012.DataUnavailable("Could not download", reason="no network")

    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(diagnose, "load_isbi2012", offline)
    status, lines, _ = run(capsys, "--class")
    data = next(line for line in lines if "] data:" in line)
    assert data.startswith("[warning] data:") and "(no network)" in data and "built-in EM-like data" in data, data
    assert str(tmp_path / "isbi2012") in data and "UNET_DATA_DIR" in data, "where they belong, and how to fix it"
    assert not any(line.startswith("Downloading") for line in lines) and status == 0
    monkeypatch.setattr(diagnose, "load_isbi2012", lambda *args, **kwargs: None)
    status, lines, _ = run(capsys, "--class")
    assert any(line.startswith("[ok] data: the real ISBI 2012 slices, checksums verified") for line in lines), lines


def test_the_pre_class_check_says_when_its_timing_is_rough(capsys, monkeypatch):
    """A walk on a shared machine: "0.17 s per step (spread 0.42 s over 15 steps)" and then, as [ok], "about 860 steps"
    for notebook 08; train's forecast calls such a count rough (StepTime.busy), the pre-class check said nothing."""
    busy = train.StepTime(seconds=0.17, spread=0.42, steps=15, precision="fp32, NCHW, on cpu (test)", device="cpu")
    monkeypatch.setattr(train, "measure_step_time", lambda *args, **kwargs: busy)
    status, lines, _ = run(capsys, "--class")
    speed = next(line for line in lines if "] speed:" in line)
    assert speed.startswith("[warning] speed:") and "a rough count" in speed and "run it again" in speed, speed
    assert status == 0, "a warning, not a problem: the machine works"
    monkeypatch.setattr(train, "measure_step_time", lambda *args, **kwargs: SLOW_STEP)  # a small spread
    status, lines, _ = run(capsys, "--class")
    assert any(line.startswith("[ok] speed:") for line in lines), lines


@pytest.mark.parametrize("check", [[], ["--class"]])
def test_doctor_takes_threads_as_train_does(check, tmp_path, capsys):
    # the step doctor times must be the step of `train --threads N`: same option, same decision, said on its line
    data = [] if check else ["--data", str(em_folder(tmp_path / "em"))]
    status, lines, err = run(capsys, *check, *data, "--threads", "1")
    assert status == 0 and err == "", (lines, err)
    assert any(line.startswith("[ok] threads: 1 thread (requested 1;") for line in lines), lines
    status, lines, err = run(capsys, *check, "--threads", "0")
    assert status == 2 and lines == [] and "--threads" in err


def test_train_prints_the_data_findings_and_its_budget_before_step_1(tmp_path, capsys):
    folder = em_folder(tmp_path / "inverted", invert=True, n_images=2)
    assert main(["train", "--data", str(folder), "--steps", "1", "--out", str(tmp_path / "run"), *TINY]) == 0
    out = capsys.readouterr().out
    assert "[warning] inverted labels: in 2 of 2 masks" in out
    assert "budget: 1 step (--steps)" in out  # not "1 steps"
    assert out.index("[warning] inverted labels") < out.index("trained 1 step in")


def test_train_warns_of_pixel_sizes_as_the_doctor_does(tmp_path, capsys):
    """README: train runs the doctor's data checks and prints each warning; a walk with one image at twice the pixel
    size got the doctor's "pixel sizes" warning and none from train."""
    import tifffile

    folder = em_folder(tmp_path / "sizes", n_images=2)
    for k, size in enumerate((0.5, 1.0)):
        png = folder / "images" / f"slice_{k}.png"
        tifffile.imwrite(
            png.with_suffix(".tif"),
            np.asarray(Image.open(png)),
            imagej=True,
            resolution=(1 / size, 1 / size),
            metadata={"unit": "um"},
        )
        png.unlink()
    assert main(["train", "--data", str(folder), "--steps", "1", "--out", str(tmp_path / "run"), *TINY]) == 0
    assert "[warning] pixel sizes: the files record pixel sizes from 0.5 to 1 µm" in capsys.readouterr().out


def test_train_on_healthy_data_prints_no_finding_and_forecasts_a_time_budget(tmp_path, capsys):
    folder = em_folder(tmp_path / "em", n_images=2)
    assert (
        main(["train", "--data", str(folder), "--minutes", "1", "--steps", "1", "--out", str(tmp_path / "r"), *TINY])
        == 0
    )
    out = capsys.readouterr().out
    assert "[warning]" not in out and "[problem]" not in out
    assert (
        "this machine: 2.00 s per step (spread 0.10 s over 2 steps), about 30 steps per minute → about 30 steps" in out
    )
    assert "stored 5-minute runs" not in out  # not the default command on the ISBI data


def test_readme_when_it_does_not_work():
    """README's section: the commands parse, the bar is the code's, every finding it names is one the doctor makes."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## When it does not work", 1)[1].split("\n## ", 1)[0]
    assert f"at least\n{diagnose.OVERFIT_IOU:g}" in section or f"at least {diagnose.OVERFIT_IOU:g}" in section
    named = {
        name.strip("` ")
        for row in section.splitlines()
        if row.startswith("| ")
        for name in row.split("|")[3].split(",")
    }
    named -= {"the doctor's finding", "---"}
    made = set(diagnose.DATA_FINDINGS) | {
        "inputs",
        "learning rate",
        "overfit test",
        "checkpoint weights",
        "model mode",
        "device",
        "threads",
        "speed",
        "checkpoint predictions",
        "baseline",
        "checkpoint data",
        "initial loss",
        "weights",
        "precision",
    }
    assert named and named <= made, named - made
    for line in section.splitlines():
        if line.startswith("python -m unet_lib doctor"):
            words = line.split("#")[0].split()[4:]
            assert build_args(words).handler.__name__ == "run_doctor"


def build_args(words: list[str]):
    from unet_lib.cli import build_parser

    return build_parser().parse_args(["doctor", *words])
