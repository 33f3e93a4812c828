"""Predict, choose thresholds, measure, tabulate: the evaluation shared by notebook 09 and the command line.

``python -m unet_lib train`` and ``evaluate`` and notebook 09 all go through these functions, so the
numbers a learner sees in the notebook and the numbers the command writes into its metrics JSON are
computed, rounded and laid out the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from . import metrics, runtime, verdicts
from .checkpoints import SHIPPED_CHECKPOINT, course_checkpoint, load_checkpoint, load_model
from .images import SegmentationData
from .metrics import calibrate_thresholds, challenge_report, mean_report, pixel_accuracy, segmentation_report
from .tiling import check_rotations, predict_probability

DEFAULT_THRESHOLD = 0.5
"""The pixel threshold of a model that stores none."""

CALIBRATION_IMAGES = 5
"""``train`` picks its two thresholds on the last five training images (ISBI slices 20–24), never on validation ones."""

TRAIN_ROTATIONS = 4
"""``train`` measures its model on maps averaged over the four right-angle rotations of each image
(``tiling.predict_probability``), as the paper averaged rotated views for its ISBI entry; it chooses the
thresholds on such maps too, and stores how many, so that ``evaluate`` measures the same way."""

COLUMNS = [
    ("pixel_accuracy", "accuracy"),
    ("iou", "IoU cell"),
    ("dice", "Dice cell"),
    ("membrane_iou", "IoU membr"),
    ("membrane_dice", "Dice membr"),
    ("isbi_pixel_error", "ISBI pixel err"),
    ("rand_error", "Rand err"),
    ("v_rand", "V_Rand"),
    ("v_info", "V_Info"),
]
"""``(key of segmentation_report, column title)`` of the evaluation table, in order: the cell class (1) and
the membrane class (0) side by side, because on ISBI the cell class is the easy majority."""


def class_words(source: str) -> tuple[str, str]:
    """The words for class 1 and class 0 in tables and notes: ``("cell", "membr")`` on EM data (ISBI and the
    built-in EM-like images), ``("object", "background")`` on an own folder (notebook 11), whose masks hold
    nuclei or other objects, not membranes."""
    return ("object", "background") if source == "folder" else ("cell", "membr")


def predict_all(
    model: nn.Module,
    images: Sequence[np.ndarray],
    precision: str | runtime.Precision = "auto",
    rotations: int = 1,
) -> list[np.ndarray]:
    """Cell-probability maps of whole images, by overlap-tile prediction (``tiling.predict_probability``),
    each averaged over ``rotations`` views (1: the image alone)."""
    return [predict_probability(model, image, precision=precision, rotations=rotations) for image in images]


def calibrate(
    model: nn.Module,
    training: SegmentationData,
    threshold: float | None = None,
    segmentation_threshold: float | None = None,
    precision: str | runtime.Precision = "auto",
    rotations: int = 1,
) -> dict[str, float]:
    """Both thresholds, chosen on the last ``CALIBRATION_IMAGES`` training images (maps averaged over
    ``rotations`` views, as they will be measured); a given value is kept as is."""
    images, labels = training.images[-CALIBRATION_IMAGES:], training.labels[-CALIBRATION_IMAGES:]
    chosen = calibrate_thresholds(predict_all(model, images, precision, rotations), labels)
    if threshold is not None:
        chosen["threshold"] = threshold
    if segmentation_threshold is not None:
        chosen["segmentation_threshold"] = segmentation_threshold
    return chosen


def stored_thresholds(
    state: dict[str, Any], threshold: float | None = None, segmentation_threshold: float | None = None
) -> dict[str, float]:
    """The thresholds a checkpoint stores (``train`` calibrates them), unless given here."""
    pixel = threshold if threshold is not None else float(state.get("threshold", DEFAULT_THRESHOLD))
    cells = segmentation_threshold
    if cells is None:
        cells = float(state.get("segmentation_threshold", pixel))
    return {"threshold": pixel, "segmentation_threshold": cells}


def threshold_source(state: dict[str, Any], key: str, given: float | None, otherwise: str) -> str:
    """Where a threshold came from, in the words of ``evaluate``'s and ``predict``'s "threshold used" lines: "given",
    "stored in the checkpoint" (``train`` calibrates them into ``model.ckpt``; a ``last.ckpt`` has none), or
    ``otherwise``."""
    if given is not None:
        return "given"
    return "stored in the checkpoint" if state.get(key) is not None else otherwise


PIXEL_DEFAULT_SOURCE = f"the default {DEFAULT_THRESHOLD:g}: the checkpoint stores none"
"""``threshold_source``'s words for a pixel threshold a checkpoint does not store."""


def views_note(rotations: int) -> str:
    """The line ``train`` and ``evaluate`` print about the views they average."""
    if rotations == 1:
        return "each image predicted once (no rotations averaged)"
    what = "rotations" if rotations == 4 else "rotations and mirror images"
    return f"each image predicted in {rotations} views ({what}) and averaged, as the paper's ISBI entry was"


def stored_rotations(state: dict[str, Any], rotations: int | None = None) -> int:
    """How many views to average: ``rotations`` if given, else what the checkpoint stores (``train`` stores the
    number its thresholds were chosen with), else 1 (checkpoints from before the choice existed)."""
    return check_rotations(rotations if rotations is not None else state.get("rotations", 1))


def evaluate_images(
    probabilities: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    names: Sequence[str],
    thresholds: dict[str, float],
) -> dict[str, Any]:
    """Every measure per image and their mean, as the metrics JSON stores them; with ``challenge``, the
    challenge's scoring of all the images together (``metrics.challenge_report``: each score at its best threshold)."""
    per_image = {
        name: segmentation_report(p, y, thresholds["threshold"], thresholds["segmentation_threshold"])
        for name, p, y in zip(names, probabilities, labels)
    }
    result = {**thresholds, "per_image": per_image, "mean": mean_report(list(per_image.values()))}
    if any(np.asarray(y).any() for y in labels):
        result["challenge"] = challenge_report(probabilities, labels)
    return result


def format_table(metrics: dict[str, Any], digits: int = 4, classes: tuple[str, str] = ("cell", "membr")) -> str:
    """The per-image table with a mean row, as ``evaluate`` prints it and notebook 09 shows it; ``classes`` names
    class 1 and class 0 in the titles (``class_words``)."""
    width = max(12, *(len(name) for name in metrics["per_image"]))
    titles = [(key, title.replace("cell", classes[0]).replace("membr", classes[1])) for key, title in COLUMNS]
    columns = [(key, title, max(len(title), digits + 2) + 2) for key, title in titles]
    lines = [f"{'image':<{width}}" + "".join(f"{title:>{size}}" for _, title, size in columns)]
    rows = list(metrics["per_image"].items()) + [("mean", metrics["mean"])]
    for name, report in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{report[key]:>{size}.{digits}f}" for key, _, size in columns))
    lines.insert(-1, "-" * len(lines[0]))
    return "\n".join(lines + challenge_lines(metrics))


def challenge_lines(metrics: dict[str, Any]) -> list[str]:
    """The line under the table with the challenge's scoring (notebook 10), when the metrics hold it."""
    best = metrics.get("challenge")
    if not best:
        return []
    return [
        f"challenge scoring (the images above together, each score at its best threshold of 0.0, 0.1, …, 1.0): "
        f"V_Rand {best['v_rand']:.4f} at {best['v_rand_threshold']:g}, V_Info {best['v_info']:.4f} at "
        f"{best['v_info_threshold']:g}"
    ]


def above_constant_answer(
    model: nn.Module, images: Sequence[np.ndarray], labels: Sequence[np.ndarray], threshold: float = DEFAULT_THRESHOLD
) -> verdicts.Verdict:
    """The model's pixel accuracy against answering the majority class everywhere, image by image
    (``verdicts.above_baseline``): is it a model of this data at all?"""
    probabilities = predict_all(model, images)
    scores = [pixel_accuracy(p > threshold, y) for p, y in zip(probabilities, labels)]
    return verdicts.above_baseline(scores, metrics.majority_baseline(labels))


def choose_course_model(
    images: Sequence[np.ndarray], labels: Sequence[np.ndarray], candidate: Any = None
) -> tuple[Any, str]:
    """The checkpoint notebook 09 measures, and the sentence that says why (issue 17).

    Notebook 08's model (``checkpoints.course_checkpoint``) only when it is above the constant answer beyond
    noise on the validation ``images``; a short run on a busy machine may not be, and then the shipped model is
    used, and the notebook says so. ``candidate`` replaces notebook 08's checkpoint (tests).
    """
    candidate = course_checkpoint() if candidate is None else candidate
    if candidate == SHIPPED_CHECKPOINT:
        return SHIPPED_CHECKPOINT, "the shipped checkpoint (notebook 08 saved no model here, or this is fast mode)"
    steps = load_checkpoint(candidate)["step"]
    verdict = above_constant_answer(load_model(candidate), images, labels)
    if verdict.outcome == "better":
        return candidate, f"notebook 08's run ({steps} steps), which is above the constant answer: {verdict.sentence()}"
    return SHIPPED_CHECKPOINT, (
        f"the shipped checkpoint, because notebook 08's run ({steps} steps) is not above the constant answer on "
        f"the validation slices: {verdict.sentence()}. Train it longer (notebook 08's 'Train longer' cell), or add "
        "`checkpoint = checkpoints.course_checkpoint()` under the line that chose it, to look at it anyway"
    )
