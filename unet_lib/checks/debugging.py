"""Checkers of notebook 12: name the cause of a broken setup before the doctor does, and the first loss by hand.

Notebook 12 meets its broken setups as the learner would, by their symptoms, under letters ("case A") rather than
names, so that the cell that makes a case does not give its cause away: ``mystery_setup("A")`` makes it with
``diagnose.broken_setup``. The learner answers with one of ``CAUSES`` — the doctor's broken setups and a few
plausible wrong ones — and ``check_diagnosis`` names each planted wrong diagnosis with the evidence against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .. import diagnose
from .core import Feedback, Mistake, attempt, case, check_cases, close, name_of, one_number

CASES: dict[str, str] = {
    "A": "rare class",
    "B": "0/255 masks",
    "C": "diverging learning rate",
    "D": "swapped folders",
    "E": "inverted labels",
    "F": "forgotten normalisation",
}
"""Notebook 12's cases, by letter: the broken setup (``diagnose.BROKEN_SETUPS``) behind each symptom."""

CAUSES: tuple[str, ...] = (
    *diagnose.BROKEN_SETUPS,
    "learning rate too low",
    "too few training steps",
    "network too small",
    "training on the CPU",
)
"""The answers a diagnosis may give: every broken setup the doctor knows, and four that learners often suspect."""

SYMPTOMS: dict[str, str] = {
    "A": "the loss fell smoothly, and the prediction is black: background everywhere",
    "B": "the run stopped at its first step: index 255 is out of bounds for dimension 1 with size 2",
    "C": "the loss jumped by orders of magnitude within a step or two, and fit stopped the run as diverged: its "
    "guard ends a run at the first step whose loss, gradients or weights are NaN or infinite (left to go on, such "
    "a run turns NaN)",
    "D": "the loss fell much as the healthy run's did, and the prediction of a real image is black",
    "E": "the loss fell like the healthy run's, and the prediction is the negative: cells dark, membranes bright",
    "F": "the loss fell like the healthy run's, and the prediction of a real image is black",
}
"""What each case shows before any diagnosis: the checker's fallback message repeats it."""

WRONG: dict[str, dict[str, str]] = {
    "A": {
        "too few training steps": "more steps of the same loss learn the same answer: the loss fell smoothly "
        "because 'background everywhere' already scores about 99% on these labels. Look at the foreground share.",
        "diverging learning rate": "the loss fell smoothly and stayed finite: the learning rate is fine. A black "
        "prediction after a falling loss means the loss is content with it: look at how much of each mask is "
        "foreground.",
        "inverted labels": "inverted labels would make most of the prediction bright (cells are most of an EM "
        "slice); here almost nothing is foreground, in the prediction and in the labels. Look at the foreground "
        "share.",
        "swapped folders": "the images have many grey levels and the masks two values, as they should: look at "
        "how much of each mask is foreground.",
        "forgotten normalisation": "the tiles are normalised here, and the network predicts the same black on its "
        "own training tiles: look at how much of each mask is foreground.",
    },
    "B": {
        "network too small": "the network's size has nothing to do with an index error: the 255 in the message is "
        "a value of the targets. Look at the masks' values.",
        "swapped folders": "the run stopped before any learning, on a target value of 255: look at the masks' "
        "values, which the loss reads as class indices.",
        "diverging learning rate": "the run stopped before its first step changed a weight, so no learning rate is "
        "involved: the 255 in the message is a value of the masks, read as a class index.",
        "inverted labels": "inverted labels still hold 0 and 1, and train without an error: the 255 in the message "
        "is a value of the masks, read as a class index.",
        "forgotten normalisation": "raw grey values go into the network, not into the loss's class indices: the "
        "255 in the message is a target value. Look at the masks' values.",
    },
    "C": {
        "forgotten normalisation": "the tiles are normalised here (mean 0, standard deviation 1); a loss that jumps "
        "by orders of magnitude in a step or two took steps that were far too large.",
        "too few training steps": "more steps cannot help: the run was stopped as diverged, because a step's loss, "
        "gradients or weights were no longer finite numbers; a run that went on would be NaN from there on.",
        "0/255 masks": "masks used as class indices stop the run with an index error at its first step; here the "
        "first step ran and gave an ordinary loss, which then jumped.",
        "learning rate too low": "too low a rate makes the loss fall slowly; it never makes it jump up.",
        "network too small": "a small network learns slowly or not at all; it does not make the loss jump by "
        "orders of magnitude in a step or two.",
    },
    "D": {
        "too few training steps": "the healthy run trained as many steps, and its prediction shows cells: look at "
        "what the files in images/ and masks/ hold.",
        "rare class": "look at the files: the 'masks' hold hundreds of grey levels, the 'images' two values.",
        "0/255 masks": "load_folder reads 0/255 masks as 0 and 1 (notebook 11), and the run did not crash: look at "
        "what the files in images/ and masks/ hold.",
        "forgotten normalisation": "TileDataset normalised these tiles; the question is what they show. Look at "
        "the files in images/: two values each.",
        "inverted labels": "an inverted mask is still a mask of two values; the 'masks' here hold hundreds of grey "
        "levels. Look at the files.",
    },
    "E": {
        "swapped folders": "the images have many grey levels and the prediction follows the membranes sharply: "
        "the network learnt the labels it was given. Look at which class the labels call 1.",
        "too few training steps": "the prediction already follows the membranes sharply; it is the negative of the "
        "expected answer, and more steps will not turn it round. Look at which class the labels call 1.",
        "rare class": "the prediction is not empty: it is the negative of the expected one. Look at which class "
        "the labels call 1.",
        "forgotten normalisation": "the tiles are normalised and the prediction is sharp, only the wrong way "
        "round: look at which class the labels call 1.",
    },
    "F": {
        "too few training steps": "the loss fell as far as the healthy run's in as many steps: the network learnt. "
        "The trouble lies between training and prediction: what did the training tiles hold, and what does "
        "predict_probability feed the network?",
        "rare class": "the masks are the healthy ones, cells most of each slice: a black prediction after a loss "
        "that fell like the healthy run's says that prediction feeds other inputs than training did.",
        "swapped folders": "the images have many grey levels and the masks two values: the data are fine. Compare "
        "the training tiles' values with what predict_probability feeds the network.",
        "inverted labels": "the masks are the healthy ones, and an inverted network would predict the membranes, "
        "not nothing: compare the training tiles' values with what predict_probability feeds the network.",
        "diverging learning rate": "the loss fell like the healthy run's and stayed finite: compare the training "
        "tiles' values with what predict_probability feeds the network.",
    },
}
"""The planted wrong diagnoses of each case, and the evidence against each."""


def mystery_setup(case: str, **kwargs: Any) -> diagnose.BrokenSetup:
    """Notebook 12's case ``case`` ("A"–"F"): ``diagnose.broken_setup`` of its cause, which stays unnamed here."""
    if case not in CASES:
        raise ValueError(f"notebook 12's cases are {', '.join(CASES)}, not {case!r}")
    return diagnose.broken_setup(CASES[case], **kwargs)


def check_diagnosis(case: str, diagnosis: Callable[[], str] | str) -> Feedback:
    """Notebook 12, exercises 1–6: the cause of case ``case``, one of ``CAUSES`` (a string, or a function that
    returns one). Named wrong answers: the plausible causes of ``WRONG``; any other cause gets the symptom back."""
    exercise = name_of(diagnosis, f"cause_of_case_{case.lower()}")
    if callable(diagnosis):
        answer, stub = attempt(exercise, diagnosis)
        if stub is not None:
            return stub
    else:
        answer = diagnosis
    if not isinstance(answer, str):
        return Feedback(
            False, f"`{exercise}` gave {type(answer).__name__}; answer with one of checks.CAUSES, a string."
        )
    said = {cause.lower(): cause for cause in CAUSES}.get(answer.strip().lower())
    if said is None:
        return Feedback(False, f"{answer!r} is not one of the causes to choose from: {', '.join(CAUSES)}.")
    right = CASES[case]
    if said == right:
        return Feedback(True, f"case {case} is {right!r}: {diagnose.BROKEN_SETUPS[right]}. The doctor should agree.")
    reason = WRONG[case].get(said, f"that does not explain what case {case} shows: {SYMPTOMS[case]}.")
    return Feedback(False, f"not {said!r}: {reason}")


# -- notebook 12, exercise 7: the first loss by hand ---------------------------------------------------------------
def _expected_first_loss(weights: np.ndarray) -> float:
    return diagnose.expected_initial_loss(torch.as_tensor(np.asarray(weights, dtype=np.float32)))


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    return {  # random first: there every slip gives its own wrong number
        "a random weight map": (1 + 9 * rng.random((6, 6))).astype(np.float32),
        "no weight map (every weight 1)": np.ones((4, 4), dtype=np.float32),
        "a weight map of mean 1.7, as on the ISBI labels": np.full((3, 5), 1.7, dtype=np.float32),
    }


_FIRST_LOSS_MISTAKES = [
    Mistake(
        gives=lambda w: math.log(2),
        says="that is ln 2 alone: the weighted loss multiplies each pixel's "
        "−ln p by its weight, so an untrained network gives ln 2 × the mean weight.",
    ),  # fmt: skip
    Mistake(
        gives=lambda w: math.log10(2) * float(np.mean(w)),
        says="that uses log base 10: cross-entropy is −ln p, the natural logarithm (np.log, math.log).",
    ),  # fmt: skip
    Mistake(
        gives=lambda w: float(np.mean(w)),
        says="that is the mean weight × log₂ 2 = 1: cross-entropy uses the natural logarithm, ln 2 ≈ 0.693.",
    ),  # fmt: skip
    Mistake(
        gives=lambda w: -math.log(2) * float(np.mean(w)),
        says="the sign is flipped: ln ½ = −0.693 is negative, and a pixel's loss is −ln p = −ln ½ = ln 2, so the "
        "first loss is +ln 2 × the mean weight.",
    ),  # fmt: skip
    Mistake(
        when=lambda got, w: float(got) < 0,
        says="a loss is never negative: each pixel's −ln p is ≥ 0 for p ≤ 1. The sign is flipped — −ln ½ = ln 2, "
        "not ln ½.",
    ),  # fmt: skip
    Mistake(
        gives=lambda w: 0.5 * float(np.mean(w)),
        says="that uses the probability ½ itself; the loss of a pixel is −ln ½ = ln 2.",
    ),  # fmt: skip
    Mistake(
        gives=lambda w: math.log(2) * float(np.sum(w)),
        says="that sums the weights: the loss is a mean over the pixels, so take the mean weight.",
    ),  # fmt: skip
    Mistake(
        gives=lambda w: math.log(2) * float(np.max(w)),
        says="that takes the largest weight: the loss is a mean over the pixels, so take the mean weight.",
    ),  # fmt: skip
    Mistake(
        when=lambda got, w: abs(float(got) / float(np.mean(w)) / math.log(2) - 1) < 0.01,
        says=lambda got, w: (
            f"that is {float(got) / float(np.mean(w)):.4g} × the mean weight, ln 2 rounded: use math.log(2) = 0.693147…"
        ),
    ),  # fmt: skip
]


def check_first_loss(first_loss: Callable[[np.ndarray], float]) -> Feedback:
    """Notebook 12, exercise 7: ``first_loss(weights)``, the loss an untrained 2-class U-Net should start from.

    Named slips: ln 2 without the weights, log base 10, log base 2, the sign flipped (ln ½), the probability ½
    itself, the sum or the largest weight instead of the mean, and ln 2 rounded (0.69).
    """
    cases = [case(w, expected=_expected_first_loss(w), label=label) for label, w in _weights().items()]
    return check_cases(
        "first_loss",
        first_loss,
        cases,
        _FIRST_LOSS_MISTAKES,
        returns=one_number,
        same=close(1e-3),
        rule="an untrained network's softmax is about ½ for each class, so each pixel's loss is −ln ½ = ln 2, times "
        "its weight; the loss is the mean over the pixels.",
        success="ln 2 × the mean weight: about 0.69 without a weight map, about 1.2 with the ISBI weight map. A "
        "first loss far from it means the inputs, the labels or the weights are not what you think.",
    )
