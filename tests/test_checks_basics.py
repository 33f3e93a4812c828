"""Checkers of notebooks 00–01 (``unet_lib.checks.basics``): answers written here, independently of unet_lib.

Each checker passes a known-right answer and names every typical mistake it claims to name.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checker_answers import assert_passed, assert_rejected
from torch import nn

from unet_lib import checks

# -- notebook 00 --------------------------------------------------------------------------------------


def to_model_input(image: np.ndarray) -> torch.Tensor:
    return torch.tensor(image, dtype=torch.float32).unsqueeze(0).unsqueeze(0) / 255


def min_max_scaled(image: np.ndarray) -> torch.Tensor:
    tensor = torch.tensor(image, dtype=torch.float32)
    return ((tensor - tensor.min()) / (tensor.max() - tensor.min()))[None, None]


def test_to_model_input_accepts_division_by_255_and_min_max_scaling():
    assert_passed(checks.check_to_model_input(to_model_input), "(1, 1, H, W) float32")
    assert_passed(checks.check_to_model_input(min_max_scaled))


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda im: torch.tensor(im / 255, dtype=torch.float32), ["(5, 7)", "batch and a channel axis in front"]),
        (lambda im: torch.tensor(im / 255, dtype=torch.float32)[:, :, None, None], ["went to the end"]),
        (lambda im: torch.tensor(im.T / 255, dtype=torch.float32)[None, None], ["swapped"]),
        (lambda im: torch.tensor(im / 255, dtype=torch.float32)[None], ["3 axes"]),
        (lambda im: torch.tensor(im)[None, None], ["uint8", "floating point", ".float()"]),
        (lambda im: torch.tensor(im / 255)[None, None], ["float64", "float32"]),
        (lambda im: torch.tensor(im, dtype=torch.float32)[None, None], ["values go up to 255", "dividing by 255"]),
        (lambda im: im[None, None] / 255, ["array", "torch.Tensor"]),
        (lambda im: 1 - torch.tensor(im, dtype=torch.float32)[None, None] / 255, ["not the pixels divided by 255"]),
    ],
    ids=["2-D", "axes at the end", "transposed", "3-D", "uint8", "float64", "unscaled", "NumPy", "inverted"],
)
def test_to_model_input_names_the_mistake(answer, words):
    assert_rejected(checks.check_to_model_input(answer), *words)


def test_to_model_input_names_the_image_a_hard_coded_shape_fails_on():
    def hard_coded(image):
        return torch.tensor(image, dtype=torch.float32).reshape(1, 1, 5, 7) / 255  # fits the first image only

    assert_rejected(checks.check_to_model_input(hard_coded), "RuntimeError", "a 3×4 image", "input's shape")


def pixels_lost_per_side(input_size: int, output_size: int) -> int:
    lost = 0
    while output_size + 2 * lost < input_size:
        lost += 1
    return lost


def test_pixels_lost_per_side():
    assert_passed(checks.check_pixels_lost_per_side(pixels_lost_per_side), "92 pixels on every side")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: i - o), "returned 184, expected 92", "both sides")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: (o - i) // 2), "negative")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: (i - o) / 2), "a float", "//")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: 92), "(20, 12) returned 92, expected 4", "centre")


# -- notebook 01 --------------------------------------------------------------------------------------


def conv_output_size(size: int, kernel_size: int = 3, padding: int = 0) -> int:
    positions = range(-padding, size + padding - kernel_size + 1)  # where the kernel's left edge can sit
    return len(positions)


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda s, kernel_size=3, padding=0: s + 2 * padding - kernel_size, ["off by one", "3 positions in 5"]),
        (lambda s, kernel_size=3, padding=0: s + 2 * padding - kernel_size + 2, ["one too many"]),
        (lambda s, kernel_size=3, padding=0: s - kernel_size + 1, ["padding=1", "padding is ignored"]),
        (lambda s, kernel_size=3, padding=0: s + padding - kernel_size + 1, ["both sides"]),
        (lambda s, kernel_size=3, padding=0: s + 2 * padding - 2, ["kernel_size=5", "fixed at 3"]),
        (lambda s, kernel_size=3, padding=0: (s + 2 * padding - kernel_size + 1) / 1, ["a float"]),
    ],
    ids=["off by one", "one too many", "no padding", "padding one side", "kernel fixed", "float"],
)
def test_conv_output_size(answer, words):
    assert_passed(checks.check_conv_output_size(conv_output_size), "572 into 570")
    assert_rejected(checks.check_conv_output_size(answer), *words)


def conv_parameter_count(in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True) -> int:
    one_kernel = kernel_size * kernel_size
    return out_channels * (in_channels * one_kernel + (1 if bias else 0))


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda i, o, kernel_size=3, bias=True: o * i * kernel_size**2, ["bias is missing"]),
        (lambda i, o, kernel_size=3, bias=True: o * i * kernel_size**2 + o, ["bias=False", "no bias to count"]),
        (lambda i, o, kernel_size=3, bias=True: o * i * kernel_size**2 + (i if bias else 0), ["not the input"]),
        (lambda i, o, kernel_size=3, bias=True: o * i * kernel_size + (o if bias else 0), ["3·3 = 9 weights"]),
        (lambda i, o, kernel_size=3, bias=True: o * kernel_size**2 + (o if bias else 0), ["multiply by in_channels"]),
        (lambda i, o, kernel_size=3, bias=True: i * kernel_size**2 + (o if bias else 0), ["multiply by out_channels"]),
        (lambda i, o, kernel_size=3, bias=True: float(o * i * kernel_size**2 + o), ["a float"]),
    ],
    ids=["no bias", "bias when False", "bias per input", "k not k²", "no in_channels", "no out_channels", "float"],
)
def test_conv_parameter_count(answer, words):
    assert_passed(checks.check_conv_parameter_count(conv_parameter_count), "640 + 36,928 = 37,568")
    assert_rejected(checks.check_conv_parameter_count(answer), *words)


class TwoConvolutions(nn.Module):
    """A right block written with torch.relu in forward: only its behaviour can tell that it is right."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(in_channels, out_channels, 3)
        self.second = nn.Conv2d(out_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.second(torch.relu(self.first(x))))


def my_double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3), nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3))


def block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3), nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3), nn.ReLU()
    )


def test_double_conv_block_accepts_a_sequential_and_a_module():
    assert_passed(checks.check_double_conv_block(block), "12×12 input becomes 8×8")
    assert_passed(checks.check_double_conv_block(TwoConvolutions))


def _seq(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


@pytest.mark.parametrize(
    "answer, words",
    [
        (my_double_conv, ["ReLU after the second"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.Conv2d(o, o, 3), nn.ReLU()), ["ReLU between"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.Conv2d(o, o, 3)), ["no ReLU at all"]),
        (
            lambda i, o: _seq(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU()),
            ["padding", "unpadded"],
        ),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(i, o, 3), nn.ReLU()), ["convolution 2", "8 → 8"]),
        (lambda i, o: _seq(nn.Conv2d(i, 64, 3), nn.ReLU(), nn.Conv2d(64, o, 3), nn.ReLU()), ["convolution 1"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 5), nn.ReLU(), nn.Conv2d(o, o, 5), nn.ReLU()), ["kernel_size", "3×3"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3, stride=2), nn.ReLU(), nn.Conv2d(o, o, 3), nn.ReLU()), ["stride"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3, bias=False), nn.ReLU(), nn.Conv2d(o, o, 3), nn.ReLU()), ["no bias"]),
        (
            lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.BatchNorm2d(o), nn.ReLU(), nn.Conv2d(o, o, 3), nn.ReLU()),
            ["batch norm"],
        ),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.ReLU()), ["found 1 convolution"]),
        (lambda i, o: _seq(nn.ReLU(), nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(o, o, 3)), ["order"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(o, o, 3), nn.ReLU(), nn.Flatten()), ["only the"]),
        (lambda i, o: [nn.Conv2d(i, o, 3), nn.ReLU()], ["nn.Module"]),
    ],
    ids=[
        "no final ReLU",
        "no middle ReLU",
        "no ReLU",
        "padded",
        "conv 2 channels",
        "conv 1 channels",
        "kernel 5",
        "stride 2",
        "no bias",
        "batch norm",
        "one conv",
        "ReLU first",
        "extra layer",
        "a list",
    ],
)
def test_double_conv_block_names_the_mistake(answer, words):
    assert_rejected(checks.check_double_conv_block(answer), *words)


def test_to_model_input_names_standardising_and_axes_in_the_wrong_place():
    def standardised(image):
        tensor = torch.tensor(image, dtype=torch.float32)
        return ((tensor - tensor.mean()) / tensor.std())[None, None]

    assert_rejected(checks.check_to_model_input(standardised), "below 0", "[0, 1]", "255")
    middle = checks.check_to_model_input(lambda im: torch.tensor(im / 255, dtype=torch.float32)[None, :, :, None])
    assert_rejected(middle, "(1, 5, 7, 1)", "(1, 1, H, W)")


def test_conv_output_size_tries_an_even_kernel():
    """size − 2·(k // 2) is right for odd kernels only: a 2×2 kernel fits in size − 1 positions."""
    half_kernel_per_side = checks.check_conv_output_size(
        lambda s, kernel_size=3, padding=0: s + 2 * padding - 2 * (kernel_size // 2)
    )
    assert_rejected(half_kernel_per_side, "kernel_size=2", "even", "size − kernel_size + 1")


def test_double_conv_block_accepts_padding_valid():
    def valid(i, o):
        return _seq(nn.Conv2d(i, o, 3, padding="valid"), nn.ReLU(), nn.Conv2d(o, o, 3, padding="valid"), nn.ReLU())

    assert_passed(checks.check_double_conv_block(valid))


@pytest.mark.parametrize(
    "answer, words",
    [
        (
            lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.LeakyReLU(), nn.Conv2d(o, o, 3), nn.LeakyReLU()),
            ["LeakyReLU", "ReLU"],
        ),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.Sigmoid(), nn.Conv2d(o, o, 3), nn.Sigmoid()), ["Sigmoid"]),
        (lambda i, o: _seq(nn.Conv2d(i, o, 3), nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(o, o, 3), nn.ReLU()), ["dropout"]),
    ],
    ids=["leaky", "sigmoid", "dropout"],
)
def test_double_conv_block_names_another_activation_and_dropout(answer, words):
    assert_rejected(checks.check_double_conv_block(answer), *words)


class SecondDefinedFirst(nn.Module):
    """Right, with the layers defined in the other order: only the forward pass tells which comes first."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.second = nn.Conv2d(out_channels, out_channels, 3)
        self.first = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.second(torch.relu(self.first(x))))


def test_double_conv_block_takes_the_convolutions_in_the_order_forward_calls_them():
    assert_passed(checks.check_double_conv_block(SecondDefinedFirst))
