"""Objects rather than pixels (notebook 11): nuclei as connected components, matched at IoU ≥ 0.5, counted.

A biologist rarely asks "which pixels are nucleus?" but "how many nuclei, and how big is each?". Pixel
scores (``unet_lib.metrics``) barely notice when two touching nuclei come out as one blob — a few dozen
pixels of a thin background line are wrong — but the count is off by one and at least one nucleus is lost.
Object scores count that mistake as what it is:

* ``label_objects`` — one number per object: the connected pieces of a mask (4-connectivity, as
  ``metrics.cell_segments``), specks below ``MIN_OBJECT_SIZE`` pixels dropped; ``split_objects`` also
  splits touching objects along the background line the network predicts between them;
* ``iou_matrix`` and ``match_objects`` — a predicted object *matches* a true one when their IoU is at
  least ``MATCH_IOU`` = 0.5, one-to-one (the common choice; stricter benchmarks average over higher ones too);
* ``object_scores`` — matched objects are true positives, unmatched predictions false positives,
  unmatched true objects false negatives: precision, recall and F1 of *objects*, and the counts;
* ``equivalent_diameters`` and ``median_diameter`` — object sizes in pixels, to compare magnifications.

Labels are ``(H, W)`` integer images: 0 = background, 1, 2, 3 … one number per object.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.segmentation import watershed

from .metrics import cell_segments

MATCH_IOU = 0.5
"""A predicted object matches a true one when their intersection over union is at least this."""

MIN_OBJECT_SIZE = 20
"""Predicted pieces smaller than this many pixels are specks, not objects."""


def label_objects(mask: np.ndarray, min_size: int = MIN_OBJECT_SIZE) -> np.ndarray:
    """The objects of a 0/1 mask: its connected pieces (4-connectivity) as 1, 2, …; pieces under ``min_size`` go."""
    return cell_segments(np.asarray(mask) > 0, min_size=min_size)


def split_objects(
    probability: np.ndarray, threshold: float = 0.5, seed_threshold: float = 0.9, min_size: int = MIN_OBJECT_SIZE
) -> np.ndarray:
    """Objects of a probability map, with touching objects split along the predicted background between them.

    The confident cores (``probability > seed_threshold``) are the seeds: two touching nuclei have two
    cores even where a faint line between them does not cut the mask ``probability > threshold`` in two.
    Each seed then grows over the mask, downhill in probability (a watershed), so the border between
    two nuclei falls on the dimmest line between them. A piece of the mask without a seed stays one object.
    """
    probability = np.asarray(probability, dtype=np.float32)
    mask = probability > threshold
    seeds = label_objects(mask & (probability > seed_threshold), min_size)
    grown = watershed(-probability, seeds, mask=mask)
    unseeded = label_objects(mask & (grown == 0), min_size)
    grown[unseeded > 0] = unseeded[unseeded > 0] + grown.max()
    return grown


def iou_matrix(true_labels: np.ndarray, pred_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The IoU of every (true, predicted) pair of objects, and the object numbers of its rows and columns.

    One joint count of pixels gives every overlap at once; object numbers need not be consecutive
    (instance labels from a file often are not), so they are renumbered 0, 1, … internally.
    """
    true_labels, pred_labels = np.asarray(true_labels), np.asarray(pred_labels)
    if true_labels.shape != pred_labels.shape:
        raise ValueError(f"label images must have the same shape, got {true_labels.shape} and {pred_labels.shape}")
    if min(true_labels.min(initial=0), pred_labels.min(initial=0)) < 0:
        raise ValueError("labels must be 0 (background) or positive object numbers")
    true_numbers, t = np.unique(np.concatenate([[0], true_labels.ravel()]), return_inverse=True)
    pred_numbers, p = np.unique(np.concatenate([[0], pred_labels.ravel()]), return_inverse=True)
    joint = np.bincount(t[1:] * len(pred_numbers) + p[1:], minlength=len(true_numbers) * len(pred_numbers))
    joint = joint.reshape(len(true_numbers), len(pred_numbers))  # row/column 0: background
    overlap = joint[1:, 1:].astype(np.float64)
    union = joint[1:, :].sum(axis=1)[:, None] + joint[:, 1:].sum(axis=0)[None, :] - overlap
    return overlap / union, true_numbers[1:], pred_numbers[1:]


def match_objects(
    true_labels: np.ndarray, pred_labels: np.ndarray, min_iou: float = MATCH_IOU
) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(true number, predicted number, IoU)`` with IoU ≥ ``min_iou``, best pairs first.

    Above 0.5 an object can overlap at most one other that much (two such partners would have to share
    more than half of it each), so the matching is unique; taking the pairs greedily, highest IoU first,
    also settles exact ties at 0.5 (and lower thresholds) one-to-one.
    """
    ious, true_numbers, pred_numbers = iou_matrix(true_labels, pred_labels)
    rows, cols = np.nonzero(ious >= min_iou)
    order = np.argsort(-ious[rows, cols], kind="stable")
    matches, used_true, used_pred = [], set(), set()
    for i, j in zip(rows[order], cols[order]):
        if i not in used_true and j not in used_pred:
            matches.append((int(true_numbers[i]), int(pred_numbers[j]), float(ious[i, j])))
            used_true.add(i)
            used_pred.add(j)
    return matches


def object_scores(true_labels: np.ndarray, pred_labels: np.ndarray, min_iou: float = MATCH_IOU) -> dict[str, float]:
    """Object-level scores of one image: counts, matches, precision, recall and F1 at IoU ≥ ``min_iou``."""
    matches = match_objects(true_labels, pred_labels, min_iou)
    n_true, n_pred = (len(np.setdiff1d(np.unique(labels), [0])) for labels in (true_labels, pred_labels))
    return scores_from_counts(len(matches), n_true, n_pred, sum(iou for _, _, iou in matches))


def scores_from_counts(matched: int, n_true: int, n_pred: int, iou_sum: float = 0.0) -> dict[str, float]:
    """Precision, recall and F1 from the counts: matched objects are the true positives.

    ``precision`` = matched / predicted objects (hurt by false and split objects), ``recall`` = matched /
    true objects (hurt by missed and merged ones), ``f1`` = 2·TP / (2·TP + FP + FN), their harmonic mean.
    0 / 0 counts as 1: nothing predicted has no false positive, nothing to find is not missed.
    ``mean_iou`` is the mean IoU of the matched pairs: how well the matched outlines fit.
    """
    false_positives, false_negatives = n_pred - matched, n_true - matched
    return {
        "true_objects": n_true,
        "predicted_objects": n_pred,
        "matched": matched,
        "false_positives": false_positives,
        "false_negatives": false_negatives,
        "precision": matched / n_pred if n_pred else 1.0,
        "recall": matched / n_true if n_true else 1.0,
        "f1": 2 * matched / (n_true + n_pred) if n_true + n_pred else 1.0,
        "mean_iou": iou_sum / matched if matched else 0.0,
    }


def pooled_scores(reports: Sequence[dict[str, float]]) -> dict[str, float]:
    """Scores of several images together: the counts are summed first, so every object weighs the same."""
    if not reports:
        raise ValueError("no per-image object scores to pool")
    total = {key: sum(r[key] for r in reports) for key in ("matched", "true_objects", "predicted_objects")}
    iou_sum = sum(r["mean_iou"] * r["matched"] for r in reports)
    return scores_from_counts(
        int(total["matched"]), int(total["true_objects"]), int(total["predicted_objects"]), iou_sum
    )


def equivalent_diameters(labels: np.ndarray) -> np.ndarray:
    """Each object's diameter in pixels, as the diameter of the circle with its area: √(4·area / π)."""
    areas = np.bincount(np.asarray(labels).astype(np.int64).ravel())[1:]
    return np.sqrt(4 * areas[areas > 0] / np.pi)


def median_diameter(labels: np.ndarray) -> float:
    """The median object diameter in pixels (``equivalent_diameters``): a size that a few odd objects do not move.

    Comparing it between your images and the training images gives the factor to rescale yours by.
    """
    diameters = equivalent_diameters(labels)
    if diameters.size == 0:
        raise ValueError("the label image has no objects (only 0), so there is no diameter to measure")
    return float(np.median(diameters))
