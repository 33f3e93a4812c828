"""Checkers of notebooks 06–07: mirror padding and the class balance of the EM data, the weighted loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data import mirror_indices
from .core import Feedback, Mistake, as_array, case, check_cases, close, one_number, same_values

# -- notebook 06: EM data and augmentation ----------------------------------------------------


def _mirrored(image: np.ndarray, pad: int) -> np.ndarray:
    """``image`` mirrored by ``pad`` pixels with ``unet_lib.data.mirror_indices``, the library's one mirror rule."""
    height, width = image.shape
    return image[np.ix_(mirror_indices(-pad, height + pad, height), mirror_indices(-pad, width + pad, width))]


def _padded(mode: str) -> Callable[[np.ndarray, int], np.ndarray]:
    return lambda image, pad: np.pad(image, pad, mode=mode)


def _banded(before: Callable[[np.ndarray, int], np.ndarray], after: Callable[[np.ndarray, int], np.ndarray]):
    """A padding that puts ``before(a, pad)`` above and ``after(a, pad)`` below, rows first, then columns."""

    def pad_rows(a: np.ndarray, pad: int) -> np.ndarray:
        return np.concatenate([before(a, pad), a, after(a, pad)]) if pad else a.copy()

    return lambda image, pad: pad_rows(pad_rows(image, pad).T, pad).T


def _one_axis_only(got: Any, image: np.ndarray, pad: int) -> bool:
    """The rows padded right (or the columns) and the other axis not."""
    got, expected = as_array(got), _mirrored(image, pad)
    if got.shape != expected.shape or pad == 0:
        return False
    rows = np.array_equal(got[:, pad:-pad], expected[:, pad:-pad])
    columns = np.array_equal(got[pad:-pad], expected[pad:-pad])
    return rows != columns


def _centre_moved(got: Any, image: np.ndarray, pad: int) -> bool:
    height, width = image.shape
    return not np.array_equal(as_array(got)[pad : pad + height, pad : pad + width], image)


_MIRROR_MISTAKES = [
    Mistake(
        when=lambda got, image, pad: as_array(got).shape != _mirrored(image, pad).shape,
        says=lambda got, image, pad: "pad on all four sides: a {}×{} image padded by {} is {}×{}.".format(
            *image.shape, pad, *_mirrored(image, pad).shape
        ),
    ),
    Mistake(
        gives=_padded("symmetric"),
        says="the edge pixel is repeated — the paper mirrors *about* the edge pixel, so row −1 is row 1 (numpy's mode "
        '"reflect", not "symmetric").',
    ),
    Mistake(
        gives=_padded("constant"),
        says="that is zero padding — the overlap-tile strategy mirrors the image so the network sees plausible "
        "context.",
    ),
    Mistake(gives=_padded("edge"), says="that repeats the edge pixel outwards — mirror the image instead."),
    Mistake(gives=_padded("wrap"), says="that wraps around to the opposite side — mirror at the near border instead."),
    Mistake(
        gives=_banded(lambda a, pad: a[1 : pad + 1], lambda a, pad: a[-pad - 1 : -1]),
        says="the border rows are the right ones in the image's order — a mirror reverses them: above the image go "
        "rows pad, pad − 1, …, 1 (a step of −1).",
    ),
    Mistake(
        gives=_banded(lambda a, pad: a[-2 : -pad - 2 : -1], lambda a, pad: a[pad:0:-1]),
        says="the two sides are swapped — above the image goes the mirror of its top rows, below it that of its "
        "bottom rows.",
    ),
    Mistake(
        when=_one_axis_only,
        says="one axis is padded right and the other is not — pad the columns of the row-padded result the same way "
        "(axis=1, or the transposed array).",
    ),
    Mistake(when=_centre_moved, says="the original image must sit unchanged in the middle."),
]


def check_mirror_pad(mirror_pad: Callable[[np.ndarray, int], np.ndarray]) -> Feedback:
    """Notebook 06, exercise 1: ``mirror_pad(image, pad)`` extends an image by mirroring, as overlap-tile does.

    Named slips: the edge pixel repeated (``"symmetric"`` instead of ``"reflect"``), zeros or
    edge copies instead of a mirror image, wrapping around, the border rows not reversed, the sides swapped, one
    axis padded right and the other not, padding one side only.
    """
    image = np.arange(30.0).reshape(5, 6)
    cases = [case(image, pad, expected=_mirrored(image, pad), label=f"a 5×6 ramp, {pad}") for pad in (2, 1, 0, 4)]
    return check_cases(
        "mirror_pad",
        mirror_pad,
        cases,
        _MIRROR_MISTAKES,
        success="your padding mirrors about the border pixel, exactly like numpy.pad(mode='reflect') — the context "
        "the U-Net gets beyond the image border.",
        rule="row −k must equal row k, and row H−1+k row H−1−k (the same for columns).",
        returns=lambda got, expected: None if isinstance(got, (np.ndarray, torch.Tensor)) else "return a NumPy array.",
        same=same_values(0.0),
    )


def check_cell_fraction(cell_fraction: Callable[[list[np.ndarray]], float]) -> Feedback:
    """Notebook 06, exercise 2: ``cell_fraction(labels)``, the share of cell pixels (class 1) over all pixels.

    The labels have different sizes, so the mean of per-image fractions is wrong; percentages,
    the membrane share and counting the value 255 are the other slips it names.
    """
    labels = [np.zeros((4, 5), np.uint8), np.ones((2, 2), np.uint8), np.eye(6, dtype=np.uint8)]
    labels[0][:, :2] = 1
    cells = sum(int(np.count_nonzero(label == 1)) for label in labels)
    total = sum(label.size for label in labels)
    share = cells / total
    mistakes = [
        Mistake(
            gives=lambda labels: float(np.mean([np.mean(label == 1) for label in labels])),
            says="that is the mean of per-image fractions — images of different sizes must count by their pixels: "
            "sum the cell pixels, divide by all pixels.",
        ),
        Mistake(gives=lambda labels: 100 * share, says="that is a percentage — return a fraction between 0 and 1."),
        Mistake(gives=lambda labels: 1 - share, says="that is the membrane (class 0) share — count class 1."),
        Mistake(
            gives=lambda labels: 0.0,
            says="nothing counted — labels here are 0/1 (the loaders turned 255 into 1), so count `label == 1`.",
        ),
    ]
    return check_cases(
        "cell_fraction",
        cell_fraction,
        [case(labels, expected=share, label="three labels (4×5, 2×2, 6×6)")],
        mistakes,
        success=f"pooled over all pixels ({cells} of {total} here): the share of the cell class, weighted by image "
        "size.",
        rule="sum the cell pixels of all labels and divide by the number of all pixels.",
        returns=one_number,
        same=close(1e-9),
    )


# -- notebook 07: the weighted loss ------------------------------------------------------------


def _loss_over_axis(axis: int) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """A model of the slip: the softmax taken over ``axis`` instead of the classes (axis 1)."""
    return lambda logits, target: float(-torch.log_softmax(logits, axis).gather(1, target[:, None]).mean())


_CROSS_ENTROPY_MISTAKES = [
    Mistake(
        gives=lambda logits, target: -float(F.cross_entropy(logits, target)),
        says="the sign is flipped — the loss is −log p, which is positive.",
    ),
    Mistake(
        gives=lambda logits, target: float(F.cross_entropy(logits, target, reduction="sum")),
        says="that is the sum over pixels — the paper's energy is summed, but PyTorch (and unet_lib) take the mean.",
    ),
    Mistake(
        gives=lambda logits, target: float(F.cross_entropy(logits, target)) / logits.shape[1],
        says="you averaged over the classes too (a mean of N·C·H·W numbers, most of them zeros of the one-hot mask): "
        "pick each pixel's true class (gather), then take the mean over the pixels only.",
    ),
    Mistake(
        gives=lambda logits, target: -float(torch.softmax(logits, 1).gather(1, target[:, None]).mean()),
        says="those are probabilities, not their logarithms: the loss of a pixel is −log p of its true class — "
        "keep the log-softmax, do not exponentiate it back.",
    ),
    *(
        Mistake(
            gives=_loss_over_axis(axis),
            says="the softmax runs over the wrong axis — the classes are dimension 1 of (N, C, H, W).",
        )
        for axis in (0, 2, 3)
    ),
    Mistake(
        when=lambda got, logits, target: not torch.isfinite(torch.as_tensor(got)).all(),
        says="exp(1000) overflows — subtract the largest logit first (log-sum-exp), or use torch.log_softmax.",
    ),
]


def _loss_tensor(got: Any, expected: Any) -> str | None:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        return None
    return "return one number as a tensor (the mean over all pixels)."


def check_cross_entropy_by_hand(cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Notebook 07, exercise 1: ``cross_entropy(logits, target)``, the pixel-wise softmax cross-entropy by hand.

    Compared with ``torch.nn.functional.cross_entropy``; named slips: a missing minus sign,
    the sum instead of the mean, a mean over the classes too, probabilities without the log,
    the softmax over the wrong axis, and overflow for large logits.
    """
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=generator) * 2
    target = torch.randint(0, 3, (2, 4, 5), generator=generator)
    big, big_target = torch.tensor([[[[1000.0]], [[-1000.0]]]]), torch.tensor([[[1]]])
    cases = [
        case(logits, target, expected=float(F.cross_entropy(logits, target)), label="random (2, 3, 4, 5) logits"),
        case(big, big_target, expected=2000.0, label="logits (1000, −1000) with class 1"),
    ]
    return check_cases(
        "cross_entropy",
        cross_entropy,
        cases,
        _CROSS_ENTROPY_MISTAKES,
        success="the same number as PyTorch's cross_entropy, and stable for logits of ±1000.",
        rule="take log_softmax over the classes (dim 1), pick each pixel's true class, negate, average.",
        on_crash="the shapes must line up: logits (N, C, H, W), target (N, H, W) — keep the class axis where you "
        "subtract or divide (keepdim=True), and give gather the target as (N, 1, H, W) (target.unsqueeze(1))",
        returns=_loss_tensor,
        same=close(1e-4),
    )


def _border_term(d1: np.ndarray, d2: np.ndarray, w0: float, sigma: float) -> np.ndarray:
    """The paper's border term, as ``unet_lib.losses.weight_map`` adds it to the class weights."""
    return w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))


def _elementwise(got: Any, expected: np.ndarray) -> str | None:
    array = as_array(got)
    if array is not None and array.shape == expected.shape:
        return None
    return f"border_weight must work element-wise on arrays, shape {expected.shape} here (use np.exp, not math.exp)."


_BORDER_MISTAKES = [
    Mistake(
        gives=lambda d1, d2, w0, sigma: w0 * np.exp(-(d1**2 + d2**2) / (2 * sigma**2)),
        says="square the *sum* d1 + d2, not each distance: (d1 + d2)².",
    ),
    Mistake(
        gives=lambda d1, d2, w0, sigma: w0 * np.exp(-((d1 + d2) ** 2) / sigma**2),
        says="the denominator is 2σ² — the factor 2 is missing.",
    ),
    Mistake(
        gives=lambda d1, d2, w0, sigma: w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma)),
        says="σ must be squared in the denominator: 2σ².",
    ),
    Mistake(
        gives=lambda d1, d2, w0, sigma: w0 * np.exp(-((d1 + d2) ** 2) / 2 * sigma**2),
        says="`/ 2 * sigma**2` divides by 2 and then *multiplies* by σ² — put the denominator in parentheses: "
        "/ (2 * sigma**2).",
    ),
    Mistake(
        gives=lambda d1, d2, w0, sigma: w0 * np.exp((d1 + d2) ** 2 / (2 * sigma**2)),
        says="the exponent lost its minus sign: the weight falls from w0 as the gap d1 + d2 grows, "
        "exp(−(d1 + d2)² / (2σ²)).",
    ),
    Mistake(
        gives=lambda d1, d2, w0, sigma: _border_term(d1, d2, 1.0, sigma),
        says="w0 is missing — it sets how much the borders weigh (10 in the paper).",
    ),
    Mistake(
        gives=lambda d1, d2, w0, sigma: w0 + _border_term(d1, d2, 1.0, sigma),
        says="w0 multiplies the exponential, it is not added.",
    ),
]


def check_border_weight(border_weight: Callable[..., np.ndarray]) -> Feedback:
    """Notebook 07, exercise 2: ``border_weight(d1, d2, w0=10, sigma=5)``, the paper's w0·exp(−(d1+d2)²/(2σ²)).

    Named slips: squaring each distance instead of their sum, the factor 2 or the square on σ
    forgotten, ``/ 2 * sigma**2`` without parentheses, the minus sign lost, w0 left out or added
    instead of multiplied; a crash (``math.exp`` on an array) is told to use ``np.exp``.
    """
    d1 = np.array([0.0, 1.0, 2.0, 3.0, 1.5, 6.0])
    d2 = np.array([0.0, 1.0, 4.0, 3.0, 7.0, 9.0])
    cases = [
        case(d1, d2, w0=w0, sigma=s, expected=_border_term(d1, d2, w0, s), label=f"6 distances, w0={w0:g}, σ={s:g}")
        for w0, s in ((10.0, 5.0), (4.0, 2.5))
    ]
    near, far = (_border_term(np.float64(gap), np.float64(0.0), 10.0, 5.0) for gap in (5, 15))
    return check_cases(
        "border_weight",
        border_weight,
        cases,
        _BORDER_MISTAKES,
        success=f"with w0 = 10 and σ = 5 a pixel in a 5 px gap (d1 + d2 = 5) gets {near:.2f} extra weight, one in a "
        f"15 px gap only {far:.2f}.",
        rule="w(x) = w0 · exp(−(d1 + d2)² / (2σ²)), with w0 and sigma from the arguments.",
        returns=_elementwise,
        same=same_values(1e-6),
        on_crash="border_weight must work element-wise on NumPy arrays: use np.exp (math.exp takes one number)",
    )
