"""unet_lib.metrics: hand-computed cases, and agreement with scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error as skimage_adapted_rand_error

from unet_lib import evaluation, metrics


def test_pixel_measures_on_a_hand_case():
    true = np.array([[1, 1, 0, 0]] * 2)
    pred = np.array([[1, 0, 0, 1]] * 2)  # per row: one TP, one FN, one TN, one FP
    assert metrics.confusion_counts(pred, true) == {"tp": 2, "fp": 2, "fn": 2, "tn": 2}
    assert metrics.pixel_accuracy(pred, true) == 0.5
    assert metrics.pixel_error(pred, true) == 0.5
    assert metrics.iou(pred, true) == pytest.approx(2 / 6)
    assert metrics.dice(pred, true) == pytest.approx(4 / 8)


def test_everything_cell_scores_high_accuracy_but_not_high_iou_on_a_membrane_image():
    true = np.ones((10, 10), int)
    true[4:6] = 0  # 20 % membrane
    everything_cell = np.ones_like(true)
    assert metrics.pixel_accuracy(everything_cell, true) == pytest.approx(0.8)
    assert metrics.iou(1 - everything_cell, 1 - true) == 0.0  # the membrane class is missed entirely


def test_empty_masks_and_shape_mismatch():
    empty = np.zeros((3, 3), int)
    assert metrics.iou(empty, empty) == 1.0 and metrics.dice(empty, empty) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        metrics.pixel_accuracy(empty, np.zeros((3, 4)))


def test_max_f_score_finds_the_best_threshold_and_isbi_pixel_error_is_not_one_minus_accuracy():
    true = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    probability = np.array([0.9, 0.8, 0.35, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    best, threshold = metrics.max_f_score(probability, true, thresholds=[0.2, 0.32, 0.5])
    assert best == 1.0 and threshold == 0.32
    assert metrics.isbi_pixel_error(probability, true, [0.2, 0.32, 0.5]) == 0.0
    assert metrics.pixel_error(probability > 0.5, true) == pytest.approx(0.1)


def test_adapted_rand_error_hand_cases():
    truth = np.array([[1, 1, 2, 2]])
    assert metrics.adapted_rand_error(truth, np.array([[5, 5, 7, 7]])) == (0.0, 1.0, 1.0)  # same partition, new names
    merged = metrics.adapted_rand_error(truth, np.array([[3, 3, 3, 3]]))
    # pairs (ordered, distinct): together in truth 2+2 = 4, in prediction 12, in both 4
    assert merged == pytest.approx((1 - 2 * 4 / 16, 4 / 12, 1.0))
    split = metrics.adapted_rand_error(truth, np.array([[1, 2, 3, 4]]))
    assert split[0] == 1.0 and split[2] == 0.0  # every true pair is split: recall 0


def test_adapted_rand_error_ignores_true_label_zero():
    truth = np.array([[1, 1, 0, 2, 2]])
    assert metrics.adapted_rand_error(truth, np.array([[1, 1, 9, 2, 2]]))[0] == 0.0
    with pytest.raises(ValueError, match="no labelled pixels"):
        metrics.adapted_rand_error(np.zeros((2, 2), int), np.ones((2, 2), int))


@pytest.mark.parametrize("seed", range(5))
def test_adapted_rand_error_matches_skimage(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 6, (40, 30))
    prediction = rng.integers(0, 4, (40, 30)) + (truth > 3) * 4  # partly correlated with the truth
    error, precision, recall = metrics.adapted_rand_error(truth, prediction)
    sk_error, sk_a, sk_b = skimage_adapted_rand_error(truth, prediction)
    assert error == pytest.approx(sk_error, abs=1e-12)
    assert {round(precision, 12), round(recall, 12)} == {
        round(sk_a, 12),
        round(sk_b, 12),
    }  # skimage 0.26 names them the other way round


def test_cell_segments_uses_4_connectivity_drops_specks_and_fills_membrane():
    mask = np.array(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 1, 0],  # (1, 3) is a one-pixel piece of its own
            [0, 0, 1, 0, 0],  # (2, 2) touches the 2×2 cell only at a corner: separate under 4-connectivity
            [0, 0, 0, 0, 1],
        ]
    )
    labels = metrics.cell_segments(mask)
    assert labels.max() == 4
    assert labels[2, 2] != labels[1, 1]
    assert metrics.cell_segments(mask, min_size=2).max() == 1  # only the 2×2 cell survives
    filled = metrics.cell_segments(mask, min_size=2, fill_membrane=True)
    assert (filled == 1).all()


def test_rand_error_of_a_gap_in_the_membrane():
    true = np.ones((20, 41), int)
    true[:, 20] = 0  # two cells separated by a membrane
    assert metrics.rand_error(true, true) == 0.0
    gap = true.copy()
    gap[10, 20] = 1  # one wrong pixel merges the cells
    assert metrics.pixel_accuracy(gap, true) > 0.998
    assert metrics.rand_error(gap, true) == pytest.approx(1 / 3, abs=0.01)  # precision 1/2, recall 1


def test_segmentation_report_and_mean():
    true = np.ones((20, 41), int)
    true[:, 20] = 0
    probability = np.where(true == 1, 0.9, 0.2)
    report = metrics.segmentation_report(probability, true)
    assert report["pixel_accuracy"] == 1.0 and report["rand_error"] == 0.0 and report["isbi_pixel_error"] == 0.0
    mean = metrics.mean_report([report, {**report, "pixel_accuracy": 0.5}])
    assert mean["pixel_accuracy"] == 0.75
    with pytest.raises(ValueError):
        metrics.mean_report([])


def test_safest_threshold_keeps_away_from_a_cliff():
    grid = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    # the curve of notebook 09's calibration slices: lowest at 0.3, one step above a cliff
    errors = [0.0412, 0.0154, 0.0095, 0.0100, 0.0129, 0.0136, 0.0145, 0.0156, 0.0180]
    assert metrics.safest_threshold(grid, errors) == 0.4  # the plain minimum would be 0.3
    assert metrics.safest_threshold(grid, [0.0] * 9) == 0.5  # no evidence either way: the neutral 0.5
    assert metrics.safest_threshold(grid, [0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]) == 0.6
    with pytest.raises(ValueError, match="one error per threshold"):
        metrics.safest_threshold(grid, [0.1])


def test_calibrate_thresholds_picks_the_best_pixel_threshold_and_the_safest_segmentation_threshold():
    true = np.ones((20, 41), int)
    true[:, 20] = 0
    # the membrane is predicted faintly (0.35): a threshold of 0.3 or lower calls it cell and merges the two cells
    probability = np.where(true == 1, 0.95, 0.35)
    probability[10, 20] = 0.25
    chosen = metrics.calibrate_thresholds([probability], [true])
    assert chosen["threshold"] == 0.35  # the first threshold (0.05 steps) at which the membrane is right
    assert metrics.rand_error(probability > 0.3, true) > 0.3 and metrics.rand_error(probability > 0.4, true) == 0
    # 0.4 … 0.9 tie at Rand error 0, but 0.4 sits next to the merge at 0.3: of the safe ones, the closest to 0.5
    assert chosen["segmentation_threshold"] == 0.5
    with pytest.raises(ValueError, match="at least one"):
        metrics.calibrate_thresholds([], [])


def test_segmentation_report_scores_the_membrane_class_too():
    true = np.ones((10, 10), int)
    true[:, 4:6] = 0  # 20 membrane pixels, 80 cell pixels
    probability = np.where(true == 1, 0.9, 0.1)
    probability[:5, 4:6] = 0.9  # half the membrane missed
    report = metrics.segmentation_report(probability, true)
    assert report["membrane_iou"] == pytest.approx(10 / 20) and report["membrane_dice"] == pytest.approx(20 / 30)
    assert report["iou"] == pytest.approx(80 / 90) and report["dice"] > report["membrane_dice"]
    assert {"pixel_accuracy", "pixel_error", "iou", "dice", "isbi_pixel_error", "rand_error"} <= set(report)


def test_evaluation_table_shows_cell_and_membrane_columns():
    report = {key: 0.5 for key, _ in evaluation.COLUMNS}
    table = evaluation.format_table({"per_image": {"a.png": report}, "mean": report})
    header = table.splitlines()[0]
    assert "Dice cell" in header and "Dice membr" in header and "Rand err" in header
    assert len({len(line) for line in table.splitlines()}) == 1, "every row as wide as the header"


def test_an_own_folder_table_speaks_of_objects_and_background_not_membranes():
    report = {key: 0.5 for key, _ in evaluation.COLUMNS}
    words = evaluation.class_words("folder")
    table = evaluation.format_table({"per_image": {"a.png": report}, "mean": report}, classes=words)
    header = table.splitlines()[0]
    assert "IoU object" in header and "Dice background" in header and "membr" not in header and "cell" not in header
    assert len({len(line) for line in table.splitlines()}) == 1, "every row as wide as the header"
    assert evaluation.class_words("isbi2012") == evaluation.class_words("synthetic") == ("cell", "membr")


def test_segmentation_report_uses_its_own_threshold_for_the_cells():
    true = np.ones((20, 41), int)
    true[:, 20] = 0
    probability = np.where(true == 1, 0.9, 0.1)
    probability[10, 20] = 0.6  # a gap at threshold 0.5, closed at 0.7
    assert metrics.segmentation_report(probability, true, 0.5)["rand_error"] > 0.3
    report = metrics.segmentation_report(probability, true, 0.5, segmentation_threshold=0.7)
    assert report["rand_error"] == 0.0 and report["pixel_accuracy"] < 1.0


def test_the_majority_baseline_pools_the_pixels_of_all_images():
    """evaluate averaged the images' shares, the doctor too, and notebook 12 pooled the pixels: with images of
    different sizes they choose different classes. One function, pooled: a big image outweighs a small one."""
    big = np.zeros((10, 10), np.uint8)
    big[:4] = 1  # 40 % foreground over 100 pixels
    small = np.ones((2, 2), np.uint8)  # 100 % foreground over 4 pixels: the mean of shares (0.7) says "foreground"
    assert metrics.majority_baseline([big, small]) == [0.6, 0.0]  # pooled: 44 of 104 pixels, background wins
    assert metrics.majority_baseline([np.ones((3, 3), bool)]) == [1.0]
