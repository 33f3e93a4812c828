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
* ``rand_scores`` / ``info_scores`` and ``challenge_report`` — V_Rand and V_Info, the scores by which
  the ISBI 2012 challenge ranks entries today (notebook 10; described at the end of this docstring);
  ``merges_and_splits`` shows where a segmentation merges or splits cells.

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

V_Rand and V_Info, the challenge's current scores (notebook 10). The challenge stopped ranking by the
pixel, warping and Rand errors the paper quotes; it ranks by the two scores of Arganda-Carreras et al.
(2015), "Crowdsourcing the creation of image segmentation algorithms for connectomics", Front.
Neuroanat. 9:142, as its Fiji script computes them ("Segmentation evaluation after border thinning",
``trainableSegmentation.metrics.RandError.getMaximalVRandAfterThinning`` and
``VariationOfInformation.getMaximalVInfoAfterThinning``, thresholds 0.0, 0.1, …, 1.0):

1. ground truth: the 4-connected pieces of the true cell pixels; true membrane is left out of every
   count (*foreground-restricted*). Prediction: ``probability > t`` (the map has the labels' polarity,
   1 = cell), its 4-connected cell pieces, and the boundaries *thinned* to one pixel by a watershed
   (``thin_segments``), so that a thick predicted membrane is not rewarded or punished for its width;
2. over the n true cell pixels, with p_ij the share in true cell i and predicted segment j, each pixel
   on a predicted boundary counted as a segment of its own:
   V_Rand = Σ p_ij² / (½ Σ_i a_i² + ½ Σ_j b_j²) (a, b: the row and column sums; every ordered pair of
   pixels counts, a pixel with itself included), and V_Info = I(S; T) / (½ H(S) + ½ H(T)), the mutual
   information of the segmentation S and the truth T over the mean of their entropies. Both are F-scores:
   harmonic means of a *split* score (1 when no true cell is split) and a *merge* score (1 when no two
   are merged); 1 is perfect;
3. a stack is scored by the mean over its slices at each threshold, and the best threshold counts
   (``challenge_report``). Published test-set V_Rand: 0.9879 for the best entry, about 0.96–0.98 for
   plain U-Nets.

``skimage.metrics.adapted_rand_error`` counts only pairs of *distinct* pixels, and its ``ignore_labels``
leaves out only true labels: 1 − its error is V_Rand exactly when the predicted boundary pixels are
given labels of their own and the score is perfect; otherwise it is a little lower (the tests state by
how much). ``skimage.metrics.variation_of_information`` gives the two conditional entropies H(S|T) and
H(T|S) (in bits), from which V_Info follows exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

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


def majority_baseline(labels: Sequence[np.ndarray]) -> list[float]:
    """Each image's pixel accuracy when every pixel is given the larger class, counted over all the images' pixels
    pooled (notebook 09's majority-class baseline): the score a model has to rise above. Pooled, not a mean of the
    images' shares, which weighs a small image as much as a large one (notebook 06, exercise 2); ``evaluate``, the
    doctor and notebook 12 each computed it their own way."""
    masks = [np.asarray(label) > 0 for label in labels]
    majority = 2 * sum(int(mask.sum()) for mask in masks) >= sum(mask.size for mask in masks)
    return [float(np.mean(mask == majority)) for mask in masks]


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


# -- the challenge's current scores: V_Rand and V_Info (notebook 10) ----------------------------------------

CHALLENGE_THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(11))
"""The thresholds of the challenge's Fiji script, 0.0, 0.1, …, 1.0: it scores a probability map at each and keeps
the best."""


def thin_segments(cell_mask: np.ndarray) -> np.ndarray:
    """A predicted cell mask as the challenge scores it: cells 1, 2, …, boundaries thinned to one-pixel lines (0).

    Each 4-connected piece of cell pixels is a cell. A watershed then floods the boundary pixels from the
    cells in 4-connected steps: every boundary pixel joins the cell it reaches first, except the one-pixel
    lines where two cells meet, which stay 0. So a membrane drawn 1 or 9 pixels wide gives the same
    segmentation. A mask with no cell pixel is one segment, as the script's watershed floods it.
    """
    cells = np.asarray(cell_mask).astype(bool)
    markers, count = ndimage.label(cells)  # default structure = 4-connectivity
    if count == 0:
        return np.ones(cells.shape, dtype=np.int32)
    return watershed((~cells).astype(np.uint8), markers, connectivity=1, watershed_line=True)


def _codes(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, …, k − 1 in their order (counting sort for small non-negative ints: fast)."""
    labels = labels.astype(np.int64, copy=False)
    if labels.size and labels.min() >= 0 and labels.max() <= 4 * labels.size:
        present = np.bincount(labels) > 0
        return (np.cumsum(present) - 1)[labels]
    return np.unique(labels, return_inverse=True)[1].astype(np.int64).ravel()


def _pair_counts(true_labels: np.ndarray, pred_labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Counts over the true cell pixels (true label 0 left out): ``joint`` (true i, predicted j ≥ 1), the true
    sizes ``a``, the predicted sizes ``b``, and ``[n0, n]``: the pixels on a predicted boundary, and all."""
    true_labels, pred_labels = np.asarray(true_labels), np.asarray(pred_labels)
    if true_labels.shape != pred_labels.shape:
        raise ValueError(f"label images must have the same shape, got {true_labels.shape} and {pred_labels.shape}")
    keep = true_labels.ravel() != 0
    if not keep.any():
        raise ValueError("the true segmentation has no cell pixels (all 0), so there is nothing to compare")
    t, p = _codes(true_labels.ravel()[keep]), pred_labels.ravel()[keep]
    inside = p != 0  # on a predicted boundary (label 0), each pixel is a segment of its own
    p = _codes(p[inside])
    columns = int(p.max(initial=-1)) + 1
    pair = t[inside] * columns + p
    joint = np.bincount(pair) if t.max() * columns < 4 * t.size else np.unique(pair, return_counts=True)[1]
    sizes = [np.bincount(t), np.bincount(p)]
    return (*(x.astype(np.float64) for x in (joint, *sizes)), np.array([t.size - p.size, t.size], np.float64))


def rand_scores(true_labels: np.ndarray, pred_labels: np.ndarray) -> dict[str, float]:
    """Foreground-restricted Rand scores of two label images: ``v_rand``, ``split`` and ``merge`` (1 is perfect).

    True label 0 (membrane) is left out; a predicted label 0 (boundary) makes each of its pixels a segment of
    its own. With c_ij the pixels in true cell i and predicted segment j, a_i and b_j the sizes:
    split = Σc² / Σa², merge = Σc² / Σb², V_Rand = their harmonic mean = 2 Σc² / (Σa² + Σb²).
    """
    return _rand(_pair_counts(true_labels, pred_labels))


def _rand(counts: tuple[np.ndarray, ...]) -> dict[str, float]:
    """``rand_scores`` from ``_pair_counts``."""
    joint, a, b, (boundary, _) = counts
    both, true_pairs, pred_pairs = joint @ joint + boundary, a @ a, b @ b + boundary
    return {
        "v_rand": float(2 * both / (true_pairs + pred_pairs)),
        "split": float(both / true_pairs),
        "merge": float(both / pred_pairs),
    }


def _entropy(counts: np.ndarray, n: float, singletons: float = 0.0) -> float:
    """Entropy (nats) of segments of these pixel counts among n pixels, plus ``singletons`` one-pixel segments."""
    shares = counts[counts > 0] / n
    return float(-(shares @ np.log(shares)) + singletons / n * np.log(n))


def info_scores(true_labels: np.ndarray, pred_labels: np.ndarray) -> dict[str, float]:
    """Foreground-restricted information scores: ``v_info``, ``split`` and ``merge`` (1 is perfect).

    Same pixels and singletons as ``rand_scores``. With H the entropies of the truth T, the segmentation S and
    both, I = H(S) + H(T) − H(S, T): split = I / H(S), merge = I / H(T), V_Info = 2 I / (H(S) + H(T)). A
    segmentation of one single segment has no entropy; the challenge's script then scores 0, and so does this.
    """
    return _info(_pair_counts(true_labels, pred_labels))


def _info(counts: tuple[np.ndarray, ...]) -> dict[str, float]:
    """``info_scores`` from ``_pair_counts``."""
    joint, a, b, (boundary, n) = counts
    h_true, h_pred, h_both = _entropy(a, n), _entropy(b, n, boundary), _entropy(joint, n, boundary)
    shared = h_true + h_pred - h_both
    if h_true <= 0 or h_pred <= 0:  # then I = 0 as well
        return {"v_info": 0.0, "split": 0.0, "merge": 0.0}
    return {"v_info": 2 * shared / (h_true + h_pred), "split": shared / h_pred, "merge": shared / h_true}


def challenge_scores(cell_mask: np.ndarray, true_mask: np.ndarray) -> dict[str, float]:
    """``v_rand`` and ``v_info`` of a predicted cell mask against a true one: true cells, thinned prediction."""
    pred_mask, true_mask = _as_masks(cell_mask, true_mask)
    return _challenge(cell_segments(true_mask), pred_mask)


def _challenge(true_labels: np.ndarray, pred_mask: np.ndarray) -> dict[str, float]:
    """``challenge_scores`` with the true cells already labelled (a stack is scored at many thresholds)."""
    counts = _pair_counts(true_labels, thin_segments(pred_mask))
    return {"v_rand": _rand(counts)["v_rand"], "v_info": _info(counts)["v_info"]}


MERGE_SHARE = 0.2
"""An overlap of a predicted segment and a true cell counts towards a merge or a split only when it covers at
least this share of the smaller of the two. Predicted and true boundaries are never drawn in exactly the same
place, so almost every segment reaches a few pixels into its neighbours; an absolute rule (e.g. 50 pixels)
flags those boundary offsets as merges of large cells, a relative one does not (issue 17)."""


def merges_and_splits(
    true_labels: np.ndarray, pred_labels: np.ndarray, min_share: float = MERGE_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the predicted segments that merge true cells, and of the true cells that are split (notebook 10).

    With c_ij the pixels of true cell i in predicted segment j, an overlap *counts* when c_ij is at least
    ``min_share`` of the smaller of cell i and segment j. A segment with counting overlaps with two or more true
    cells merges them; a true cell with counting overlaps with two or more segments is split. Label 0 (membrane,
    boundary lines) is left out on both sides, as V_Rand leaves it out.
    """
    true_labels, pred_labels = np.asarray(true_labels), np.asarray(pred_labels)
    if true_labels.shape != pred_labels.shape:
        raise ValueError(f"label images must have the same shape, got {true_labels.shape} and {pred_labels.shape}")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    inside = (true_labels > 0) & (pred_labels > 0)
    pairs, counts = np.unique(np.stack([true_labels[inside], pred_labels[inside]]), axis=1, return_counts=True)
    true_sizes = np.bincount(true_labels.ravel().astype(np.int64))
    pred_sizes = np.bincount(pred_labels.ravel().astype(np.int64))
    true_ids, pred_ids = pairs
    counting = counts >= min_share * np.minimum(true_sizes[true_ids], pred_sizes[pred_ids])
    true_ids, pred_ids = true_ids[counting], pred_ids[counting]
    merging = [j for j in np.unique(pred_ids) if np.count_nonzero(pred_ids == j) > 1]
    split = [i for i in np.unique(true_ids) if np.count_nonzero(true_ids == i) > 1]
    return np.isin(pred_labels, merging) & (pred_labels > 0), np.isin(true_labels, split) & (true_labels > 0)


def challenge_report(
    probabilities: Sequence[np.ndarray], true_masks: Sequence[np.ndarray], thresholds: Sequence[float] | None = None
) -> dict[str, object]:
    """The challenge's numbers for a stack: at each threshold the mean over the slices, and the best threshold.

    Returns ``v_rand`` and ``v_info`` (each at its own best threshold, as the script reports them), those
    thresholds, and the mean scores at every threshold (``by_threshold``). Slices without a true cell are skipped.
    """
    thresholds = CHALLENGE_THRESHOLDS if thresholds is None else tuple(float(t) for t in thresholds)
    pairs = [(np.asarray(p), cell_segments(y)) for p, y in zip(probabilities, true_masks) if np.asarray(y).any()]
    if not pairs:
        raise ValueError("no slice has a true cell pixel, so V_Rand and V_Info are undefined")
    curves = {"v_rand": [], "v_info": []}
    for t in thresholds:
        scores = [_challenge(true_labels, p > t) for p, true_labels in pairs]
        for key, curve in curves.items():
            curve.append(float(np.mean([s[key] for s in scores])))
    report: dict[str, object] = {"thresholds": list(thresholds), "by_threshold": curves}
    for key, curve in curves.items():
        best = int(np.argmax(curve))
        report[key], report[f"{key}_threshold"] = curve[best], thresholds[best]
    return report


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
        # V_Rand and V_Info of the same cells (notebook 10)
        **(challenge_scores(cells, true) if true.any() else {"v_rand": float("nan"), "v_info": float("nan")}),
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
