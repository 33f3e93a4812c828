"""Checkers of notebook 10 (``unet_lib.checks.going_further``): answers written here, independently of unet_lib.

Each checker passes a known-right answer (plain NumPy on the table of counts; the checker's expected values come
from ``unet_lib.metrics`` counting pixels) and names every typical mistake it claims to name.
"""

from __future__ import annotations

import numpy as np
import pytest
from checker_answers import assert_passed, assert_rejected, crashes, stub

from unet_lib import checks


def sums(counts):
    c = np.asarray(counts, dtype=float)
    return c, c.sum(axis=1), c.sum(axis=0)


# -- exercise 1: V_Rand ------------------------------------------------------------------------------------------


def my_v_rand(counts):
    c, a, b = sums(counts)
    return 2 * np.sum(c**2) / (np.sum(a**2) + np.sum(b**2))


def rand_error(counts):
    return 1 - my_v_rand(counts)


def split_only(counts):
    c, a, _ = sums(counts)
    return np.sum(c**2) / np.sum(a**2)


def merge_only(counts):
    c, _, b = sums(counts)
    return np.sum(c**2) / np.sum(b**2)


def arithmetic_mean(counts):
    return (split_only(counts) + merge_only(counts)) / 2


def distinct_pairs(counts):
    c, a, b = sums(counts)
    return 2 * np.sum(c * (c - 1)) / (np.sum(a * (a - 1)) + np.sum(b * (b - 1)))


def no_squares(counts):
    c, a, b = sums(counts)
    return 2 * c.sum() / (a.sum() + b.sum())


def squared_sums(counts):
    c, a, b = sums(counts)
    return 2 * np.sum(c**2) / (np.sum(a) ** 2 + np.sum(b) ** 2)


def squared_total(counts):
    c, a, b = sums(counts)
    return 2 * np.sum(c) ** 2 / (np.sum(a**2) + np.sum(b**2))


def without_the_2(counts):
    c, a, b = sums(counts)
    return np.sum(c**2) / (np.sum(a**2) + np.sum(b**2))


def floor_divided(counts):
    c, a, b = sums(counts)  # floats, as the hint says: `//` then gives 0.0, not 0
    return 2 * np.sum(c**2) // (np.sum(a**2) + np.sum(b**2))


def test_v_rand_accepts_a_formula_written_by_hand():
    assert_passed(checks.check_v_rand(my_v_rand), "0.800 when two of four cells merge")


@pytest.mark.parametrize(
    "answer, words",
    [
        (rand_error, ["1 − V_Rand", "error"]),
        (split_only, ["split score", "alone"]),
        (merge_only, ["merge score", "alone"]),
        (arithmetic_mean, ["arithmetic mean", "harmonic"]),
        (distinct_pairs, ["distinct", "scikit-image", "square the counts"]),
        (no_squares, ["square the counts", "every table scores 1"]),
        (squared_sums, ["squared the *sums*", "sums of *squares*"]),  # issue 17
        (squared_total, ["squared the sum of the counts"]),
        (without_the_2, ["exactly half", "factor 2 is missing"]),
        (floor_divided, ["returned 0, expected 0.3595", "`//` rounds the fraction down"]),
        (arithmetic_mean, ["returned 0.3600, expected 0.3595"]),  # not "0.36", which reads as nearly right
        (stub, ["your turn", "stub"]),
        (crashes, ["ZeroDivisionError"]),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else "",
)
def test_v_rand_names_each_mistake(answer, words):
    assert_rejected(checks.check_v_rand(answer), *words)


def test_v_rand_wants_one_number():
    assert_rejected(checks.check_v_rand(lambda counts: [my_v_rand(counts)]), "return one number")


# -- exercise 2: V_Info ------------------------------------------------------------------------------------------


def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())  # bits: V_Info is a ratio, the unit cancels


def entropies(counts, normalise=True):
    c, a, b = sums(counts)
    n = c.sum() if normalise else 1.0
    return entropy(a / n), entropy(b / n), entropy(c.ravel() / n)


def my_v_info(counts):
    h_true, h_seg, h_both = entropies(counts)
    if h_true == 0 or h_seg == 0:
        return 0.0
    return 2 * (h_true + h_seg - h_both) / (h_true + h_seg)


def info_complement(counts):
    return 1 - my_v_info(counts)


def mutual_information_nats(counts):
    h_true, h_seg, h_both = entropies(counts)
    return (h_true + h_seg - h_both) * np.log(2)


def variation_of_information(counts):
    h_true, h_seg, h_both = entropies(counts)
    return (2 * h_both - h_true - h_seg) * np.log(2)


def over_truth(counts):
    h_true, h_seg, h_both = entropies(counts)
    return (h_true + h_seg - h_both) / h_true


def over_segmentation(counts):
    h_true, h_seg, h_both = entropies(counts)
    return (h_true + h_seg - h_both) / h_seg


def raw_counts(counts):
    c, a, b = sums(counts)

    def h(x):
        x = x[x > 0]
        return float(-(x * np.log(x)).sum())

    h_true, h_seg, h_both = h(a), h(b), h(c.ravel())
    return 2 * (h_true + h_seg - h_both) / (h_true + h_seg)


def without_the_zero_entropy_case(counts):
    h_true, h_seg, h_both = entropies(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float64(2 * (h_true + h_seg - h_both)) / np.float64(h_true + h_seg)


def info_without_the_2(counts):
    h_true, h_seg, h_both = entropies(counts)
    if h_true == 0 or h_seg == 0:
        return 0.0
    return (h_true + h_seg - h_both) / (h_true + h_seg)


def zeros_left_in(counts):
    p = np.asarray(counts, dtype=float)
    p = p / p.sum()

    def h(q):  # every q, the zeros too: 0 · log 0 is nan in NumPy
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.sum(q * np.log(q))

    h_true, h_seg, h_both = h(p.sum(axis=1)), h(p.sum(axis=0)), h(p.ravel())
    if h_true == 0 or h_seg == 0:
        return 0.0
    return float(2 * (h_true + h_seg - h_both) / (h_true + h_seg))


def test_v_info_accepts_a_formula_written_by_hand_in_bits():
    assert_passed(checks.check_v_info(my_v_info), "0.857 when two of four cells merge")


@pytest.mark.parametrize(
    "answer, words",
    [
        (info_complement, ["1 − V_Info"]),
        (mutual_information_nats, ["mutual information", "itself"]),
        (variation_of_information, ["variation of information", "distance"]),
        (over_truth, ["I / H(T)", "merge score"]),
        (over_segmentation, ["I / H(S)", "split score"]),
        (raw_counts, ["raw counts", "divide the table by its total"]),
        (without_the_zero_entropy_case, ["1 × 1 table", "0 / 0", "return 0.0"]),
        (info_without_the_2, ["exactly half", "factor 2 is missing"]),
        (zeros_left_in, ["returned nan", "0 · log 0", "skip the zero probabilities", "term p log p is 0"]),
        (stub, ["your turn"]),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else "",
)
def test_v_info_names_each_mistake(answer, words):
    assert_rejected(checks.check_v_info(answer), *words)


# -- exercise 3: scaling efficiency ------------------------------------------------------------------------------


def my_efficiency(one, many, processes):
    return many / one / processes


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda one, many, processes: many / one, ["speed-up", "divides it by the number of processes"]),
        (lambda one, many, processes: processes * one / many, ["upside down"]),
        (lambda one, many, processes: 100 * many / (processes * one), ["percentage"]),
        (lambda one, many, processes: int(many / (processes * one)), ["expected 0.8"]),
        (lambda one, many, processes: many // (processes * one), ["returned 0, expected 0.8", "`//`"]),
        (stub, ["your turn"]),
    ],
)
def test_scaling_efficiency_names_each_mistake(answer, words):
    assert_rejected(checks.check_scaling_efficiency(answer), *words)


def test_scaling_efficiency_accepts_the_formula():
    assert_passed(checks.check_scaling_efficiency(my_efficiency), "do the work of 1.6")


# -- both tables: index 0 is a cell, not the background --------------------------------------------------------


@pytest.mark.parametrize(
    "check, score, words",
    [
        (checks.check_v_rand, my_v_rand, ["a 5 × 6 table of random counts", "left out row 0"]),
        (checks.check_v_info, my_v_info, ["left out row 0"]),
    ],
    ids=["v_rand", "v_info"],
)
def test_row_and_column_zero_left_out_are_named(check, score, words):
    assert_rejected(check(lambda counts: score(np.asarray(counts)[1:, 1:])), *words)


def test_v_rand_without_column_zero_is_not_told_to_square():
    """The random table's column 0 is empty, so leaving it out passes there; on the merge table the score is then
    1.0, which is not the "no squares" slip: that one gives 1.0 on every table, the random one first."""
    feedback = checks.check_v_rand(lambda counts: my_v_rand(np.asarray(counts)[:, 1:]))
    assert_rejected(feedback, "merged into one segment) returned 1, expected 0.8", "left out row 0 or column 0")
    assert "square" not in feedback.message
