"""unet_lib.objects (notebook 11): objects, one-to-one matching at IoU ≥ 0.5, object scores — on hand-made cases."""

import numpy as np
import pytest

from unet_lib import objects


def squares(shape, *boxes):
    """A label image with object k + 1 filling box k = (top, left, height, width)."""
    labels = np.zeros(shape, np.int32)
    for number, (top, left, height, width) in enumerate(boxes, start=1):
        labels[top : top + height, left : left + width] = number
    return labels


def test_label_objects_uses_4_connectivity_and_drops_specks():
    mask = np.zeros((10, 10), np.uint8)
    mask[1:5, 1:5] = 1
    mask[5:9, 5:9] = 1  # touches the first square only at a corner
    mask[0, 9] = 1  # a one-pixel speck
    labels = objects.label_objects(mask, min_size=4)
    assert labels.max() == 2 and labels[0, 9] == 0
    assert set(np.unique(labels[1:5, 1:5])) == {1} and set(np.unique(labels[5:9, 5:9])) == {2}
    assert objects.label_objects(mask, min_size=0).max() == 3


def test_iou_matrix_by_hand_with_gaps_in_the_numbers():
    true = squares((8, 12), (0, 0, 4, 4), (0, 6, 4, 4))  # 16 pixels each
    true[true == 2] = 7  # numbers need not be consecutive
    pred = squares((8, 12), (0, 0, 4, 2), (0, 6, 4, 6))  # 8 pixels inside object 1; 24 pixels over object 7
    ious, true_numbers, pred_numbers = objects.iou_matrix(true, pred)
    assert list(true_numbers) == [1, 7] and list(pred_numbers) == [1, 2]
    np.testing.assert_allclose(ious, [[8 / 16, 0.0], [0.0, 16 / 24]])


def test_iou_matrix_refuses_mismatched_or_negative_labels():
    with pytest.raises(ValueError, match="same shape"):
        objects.iou_matrix(np.zeros((3, 3), int), np.zeros((3, 4), int))
    with pytest.raises(ValueError, match="positive"):
        objects.iou_matrix(-np.ones((3, 3), int), np.zeros((3, 3), int))


def test_a_merged_pair_matches_its_larger_member_only():
    true = squares((8, 12), (1, 1, 6, 5), (1, 6, 6, 4))  # 30 and 24 pixels, touching
    pred = squares((8, 12), (1, 1, 6, 9))  # one blob over both
    assert objects.match_objects(true, pred) == [(1, 1, pytest.approx(30 / 54))]
    scores = objects.object_scores(true, pred)
    assert (scores["true_objects"], scores["predicted_objects"], scores["matched"]) == (2, 1, 1)
    assert (scores["false_positives"], scores["false_negatives"]) == (0, 1)
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5 and scores["f1"] == pytest.approx(2 / 3)


def test_an_exact_tie_at_one_half_matches_once():
    true = squares((6, 10), (1, 1, 4, 3), (1, 4, 4, 3))
    pred = squares((6, 10), (1, 1, 4, 6))  # IoU exactly 0.5 with each half
    matches = objects.match_objects(true, pred)
    assert len(matches) == 1 and matches[0][1] == 1 and matches[0][2] == 0.5
    assert objects.match_objects(true, pred, min_iou=0.51) == []


def test_a_lower_threshold_still_matches_one_to_one_best_first():
    true = squares((6, 12), (1, 1, 4, 4), (1, 5, 4, 2))  # 16 and 8 pixels, touching
    pred = squares((6, 12), (1, 1, 4, 6))  # IoU 16/24 with the first, 8/24 with the second
    assert objects.match_objects(true, pred, min_iou=0.2) == [(1, 1, pytest.approx(2 / 3))]


def test_object_scores_of_the_worked_example():
    """Two touching nuclei merged, one found off-centre, one far too small, a speck, one missed."""
    true, pred = np.zeros((14, 24), np.int32), np.zeros((14, 24), np.int32)
    true[1:7, 1:6], true[1:7, 6:10], pred[1:7, 1:10] = 1, 2, 1
    true[1:5, 13:17], pred[1:5, 14:18] = 3, 2
    true[8:13, 1:7], pred[9:11, 2:5] = 4, 3
    pred[10:12, 12:14] = 4
    true[8:12, 18:22] = 5
    scores = objects.object_scores(true, pred)
    assert (scores["matched"], scores["false_positives"], scores["false_negatives"]) == (2, 2, 3)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.4 and scores["f1"] == pytest.approx(4 / 9)
    assert scores["mean_iou"] == pytest.approx((30 / 54 + 12 / 20) / 2)


def test_object_scores_of_empty_images():
    empty, one = np.zeros((5, 5), int), squares((5, 5), (1, 1, 2, 2))
    assert objects.object_scores(empty, empty)["f1"] == 1.0  # nothing to find, nothing found
    missed = objects.object_scores(one, empty)
    assert missed["recall"] == 0.0 and missed["f1"] == 0.0 and missed["precision"] == 1.0  # no false positive
    invented = objects.object_scores(empty, one)
    assert invented["precision"] == 0.0 and invented["f1"] == 0.0 and invented["recall"] == 1.0


def test_pooled_scores_sum_the_counts_before_dividing():
    perfect = objects.object_scores(squares((4, 4), (0, 0, 2, 2)), squares((4, 4), (0, 0, 2, 2)))
    poor = objects.object_scores(squares((9, 9), (0, 0, 2, 2), (4, 4, 2, 2), (7, 0, 2, 2)), np.zeros((9, 9), int))
    pooled = objects.pooled_scores([perfect, poor])
    assert (pooled["true_objects"], pooled["matched"]) == (4, 1)
    assert pooled["recall"] == 0.25 and pooled["precision"] == 1.0 and pooled["f1"] == pytest.approx(2 / 5)
    assert pooled["mean_iou"] == 1.0
    with pytest.raises(ValueError, match="no per-image"):
        objects.pooled_scores([])


def two_touching_discs() -> tuple[np.ndarray, np.ndarray]:
    """A probability map of two touching round nuclei whose shared border is only a little dimmer, and their truth."""
    y, x = np.mgrid[:30, :50]
    left, right = np.hypot(y - 15, x - 15), np.hypot(y - 15, x - 33)
    truth = np.where(left < right, 1, 2) * (np.minimum(left, right) < 10)
    probability = np.where(np.minimum(left, right) < 10, 0.97, 0.02)
    probability[(np.abs(left - right) < 1.5) & (truth > 0)] = 0.6  # the line: dimmer, but above 0.5
    return probability, truth


def test_split_objects_cuts_touching_nuclei_along_the_dim_line():
    probability, truth = two_touching_discs()
    assert objects.label_objects(probability > 0.5).max() == 1, "the mask alone merges them"
    split = objects.split_objects(probability, threshold=0.5, seed_threshold=0.9)
    assert split.max() == 2
    assert objects.object_scores(truth, split)["f1"] == 1.0
    assert np.array_equal(split > 0, probability > 0.5), "splitting moves no pixel in or out of the mask"


def test_split_objects_keeps_a_piece_without_a_confident_core():
    probability = np.full((20, 40), 0.02)
    probability[5:15, 3:13] = 0.97
    probability[5:15, 25:35] = 0.7  # a faint nucleus: no pixel above the seed threshold
    split = objects.split_objects(probability, threshold=0.5, seed_threshold=0.9)
    assert split.max() == 2 and len(np.unique(split[5:15, 25:35])) == 1 and split[10, 30] > 0
    assert objects.split_objects(np.zeros((8, 8)), 0.5, 0.9).max() == 0


def test_equivalent_and_median_diameters():
    labels = squares((40, 40), (0, 0, 3, 3), (0, 5, 5, 5), (10, 10, 20, 20))
    labels[labels == 3] = 9
    np.testing.assert_allclose(objects.equivalent_diameters(labels), np.sqrt(4 * np.array([9, 25, 400]) / np.pi))
    assert objects.median_diameter(labels) == pytest.approx(np.sqrt(100 / np.pi))
    with pytest.raises(ValueError, match="no objects"):
        objects.median_diameter(np.zeros((4, 4), int))
