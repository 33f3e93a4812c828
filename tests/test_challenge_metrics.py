"""V_Rand and V_Info (unet_lib.metrics, notebook 10): hand-made cases, the thinning, and scikit-image.

The expected values below are worked out by hand (fractions in the comments) or from scikit-image, never
from the functions under test. The definition is the challenge's Fiji script (see the module docstring):
foreground-restricted, predicted boundary pixels as one-pixel segments, N² normalisation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error, variation_of_information

from unet_lib import evaluation, metrics


def quadrants(size: int = 21) -> np.ndarray:
    """A cell mask of four equal cells (10 × 10 px for size 21) separated by a one-pixel membrane cross."""
    mask = np.ones((size, size), bool)
    mask[size // 2, :] = False
    mask[:, size // 2] = False
    return mask


# -- the scores of two label images --------------------------------------------------------------------------


def test_a_perfect_segmentation_scores_one_whatever_the_label_names():
    truth = np.array([[1, 1, 2, 2], [3, 3, 4, 4]])
    renamed = np.array([[7, 7, 5, 5], [9, 9, 2, 2]])
    assert metrics.rand_scores(truth, renamed) == {"v_rand": 1.0, "split": 1.0, "merge": 1.0}
    assert metrics.info_scores(truth, renamed) == pytest.approx({"v_info": 1.0, "split": 1.0, "merge": 1.0})


def test_one_merge_of_four_equal_cells():
    truth = np.repeat(np.array([[1, 2, 3, 4]]), 5, axis=0)  # four cells of m = 5 pixels
    merged = np.where(truth == 2, 1, truth)  # cells 1 and 2 become one
    # Σc² = 4m², Σa² = 4m², Σb² = m² + m² + (2m)² = 6m²: split 1, merge 4/6, V_Rand = 8/10
    assert metrics.rand_scores(truth, merged) == pytest.approx({"v_rand": 0.8, "split": 1.0, "merge": 4 / 6})
    # H(T) = ln 4, H(S) = 1.5 ln 2, I = H(S) (S is coarser): split 1, merge 0.75, V_Info = 2·1.5 / 3.5 = 6/7
    assert metrics.info_scores(truth, merged) == pytest.approx({"v_info": 6 / 7, "split": 1.0, "merge": 0.75})


def test_one_split_of_four_equal_cells():
    truth = np.repeat(np.array([[1, 1, 2, 2, 3, 3, 4, 4]]), 3, axis=0)  # four cells of m = 6 pixels
    split = truth.copy()
    split[:, 1] = 5  # cell 1 split into two halves of 3 pixels
    # Σc² = 3m² + 2(m/2)² = 3.5m², Σa² = 4m², Σb² = 3.5m²: split 7/8, merge 1, V_Rand = 7 / 7.5 = 14/15
    assert metrics.rand_scores(truth, split) == pytest.approx({"v_rand": 14 / 15, "split": 7 / 8, "merge": 1.0})
    # H(T) = 2 ln 2, H(S) = 3/4 ln 4 + 2/8 ln 8 = 2.25 ln 2, I = H(T): split 2/2.25, V_Info = 4 / 4.25 = 16/17
    assert metrics.info_scores(truth, split) == pytest.approx({"v_info": 16 / 17, "split": 8 / 9, "merge": 1.0})


def test_predicted_boundary_pixels_are_segments_of_their_own_and_true_membrane_is_left_out():
    truth = np.array([[1, 1, 1, 1, 0]])
    pred = np.array([[3, 0, 3, 3, 3]])  # the second pixel lies on a predicted boundary; the last on true membrane
    # segments over the 4 true cell pixels: {0, 2, 3} and the singleton {1}: Σc² = 9 + 1, Σa² = 16, Σb² = 9 + 1
    assert metrics.rand_scores(truth, pred)["v_rand"] == pytest.approx(2 * 10 / (16 + 10))
    # H(T) = 0: the truth is one segment, and the script then scores V_Info 0
    assert metrics.info_scores(truth, pred)["v_info"] == 0.0
    same_cell = np.array([[3, 3, 3, 3, 0]])  # whatever the prediction says on true membrane does not count
    assert metrics.rand_scores(truth, same_cell)["v_rand"] == 1.0


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no cell pixels"):
        metrics.rand_scores(np.zeros((2, 2), int), np.ones((2, 2), int))
    with pytest.raises(ValueError, match="same shape"):
        metrics.info_scores(np.ones((2, 2), int), np.ones((2, 3), int))
    with pytest.raises(ValueError, match="no slice has a true cell"):
        metrics.challenge_report([np.ones((3, 3))], [np.zeros((3, 3))])


# -- thinning: the width of a predicted membrane does not matter -----------------------------------------------


def test_thinning_turns_a_thick_membrane_into_a_one_pixel_line_between_the_cells():
    thick = quadrants(21)
    thick[8:13, :] = False
    thick[:, 8:13] = False  # a membrane 5 px wide
    labels = metrics.thin_segments(thick)
    assert sorted(np.unique(labels)) == [0, 1, 2, 3, 4]
    line = labels == 0
    line[10, 10] = True  # the centre touches only line pixels: the watershed may give it to a cell, no matter
    assert np.array_equal(line, ~quadrants(21))  # the line is the one-pixel cross in the middle
    assert metrics.thin_segments(np.zeros((4, 4), bool)).tolist() == [[1] * 4] * 4  # no cell: one segment


def test_thin_and_thick_predicted_membranes_score_alike_only_after_thinning():
    truth = quadrants(41)
    thick = truth.copy()
    thick[17:24, :] = False
    thick[:, 17:24] = False  # 7 px wide instead of 1
    assert metrics.challenge_scores(truth, truth) == {"v_rand": 1.0, "v_info": pytest.approx(1.0)}
    assert metrics.challenge_scores(thick, truth) == {"v_rand": 1.0, "v_info": pytest.approx(1.0)}
    unthinned = metrics.rand_scores(metrics.cell_segments(truth), metrics.cell_segments(thick))["v_rand"]
    assert unthinned < 0.85  # without thinning, each of the many thick-membrane pixels is a split-off segment


def test_a_gap_in_the_membrane_merges_two_cells():
    truth = quadrants(21)
    gap = truth.copy()
    gap[10, 4] = True  # one wrong pixel joins the two upper cells
    # as test_one_merge_of_four_equal_cells: V_Rand 0.8, V_Info 6/7 (the gap pixel is true membrane: left out)
    assert metrics.challenge_scores(gap, truth) == pytest.approx({"v_rand": 0.8, "v_info": 6 / 7})


# -- a stack, scored as the challenge does -----------------------------------------------------------------------


def test_challenge_report_takes_the_mean_over_slices_at_each_threshold_and_the_best_threshold():
    truth = quadrants(21)
    probability = np.where(truth, 0.9, 0.1)
    probability[10, 4] = 0.45  # a faint membrane pixel: at thresholds ≥ 0.5 it closes, below it opens a gap
    report = metrics.challenge_report([probability, np.where(truth, 0.8, 0.2)], [truth, truth])
    assert report["thresholds"] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    curve = report["by_threshold"]["v_rand"]
    assert curve[4] == pytest.approx((0.8 + 1.0) / 2)  # at 0.4 the first slice merges two cells
    assert curve[5] == 1.0 and report["v_rand"] == 1.0 and report["v_rand_threshold"] == 0.5  # the first best one
    assert report["v_info"] == pytest.approx(1.0) and report["v_info_threshold"] == 0.5


# -- agreement with scikit-image --------------------------------------------------------------------------------


def singletons(pred: np.ndarray) -> np.ndarray:
    """The predicted labels with every boundary pixel (0) given a label of its own, as the challenge counts them."""
    pred = pred.copy()
    boundary = pred == 0
    pred[boundary] = pred.max() + 1 + np.arange(np.count_nonzero(boundary))
    return pred


def random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A true label image with membrane (0) and a partly correlated prediction with boundary pixels (0)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 7, (40, 30))
    pred = (truth // 2 + 3 * (rng.random(truth.shape) < 0.2)) * (rng.random(truth.shape) > 0.1)
    return truth, pred


def sum_of_squared_true_sizes(truth: np.ndarray) -> float:
    sizes = np.unique(truth[truth != 0], return_counts=True)[1].astype(float)
    return float(sizes @ sizes)


def true_entropy_nats(truth: np.ndarray) -> float:
    shares = np.unique(truth[truth != 0], return_counts=True)[1] / np.count_nonzero(truth)
    return float(-(shares @ np.log(shares)))


@pytest.mark.parametrize("seed", range(4))
def test_v_rand_and_skimage_differ_only_by_the_pairs_of_a_pixel_with_itself(seed):
    truth, pred = random_pair(seed)
    scores = metrics.rand_scores(truth, pred)
    n = np.count_nonzero(truth)
    true_pairs = sum_of_squared_true_sizes(truth)  # Σa², all ordered pairs in a true cell, self-pairs included
    both = scores["split"] * true_pairs  # Σc²
    pred_pairs = both / scores["merge"]  # Σb²
    error, *_ = adapted_rand_error(truth, singletons(pred), ignore_labels=(0,))
    # skimage counts pairs of distinct pixels: subtract the n self-pairs from every sum
    assert 1 - error == pytest.approx(2 * (both - n) / (true_pairs + pred_pairs - 2 * n), abs=1e-12)
    assert 1 - error < scores["v_rand"]  # so skimage's score is lower unless both are perfect
    # without the singletons, skimage would count all boundary pixels as one segment: another score
    assert 1 - adapted_rand_error(truth, pred, ignore_labels=(0,))[0] != pytest.approx(1 - error, abs=1e-6)


def test_v_rand_and_skimage_coincide_for_a_perfect_segmentation():
    truth = np.array([[1, 1, 0, 2, 2, 2]])
    assert metrics.rand_scores(truth, truth * 3)["v_rand"] == 1.0
    assert adapted_rand_error(truth, truth * 3, ignore_labels=(0,))[0] == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_v_info_agrees_exactly_with_skimages_conditional_entropies(seed):
    truth, pred = random_pair(seed)
    scores = metrics.info_scores(truth, pred)
    h_true = true_entropy_nats(truth)
    shared = scores["merge"] * h_true  # I(S; T)
    h_pred = shared / scores["split"]
    splits, merges = variation_of_information(truth, singletons(pred), ignore_labels=(0,)) * math.log(2)  # bits
    assert splits == pytest.approx(h_pred - shared, abs=1e-9)  # H(S | T)
    assert merges == pytest.approx(h_true - shared, abs=1e-9)  # H(T | S)
    assert scores["v_info"] == pytest.approx(2 * shared / (h_true + h_pred), abs=1e-12)


# -- the evaluation table and JSON (python -m unet_lib evaluate, train) ---------------------------------------


def test_evaluation_reports_v_rand_and_v_info_per_image_and_the_challenges_best_threshold():
    truth = quadrants(21)
    probability = np.where(truth, 0.9, 0.1)
    probability[10, 4] = 0.45
    result = evaluation.evaluate_images(
        [probability], [truth], ["a.png"], {"threshold": 0.5, "segmentation_threshold": 0.3}
    )
    assert result["per_image"]["a.png"]["v_rand"] == pytest.approx(0.8)  # at the segmentation threshold 0.3: a gap
    assert result["challenge"]["v_rand"] == 1.0 and result["challenge"]["v_rand_threshold"] == 0.5
    table = evaluation.format_table(result)
    assert "V_Rand" in table.splitlines()[0] and "V_Info" in table.splitlines()[0]
    assert table.splitlines()[-1].startswith("challenge scoring") and "V_Rand 1.0000 at 0.5" in table
    no_cells = evaluation.evaluate_images(
        [probability], [np.zeros_like(truth)], ["b.png"], {"threshold": 0.5, "segmentation_threshold": 0.5}
    )
    assert "challenge" not in no_cells and math.isnan(no_cells["mean"]["v_rand"])


def test_merges_and_splits_count_only_overlaps_that_are_a_real_share_of_a_cell():
    """Issue 17: a boundary drawn a few pixels off is no merge; a segment over two whole cells is one."""
    truth = np.zeros((20, 41), np.int32)
    truth[:, :20], truth[:, 21:] = 1, 2  # two 20 × 20 cells (400 px), a one-pixel membrane between them
    offset = np.zeros_like(truth)
    offset[:, :23], offset[:, 24:] = 1, 2  # the boundary 3 px too far right: 40 px of cell 2 (10 %) in segment 1
    merged, split = metrics.merges_and_splits(truth, offset)
    assert not merged.any() and not split.any()
    assert metrics.merges_and_splits(truth, offset, min_share=0.05)[0].any()  # a looser rule flags it
    one = np.where(truth > 0, 1, 0)
    merged, split = metrics.merges_and_splits(truth, one)
    assert merged.sum() == 800 and not split.any()
    halves = truth.copy()
    halves[10:, :20] = 3  # cell 1 cut in two halves
    merged, split = metrics.merges_and_splits(truth, halves)
    assert not merged.any() and split.sum() == 400 and split[:, :20].all()
    with pytest.raises(ValueError, match="same shape"):
        metrics.merges_and_splits(truth, truth[:, :5])
