"""How good is a segmentation? The paper's measures, written out (notebook 09).

Conventions: masks are ``(H, W)`` arrays of 0/1 where **1 = cell interior / object**
(the foreground, the model's channel 1) and **0 = membrane / background**.

* ``pixel_accuracy`` / ``pixel_error`` — the share of pixels labelled right / wrong.
  Beware: on ISBI 2012 predicting "cell" everywhere already scores 0.780 over all 30
  slices and 0.801 on the validation slices 25–29.
* ``iou`` and ``dice`` — overlap of the predicted and true foreground; they ignore the
  easy true negatives. On ISBI the foreground (cell) is the *majority* class, so
  ``segmentation_report`` also scores the minority membrane class (``membrane_iou``,
  ``membrane_dice``): the same measures with the two classes swapped.
* ``max_f_score`` / ``isbi_pixel_error`` — the ISBI 2012 challenge's "pixel error",
  which the paper reports (0.0611): 1 − the best F-score of the foreground over all
  thresholds of the probability map. It is *not* 1 − accuracy.
* ``adapted_rand_error`` — the challenge's Rand error. It compares *segmentations*
  (one label per cell), not pixels: a one-pixel gap in a membrane merges two cells and
  costs far more than its single pixel. ``cell_segments`` turns a mask into one.

How the Rand error is computed here, on ISBI 2012 (notebook 09 explains it):

1. ground truth: the connected components (4-connectivity) of the true cell pixels are
   the cells; true membrane pixels get label 0 and are **ignored** (the challenge's
   "foreground-restricted" Rand error);
2. prediction: the connected components (4-connectivity) of the pixels whose cell
   probability exceeds the *segmentation threshold*, pieces smaller than ``min_size``
   pixels dropped; then every remaining pixel is given to the nearest cell
   (``skimage.segmentation.expand_labels``), so the prediction is a full partition of
   the image. The segmentation threshold may be higher than the pixel threshold: only
   confident cell pixels seed cells, so a faint gap in a membrane does not merge two
   cells. The challenge itself scored each submission at its best threshold;
   ``calibrate_thresholds`` picks both thresholds on *training* slices instead (its
   docstring gives the rule and notebook 09 the reasons);
3. the adapted Rand error of the SNEMI3D/ISBI challenges (Arganda-Carreras et al. 2015):
   1 − the F-score of Rand precision and Rand recall over pixel pairs. It equals
   ``skimage.metrics.adapted_rand_error`` (the tests check it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

RAND_MIN_SIZE = 20
"""Predicted cell pieces smaller than this (pixels) are dropped before the Rand error: specks, not cells."""


def _as_masks(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"prediction and truth must have the same shape, got {pred.shape} and {true.shape}")
    return pred.astype(bool), true.astype(bool)


def confusion_counts(pred: np.ndarray, true: np.ndarray) -> dict[str, int]:
    """True/false positives/negatives of the foreground (class 1): the four numbers every measure below uses."""
    pred, true = _as_masks(pred, true)
    return {
        "tp": int(np.count_nonzero(pred & true)),
        "fp": int(np.count_nonzero(pred & ~true)),
        "fn": int(np.count_nonzero(~pred & true)),
        "tn": int(np.count_nonzero(~pred & ~true)),
    }


def pixel_accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of pixels whose class is right."""
    pred, true = _as_masks(pred, true)
    return float(np.mean(pred == true))


def pixel_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of pixels whose class is wrong: ``1 − pixel_accuracy`` (not the challenge's "pixel error")."""
    return 1.0 - pixel_accuracy(pred, true)


def iou(pred: np.ndarray, true: np.ndarray) -> float:
    """Foreground intersection over union |P ∩ T| / |P ∪ T|; 1.0 when both are empty."""
    c = confusion_counts(pred, true)
    union = c["tp"] + c["fp"] + c["fn"]
    return 1.0 if union == 0 else c["tp"] / union


def dice(pred: np.ndarray, true: np.ndarray) -> float:
    """Foreground Dice coefficient 2|P ∩ T| / (|P| + |T|) (the F-score of the foreground); 1.0 when both are empty."""
    c = confusion_counts(pred, true)
    total = 2 * c["tp"] + c["fp"] + c["fn"]
    return 1.0 if total == 0 else 2 * c["tp"] / total


def f_scores(probability: np.ndarray, true: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Foreground F-score of ``probability > t`` for each threshold ``t``."""
    probability, true = np.asarray(probability), np.asarray(true).astype(bool)
    if probability.shape != true.shape:
        raise ValueError(f"probability and truth must have the same shape, got {probability.shape} and {true.shape}")
    return np.array([dice(probability > t, true) for t in thresholds])


def max_f_score(
    probability: np.ndarray, true: np.ndarray, thresholds: Sequence[float] | None = None
) -> tuple[float, float]:
    """The best foreground F-score over thresholds of the probability map, and the threshold that gives it."""
    thresholds = np.linspace(0.0, 1.0, 21)[:-1] if thresholds is None else np.asarray(thresholds, dtype=float)
    scores = f_scores(probability, true, thresholds)
    best = int(np.argmax(scores))
    return float(scores[best]), float(thresholds[best])


def isbi_pixel_error(probability: np.ndarray, true: np.ndarray, thresholds: Sequence[float] | None = None) -> float:
    """The ISBI 2012 challenge's "pixel error" that the paper reports: 1 − the maximal F-score over thresholds.

    It rewards ranking pixels well at *some* threshold, and ignores the easy true
    negatives, so it is not ``1 − accuracy``.
    """
    return 1.0 - max_f_score(probability, true, thresholds)[0]


def cell_segments(mask: np.ndarray, min_size: int = 0, fill_membrane: bool = False) -> np.ndarray:
    """Label each connected piece of cell pixels (4-connectivity) 1, 2, …; membrane pixels 0.

    ``min_size`` drops pieces smaller than that many pixels (they become membrane).
    ``fill_membrane=True`` then gives every membrane pixel the label of the nearest cell,
    which is how a predicted membrane map becomes a partition for the Rand error.
    """
    labels, _ = ndimage.label(np.asarray(mask).astype(bool))  # default structure = 4-connectivity
    if min_size > 0:
        sizes = np.bincount(labels.ravel())
        small = sizes < min_size
        small[0] = True
        labels[small[labels]] = 0
        labels, _ = ndimage.label(labels > 0)
    if fill_membrane and labels.any():
        from skimage.segmentation import expand_labels

        labels = expand_labels(labels, distance=max(labels.shape))
    return labels


def adapted_rand_error(true_labels: np.ndarray, pred_labels: np.ndarray) -> tuple[float, float, float]:
    """Adapted Rand error, precision and recall of two label images; true label 0 is ignored.

    Counting pairs of pixels: *precision* = pairs in the same segment in both / pairs
    in the same predicted segment (hurt by merges); *recall* = pairs in the same segment
    in both / pairs in the same true segment (hurt by splits). The error is
    1 − their harmonic mean (F-score). Same value as ``skimage.metrics.adapted_rand_error``.
    """
    true_labels, pred_labels = np.asarray(true_labels), np.asarray(pred_labels)
    if true_labels.shape != pred_labels.shape:
        raise ValueError(f"label images must have the same shape, got {true_labels.shape} and {pred_labels.shape}")
    keep = true_labels.ravel() != 0
    t = np.unique(true_labels.ravel()[keep], return_inverse=True)[1]
    p = np.unique(pred_labels.ravel()[keep], return_inverse=True)[1]
    if t.size == 0:
        raise ValueError("the true segmentation has no labelled pixels (all 0), so there is nothing to compare")
    joint = np.unique(t.astype(np.int64) * (p.max() + 1) + p, return_counts=True)[1].astype(np.float64)
    sizes_true = np.bincount(t).astype(np.float64)
    sizes_pred = np.bincount(p).astype(np.float64)
    n = float(t.size)
    together_both = joint @ joint - n  # ordered pairs of distinct pixels in the same segment in both
    together_true = sizes_true @ sizes_true - n
    together_pred = sizes_pred @ sizes_pred - n
    precision = together_both / together_pred if together_pred > 0 else 1.0
    recall = together_both / together_true if together_true > 0 else 1.0
    denominator = together_true + together_pred
    f_score = 2 * together_both / denominator if denominator > 0 else 1.0
    return float(1.0 - f_score), float(precision), float(recall)


def rand_error(pred_mask: np.ndarray, true_mask: np.ndarray, min_size: int = RAND_MIN_SIZE) -> float:
    """Adapted Rand error of a predicted cell mask against a true one, as described in this module's docstring."""
    pred_mask, true_mask = _as_masks(pred_mask, true_mask)
    true_labels = cell_segments(true_mask)
    if not true_labels.any():
        raise ValueError("the true mask has no cell pixels, so the Rand error is undefined")
    pred_labels = cell_segments(pred_mask, min_size=min_size, fill_membrane=True)
    return adapted_rand_error(true_labels, pred_labels)[0]


def segmentation_report(
    probability: np.ndarray,
    true_mask: np.ndarray,
    threshold: float = 0.5,
    segmentation_threshold: float | None = None,
    min_size: int = RAND_MIN_SIZE,
) -> dict[str, float]:
    """All the measures for one image from its cell-probability map: what ``evaluate`` prints per image.

    ``threshold`` makes the pixel mask (accuracy, IoU, Dice); ``segmentation_threshold``
    (default: the same) the cells for the Rand error. ``iou`` and ``dice`` score the cell
    class (1); ``membrane_iou`` and ``membrane_dice`` the membrane class (0), the thin
    minority class that the challenge is about, which scores far lower.
    """
    probability = np.asarray(probability)
    pred = probability > threshold
    true = np.asarray(true_mask).astype(bool)
    cells = probability > (threshold if segmentation_threshold is None else segmentation_threshold)
    return {
        "pixel_accuracy": pixel_accuracy(pred, true),
        "pixel_error": pixel_error(pred, true),
        "iou": iou(pred, true),
        "dice": dice(pred, true),
        "membrane_iou": iou(~pred, ~true),
        "membrane_dice": dice(~pred, ~true),
        "isbi_pixel_error": isbi_pixel_error(probability, true),
        "rand_error": rand_error(cells, true, min_size) if true.any() else float("nan"),
    }


def mean_report(reports: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each measure over images (what the README quotes)."""
    if not reports:
        raise ValueError("no per-image reports to average")
    return {key: float(np.mean([r[key] for r in reports])) for key in reports[0]}


CALIBRATION_THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 10))
"""Segmentation thresholds tried by ``calibrate_thresholds``: 0.1, 0.2, …, 0.9 (the challenge's grid)."""

PIXEL_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""Pixel thresholds tried by ``calibrate_thresholds``: 0.05, 0.10, …, 0.95 (accuracy is cheap to compute)."""


def safest_threshold(thresholds: Sequence[float], errors: Sequence[float]) -> float:
    """The threshold whose *worst* error over itself and its neighbours on the grid is lowest.

    A curve of errors over thresholds, measured on a few calibration images, can have its
    lowest point right beside a cliff (for the Rand error: one threshold lower, gaps open and
    cells merge). On new images the probabilities shift a little, so the cliff moves; judging
    each threshold by the worst of its neighbourhood keeps away from it. Ties go to the
    threshold closest to 0.5, the neutral choice.
    """
    errors = np.asarray(errors, dtype=float)
    if len(thresholds) != len(errors) or not len(errors):
        raise ValueError("need one error per threshold, and at least one threshold")
    worst = [errors[max(i - 1, 0) : i + 2].max() for i in range(len(errors))]
    best = min(range(len(errors)), key=lambda i: (worst[i], errors[i], abs(thresholds[i] - 0.5)))
    return float(thresholds[best])


def threshold_curves(
    probabilities: Sequence[np.ndarray],
    true_masks: Sequence[np.ndarray],
    pixel_thresholds: Sequence[float] = PIXEL_THRESHOLDS,
    segmentation_thresholds: Sequence[float] = CALIBRATION_THRESHOLDS,
    min_size: int = RAND_MIN_SIZE,
) -> dict[str, tuple[tuple[float, ...], np.ndarray]]:
    """``{"pixel_accuracy": (thresholds, mean accuracies), "rand_error": (thresholds, mean Rand errors)}``.

    The two curves over thresholds that ``choose_thresholds`` reads, on labelled images you will
    *not* evaluate on (e.g. training slices). Images without cell pixels have no Rand error and
    are left out of that curve.
    """
    if not probabilities:
        raise ValueError("calibration needs at least one labelled image")
    trues = [np.asarray(t).astype(bool) for t in true_masks]
    accuracy = [np.mean([pixel_accuracy(p > t, y) for p, y in zip(probabilities, trues)]) for t in pixel_thresholds]
    labelled = [(p, y) for p, y in zip(probabilities, trues) if y.any()]
    rand = [
        np.mean([rand_error(p > t, y, min_size) for p, y in labelled]) if labelled else 0.0
        for t in segmentation_thresholds
    ]
    return {
        "pixel_accuracy": (tuple(pixel_thresholds), np.array(accuracy)),
        "rand_error": (tuple(segmentation_thresholds), np.array(rand)),
    }


def choose_thresholds(curves: dict[str, tuple[tuple[float, ...], np.ndarray]]) -> dict[str, float]:
    """The two thresholds from ``threshold_curves``: the rules of ``calibrate_thresholds``."""
    pixel_grid, accuracy = curves["pixel_accuracy"]
    segmentation_grid, rand = curves["rand_error"]
    return {
        "threshold": float(pixel_grid[int(np.argmax(accuracy))]),
        "segmentation_threshold": safest_threshold(segmentation_grid, rand),
    }


def calibrate_thresholds(
    probabilities: Sequence[np.ndarray],
    true_masks: Sequence[np.ndarray],
    pixel_thresholds: Sequence[float] = PIXEL_THRESHOLDS,
    segmentation_thresholds: Sequence[float] = CALIBRATION_THRESHOLDS,
    min_size: int = RAND_MIN_SIZE,
) -> dict[str, float]:
    """Both thresholds, chosen on labelled images you will *not* evaluate on (e.g. training slices).

    ``threshold``: the best mean pixel accuracy. A network trained with the paper's
    class-balancing weights (notebook 07) leans towards membrane, so this is often well
    below 0.5; accuracy changes smoothly with the threshold, so its best point is safe.
    ``segmentation_threshold``: the ``safest_threshold`` of the mean Rand error. The Rand
    error is not smooth: below some threshold faint membranes open and cells merge, and on
    new images that cliff moves. Notebook 09 shows both curves and checks the choice on
    held-out slices.
    """
    curves = threshold_curves(probabilities, true_masks, pixel_thresholds, segmentation_thresholds, min_size)
    return choose_thresholds(curves)
