"""Numbers the course states about the real ISBI 2012 slices and the shipped checkpoint, checked where they hold.

The notebooks' pinned outputs must hold on the real data *and* on the built-in data, so numbers that hold
only for the real slices are printed unpinned there and checked here instead — whenever the real slices are
present (``UNET_DATA_DIR``, which conftest.py points at ``../shared/data``), and skipped with a reason
otherwise. Where a sentence (README, a notebook's prose, a docstring) quotes such a number, the test names it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from unet_lib import checkpoints, evaluation, metrics
from unet_lib.data import TRAIN_SLICES, VAL_SLICES
from unet_lib.layers import grid_strength
from unet_lib.losses import class_balance_weights
from unet_lib.model import UNetModel
from unet_lib.tiling import predict_probability

ROOT = Path(__file__).resolve().parents[1]


def quality_block() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("<!-- quality -->")[1].split("<!-- /quality -->")[0]


@pytest.fixture(scope="module")
def shipped():
    return checkpoints.load_model(checkpoints.SHIPPED_CHECKPOINT, device="cpu")


@pytest.fixture(scope="module")
def predicted(isbi, shipped):
    """The shipped checkpoint's cell probabilities on the calibration slices 20–24 and the validation slices 25–29."""
    calibration, validation = isbi.subset(TRAIN_SLICES[-5:]), isbi.subset(VAL_SLICES)
    return {
        # fp32: the README's numbers were measured so; bf16's agreement is tests/test_precision.py's business
        "calibration": (calibration, [predict_probability(shipped, im, precision="fp32") for im in calibration.images]),
        "validation": (validation, [predict_probability(shipped, im, precision="fp32") for im in validation.images]),
    }


def pooled_cell_share(labels) -> float:
    return sum(int(y.sum()) for y in labels) / sum(y.size for y in labels)


def test_cell_share_of_all_slices_and_of_the_validation_slices(isbi):
    """README: "cell everywhere" 0.801 on 25–29 and 0.780 over all 30; notebook 06: "about 78%"; metrics docstring."""
    everything = pooled_cell_share(isbi.labels)
    validation = pooled_cell_share(isbi.subset(VAL_SLICES).labels)
    assert round(everything, 3) == 0.780 and round(validation, 3) == 0.801
    assert "0.801" in quality_block() and "0.780" in quality_block()
    assert "0.780 over all 30" in (ROOT / "unet_lib" / "metrics.py").read_text()
    six = (ROOT / "notebooks" / "text" / "06_em_data_and_augmentation.md").read_text()
    said = {int(n) for n in re.findall(r"about (\d+)% of the pixels are cell", six)}
    assert said == {round(100 * everything)}, said


def test_class_weights_quoted_for_isbi(isbi):
    """losses.class_balance_weights' docstring: "about 2.3 for membrane and 0.64 for cell"; notebook 09 prints them."""
    membrane, cell = class_balance_weights(np.concatenate([y.ravel() for y in isbi.labels]))
    assert round(membrane, 1) == 2.3 and round(cell, 2) == 0.64
    membrane, cell = class_balance_weights(np.concatenate([y.ravel() for y in isbi.subset(TRAIN_SLICES).labels]))
    assert round(membrane, 2) == 2.23 and round(cell, 2) == 0.64


def test_mean_weight_quoted_for_isbi(isbi):
    """checks.debugging (notebook 12, exercise 7) and diagnose.expected_initial_loss quote the mean of the paper's
    weight map on the ISBI labels and ln 2 × it, the first loss of an untrained network: the training slices' maps,
    as ``train`` builds them (1.9 was slice 0's alone)."""
    from unet_lib import diagnose
    from unet_lib.checks import debugging
    from unet_lib.losses import weight_maps

    maps = weight_maps(isbi.subset(TRAIN_SLICES).labels)
    mean = float(np.mean([m.mean() for m in maps]))
    weight, loss = f"{mean:.1f}", f"{np.log(2) * mean:.1f}"
    checker = Path(debugging.__file__).read_text()
    assert f"a weight map of mean {weight}, as on the ISBI labels" in checker
    assert f"np.full((3, 5), {weight}," in checker
    assert f"about {loss} with the ISBI weight map" in checker
    assert f"a mean of about {weight}, so about {loss}." in diagnose.expected_initial_loss.__doc__


def test_threshold_rule_on_the_shipped_checkpoint(predicted):
    """Notebook 09 and README: chosen on 20–24 only, and on 25–29 no worse than 0.5 (the old rule's 0.9 was)."""
    calibration, calibration_probabilities = predicted["calibration"]
    validation, probabilities = predicted["validation"]
    chosen = metrics.calibrate_thresholds(calibration_probabilities, calibration.labels)
    assert chosen == {"threshold": 0.1, "segmentation_threshold": 0.4}
    assert "pixel 0.1, segmentation 0.4" in quality_block()

    def held_out(t: float) -> float:
        return float(np.mean([metrics.rand_error(p > t, y) for p, y in zip(probabilities, validation.labels)]))

    assert held_out(chosen["segmentation_threshold"]) <= held_out(0.5) < held_out(0.9)
    lowest = metrics.CALIBRATION_THRESHOLDS[
        int(np.argmin(metrics.threshold_curves(calibration_probabilities, calibration.labels)["rand_error"][1]))
    ]
    assert lowest != chosen["segmentation_threshold"], "notebook 09 contrasts the lowest point with the chosen one"
    assert held_out(chosen["segmentation_threshold"]) < held_out(lowest)


def test_readme_headline_is_what_evaluate_computes(predicted, shipped):
    """Every number of the README's quality block, at the rule's thresholds and at the ones the checkpoint stores."""
    validation, probabilities = predicted["validation"]
    names = [f"slice {i}" for i in VAL_SLICES]
    chosen = {"threshold": 0.1, "segmentation_threshold": 0.4}
    mean = evaluation.evaluate_images(probabilities, validation.labels, names, chosen)["mean"]
    block = quality_block()
    for key in ("pixel_accuracy", "iou", "dice", "membrane_iou", "membrane_dice", "isbi_pixel_error", "rand_error"):
        assert f"{mean[key]:.3f}" in block, f"README's quality block should quote {key} = {mean[key]:.3f}"
    stored = evaluation.stored_thresholds(checkpoints.load_checkpoint(checkpoints.SHIPPED_CHECKPOINT))
    at_stored = evaluation.evaluate_images(probabilities, validation.labels, names, stored)["mean"]["rand_error"]
    assert f"{at_stored:.3f}" in block, "README says what `evaluate` reports with the stored thresholds"
    assert re.search(rf"segmentation threshold {stored['segmentation_threshold']:g}\b", block) or stored == chosen


def test_trained_up_convolutions_stay_uneven_but_the_predictions_have_no_grid(predicted, shipped):
    """Notebook 03: training leaves the 2×2 patterns unequal; notebooks 03/05: the trained output has no grid."""

    def unevenness(layer) -> float:
        pattern = layer.weight.detach().sum(dim=0).flatten(start_dim=1)
        return (pattern.std(dim=1, correction=0) / pattern.abs().mean(dim=1)).mean().item()

    torch.manual_seed(0)
    untrained = UNetModel(**shipped.config)
    before = np.mean([unevenness(up) for up in untrained.up_convs])
    after = np.mean([unevenness(up) for up in shipped.up_convs])
    assert 0.7 < after / before < 1.3, (before, after)
    validation, probabilities = predicted["validation"]
    assert max(grid_strength(p) for p in probabilities) < 0.05
    assert max(grid_strength(p) for p in probabilities) <= 1.5 * max(grid_strength(y) for y in validation.labels)


SAME_RUN_OPTIONS = {"--out": 1, "--overwrite": 0, "--precision": 1}
"""Options of ``train`` that change neither the recipe nor the budget (and how many values each takes)."""


def default_runs() -> list[Path]:
    return sorted((ROOT / "docs" / "measured").glob("train_default_5min_*.json"))


def test_stored_default_runs_are_the_default_command():
    """Each stored run is ``python -m unet_lib train`` with at most an output folder and a forced precision."""
    assert len(default_runs()) >= 2
    for path in default_runs():
        words = shlex.split(json.loads(path.read_text())["command"])
        assert words[:4] == ["python", "-m", "unet_lib", "train"], path.name
        rest = words[4:]
        while rest:
            assert rest[0] in SAME_RUN_OPTIONS, f"{path.name}: {rest[0]} changes the run"
            rest = rest[1 + SAME_RUN_OPTIONS[rest[0]] :]


@pytest.mark.parametrize("path", default_runs(), ids=lambda p: p.stem)
def test_readme_quotes_the_stored_runs_of_todays_default(path):
    """README: each 5-minute default run, as its stored metrics.json has it (steps, times, scores, thresholds)."""
    record = json.loads(path.read_text())
    assert record["stopped_by"] == "time"
    assert record["training_seconds"] <= 5 * 60 + 1 and record["total_seconds"] <= 6.5 * 60
    mean, block, chosen = record["validation"]["mean"], " ".join(quality_block().split()), record["validation"]
    quoted = [
        f"trained {record['steps']} steps in {record['training_seconds']:.0f} s",
        f"{record['total_seconds']:.0f} s for the whole command",
        f"pixel accuracy {mean['pixel_accuracy']:.3f}",
        f"adapted Rand error {mean['rand_error']:.3f}",
        f"(pixel {chosen['threshold']:g}, segmentation {chosen['segmentation_threshold']:g})",
        f"[{path.stem}](docs/measured/{path.name})",
    ]
    for text in quoted:
        assert text in block, f"README's quality block should say {text!r}"
    worst = max(record["validation"]["per_image"].items(), key=lambda item: item[1]["rand_error"])
    assert f"slice {worst[0].split('/')[-1].split('.')[0]}: {worst[1]['rand_error']:.3f}" in block


def test_todays_default_meets_the_bar_in_either_precision():
    """Issue 9's bar for the 5-minute default, in the runs that average rotations as train does today."""
    today = [json.loads(p.read_text()) for p in default_runs()]
    today = [r for r in today if r.get("rotations") == 4]
    assert {r["training_precision"].split(",")[0] for r in today} >= {"fp32"}, "a forced-fp32 run must be stored"
    for record in today:
        assert record["validation"]["mean"]["pixel_accuracy"] >= 0.92
        assert record["validation"]["mean"]["rand_error"] <= 0.05
