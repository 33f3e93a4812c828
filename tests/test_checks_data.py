"""Checkers of notebooks 06–07 (``unet_lib.checks.data``): answers written here, independently of unet_lib.

Each checker passes a known-right answer and names every typical mistake it claims to name.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from checker_answers import assert_passed, assert_rejected

from unet_lib import checks

# -- notebook 06 --------------------------------------------------------------------------------------


def mirror_pad(image: np.ndarray, pad: int) -> np.ndarray:
    """Mirror about the border pixel, by index arithmetic: position −k reads k, position H−1+k reads H−1−k."""
    height, width = image.shape

    def source(position: int, size: int) -> int:
        return -position if position < 0 else 2 * (size - 1) - position if position >= size else position

    rows = [source(r, height) for r in range(-pad, height + pad)]
    cols = [source(c, width) for c in range(-pad, width + pad)]
    return image[np.ix_(rows, cols)]


def test_mirror_pad_accepts_mirroring_by_hand_numpy_and_a_tensor():
    assert_passed(checks.check_mirror_pad(mirror_pad), "numpy.pad(mode='reflect')")
    assert_passed(checks.check_mirror_pad(lambda image, pad: np.pad(image, pad, mode="reflect")))
    assert_passed(checks.check_mirror_pad(lambda image, pad: torch.from_numpy(mirror_pad(image, pad))))


def _shifted_centre(image: np.ndarray, pad: int) -> np.ndarray:
    padded = mirror_pad(image, pad)
    return np.roll(padded, 1, axis=1) if pad else padded


def _bands(before, after):
    """A learner's padding by slicing: ``before(a, pad)`` above, ``after(a, pad)`` below; rows, then columns."""

    def pad_rows(a: np.ndarray, pad: int) -> np.ndarray:
        return np.concatenate([before(a, pad), a, after(a, pad)]) if pad else a

    return lambda image, pad: pad_rows(pad_rows(image, pad).T, pad).T


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda im, p: np.pad(im, p, mode="symmetric"), ["edge pixel is repeated", '"reflect", not "symmetric"']),
        (lambda im, p: np.pad(im, p), ["zero padding"]),
        (lambda im, p: np.pad(im, p, mode="edge"), ["repeats the edge pixel outwards"]),
        (lambda im, p: np.pad(im, p, mode="wrap"), ["wraps around"]),
        (lambda im, p: np.pad(im, ((p, 0), (p, 0)), mode="reflect"), ["shape (7, 8), expected (9, 10)", "four sides"]),
        (_shifted_centre, ["unchanged in the middle"]),
        (lambda im, p: mirror_pad(im, p).tolist(), ["a list", "NumPy array"]),
        (_bands(lambda a, p: a[1 : p + 1], lambda a, p: a[-p - 1 : -1]), ["image's order", "step of −1"]),
        (_bands(lambda a, p: a[-2 : -p - 2 : -1], lambda a, p: a[p:0:-1]), ["sides are swapped"]),
        (lambda im, p: np.pad(np.pad(im, ((p, p), (0, 0)), "reflect"), ((0, 0), (p, p)), "symmetric"), ["one axis"]),
        (lambda im, p: np.pad(np.pad(im, ((p, p), (0, 0)), "symmetric"), ((0, 0), (p, p)), "reflect"), ["one axis"]),
    ],
    ids=["symmetric", "zeros", "edge", "wrap", "one side", "moved", "list", "in order", "swapped", "cols", "rows"],
)
def test_mirror_pad_names_the_mistake(answer, words):
    assert_rejected(checks.check_mirror_pad(answer), *words)


def cell_fraction(labels: list[np.ndarray]) -> float:
    cells = pixels = 0
    for label in labels:
        cells += int(np.count_nonzero(label == 1))
        pixels += label.size
    return cells / pixels


def test_cell_fraction_accepts_the_pooled_share():
    assert_passed(checks.check_cell_fraction(cell_fraction), "(18 of 60 here)")


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda labels: float(np.mean([np.mean(lab == 1) for lab in labels])), ["mean of per-image fractions"]),
        (lambda labels: 100 * cell_fraction(labels), ["returned 30, expected 0.3", "percentage"]),
        (lambda labels: 1 - cell_fraction(labels), ["membrane (class 0) share"]),
        (lambda labels: sum(int((lab == 255).sum()) for lab in labels) / 60, ["nothing counted", "label == 1"]),
        (lambda labels: "0.3", ["one number"]),
        (lambda labels: 0.5, ["returned 0.5, expected 0.3", "divide by the number of all pixels"]),
    ],
    ids=["per image", "percent", "membrane", "255", "text", "other"],
)
def test_cell_fraction_names_the_mistake(answer, words):
    assert_rejected(checks.check_cell_fraction(answer), *words)


# -- notebook 07 --------------------------------------------------------------------------------------


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Stable by hand: log p = x − max − log Σ exp(x − max), the true class picked per pixel."""
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_p.gather(1, target.unsqueeze(1)).mean()


def naive(logits, target):
    """The softmax by hand without subtracting the maximum: exp(1000) overflows."""
    p = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -p.gather(1, target.unsqueeze(1)).log().mean()


def test_cross_entropy_accepts_a_stable_hand_version():
    assert_passed(checks.check_cross_entropy_by_hand(cross_entropy), "stable for logits of ±1000")


@pytest.mark.parametrize(
    "answer, words",
    [
        (naive, ["logits (1000, −1000) with class 1", "expected 2000", "overflows"]),
        (lambda lg, t: -cross_entropy(lg, t), ["sign is flipped"]),
        (lambda lg, t: cross_entropy(lg, t) * t.numel(), ["sum over pixels"]),
        (lambda lg, t: -torch.log_softmax(lg, dim=3).gather(1, t.unsqueeze(1)).mean(), ["wrong axis"]),
        (lambda lg, t: -torch.log_softmax(lg, dim=0).gather(1, t.unsqueeze(1)).mean(), ["wrong axis"]),
        (lambda lg, t: -torch.log_softmax(lg, dim=1).gather(1, t.unsqueeze(1)), ["one number as a tensor"]),
        (lambda lg, t: float(cross_entropy(lg, t)), ["returned ", "as a tensor"]),
        (lambda lg, t: cross_entropy(lg, t) + 1, ["log_softmax over the classes (dim 1)"]),
        (lambda lg, t: -(lg - torch.logsumexp(lg, dim=1)).gather(1, t.unsqueeze(1)).mean(), ["keepdim=True"]),
    ],
    ids=["overflow", "sign", "sum", "axis 3", "axis 0", "per pixel", "float", "other", "no keepdim"],
)
def test_cross_entropy_names_the_mistake(answer, words):
    assert_rejected(checks.check_cross_entropy_by_hand(answer), *words)


def border_weight(d1, d2, w0=10.0, sigma=5.0):
    gap = np.asarray(d1) + np.asarray(d2)
    return w0 * np.exp(-(gap * gap) / (2 * sigma * sigma))


def test_border_weight_accepts_the_papers_formula():
    assert_passed(checks.check_border_weight(border_weight), f"{10 * math.exp(-0.5):.2f} extra weight")


@pytest.mark.parametrize(
    "expression, words",
    [
        (lambda a, b, w0, s: w0 * np.exp(-(a**2 + b**2) / (2 * s**2)), ["*sum*"]),
        (lambda a, b, w0, s: w0 * np.exp(-((a + b) ** 2) / s**2), ["factor 2"]),
        (lambda a, b, w0, s: w0 * np.exp(-((a + b) ** 2) / (2 * s)), ["σ must be squared"]),
        (lambda a, b, w0, s: np.exp(-((a + b) ** 2) / (2 * s**2)), ["w0 is missing"]),
        (lambda a, b, w0, s: w0 + np.exp(-((a + b) ** 2) / (2 * s**2)), ["not added"]),
        (lambda a, b, w0, s: border_weight(a, b), ["6 distances, w0=4, σ=2.5", "from the arguments"]),
        (lambda a, b, w0, s: math.exp(-((a[0] + b[0]) ** 2)), ["element-wise", "np.exp, not math.exp"]),
    ],
    ids=["each squared", "no 2", "σ not squared", "no w0", "w0 added", "fixed constants", "scalar"],
)
def test_border_weight_names_the_mistake(expression, words):
    def answer(d1, d2, w0=10.0, sigma=5.0):
        return expression(np.asarray(d1), np.asarray(d2), w0, sigma)

    assert_rejected(checks.check_border_weight(answer), *words)


def test_cell_fraction_names_integer_division():
    floored = checks.check_cell_fraction(lambda labels: sum(int((lb == 1).sum()) for lb in labels) // 60)
    assert_rejected(floored, "returned 0, expected 0.3", "`//` rounds")


def log_p(logits):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=1, keepdim=True).log()


def averaged_over_classes_too(logits, target):
    one_hot = torch.nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)
    return -(log_p(logits) * one_hot).mean()


def probabilities_without_log(logits, target):
    return -log_p(logits).exp().gather(1, target.unsqueeze(1)).mean()


@pytest.mark.parametrize(
    "answer, words",
    [
        (averaged_over_classes_too, ["averaged over the classes", "mean over the pixels only"]),
        (probabilities_without_log, ["probabilities", "−log p"]),
    ],
    ids=["mean over classes", "no log"],
)
def test_cross_entropy_names_a_mean_over_classes_and_a_missing_log(answer, words):
    assert_rejected(checks.check_cross_entropy_by_hand(answer), *words)


@pytest.mark.parametrize(
    "expression, words",
    [
        (lambda a, b, w0, s: w0 * np.exp(-((a + b) ** 2) / 2 * s**2), ["parentheses", "/ (2 * sigma**2)"]),
        (lambda a, b, w0, s: w0 * np.exp((a + b) ** 2 / (2 * s**2)), ["minus sign", "falls"]),
    ],
    ids=["precedence", "positive exponent"],
)
def test_border_weight_names_precedence_and_sign(expression, words):
    def answer(d1, d2, w0=10.0, sigma=5.0):
        return expression(np.asarray(d1), np.asarray(d2), w0, sigma)

    assert_rejected(checks.check_border_weight(answer), *words)


def test_border_weight_says_what_to_use_when_math_exp_crashes_on_arrays():
    def with_math_exp(d1, d2, w0=10.0, sigma=5.0):
        return w0 * math.exp(-((d1 + d2) ** 2) / (2 * sigma**2))

    assert_rejected(checks.check_border_weight(with_math_exp), "TypeError", "element-wise", "np.exp")
