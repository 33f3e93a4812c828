"""Checkers of notebook 12 (``unet_lib.checks.debugging``): answers written here, independently of unet_lib.

The diagnosis checker passes the right cause of every case and rejects every planted wrong one with the evidence
against it; it never passes a wrong answer. The first-loss checker passes ln 2 × the mean weight, written here,
and names each slip it claims to name.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from checker_answers import assert_passed, assert_rejected, crashes, stub

from unet_lib import checks, diagnose
from unet_lib.checks import debugging

RIGHT = {
    "A": "rare class",
    "B": "0/255 masks",
    "C": "diverging learning rate",
    "D": "swapped folders",
    "E": "inverted labels",
    "F": "forgotten normalisation",
}
"""The causes, written here: what notebook 12 shows of each case (its symptom) points to these."""

EVIDENCE = {
    "A": {"too few training steps": "foreground share", "diverging learning rate": "stayed finite",
          "inverted labels": "foreground share", "swapped folders": "foreground",
          "forgotten normalisation": "foreground"},
    "B": {"network too small": "masks' values", "swapped folders": "masks' values",
          "diverging learning rate": "class index", "inverted labels": "0 and 1",
          "forgotten normalisation": "target value"},
    "C": {"forgotten normalisation": "normalised", "too few training steps": "NaN", "0/255 masks": "index error",
          "learning rate too low": "never", "network too small": "orders of magnitude"},
    "D": {"too few training steps": "images/ and masks/", "rare class": "grey levels", "0/255 masks": "0 and 1",
          "forgotten normalisation": "two values", "inverted labels": "grey levels"},
    "E": {"swapped folders": "which class the labels call 1", "too few training steps": "negative",
          "rare class": "negative", "forgotten normalisation": "wrong way round"},
    "F": {"too few training steps": "predict_probability", "rare class": "other inputs",
          "swapped folders": "predict_probability", "inverted labels": "predict_probability",
          "diverging learning rate": "predict_probability"},
}  # fmt: skip
"""Each planted wrong diagnosis and a word of the evidence its message must give."""


def test_the_cases_are_the_doctors_broken_setups():
    assert debugging.CASES == RIGHT
    assert set(RIGHT.values()) <= set(diagnose.BROKEN_SETUPS) <= set(checks.CAUSES)


@pytest.mark.parametrize("case", list(RIGHT))
def test_the_right_cause_passes_as_a_function_or_a_string(case):
    assert_passed(checks.check_diagnosis(case, lambda: RIGHT[case]), f"case {case}", RIGHT[case])
    assert_passed(checks.check_diagnosis(case, f"  {RIGHT[case].upper()} "))


@pytest.mark.parametrize("case", list(RIGHT))
def test_each_planted_wrong_diagnosis_is_named(case):
    assert set(EVIDENCE[case]) == set(debugging.WRONG[case])
    for wrong, evidence in EVIDENCE[case].items():
        assert_rejected(checks.check_diagnosis(case, lambda wrong=wrong: wrong), f"not {wrong!r}", evidence)


@pytest.mark.parametrize("case", list(RIGHT))
def test_no_wrong_cause_passes(case):
    for cause in checks.CAUSES:
        if cause != RIGHT[case]:
            assert not checks.check_diagnosis(case, cause).passed, (case, cause)


def test_a_cause_without_its_own_message_gets_the_symptom_back():
    assert_rejected(checks.check_diagnosis("C", "training on the CPU"), "jumped by orders of magnitude", "diverged")


def test_case_c_says_what_the_divergence_guard_does():
    # the stored run stops right after the jump (2.65, then 5.54e+09), so no recorded loss is NaN: the symptom
    # must not promise one, only that the run was stopped as diverged
    symptom = debugging.SYMPTOMS["C"]
    assert "stopped the run as diverged" in symptom and "then turned NaN" not in symptom
    assert "millionfold in one step" not in " ".join(debugging.WRONG["C"].values())


def test_answers_outside_the_list_a_stub_and_a_crash():
    assert_rejected(checks.check_diagnosis("A", "bad luck"), "not one of the causes", "rare class")
    assert_rejected(checks.check_diagnosis("A", lambda: 3), "int", "string")
    assert_rejected(checks.check_diagnosis("A", stub), "your turn")
    assert_rejected(checks.check_diagnosis("A", crashes), "ZeroDivisionError")


def test_the_mystery_setup_is_the_broken_setup_of_its_case():
    setup = checks.mystery_setup("B", n_images=1, size=128)
    assert setup.name == RIGHT["B"] and setup.data.labels[0].max() == 255
    with pytest.raises(ValueError, match="A, B"):
        checks.mystery_setup("Z")


# -- exercise 7: the first loss -----------------------------------------------------------------------------------
def first_loss(weights):
    return math.log(2) * float(np.mean(weights))


@pytest.mark.parametrize(
    ("slip", "words"),
    [
        (lambda w: math.log(2), "ln 2 alone"),
        (lambda w: math.log10(2) * np.mean(w), "base 10"),
        (lambda w: math.log2(2) * np.mean(w), "log₂"),
        (lambda w: math.log(0.5) * np.mean(w), "the sign is flipped"),
        (lambda w: math.log(0.5), "the sign is flipped"),
        (lambda w: 0.5 * np.mean(w), "probability ½"),
        (lambda w: math.log(2) * np.sum(w), "sums the weights"),
        (lambda w: math.log(2) * np.max(w), "largest weight"),
        (lambda w: 0.69 * np.mean(w), "0.69 × the mean weight, ln 2 rounded"),
    ],
)
def test_first_loss_names_each_slip(slip, words):
    assert_rejected(checks.check_first_loss(slip), words)


def test_first_loss_accepts_ln2_times_the_mean_weight_and_handles_a_stub():
    assert_passed(checks.check_first_loss(first_loss), "ln 2 × the mean weight")
    assert_rejected(checks.check_first_loss(stub), "your turn")
    assert_rejected(checks.check_first_loss(lambda w: np.full(3, 0.7)), "one number")
