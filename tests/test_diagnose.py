"""unet_lib.diagnose: every broken setup of notebook 12 is named, and the healthy data raise no alarm."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from unet_lib import diagnose, images, train
from unet_lib.checkpoints import SHIPPED_CHECKPOINT, load_model, save_checkpoint
from unet_lib.images import SegmentationData
from unet_lib.model import UNetModel
from unet_lib.synthetic import make_synthetic_em, make_synthetic_nuclei

pytestmark = pytest.mark.usefixtures("one_thread", "fp32")  # tests/conftest.py

TINY = replace(train.CPU_DEFAULT, base_channels=8, depth=2, tile_size=92, batch_size=1)
"""A recipe that overfits a tile in seconds on one thread."""


@pytest.fixture(autouse=True)
def fp32(monkeypatch):
    """No precision probe in these tests: fp32 throughout (the probe is timed elsewhere)."""
    monkeypatch.setenv("UNET_PRECISION", "fp32")


def alarms(findings: list[diagnose.Finding]) -> list[str]:
    return [f.line() for f in diagnose.not_ok(findings)]


# -- the findings themselves -------------------------------------------------------------------------------------
def test_a_finding_is_one_line_and_problems_set_the_exit_status():
    fine, odd = diagnose.ok("labels", "0 and 1"), diagnose.found("inverted labels", "foreground around", "invert")
    bad = diagnose.Finding("problem", "labels", "0 and 255", "mask_to_label")
    assert fine.line() == "[ok] labels: 0 and 1"
    assert bad.line() == "[problem] labels: 0 and 255 → mask_to_label" and "\n" not in bad.line()
    assert odd.severity == diagnose.DATA_FINDINGS["inverted labels"][0] == "warning"
    assert diagnose.exit_status([fine, odd]) == 0 and diagnose.exit_status([fine, bad]) == 2
    assert diagnose.summary([fine, odd, bad]) == "doctor: 1 problem, 1 warning, 1 ok"
    with pytest.raises(ValueError, match="severity"):
        diagnose.Finding("bad", "x", "y")


def test_the_data_checks_report_only_subjects_of_the_one_table():
    findings = diagnose.check_data(make_synthetic_em(4, 128))
    assert {f.subject for f in findings} <= set(diagnose.DATA_FINDINGS)
    assert {"labels", "foreground share", "swapped folders", "inverted labels", "image sizes"} <= {
        f.subject for f in findings
    }


# -- no false alarm on the three healthy datasets ---------------------------------------------------------------
def test_no_alarm_on_the_isbi_data(isbi):
    assert alarms(diagnose.check_data(isbi)) == []
    tiles = diagnose.training_tiles(isbi)
    findings = diagnose.check_batch(tiles, train.CPU_DEFAULT.model(), batch_size=2)
    assert alarms(findings) == []
    loss = next(f for f in findings if f.subject == "initial loss")
    assert "ln 2 × mean weight" in loss.found


def test_no_alarm_on_the_built_in_data():
    """The first 8 of the 30 built-in slices (slice i depends only on the seed and i; all 30 take long to make)."""
    assert alarms(diagnose.check_data(make_synthetic_em(8, 512))) == []


def notebook11_folder(root: Path, n_images: int = 6) -> Path:
    """The own-images folder of notebook 11: 16-bit camera-count TIFFs with their pixel size, instance masks."""
    nuclei = make_synthetic_nuclei(n_images=n_images, size=256, seed=0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k, (image, instances) in enumerate(zip(nuclei.images, nuclei.instances)):
        counts = np.round(100 + 4000 * image).astype(np.uint16)
        resolution = (1 / nuclei.pixel_size, 1 / nuclei.pixel_size)
        path = root / "images" / f"nucleus_{k:02d}.tif"
        tifffile.imwrite(path, counts, imagej=True, resolution=resolution, metadata={"unit": "um"})
        tifffile.imwrite(root / "masks" / f"nucleus_{k:02d}.tif", instances.astype(np.uint16))
    return root


def test_no_alarm_on_notebook_11s_own_images(tmp_path):
    data, findings = diagnose.check_folder(notebook11_folder(tmp_path / "my_nuclei"))
    assert data is not None and alarms(findings) == []
    said = {f.subject: f.found for f in findings}
    assert said["masks"].startswith("6 instance labels")
    assert "0.5 µm per pixel in 6 of 6 files" in said["pixel sizes"]
    assert "uint16 files, values 100–" in said["intensities"]


# -- every broken setup is named ---------------------------------------------------------------------------------
NAMED_BY = {
    "swapped folders": ("swapped folders", "problem"),
    "0/255 masks": ("labels", "problem"),
    "inverted labels": ("inverted labels", "warning"),
    "diverging learning rate": ("learning rate", "warning"),
    "forgotten normalisation": ("inputs", "problem"),
    "eval forgotten": ("model mode", "problem"),
    "rare class": ("foreground share", "warning"),
}
"""Each broken setup, the subject of the finding that names it, and that finding's severity."""


@pytest.mark.parametrize("name", list(diagnose.BROKEN_SETUPS))
def test_each_broken_setup_is_named(name, tmp_path):
    setup = diagnose.broken_setup(name, folder=tmp_path / "folder", n_images=3, size=192)
    findings = setup.diagnose()
    subject, severity = NAMED_BY[name]
    assert [f.severity for f in diagnose.about(findings, subject)] == [severity], alarms(findings)
    assert {f.subject for f in diagnose.not_ok(findings)} == {subject}, alarms(findings)  # and nothing else


def test_the_swapped_folder_is_on_disk_and_reads_as_train_reads_it(tmp_path):
    setup = diagnose.broken_setup("swapped folders", folder=tmp_path, n_images=2, size=128)
    assert setup.folder == tmp_path and len(list((tmp_path / "masks").iterdir())) == 2
    assert len(np.unique(setup.data.images[0])) == 2  # the "images" are the masks


def test_unknown_setup_is_refused_with_the_names():
    with pytest.raises(ValueError, match="swapped folders"):
        diagnose.broken_setup("typo")


# -- what the folder checks see in files -------------------------------------------------------------------------
def write_pair(root: Path, name: str, image: np.ndarray, mask: np.ndarray) -> None:
    for sub, array in (("images", image), ("masks", mask)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / sub / f"{name}.png")


def test_mask_readings_say_how_and_why(tmp_path):
    em = make_synthetic_em(1, 128)
    image, label = np.round(255 * em.images[0]).astype(np.uint8), em.labels[0]
    colours = np.stack([label * 200, label * 30, (1 - label) * 90], axis=-1).astype(np.uint8)
    classes = (label + (image > 200)).astype(np.uint8)  # 0, 1, 2: a class map, not objects
    for name, mask in (("a", label * 255), ("b", label), ("c", colours), ("d", image), ("e", classes)):
        write_pair(tmp_path, name, image, mask)
    kinds = {name: diagnose.mask_reading(tmp_path / "masks" / f"{name}.png").kind for name in "abcde"}
    assert kinds == {"a": "binary 0/255", "b": "binary 0/1", "c": "colours", "d": "grey levels", "e": "classes"}
    data, findings = diagnose.check_folder(tmp_path)
    assert data is None and diagnose.about(findings, "masks")[0].severity == "problem"
    assert "colour_mask_to_instances" in diagnose.about(findings, "masks")[0].advice


def test_a_mask_that_is_a_copy_of_its_image_is_called_a_picture(tmp_path):
    ramp = np.tile(2 * np.arange(128, dtype=np.uint8), (128, 1))  # 128 values, each one stripe: passes the pieces test
    write_pair(tmp_path, "a", ramp, ramp)
    assert diagnose.mask_reading(tmp_path / "masks" / "a.png").kind == "instance labels"
    reading = diagnose.mask_reading(tmp_path / "masks" / "a.png", ramp)
    assert reading.kind == "grey levels" and "follow its image" in reading.why


def test_a_count_of_one_is_written_in_the_singular(tmp_path):
    """'1 images hold one value' read wrong: each count goes through runtime.plural, and its verb agrees."""
    em = make_synthetic_em(1, 128)
    image, label = np.round(255 * em.images[0]).astype(np.uint8), (em.labels[0] * 255).astype(np.uint8)
    write_pair(tmp_path / "one", "a", image, label)
    _, findings = diagnose.check_folder(tmp_path / "one")
    lines = "\n".join(f.line() for f in findings)
    assert "1 image, each with a mask" in lines and "1 label, class indices" in lines
    write_pair(tmp_path / "flat", "a", np.full_like(image, 7), label)
    write_pair(tmp_path / "flat", "b", image, label)
    _, findings = diagnose.check_folder(tmp_path / "flat")
    assert "1 image holds one value in every pixel (a.png)" in diagnose.about(findings, "intensities")[0].found
    few = replace(em, images=[np.round(em.images[0] * 4) / 4], labels=em.labels, names=["a"])
    assert diagnose.check_grey_levels(few)[0].found.startswith("1 image holds fewer than")
    assert not re.search(r"(?<!of )\b1 (images|labels|masks)", lines)  # "1 of 1 images" reads right


def test_pairing_constant_images_and_pixel_sizes(tmp_path):
    em = make_synthetic_em(2, 128)
    image, label = np.round(255 * em.images[0]).astype(np.uint8), (em.labels[0] * 255).astype(np.uint8)
    write_pair(tmp_path / "lonely", "a", image, label)
    Image.fromarray(image).save(tmp_path / "lonely" / "images" / "b.png")
    _, findings = diagnose.check_folder(tmp_path / "lonely")
    assert diagnose.about(findings, "pairing")[0].severity == "problem"
    assert "b.png" in diagnose.about(findings, "pairing")[0].found
    assert len(diagnose.about(findings, "pairing")) == 1, "one missing mask is one problem, not two"

    write_pair(tmp_path / "sizes", "a", image, label)
    write_pair(tmp_path / "sizes", "b", image, label[:100, :100])  # a cropped mask: found only when the folder is read
    _, findings = diagnose.check_folder(tmp_path / "sizes")
    [pairing] = diagnose.about(findings, "pairing")  # the file-by-file "ok" is replaced, not contradicted
    assert pairing.severity == "problem" and "b.png is (128, 128) but its mask b.png is (100, 100)" in pairing.found
    assert pairing.advice == "save each mask at the size of its image" and "; save" not in pairing.found

    write_pair(tmp_path / "unreadable", "a", image, label)
    write_pair(tmp_path / "unreadable", "b", image, label)
    (tmp_path / "unreadable" / "images" / "b.png").write_bytes(b"not an image")
    _, findings = diagnose.check_folder(tmp_path / "unreadable")
    [files] = diagnose.about(findings, "files")  # an image that does not open is no fault of the masks
    assert files.severity == "problem" and "cannot read images/b.png" in files.found and "PNG or TIFF" in files.advice
    assert "; save" not in files.found, "the advice goes after the arrow, once"
    assert all(f.severity == "ok" for f in diagnose.about(findings, "masks"))

    write_pair(tmp_path / "suffix", "a", image, label)  # a walk: masks named a_mask.png, as many tools save them
    (tmp_path / "suffix" / "masks" / "a.png").rename(tmp_path / "suffix" / "masks" / "a_mask.png")
    _, findings = diagnose.check_folder(tmp_path / "suffix")
    [intensities] = diagnose.about(findings, "intensities")  # the image opens: it only has no mask of its name
    assert "could be read" not in intensities.found and "no image has a mask" in intensities.found

    write_pair(tmp_path / "blank", "a", image, label)  # one value in every pixel of an image: said once, of the image
    write_pair(tmp_path / "blank", "b", np.full_like(image, 7), label)
    _, findings = diagnose.check_folder(tmp_path / "blank")
    assert [f.subject for f in diagnose.not_ok(findings)] == ["intensities"]
    assert all(f.severity == "ok" for f in diagnose.about(findings, "masks")), "the image is blank, not its mask"

    write_pair(tmp_path / "stack", "a", image, label)  # a stack in images/: no fault of the masks either
    write_pair(tmp_path / "stack", "b", image, label)
    (tmp_path / "stack" / "images" / "b.png").unlink()
    tifffile.imwrite(tmp_path / "stack" / "images" / "b.tif", np.stack([image, image]))
    _, findings = diagnose.check_folder(tmp_path / "stack")
    [files] = diagnose.about(findings, "files")
    assert files.severity == "problem"
    assert files.advice.endswith("for training save each slice as its own file") and all(
        f.severity == "ok" for f in diagnose.about(findings, "masks")
    )
    assert "images/b.tif is a stack of 2 slices (2 × 128 × 128)" == files.found
    tifffile.imwrite(
        tmp_path / "stack" / "images" / "b.tif", np.stack([image, image, image], axis=-1)[None].repeat(2, 0)
    )
    [files] = diagnose.about(diagnose.check_folder(tmp_path / "stack")[1], "files")  # a colour stack
    assert files.found == "images/b.tif has shape (2, 128, 128, 3), but must be one 2-D image"
    assert files.advice == "save it as a single gray image"

    write_pair(tmp_path / "flat", "a", np.full((128, 128), 7, np.uint8), label)
    _, findings = diagnose.check_folder(tmp_path / "flat")
    assert diagnose.about(findings, "intensities")[0].severity == "problem"

    root = tmp_path / "sizes"
    for k, size in enumerate((0.25, 0.5)):
        write_pair(root, f"s{k}", image, label)
        (root / "images" / f"s{k}.png").unlink()
        tifffile.imwrite(
            root / "images" / f"s{k}.tif", image, imagej=True, resolution=(1 / size, 1 / size), metadata={"unit": "um"}
        )
    _, findings = diagnose.check_folder(root)
    assert diagnose.about(findings, "pixel sizes")[0].severity == "warning"
    assert "0.25 to 0.5 µm" in diagnose.about(findings, "pixel sizes")[0].found


def test_colour_images_are_one_warning_in_the_words_of_load_folders_note(tmp_path):
    em = make_synthetic_em(3, 128)
    for k, (picture, label) in enumerate(zip(em.images, em.labels)):
        image = np.round(255 * picture).astype(np.uint8)
        if k < 2:  # a stain's tint: the channels differ
            image = np.stack([image, image // 2, image // 4], axis=-1)
        write_pair(tmp_path, f"s{k}", image, (label * 255).astype(np.uint8))
    data, findings = diagnose.check_folder(tmp_path, tile_size=92, depth=2)  # a tile that fits 128-px images
    [colour] = diagnose.about(findings, "colour images")
    assert colour.severity == diagnose.DATA_FINDINGS["colour images"][0] == "warning"
    assert colour.found.startswith("2 of 3 images (s0.png, s1.png) are colour, read as gray (the mean of the red")
    assert data is not None and [f"{colour.found}; {colour.advice}"] == [n for n in data.notes if "colour" in n]
    assert {f.subject for f in diagnose.not_ok(findings)} == {"colour images"}, alarms(findings)

    (tmp_path / "images" / "s0.png").unlink()
    (tmp_path / "images" / "s1.png").unlink()
    for k in range(2):  # gray again, one of them saved as RGB with three equal channels
        gray = np.round(255 * em.images[k]).astype(np.uint8)
        Image.fromarray(np.repeat(gray[..., None], 3, axis=-1) if k else gray).save(tmp_path / "images" / f"s{k}.png")
    data, findings = diagnose.check_folder(tmp_path)
    assert [f.line() for f in diagnose.about(findings, "colour images")] == ["[ok] colour images: every image is gray"]
    assert not any("colour" in note for note in data.notes)


def test_the_doctor_grays_an_image_as_read_image_does_alpha_never_counts(tmp_path):
    # A review: the doctor averaged RGBA's four channels, alpha included, so a two-valued picture under a graded
    # transparency read as many-valued, and the swapped-folder finding missed that the images look like masks.
    em = make_synthetic_em(2, 128)
    alpha = np.tile(np.linspace(60, 255, 128).astype(np.uint8), (128, 1))
    for k, (picture, label) in enumerate(zip(em.images, em.labels)):
        mask_as_image = np.stack([label * 255] * 3 + [alpha], axis=-1).astype(np.uint8)  # swapped, with an alpha
        write_pair(tmp_path, f"s{k}", mask_as_image, np.round(255 * picture).astype(np.uint8))
    rgba = np.asarray(Image.open(tmp_path / "images" / "s0.png"))
    assert rgba.shape == (128, 128, 4) and np.array_equal(images.gray_values(rgba), rgba[..., 0])
    assert images.gray_values(np.zeros((3, 5, 5, 7))) is None  # no single image
    _, findings = diagnose.check_folder(tmp_path)
    [swapped] = diagnose.about(findings, "swapped folders")
    assert swapped.found.endswith("; and 2 images hold only two values, as masks do"), swapped.found


def test_duplicate_images_are_named_under_any_name():
    # A review: a copy of a training image among the held-out ones is scored as unseen; the doctor and train name it.
    em = make_synthetic_em(3, 64)
    assert [f.line() for f in diagnose.check_duplicates(em)] == ["[ok] duplicate images: the 3 images all differ"]
    copied = SegmentationData(
        [*em.images, em.images[0].copy()],
        [*em.labels, em.labels[0]],
        [*em.names, "copy.png"],
        "folder",
        "your own data (f: 4 images with masks)",
    )
    [finding] = diagnose.check_duplicates(copied)
    assert finding.severity == diagnose.DATA_FINDINGS["duplicate images"][0] == "warning"
    assert finding.found == f"1 of 4 images repeat another's pixels (copy.png = {em.names[0]})"
    assert finding in diagnose.not_ok(diagnose.check_data(copied, tile_size=92, depth=2))


def test_images_smaller_than_a_tile_get_a_tile_size_that_fits():
    findings = diagnose.check_sizes(make_synthetic_em(1, 128), tile_size=380)
    assert findings[0].severity == "warning" and findings[0].advice.startswith("train with --tile-size ")
    size = int(findings[0].advice.split()[-1])
    assert diagnose.unet_output_size(size, 4) <= 128 < diagnose.unet_output_size(size + 16, 4)
    assert findings[0].found.startswith("1 of 1 images (")  # a walk read "1 images are smaller"
    assert ") is smaller than the 196-px window" in findings[0].found


# -- the overfit test ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_tiles():
    return diagnose.training_tiles(make_synthetic_em(2, 128), TINY)


def test_the_batch_check_says_each_finding_in_its_own_words(tiny_tiles):
    """Every branch of ``check_batch``, line for line: labels beyond the classes and a broken weight map stop it,
    NaN inputs give a NaN loss, a loss far from ln 2 × mean weight is a warning, and a healthy batch is ok."""
    x, y, w = (torch.as_tensor(part) for part in tiny_tiles[0])
    torch.manual_seed(0)
    model = TINY.model()

    def lines(*item: torch.Tensor, net: torch.nn.Module = model) -> list[str]:
        return [f.line() for f in diagnose.check_batch([item], net, batch_size=1)[1:]]  # [0]: check_inputs

    assert set(torch.unique(y).tolist()) == {0, 1}
    assert lines(x, y * 255, w) == [
        "[problem] labels: the batch's labels hold 0, 255; a 2-class loss needs 0…1 "
        "→ turn masks into labels with images.mask_to_label (0/255 → 0/1)"
    ]
    bad_weights = [
        "[problem] weights: the weight map holds NaN, infinite or negative values "
        "→ compute it with losses.weight_maps from 0/1 labels"
    ]
    assert lines(x, y, -w) == lines(x, y, w * float("nan")) == bad_weights
    weights = f"[ok] weights: weight map from {w.min():.2f} to {w.max():.2f}, mean {w.mean():.2f}"
    assert lines(x * float("nan"), y, w) == [
        weights,
        "[problem] initial loss: nan before any training step → look for NaN or infinite inputs or weights",
    ]
    sure = UNetModel(base_channels=2, depth=2)
    with torch.no_grad():
        sure.head.bias.copy_(torch.tensor([50.0, -50.0]))  # background everywhere, and very sure of it
    [_, far] = lines(x, y, w, net=sure)
    assert re.fullmatch(
        r"\[warning\] initial loss: [\d.]+, but an untrained network gives about \d\.\d\d \(ln 2 × mean weight\) "
        r"→ check the inputs' scale and the initialisation",
        far,
    ), far
    [ok] = lines(x, y)
    assert re.fullmatch(
        r"\[ok\] initial loss: \d\.\d\d, within ×3 of the 0\.69 that equal outputs give \(ln 2 × mean weight\): "
        r"the scale of an untrained network",
        ok,
    ), ok
    [balanced, _] = [f.line() for f in diagnose.check_batch(tiny_tiles, model, batch_size=1)[1:]]
    assert re.fullmatch(
        r"\[ok\] weights: weight map from [\d.]+ to [\d.]+, mean [\d.]+; "
        r"class weights [\d.]+ \(background\), [\d.]+ \(foreground\)",
        balanced,
    ), balanced


def test_a_healthy_tiny_setup_overfits_one_tile(tiny_tiles):
    findings = diagnose.check_overfit(tiny_tiles, TINY, seconds=30)
    assert [f.severity for f in findings] == ["ok"], findings
    assert findings[0].found.startswith("passed") and "bar 0.8" in findings[0].found


def test_a_diverging_rate_fails_the_overfit_test_and_is_ranked_first(tiny_tiles):
    diverging = replace(TINY, batch_norm=False, optimizer="sgd", lr=1.0)
    findings = diagnose.check_overfit(tiny_tiles, diverging, seconds=10)
    assert findings[0].subject == "overfit test" and findings[0].severity == "problem"
    causes = [f for f in findings if f.subject.startswith("cause: ")]
    assert [c.subject for c in causes][0] == "cause: learning rate" and causes[0].severity == "problem"
    assert causes[0].advice == "train with --lr 0.01"
    assert {c.subject for c in causes} == {"cause: learning rate", "cause: labels", "cause: inputs"}


def test_the_overfit_result_needs_a_falling_loss_and_the_bar():
    falling = diagnose.OverfitResult([1.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1], 0.2, 0.9, 1e-3, 1.0)
    assert falling.passed
    assert not replace(falling, iou_after=0.5).passed
    assert not replace(falling, losses=[1.0, float("nan")]).passed
    assert diagnose.mean_iou(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0])) == pytest.approx((0.5 + 0.5) / 2)
    slow = diagnose.OverfitResult([1.0, 0.9, 0.7], 0.2, 0.5, 1e-3, 60.0, out_of_time=True)
    assert slow.undecided and not slow.passed  # a busy machine ran out of time: no verdict on the setup
    assert not replace(slow, losses=[1.0, float("nan")]).undecided and not replace(slow, out_of_time=False).undecided


def test_out_of_time_with_a_falling_loss_is_a_warning_not_a_problem(tiny_tiles, monkeypatch):
    """The budget runs out on a clock that ticks 0.02 s per look, so 0.5 s are 24 steps on any machine: enough for
    the loss to fall below 0.9 of its start (it takes 5 steps at lr 3e-4), too few to pass (160 steps). On the real
    clock the 0.5 s held about 60 steps of 8 ms on a busy Xeon: a machine 2.6× faster would have passed."""
    ticks = itertools.count(0.0, 0.02)
    monkeypatch.setattr(diagnose, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    findings = diagnose.check_overfit(tiny_tiles, replace(TINY, lr=3e-4), seconds=0.5)
    assert len(findings) == 1 and findings[0].severity == "warning", findings
    assert findings[0].found.startswith("undecided — 24 steps") and "--overfit-seconds" in findings[0].advice


# -- a trained model ------------------------------------------------------------------------------------------------
def test_the_shipped_checkpoint_beats_the_baseline_on_the_isbi_data(isbi):
    findings = diagnose.check_checkpoint(SHIPPED_CHECKPOINT, isbi.subset(range(27, 30)), images=2)
    assert alarms(findings) == [], findings
    assert "majority-class baseline" in diagnose.about(findings, "baseline")[0].found


def constant_model(path: Path, background: bool = True, nan: bool = False) -> Path:
    """A model that answers one class everywhere: the head's bias decides (or NaN weights)."""
    model = UNetModel(base_channels=2, depth=1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head.bias.copy_(torch.tensor([5.0, -5.0] if background else [-5.0, 5.0]))
        if nan:
            model.head.weight.fill_(float("nan"))
    return save_checkpoint(path, model)


def test_a_model_that_predicts_one_class_is_below_the_baseline(tmp_path):
    data = make_synthetic_em(3, 128)
    findings = diagnose.check_checkpoint(constant_model(tmp_path / "zero.ckpt"), data)
    assert diagnose.about(findings, "checkpoint predictions")[0].severity == "problem"
    assert "background everywhere" in diagnose.about(findings, "checkpoint predictions")[0].found
    assert diagnose.about(findings, "baseline")[0].severity == "problem"


def test_a_one_class_model_keeps_the_baseline_line_whole(tmp_path):
    """The predictions finding's "all 3 images" overwrote the baseline line's note on which images were scored: it
    read "…beyond the spread of 0.2524all 3 images", and "; on 1 image it did not train on" was lost."""
    data = make_synthetic_em(3, 128)
    [baseline] = diagnose.about(diagnose.check_checkpoint(constant_model(tmp_path / "zero.ckpt"), data), "baseline")
    assert re.search(r"beyond the spread of \d\.\d+$", baseline.found), baseline.found
    model = load_model(tmp_path / "zero.ckpt")
    save_checkpoint(tmp_path / "seen.ckpt", model, training_images=[images.fingerprint(i) for i in data.images[1:]])
    [baseline] = diagnose.about(diagnose.check_checkpoint(tmp_path / "seen.ckpt", data), "baseline")
    assert baseline.found.endswith(
        "lower on one image only (no spread to compare it with); on the one image it did not train on"
    ), baseline.found


def test_the_checkpoint_check_scores_images_it_did_not_train_on(tmp_path):
    # A walk: train held out the last images by name; the doctor scored the last three, training images among them.
    data = make_synthetic_em(5, 128)
    model = UNetModel(base_channels=2, depth=1)
    trained_on = [images.fingerprint(data.images[k]) for k in (1, 3, 4)]
    save_checkpoint(tmp_path / "m.ckpt", model, training_images=trained_on)
    [baseline] = diagnose.about(diagnose.check_checkpoint(tmp_path / "m.ckpt", data), "baseline")
    assert baseline.found.endswith("; on the 2 images it did not train on"), baseline.found  # 0 and 2
    save_checkpoint(tmp_path / "all.ckpt", model, training_images=[images.fingerprint(i) for i in data.images])
    [baseline] = diagnose.about(diagnose.check_checkpoint(tmp_path / "all.ckpt", data), "baseline")
    assert baseline.found.endswith("; on images it trained on (every image here did), so this flatters it")
    save_checkpoint(tmp_path / "old.ckpt", model)  # from before fingerprints: nothing known, nothing said
    [baseline] = diagnose.about(diagnose.check_checkpoint(tmp_path / "old.ckpt", data), "baseline")
    assert "train on" not in baseline.found and "trained on" not in baseline.found


def test_non_finite_weights_are_named_first(tmp_path):
    findings = diagnose.check_checkpoint(constant_model(tmp_path / "nan.ckpt", nan=True), make_synthetic_em(1, 128))
    assert [(f.subject, f.severity) for f in findings] == [("checkpoint weights", "problem")]


def test_a_model_trained_on_other_images_or_another_pixel_size(tmp_path):
    em, nuclei = make_synthetic_em(2, 128), make_synthetic_nuclei(2, 128).segmentation_data()
    trained = diagnose.data_profile(em, pixel_size=0.5)
    assert diagnose.compare_profiles(trained, diagnose.data_profile(em, 0.5)).severity == "ok"
    other = diagnose.compare_profiles(trained, diagnose.data_profile(nuclei, 0.5))
    assert other.severity == "warning" and "another kind of image" in other.found
    zoomed = diagnose.compare_profiles(trained, diagnose.data_profile(em, 0.25))
    assert zoomed.severity == "warning" and "0.25" in zoomed.found
    # at 0.25 µm an object covers twice the pixels it did at 0.5 (it said "0.5× the size it knows")
    assert zoomed.found.endswith("these are 0.25: objects span 2× the pixels it knows (rescale by 0.5)")
    assert diagnose.compare_profiles(None, trained).severity == "ok"
    json.dumps(trained)  # plain values: it travels in the checkpoint


def test_eval_forgotten_is_named_only_with_batch_norm_in_training_mode():
    assert diagnose.check_model(UNetModel(base_channels=2, depth=1, batch_norm=True).train()).severity == "problem"
    assert diagnose.check_model(UNetModel(base_channels=2, depth=1, batch_norm=True).eval()).severity == "ok"
    assert diagnose.check_model(UNetModel(base_channels=2, depth=1).train()).severity == "ok"


def test_labels_outside_zero_and_one_are_named_before_the_loss_fails():
    data = make_synthetic_em(2, 128)
    broken = SegmentationData(data.images, [label * 255 for label in data.labels], data.names, "x", "x")
    assert diagnose.check_labels(broken)[0].severity == "problem"
    assert "mask_to_label" in diagnose.check_labels(broken)[0].advice


# -- train's forecast ---------------------------------------------------------------------------------------------
def test_the_forecast_quotes_the_stored_runs_and_suggests_minutes_when_slow():
    runs = diagnose.stored_default_runs()
    assert len(runs) >= 2 and all(r["steps"] > 0 for r in runs)
    slow = train.StepTime(seconds=1.0, spread=0.1, steps=3, precision="fp32", device="cpu")
    lines = diagnose.forecast(slow, 5, default_run=True)
    assert lines[0].startswith("this machine: 1.00 s per step") and "about 300 steps in 5 minutes" in lines[0]
    nearest = min(runs, key=lambda r: abs(r["steps"] - 300))
    assert f"{nearest['steps']:,} steps reached pixel accuracy {nearest['pixel_accuracy']:.3f}" in lines[1]
    # the AVX2 run, nearest for a slow machine, was scored on single views: its Rand error is not today's measure
    single = [r for r in runs if r["rotations"] == 1]
    assert single and all(f"({r['name']}; scored on single views" in lines[1] for r in single if r is nearest)
    one = single[0]
    listed = f"{one['steps']:,} steps {one['pixel_accuracy']:.3f} / {one['rand_error']:.3f} (single views)"
    assert listed in diagnose.forecast(replace(slow, seconds=0.2), 5, default_run=True)[1]
    assert "the others (accuracy / Rand error): " in lines[1]
    passing = [r for r in runs if r["pixel_accuracy"] >= 0.92 and r["rand_error"] <= 0.05]
    assert lines[2].endswith(
        f"--minutes {int(np.ceil(passing[0]['steps'] / 60))} reaches their {passing[0]['steps']:,} steps"
    )
    assert "the course's bar (pixel accuracy ≥ 0.92, adapted Rand error ≤ 0.05)" in lines[2]  # the bar, with numbers
    fast = replace(slow, seconds=0.01)
    assert len(diagnose.forecast(fast, 5, default_run=True)) == 2  # fast enough: no advice
    assert len(diagnose.forecast(slow, 5, default_run=False)) == 1  # other data: only the steps
    assert diagnose.budget_lines(TINY, 7, None, True)[0].startswith("budget: 7 steps (--steps)")
    assert "rough" not in lines[0] and not slow.busy  # a spread of 0.1 s on 1 s: a quiet machine
    busy = replace(slow, spread=0.6)  # a walk on a busy machine: 387 steps forecast, 108 made
    assert busy.busy and diagnose.forecast(busy, 5, default_run=False)[0].endswith(
        "→ about 300 steps in 5 minutes (a rough count: the timed steps spread by 0.60 s, more than half their "
        "median, so something else is running; the run may make far fewer)"
    )


def test_a_short_budget_on_a_fast_machine_is_not_called_a_slow_machine():
    """``--minutes 1`` on a machine that makes every stored run's steps in their 5 minutes: the budget is short, not
    the machine slow (a walk on an AVX2 stand-in printed "this machine is slower" for any budget under 5 minutes)."""
    runs = diagnose.stored_default_runs()
    passing = [r for r in runs if r["pixel_accuracy"] >= 0.92 and r["rand_error"] <= 0.05]
    fast = train.StepTime(seconds=0.1, spread=0.01, steps=3, precision="fp32", device="cpu")  # 3,000 steps in 5 min
    lines = diagnose.forecast(fast, 1, default_run=True)
    assert lines[0].endswith("about 600 steps in 1 minute")
    assert not any("this machine is slower" in line for line in lines)
    needed = int(np.ceil(passing[0]["steps"] * 0.1 / 60))
    assert lines[2] == (
        "a budget of 1 minute holds fewer steps than the stored runs that met the course's bar (pixel accuracy ≥ "
        f"0.92, adapted Rand error ≤ 0.05): --minutes {needed} reaches their {passing[0]['steps']:,} steps"
    )
    slow = replace(fast, seconds=1.0)  # 300 steps in 5 minutes: slower than every run that met the bar
    assert "this machine is slower" in diagnose.forecast(slow, 1, default_run=True)[2]


def test_measure_step_time_times_a_few_steps_after_a_warm_up():
    step = train.measure_step_time(TINY, "cpu", "fp32", seconds=0.2)
    assert step.steps >= 2 and step.seconds > 0 and step.spread >= 0 and step.device == "cpu"
    assert step.precision.startswith("fp32") and step.steps_in(1) == int(60 / step.seconds)


def test_notebook_budgets_match_the_notebooks():
    root = Path(__file__).resolve().parents[1] / "notebooks" / "text"
    assert f"minutes={diagnose.NOTEBOOK08_MINUTES:g}" in (root / "08_training.md").read_text()
    cell = f"({diagnose.NOTEBOOK11_STEPS}, 25, {diagnose.NOTEBOOK11_MINUTES})"
    assert cell in (root / "11_your_own_images.md").read_text()


def test_a_few_objects_numbered_by_class_are_classes_not_objects(tmp_path):
    """A 0/128/255 mask with six cells, three of each value, read as "instance labels: 2 objects"; a label image
    whose objects each hold one number stays instance labels."""
    classes = np.zeros((64, 64), np.uint8)
    for k, (row, column) in enumerate([(4, 4), (4, 24), (4, 44), (34, 4), (34, 24), (34, 44)]):
        classes[row : row + 14, column : column + 14] = 128 if k < 3 else 255
    objects = np.zeros_like(classes)
    for k, (row, column) in enumerate([(4, 4), (4, 34), (34, 4), (34, 34)]):
        objects[row : row + 20, column : column + 20] = k + 1
    image = np.random.default_rng(0).integers(0, 256, classes.shape, dtype=np.uint8)
    write_pair(tmp_path, "classes", image, classes)
    write_pair(tmp_path, "objects", image, objects)
    assert diagnose.mask_reading(tmp_path / "masks" / "classes.png").kind == "classes"
    assert diagnose.mask_reading(tmp_path / "masks" / "objects.png").kind == "instance labels"
