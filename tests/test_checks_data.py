"""The exercise checkers of notebooks 06 and 07: accept the reference solution, name the typical mistakes."""

import math

import numpy as np
import torch

from unet_lib import checks


def stub(*args, **kwargs):
    raise NotImplementedError("Your turn")


# -- notebook 06 ------------------------------------------------------------------------------


def test_mirror_pad_accepts_reflect_padding():
    def mirror_pad(image, pad):
        rows = np.concatenate([image[pad:0:-1], image, image[-2 : -pad - 2 : -1]]) if pad else image
        return np.concatenate([rows[:, pad:0:-1], rows, rows[:, -2 : -pad - 2 : -1]], axis=1) if pad else rows

    feedback = checks.check_mirror_pad(mirror_pad)
    assert feedback.passed, feedback.message
    assert checks.check_mirror_pad(lambda image, pad: np.pad(image, pad, mode="reflect"))
    assert checks.check_mirror_pad(lambda image, pad: torch.from_numpy(np.pad(image, pad, mode="reflect")))


def test_mirror_pad_names_the_typical_mistakes():
    assert "edge pixel is repeated" in checks.check_mirror_pad(lambda im, p: np.pad(im, p, mode="symmetric")).message
    assert "zero padding" in checks.check_mirror_pad(lambda im, p: np.pad(im, p)).message
    assert "wraps around" in checks.check_mirror_pad(lambda im, p: np.pad(im, p, mode="wrap")).message
    one_side = checks.check_mirror_pad(lambda im, p: np.pad(im, ((p, 0), (p, 0)), mode="reflect"))
    assert not one_side and "all four sides" in one_side.message
    assert "NumPy array" in checks.check_mirror_pad(lambda im, p: np.pad(im, p, mode="reflect").tolist()).message
    assert "your turn" in checks.check_mirror_pad(stub).message


def test_cell_fraction_accepts_the_pooled_share():
    feedback = checks.check_cell_fraction(
        lambda labels: sum(int((lab == 1).sum()) for lab in labels) / sum(lab.size for lab in labels)
    )
    assert feedback.passed, feedback.message


def test_cell_fraction_names_the_typical_mistakes():
    assert (
        "mean of per-image"
        in checks.check_cell_fraction(lambda labels: np.mean([lab.mean() for lab in labels])).message
    )
    pooled = lambda labels: sum(int(lab.sum()) for lab in labels) / sum(lab.size for lab in labels)  # noqa: E731
    assert "percentage" in checks.check_cell_fraction(lambda labels: 100 * pooled(labels)).message
    assert "membrane" in checks.check_cell_fraction(lambda labels: 1 - pooled(labels)).message
    assert (
        "255" in checks.check_cell_fraction(lambda labels: sum(int((lab == 255).sum()) for lab in labels) / 60).message
    )
    assert "one number" in checks.check_cell_fraction(lambda labels: "0.5").message
    assert "your turn" in checks.check_cell_fraction(stub).message


# -- notebook 07 ------------------------------------------------------------------------------


def stable_cross_entropy(logits, target):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_p.gather(1, target.unsqueeze(1)).mean()


def test_cross_entropy_accepts_a_stable_hand_version():
    feedback = checks.check_cross_entropy_by_hand(stable_cross_entropy)
    assert feedback.passed, feedback.message
    assert checks.check_cross_entropy_by_hand(torch.nn.functional.cross_entropy)


def test_cross_entropy_names_the_typical_mistakes():
    def naive(logits, target):  # softmax by hand without subtracting the maximum
        p = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
        return -p.gather(1, target.unsqueeze(1)).log().mean()

    assert "overflows" in checks.check_cross_entropy_by_hand(naive).message
    assert "sign" in checks.check_cross_entropy_by_hand(lambda lg, t: -stable_cross_entropy(lg, t)).message
    summed = lambda lg, t: stable_cross_entropy(lg, t) * t.numel()  # noqa: E731
    assert "sum over pixels" in checks.check_cross_entropy_by_hand(summed).message

    def wrong_axis(logits, target):
        return -torch.log_softmax(logits, dim=3).gather(1, target.unsqueeze(1)).mean()

    assert "wrong axis" in checks.check_cross_entropy_by_hand(wrong_axis).message
    per_pixel = lambda lg, t: torch.nn.functional.cross_entropy(lg, t, reduction="none")  # noqa: E731
    assert "one number" in checks.check_cross_entropy_by_hand(per_pixel).message
    assert "your turn" in checks.check_cross_entropy_by_hand(stub).message


def border_weight(d1, d2, w0=10.0, sigma=5.0):
    return w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))


def test_border_weight_accepts_the_papers_formula():
    feedback = checks.check_border_weight(border_weight)
    assert feedback.passed, feedback.message
    assert f"{10 * math.exp(-0.5):.2f}" in feedback.message


def test_border_weight_names_the_typical_mistakes():
    def variant(expression):
        return lambda d1, d2, w0=10.0, sigma=5.0: expression(np.asarray(d1), np.asarray(d2), w0, sigma)

    cases = {
        "*sum*": lambda a, b, w0, s: w0 * np.exp(-(a**2 + b**2) / (2 * s**2)),
        "factor 2": lambda a, b, w0, s: w0 * np.exp(-((a + b) ** 2) / s**2),
        "squared": lambda a, b, w0, s: w0 * np.exp(-((a + b) ** 2) / (2 * s)),
        "w0 is missing": lambda a, b, w0, s: np.exp(-((a + b) ** 2) / (2 * s**2)),
        "not added": lambda a, b, w0, s: w0 + np.exp(-((a + b) ** 2) / (2 * s**2)),
    }
    for phrase, expression in cases.items():
        feedback = checks.check_border_weight(variant(expression))
        assert not feedback and phrase in feedback.message, (phrase, feedback.message)
    fixed_constants = checks.check_border_weight(lambda d1, d2, w0=10.0, sigma=5.0: border_weight(d1, d2))
    assert not fixed_constants and "w0=4" in fixed_constants.message
    scalar_only = checks.check_border_weight(lambda d1, d2, w0=10.0, sigma=5.0: math.exp(-((d1[0] + d2[0]) ** 2)))
    assert not scalar_only and "element-wise" in scalar_only.message
    assert "your turn" in checks.check_border_weight(stub).message
