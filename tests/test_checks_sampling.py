"""Checkers of notebooks 02–03 (``unet_lib.checks.sampling``): answers written here, independently of unet_lib.

Each checker passes a known-right answer and names every typical mistake it claims to name.
"""

from __future__ import annotations

import pytest
import torch
from checker_answers import assert_passed, assert_rejected
from torch import nn

from unet_lib import checks

# -- notebook 02 --------------------------------------------------------------------------------------


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """2×2 max pooling by looping over the windows (the slow, obvious way)."""
    n, c, h, w = x.shape
    out = torch.empty(n, c, h // 2, w // 2)
    for i in range(h // 2):
        for j in range(w // 2):
            out[:, :, i, j] = x[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].flatten(2).max(dim=2).values
    return out


def windows(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2)


def test_max_pool_by_hand_accepts_a_loop_and_torch():
    assert_passed(checks.check_max_pool_by_hand(max_pool_2x2), "(2, 3, 6, 8) and (1, 1, 10, 4)")
    assert_passed(checks.check_max_pool_by_hand(nn.MaxPool2d(2)))


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda x: windows(x).mean(dim=(3, 5)), ["average pooling"]),
        (lambda x: windows(x).amin(dim=(3, 5)), ["minimum"]),
        (lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4).amax(dim=-1), ["not 2×2 squares"]),
        (lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3]).amax(dim=3), ["only the height"]),
        (lambda x: x.reshape(*x.shape[:3], x.shape[3] // 2, 2).amax(dim=4), ["only the width"]),
        (windows, ["did not reduce"]),
        (lambda x: windows(x).amax(dim=(3, 5))[0], ["keep four axes"]),
        (lambda x: windows(x).amax(dim=(3, 5))[:, :1], ["N and C must stay"]),
        (lambda x: windows(x).amax(dim=(3, 5)).tolist(), ["torch.Tensor"]),
        (lambda x: x.reshape(2, 3, 3, 2, 4, 2).amax(dim=(3, 5)), ["(1, 1, 10, 4)", "x.shape"]),  # first input's sizes
    ],
    ids=["mean", "min", "row windows", "height only", "width only", "not reduced", "3 axes", "N, C", "list", "fixed"],
)
def test_max_pool_by_hand_names_the_mistake(answer, words):
    assert_rejected(checks.check_max_pool_by_hand(answer), *words)


def contracting_path_sizes(input_size: int, depth: int = 4, trim: int = 4, check_odd: bool = True) -> list[int]:
    sizes, size = [], input_size
    for level in range(depth + 1):
        size -= trim
        sizes.append(size)
        if level < depth:
            if check_odd and size % 2:
                raise ValueError(f"odd size {size}")
            size //= 2
    return sizes


def test_contracting_path_sizes_accepts_the_walk():
    assert_passed(checks.check_contracting_path_sizes(contracting_path_sizes), "572 → [568, 280, 136, 64, 28]")


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=2), ["valid size", "forget the second convolution"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=2, check_odd=False), ["off by 2", "second"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=8, check_odd=False), ["off by 4", "not 8"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=8), ["valid size", "not 8"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth, check_odd=False), ["570 → 566 → 283 → 279", "ValueError"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth)[:-1], ["bottleneck is missing"]),
        (lambda n, depth=4: [s // 2 for s in contracting_path_sizes(n, depth)[:-1]], ["after pooling"]),
        (lambda n, depth=4: [n - 4 * (k + 1) for k in range(depth + 1)], ["expected [568, 280, 136, 64, 28]"]),
        (lambda n, depth=4: [float(s) for s in contracting_path_sizes(n, depth)], ["a list of ints"]),
    ],
    ids=[
        "trim 2 raises",
        "trim 2",
        "trim 8",
        "trim 8 raises",
        "odd pooled",
        "no bottleneck",
        "pooled",
        "no pooling",
        "floats",
    ],
)
def test_contracting_path_sizes_names_the_mistake(answer, words):
    assert_rejected(checks.check_contracting_path_sizes(answer), *words)


def test_contracting_path_sizes_wants_a_value_error_for_odd_sizes():
    def raises_type_error(n: int, depth: int = 4) -> list[int]:
        try:
            return contracting_path_sizes(n, depth)
        except ValueError as error:
            raise TypeError(str(error)) from None

    assert_rejected(checks.check_contracting_path_sizes(raises_type_error), "ValueError, not TypeError")


def test_contracting_path_sizes_with_pooled_sizes_in_between():
    def every_size(n: int, depth: int = 4) -> list[int]:
        sizes = contracting_path_sizes(n, depth)
        return [s for size in sizes[:-1] for s in (size, size // 2)] + sizes[-1:]

    assert_rejected(checks.check_contracting_path_sizes(every_size), "not after the pools")


# -- notebook 03 --------------------------------------------------------------------------------------


def transposed_conv2d(x: torch.Tensor, kernel: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Every input pixel stamps x[i, j] · kernel into the output, pixel by pixel."""
    k_h, k_w = kernel.shape
    out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            for a in range(k_h):
                for b in range(k_w):
                    out[i * stride + a, j * stride + b] += x[i, j] * kernel[a, b]
    return out


def overwrites(x, kernel, stride=2):
    k_h, k_w = kernel.shape
    out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] = x[i, j] * kernel
    return out


def kernel_indices_swapped(x, kernel, stride=2):
    """The slip of issue 12: kernel[a, b] stamped at (b, a), i.e. the kernel transposed."""
    k_h, k_w = kernel.shape
    out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            for a in range(k_h):
                for b in range(k_w):
                    out[i * stride + b, j * stride + a] += x[i, j] * kernel[a, b]
    return out


def size_times_stride(x, kernel, stride=2):
    out = torch.zeros(x.shape[0] * stride, x.shape[1] * stride)
    k = min(kernel.shape[0], stride)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i * stride : i * stride + k, j * stride : j * stride + k] += x[i, j] * kernel[:k, :k]
    return out


def transposed_for_non_square_inputs(x, kernel, stride=2):
    out = transposed_conv2d(x, kernel, stride)
    return out.T if x.shape[0] != x.shape[1] else out


def test_transposed_conv_accepts_the_stamps():
    assert_passed(checks.check_transposed_conv_by_hand(transposed_conv2d), "match F.conv_transpose2d")


@pytest.mark.parametrize(
    "answer, words",
    [
        (overwrites, ["2×3 input, a 3×3 kernel", "added (+=), not assigned (=)"]),
        (kernel_indices_swapped, ["kernel is transposed", "rows and columns swapped"]),
        (lambda x, kernel, stride=2: transposed_conv2d(x, kernel.flip(0, 1), stride), ["rotated by 180°"]),
        (lambda x, kernel, stride=2: transposed_conv2d(x, kernel.flip(0), stride), ["upside down"]),
        (lambda x, kernel, stride=2: transposed_conv2d(x, kernel.flip(1), stride), ["left to right"]),
        (size_times_stride, ["shape (4, 6), expected (5, 7)", "(size − 1)·stride + kernel_size"]),
        (transposed_for_non_square_inputs, ["shape (7, 5), expected (5, 7)", "height and width are swapped"]),
        (lambda x, kernel, stride=2: transposed_conv2d(x, kernel, stride)[:-1], ["((H − 1)·stride + k_h"]),
        (lambda x, kernel, stride=2: 2 * transposed_conv2d(x, kernel, stride), ["value at (0, 0) is 2, expected 1"]),
        (lambda x, kernel, stride=2: transposed_conv2d(x, kernel, stride).flatten(), ["2-D tensor"]),
    ],
    ids=[
        "overwrite",
        "transposed",
        "rotated",
        "flipped rows",
        "flipped columns",
        "size·stride",
        "hw",
        "short",
        "2x",
        "1-D",
    ],
)
def test_transposed_conv_names_the_mistake(answer, words):
    assert_rejected(checks.check_transposed_conv_by_hand(answer), *words)


def transposed_conv_output_size(size: int, kernel_size: int = 2, stride: int = 2) -> int:
    last_stamp_starts = (size - 1) * stride
    return last_stamp_starts + kernel_size


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda size, kernel_size=2, stride=2: size * stride, ["size · stride"]),
        (lambda size, kernel_size=2, stride=2: (size - 1) * stride + kernel_size - 1, ["off by one"]),
        (lambda size, kernel_size=2, stride=2: (size - 1) * stride + kernel_size + 1, ["off by one"]),
        (lambda size, kernel_size=2, stride=2: (size - kernel_size) // stride + 1, ["ordinary convolution"]),
        (lambda size, kernel_size=2, stride=2: 2.0 * size, ["a float"]),
        (lambda size, kernel_size=2, stride=2: 56, ["returned 56, expected 8"]),
    ],
    ids=["size·stride", "one short", "one over", "shrinks", "float", "constant"],
)
def test_transposed_output_size(answer, words):
    assert_passed(checks.check_transposed_output_size(transposed_conv_output_size), "28 → 56")
    assert_rejected(checks.check_transposed_output_size(answer), *words)


def test_max_pool_by_hand_names_max_with_indices_and_a_wrong_output_shape():
    assert_rejected(checks.check_max_pool_by_hand(lambda x: windows(x).max(dim=5)), "values and indices", "amax")
    wrong_axes = checks.check_max_pool_by_hand(lambda x: windows(x).amax(dim=(2, 4)))
    assert_rejected(wrong_axes, "returned shape (2, 3, 2, 2)", "(N, C, H // 2, W // 2)", "axes 3 and 5")


def test_contracting_path_sizes_accepts_an_odd_bottleneck():
    """588 → … → 33 → 29: no pool follows the bottleneck, so its odd size is fine; refusing it is the slip."""

    def bottleneck_checked_too(input_size: int, depth: int = 4) -> list[int]:
        sizes = contracting_path_sizes(input_size, depth)
        if sizes[-1] % 2:
            raise ValueError(f"odd size {sizes[-1]}")
        return sizes

    assert_rejected(
        checks.check_contracting_path_sizes(bottleneck_checked_too), "588", "valid", "bottleneck", "no pool"
    )


def stamps_without_stride(x, kernel, stride=2):
    k_h, k_w = kernel.shape
    out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i : i + k_h, j : j + k_w] += x[i, j] * kernel
    return out


def test_transposed_conv_names_stamps_placed_without_the_stride():
    assert_rejected(checks.check_transposed_conv_by_hand(stamps_without_stride), "not at (i, j)", "i·stride")
