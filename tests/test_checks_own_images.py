"""Checkers of notebook 11: each accepts a right answer written here without the library, and names typical slips."""

from __future__ import annotations

import numpy as np
import pytest
from checker_answers import assert_rejected

from unet_lib import checks


def stub(*args, **kwargs):
    raise NotImplementedError("your turn")


# -- exercise 1: colour-coded masks -----------------------------------------------------------------


def colours_by_loop(rgb):
    """Right: number each distinct non-black colour, one at a time."""
    labels = np.zeros(rgb.shape[:2], np.int32)
    colours = [tuple(c) for c in np.unique(rgb.reshape(-1, 3), axis=0) if tuple(c) != (0, 0, 0)]
    for number, colour in enumerate(colours, start=1):
        labels[(rgb == colour).all(axis=-1)] = number
    return labels


def luminance_gray(rgb):
    """Wrong: PIL's convert("L") (0.299 R + 0.587 G + 0.114 B, rounded), then one number per gray value."""
    gray = np.floor(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114 + 0.5).astype(np.int64)
    values, numbers = np.unique(gray, return_inverse=True)
    return numbers.reshape(gray.shape) if values[0] == 0 else numbers.reshape(gray.shape) + 1


def test_luminance_twins_really_share_a_gray_value():
    # the checker's dark green must collide with red under PIL's own conversion, not only under our formula
    from PIL import Image

    pixels = np.array([[[255, 0, 0], [0, 130, 0]]], np.uint8)
    assert len(set(np.asarray(Image.fromarray(pixels).convert("L")).ravel())) == 1


def test_check_colour_to_instances_accepts_a_right_answer():
    assert checks.check_colour_to_instances(colours_by_loop)
    assert checks.check_colour_to_instances(lambda rgb: colours_by_loop(rgb) * 10)  # any numbers will do


def test_check_colour_to_instances_names_the_slips():
    def averaged(rgb):
        return rgb.mean(axis=-1).astype(np.int32)

    def red_only(rgb):
        return rgb[..., 0].astype(np.int32)

    def black_is_an_object(rgb):
        return colours_by_loop(rgb) + 1

    def kept_channels(rgb):
        return rgb.astype(np.int32)

    def floats(rgb):
        return colours_by_loop(rgb).astype(float)

    assert "averaging" in checks.check_colour_to_instances(averaged).message
    luminance = checks.check_colour_to_instances(luminance_gray)  # issue 17: it used to pass
    assert not luminance and "(0, 130, 0)" in luminance.message and "luminance" in luminance.message
    assert "green, blue and dark green objects became background" in checks.check_colour_to_instances(red_only).message
    assert "black (0, 0, 0) is the background" in checks.check_colour_to_instances(black_is_an_object).message
    assert "one number per pixel" in checks.check_colour_to_instances(kept_channels).message
    assert "whole numbers" in checks.check_colour_to_instances(floats).message
    assert "your turn" in checks.check_colour_to_instances(stub).message


def packed_and_numbered(rgb, black_check=True):
    """Right by default: the notebook's solution; without ``black_check`` the first colour is always 0."""
    rgb = rgb.astype(np.int64)
    colours, numbers = np.unique(rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2], return_inverse=True)
    if black_check and colours[0] != 0:
        numbers = numbers + 1
    return numbers.reshape(rgb.shape[:2]).astype(np.int32)


def test_check_colour_to_instances_names_a_mask_without_black():
    assert checks.check_colour_to_instances(packed_and_numbered)
    first_is_background = checks.check_colour_to_instances(lambda rgb: packed_and_numbered(rgb, black_check=False))
    assert not first_is_background  # it used to pass: the checker's only mask had black in it
    for words in ("without any black pixel", "blue object became 0", "first colour is an object, not background"):
        assert words in first_is_background.message, first_is_background.message


# -- exercise 2: object precision, recall, F1 --------------------------------------------------------


def scores_by_loops(true, pred, min_iou=0.5, strict=False, one_to_one=True, background=False):
    """Right by default: the IoU of every pair from boolean masks, pairs taken best first, each object once."""
    first = 0 if background else 1
    true_ids = [t for t in np.unique(true) if t >= first]
    pred_ids = [p for p in np.unique(pred) if p >= first]
    pairs = []
    for t in true_ids:
        for p in pred_ids:
            a, b = true == t, pred == p
            iou = (a & b).sum() / (a | b).sum()
            if (iou > min_iou) if strict else (iou >= min_iou):
                pairs.append((iou, t, p))
    taken_true, taken_pred = set(), set()
    for _, t, p in sorted(pairs, reverse=True):
        if not one_to_one or (t not in taken_true and p not in taken_pred):
            taken_true.add(t)
            taken_pred.add(p)
    precision, recall = len(taken_pred) / len(pred_ids), len(taken_true) / len(true_ids)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def test_check_object_scores_accepts_a_right_answer():
    assert checks.check_object_scores(scores_by_loops)
    assert checks.check_object_scores(lambda t, p: np.array(scores_by_loops(t, p)))


def test_check_object_scores_names_the_slips():
    def swapped(t, p):
        precision, recall, f1 = scores_by_loops(t, p)
        return recall, precision, f1

    def plain_mean(t, p):
        precision, recall, _ = scores_by_loops(t, p)
        return precision, recall, (precision + recall) / 2

    message = checks.check_object_scores(swapped).message
    assert "swapped" in message
    assert "harmonic mean" in checks.check_object_scores(plain_mean).message
    slips = {
        "background (label 0)": dict(background=True),
        "not just any overlap": dict(min_iou=1e-9),
        "only once": dict(min_iou=1e-9, one_to_one=False),
        "use >=, not >": dict(strict=True),
        "one-to-one": dict(one_to_one=False),
    }
    for words, slip in slips.items():
        feedback = checks.check_object_scores(lambda t, p, slip=slip: scores_by_loops(t, p, **slip))
        assert not feedback and words in feedback.message, (slip, feedback.message)

    def pixel_scores(t, p):  # issue 17: pixels instead of objects
        both = np.count_nonzero((t > 0) & (p > 0))
        precision, recall = both / np.count_nonzero(p), both / np.count_nonzero(t)
        return precision, recall, 2 * precision * recall / (precision + recall)

    assert "*pixel* scores" in checks.check_object_scores(pixel_scores).message
    assert "three numbers" in checks.check_object_scores(lambda t, p: 0.5).message
    assert "your turn" in checks.check_object_scores(stub).message


def scores_over_a_range(true, pred, sides=("true", "predicted")):
    """Wrong: objects numbered 1 … labels.max(), as if the numbers were consecutive (right when they are)."""

    def numbers(labels, side):
        return range(1, labels.max() + 1) if side in sides else [n for n in np.unique(labels) if n]

    true_ids, pred_ids = numbers(true, "true"), numbers(pred, "predicted")
    pairs = []
    for t in true_ids:
        for p in pred_ids:
            a, b = true == t, pred == p
            iou = np.count_nonzero(a & b) / np.count_nonzero(a | b)
            if iou >= 0.5:
                pairs.append((iou, t, p))
    taken_true, taken_pred = set(), set()
    for _, t, p in sorted(pairs, reverse=True):
        if t not in taken_true and p not in taken_pred:
            taken_true.add(t)
            taken_pred.add(p)
    matched = len(taken_true)
    return matched / len(pred_ids), matched / len(true_ids), 2 * matched / (len(true_ids) + len(pred_ids))


@pytest.mark.parametrize(
    ("sides", "words"),
    [
        (("true", "predicted"), ["true objects are numbered 2, 5 and 9", "6 missed objects", "recall came out 2/9"]),
        (("true",), ["true objects are numbered 2, 5 and 9", "6 missed objects", "recall came out 2/9"]),
        (("predicted",), ["predicted objects are numbered 2, 5 and 9", "6 false positives", "precision came out 2/9"]),
    ],
)
def test_check_object_scores_names_numbers_taken_as_consecutive(sides, words):
    feedback = checks.check_object_scores(lambda t, p: scores_over_a_range(t, p, sides))
    assert_rejected(feedback, "need not be consecutive", "np.unique(labels)", *words)  # it used to pass


def test_check_object_scores_rejects_any_other_slip_on_numbers_with_gaps():
    def only_small_numbers(t, p):
        return scores_by_loops(t, p) if max(t.max(), p.max()) < 6 else (1.0, 1.0, 1.0)

    assert_rejected(checks.check_object_scores(only_small_numbers), "numbered 2, 5 and 9", "expected precision")


# -- exercise 3: the median diameter ------------------------------------------------------------------


def diameter_by_loop(labels):
    """Right: the diameter of the circle of each object's area, then the median."""
    diameters = [np.sqrt(4 * np.count_nonzero(labels == k) / np.pi) for k in np.unique(labels) if k != 0]
    return float(np.median(diameters))


def test_check_median_diameter_accepts_a_right_answer():
    assert checks.check_median_diameter(diameter_by_loop)


def test_check_median_diameter_names_the_slips():
    def areas(labels):
        return float(np.median([np.count_nonzero(labels == k) for k in np.unique(labels) if k]))

    def square_sides(labels):
        return float(np.median([np.sqrt(np.count_nonzero(labels == k)) for k in np.unique(labels) if k]))

    def mean(labels):
        return float(np.mean([np.sqrt(4 * np.count_nonzero(labels == k) / np.pi) for k in np.unique(labels) if k]))

    def with_background(labels):
        return float(np.median([np.sqrt(4 * np.count_nonzero(labels == k) / np.pi) for k in np.unique(labels)]))

    def every_number(labels):
        return float(np.median(np.sqrt(4 * np.bincount(labels.ravel())[1:] / np.pi)))

    def radius(labels):
        return diameter_by_loop(labels) / 2

    assert "*radius*" in checks.check_median_diameter(radius).message  # issue 17
    assert "median *area*" in checks.check_median_diameter(areas).message
    assert "side of a square" in checks.check_median_diameter(square_sides).message
    assert "use the median" in checks.check_median_diameter(mean).message
    assert "background (label 0)" in checks.check_median_diameter(with_background).message
    assert "numbers that do not occur" in checks.check_median_diameter(every_number).message
    assert "one number" in checks.check_median_diameter(lambda labels: [1, 2]).message
    assert "your turn" in checks.check_median_diameter(stub).message


def test_check_median_diameter_names_the_middle_element_of_an_even_count():
    def middle_element(labels):
        diameters = sorted(np.sqrt(4 * np.count_nonzero(labels == k) / np.pi) for k in np.unique(labels) if k)
        return float(diameters[len(diameters) // 2])  # the median only for an odd count

    assert_rejected(
        checks.check_median_diameter(middle_element), "with four objects", "mean of the two middle", "took one"
    )
    assert checks.check_median_diameter(lambda labels: float(np.percentile(diameter_list(labels), 50)))


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda labels: round(diameter_by_loop(labels), 3), ["got 7.899000, expected 7.898654", "rounded"]),
        (
            lambda labels: float(
                np.median([np.sqrt(4 * a / 3.14) for a in np.unique(labels[labels > 0], return_counts=True)[1]])
            ),
            ["expected 7.898654", "π rounded"],
        ),
    ],
    ids=["result rounded", "π rounded"],
)
def test_check_median_diameter_shows_a_near_miss_apart(answer, words):
    assert_rejected(checks.check_median_diameter(answer), *words)


def test_check_median_diameter_names_the_diameter_of_the_median_area():
    def of_the_median_area(labels):
        areas = [np.count_nonzero(labels == k) for k in np.unique(labels) if k]
        return float(np.sqrt(4 * np.median(areas) / np.pi))  # the same as the median diameter for an odd count only

    assert_rejected(checks.check_median_diameter(of_the_median_area), "7.979", "median *area*", "diameters first")


def diameter_list(labels):
    return [np.sqrt(4 * np.count_nonzero(labels == k) / np.pi) for k in np.unique(labels) if k]


def scores_matched_on_dice(true, pred):
    """Wrong: pairs matched on the Dice coefficient ≥ 0.5, which is IoU ≥ 1/3."""
    true_ids, pred_ids = [t for t in np.unique(true) if t], [p for p in np.unique(pred) if p]
    taken_true, taken_pred = set(), set()
    for t in true_ids:
        for p in pred_ids:
            a, b = true == t, pred == p
            if 2 * (a & b).sum() / (a.sum() + b.sum()) >= 0.5 and t not in taken_true and p not in taken_pred:
                taken_true.add(t)
                taken_pred.add(p)
    precision, recall = len(taken_pred) / len(pred_ids), len(taken_true) / len(true_ids)
    return precision, recall, 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize(
    "answer", [scores_matched_on_dice, lambda t, p: scores_by_loops(t, p, min_iou=0.4)], ids=["Dice", "IoU ≥ 0.4"]
)
def test_check_object_scores_names_a_match_below_iou_one_half(answer):
    assert_rejected(checks.check_object_scores(answer), "IoU 18/42 = 0.43", "below 0.5", "Dice")


def test_check_object_scores_shows_rounded_scores_apart():
    """Rounded to 3 decimals, F1 4/9 reads 0.444 either way: the message shows enough decimals to see the gap."""
    feedback = checks.check_object_scores(lambda t, p: tuple(round(v, 3) for v in scores_by_loops(t, p)))
    assert_rejected(feedback, "0.444000, expected 0.500000, 0.400000, 0.444444", "rounded")


def test_check_object_scores_calls_only_a_rounding_rounded():
    """Scores off by a small epsilon in a denominator are close too, but not rounded: the checker called anything
    within 0.005 "rounded"; now core.rounded, the one test of rounding, decides."""

    def with_epsilon(true, pred):
        precision, recall, f1 = scores_by_loops(true, pred)
        return precision * 0.998, recall, f1

    feedback = checks.check_object_scores(with_epsilon)
    assert not feedback.passed and "rounded" not in feedback.message, feedback.message


# -- all three: the caller's images stay as they were ----------------------------------------------------------


def colours_numbered_in_place(rgb):
    """Right labels, but the mask is overwritten on the way: black pixels get a marker colour."""
    black = (rgb == 0).all(axis=-1)
    rgb[black] = 255  # the caller's mask now has no black
    return np.where(black, 0, colours_by_loop(np.where(black[..., None], 0, rgb)))


def scores_after_binarising_in_place(true, pred):
    scores = scores_by_loops(true, pred)
    true[true > 0] = 1  # the caller's instance labels are gone
    return scores


def diameters_after_marking_background(labels):
    labels[labels == 0] = -1
    return diameter_by_loop(np.where(labels < 0, 0, labels))


@pytest.mark.parametrize(
    "check, answer, words",
    [
        (checks.check_colour_to_instances, colours_numbered_in_place, ["colours_numbered_in_place", "`rgb` in place"]),
        (checks.check_object_scores, scores_after_binarising_in_place, ["`true` in place", "caller still needs it"]),
        (checks.check_median_diameter, diameters_after_marking_background, ["`labels` in place"]),
    ],
    ids=["colours", "object scores", "median diameter"],
)
def test_an_answer_that_overwrites_its_input_is_rejected(check, answer, words):
    assert_rejected(check(answer), *words)
