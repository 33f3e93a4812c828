"""The checkers of notebooks 00–02: each accepts the reference solution, names typical mistakes, and
answers a stub (``raise NotImplementedError``) with "your turn" instead of a traceback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unet_lib import checks


def stub(*args, **kwargs):
    raise NotImplementedError("Your turn")


def assert_rejected(feedback: checks.Feedback, *words: str) -> None:
    """The verdict is "not yet", and its message names the mistake (every word appears in it)."""
    assert not feedback.passed, feedback
    assert repr(feedback).startswith("❌")
    for word in words:
        assert word.lower() in feedback.message.lower(), f"{word!r} not in {feedback.message!r}"


# -- notebook 00 -------------------------------------------------------------------------------------


def to_model_input(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).float()[None, None] / 255


def test_to_model_input_accepts_reference_and_min_max_scaling():
    assert checks.check_to_model_input(to_model_input).passed
    min_max = lambda im: (lambda t: (t - t.min()) / (t.max() - t.min()))(torch.from_numpy(im).float())[None, None]  # noqa: E731
    assert checks.check_to_model_input(min_max).passed


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda im: torch.from_numpy(im).float() / 255, ["(5, 7)", "batch", "channel"]),
        (lambda im: (torch.from_numpy(im).float() / 255)[:, :, None, None], ["to the end"]),
        (lambda im: (torch.from_numpy(im).float() / 255).T[None, None], ["swapped"]),
        (lambda im: (torch.from_numpy(im).float() / 255)[None], ["3 axes"]),
        (lambda im: torch.from_numpy(im)[None, None], ["uint8", ".float()"]),
        (lambda im: torch.from_numpy(im / 255)[None, None], ["float64"]),
        (lambda im: torch.from_numpy(im).float()[None, None], ["255"]),
        (lambda im: im[None, None] / 255, ["torch.Tensor", "ndarray"]),
        (lambda im: (1 - torch.from_numpy(im).float() / 255)[None, None], ["values"]),
    ],
    ids=["2-D", "axes at end", "transposed", "3-D", "uint8", "float64", "unscaled", "numpy", "inverted"],
)
def test_to_model_input_names_the_mistake(answer, words):
    assert_rejected(checks.check_to_model_input(answer), *words)


def test_to_model_input_catches_a_hard_coded_shape():
    hard_coded = lambda im: torch.from_numpy(im).float().reshape(1, 1, 5, 7) / 255  # noqa: E731 — fits the first image only
    assert_rejected(checks.check_to_model_input(hard_coded), "3×4")


def test_pixels_lost_per_side():
    assert checks.check_pixels_lost_per_side(lambda i, o: (i - o) // 2).passed
    assert "92" in checks.check_pixels_lost_per_side(lambda i, o: (i - o) // 2).message
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: i - o), "both sides")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: (o - i) // 2), "negative")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: (i - o) / 2), "float", "//")
    assert_rejected(checks.check_pixels_lost_per_side(lambda i, o: 92), "expected")


# -- notebook 01 -------------------------------------------------------------------------------------


def conv_output_size(size: int, kernel_size: int = 3, padding: int = 0) -> int:
    return size + 2 * padding - kernel_size + 1


def test_conv_output_size():
    assert checks.check_conv_output_size(conv_output_size).passed
    assert_rejected(
        checks.check_conv_output_size(lambda s, kernel_size=3, padding=0: s + 2 * padding - kernel_size), "off by one"
    )
    assert_rejected(
        checks.check_conv_output_size(lambda s, kernel_size=3, padding=0: s + 2 * padding - kernel_size + 2),
        "one too many",
    )
    assert_rejected(
        checks.check_conv_output_size(lambda s, kernel_size=3, padding=0: s - kernel_size + 1), "padding is ignored"
    )
    assert_rejected(
        checks.check_conv_output_size(lambda s, kernel_size=3, padding=0: s + padding - kernel_size + 1), "both sides"
    )
    assert_rejected(
        checks.check_conv_output_size(lambda s, kernel_size=3, padding=0: s + 2 * padding - 2), "kernel_size"
    )
    assert_rejected(
        checks.check_conv_output_size(lambda s, kernel_size=3, padding=0: (s + 2 * padding - kernel_size + 1) / 1),
        "float",
    )


def conv_parameter_count(in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True) -> int:
    return out_channels * in_channels * kernel_size**2 + (out_channels if bias else 0)


@pytest.mark.parametrize(
    "in_channels, out_channels, kernel_size, bias", [(1, 64, 3, True), (64, 64, 3, True), (7, 5, 5, False)]
)
def test_reference_parameter_count_agrees_with_torch(in_channels, out_channels, kernel_size, bias):
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)
    assert conv_parameter_count(in_channels, out_channels, kernel_size, bias) == sum(
        p.numel() for p in conv.parameters()
    )


def test_conv_parameter_count():
    feedback = checks.check_conv_parameter_count(conv_parameter_count)
    assert feedback.passed and "37,568" in feedback.message
    mistakes = {
        "bias is missing": lambda i, o, kernel_size=3, bias=True: o * i * kernel_size**2,
        "no bias to count": lambda i, o, kernel_size=3, bias=True: o * i * kernel_size**2 + o,
        "not the input channels": lambda i, o, kernel_size=3, bias=True: o * i * kernel_size**2 + (i if bias else 0),
        "weights per input–output": lambda i, o, kernel_size=3, bias=True: o * i * kernel_size + (o if bias else 0),
        "multiply by in_channels": lambda i, o, kernel_size=3, bias=True: o * kernel_size**2 + (o if bias else 0),
    }
    for words, answer in mistakes.items():
        assert_rejected(checks.check_conv_parameter_count(answer), words)


def my_double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3),
        nn.ReLU(inplace=True),
    )


class FunctionalDoubleConv(nn.Module):
    """A correct block written with F.relu in forward: only the behaviour can tell it is right."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


def test_double_conv_block_accepts_reference_library_and_module():
    from unet_lib.layers import double_conv

    assert checks.check_double_conv_block(my_double_conv).passed
    assert checks.check_double_conv_block(lambda i, o: double_conv(i, o)).passed
    assert checks.check_double_conv_block(FunctionalDoubleConv).passed


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(o, o, 3)), ["ReLU after the second"]),
        (lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3), nn.Conv2d(o, o, 3), nn.ReLU()), ["ReLU between"]),
        (lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3), nn.Conv2d(o, o, 3)), ["no ReLU at all"]),
        (
            lambda i, o: nn.Sequential(
                nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU()
            ),
            ["padding", "unpadded"],
        ),
        (
            lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(i, o, 3), nn.ReLU()),
            ["wrong channel count", "convolution 2", "8 → 8"],
        ),
        (
            lambda i, o: nn.Sequential(nn.Conv2d(i, 64, 3), nn.ReLU(), nn.Conv2d(64, o, 3), nn.ReLU()),
            ["wrong channel count", "convolution 1"],
        ),
        (
            lambda i, o: nn.Sequential(nn.Conv2d(i, o, 5), nn.ReLU(), nn.Conv2d(o, o, 5), nn.ReLU()),
            ["kernel_size", "3×3"],
        ),
        (lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU()), ["found 1 convolution"]),
        (lambda i, o: nn.Sequential(nn.ReLU(), nn.Conv2d(i, o, 3), nn.ReLU(), nn.Conv2d(o, o, 3)), ["order"]),
        (lambda i, o: [nn.Conv2d(i, o, 3), nn.ReLU()], ["nn.Module"]),
    ],
    ids=[
        "no final ReLU",
        "no middle ReLU",
        "no ReLU",
        "padded",
        "conv2 channels",
        "conv1 channels",
        "kernel 5",
        "one conv",
        "ReLU first",
        "a list",
    ],
)
def test_double_conv_block_names_the_mistake(answer, words):
    assert_rejected(checks.check_double_conv_block(answer), *words)


# -- notebook 02 -------------------------------------------------------------------------------------


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))


def test_max_pool_by_hand():
    assert checks.check_max_pool_by_hand(max_pool_2x2).passed
    assert checks.check_max_pool_by_hand(nn.MaxPool2d(2)).passed
    mistakes = {
        "average pooling": lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3] // 2, 2).mean(dim=(3, 5)),
        "not 2×2 squares": lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4).amax(dim=-1),
        "only the height": lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3]).amax(dim=3),
        "did not reduce": lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3] // 2, 2),
        "minimum": lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3] // 2, 2).amin(dim=(3, 5)),
        "(1, 1, 10, 4)": lambda x: x.reshape(2, 3, 3, 2, 4, 2).amax(dim=(3, 5)),  # sizes of the first input, hard-coded
    }
    for words, answer in mistakes.items():
        assert_rejected(checks.check_max_pool_by_hand(answer), words)


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


def test_contracting_path_sizes():
    feedback = checks.check_contracting_path_sizes(contracting_path_sizes)
    assert feedback.passed and "[568, 280, 136, 64, 28]" in feedback.message


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=2), ["forget the second convolution"]),
        (
            lambda n, depth=4: contracting_path_sizes(n, depth, trim=2, check_odd=False),
            ["off by 2", "second convolution"],
        ),
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=8, check_odd=False), ["off by 4", "not 8"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth, trim=8), ["valid size", "not 8"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth, check_odd=False), ["odd size 279", "ValueError"]),
        (lambda n, depth=4: contracting_path_sizes(n, depth)[:-1], ["bottleneck is missing"]),
        (lambda n, depth=4: [s // 2 for s in contracting_path_sizes(n, depth)[:-1]], ["after pooling"]),
        (lambda n, depth=4: [n - 4 * (k + 1) for k in range(depth + 1)], ["expected"]),
    ],
    ids=[
        "trim 2 raises",
        "trim 2",
        "trim 8",
        "trim 8 raises",
        "odd pooled",
        "no bottleneck",
        "pooled sizes",
        "no pooling",
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


# -- every checker ----------------------------------------------------------------------------------

CHECKERS = [
    checks.check_to_model_input,
    checks.check_pixels_lost_per_side,
    checks.check_conv_output_size,
    checks.check_conv_parameter_count,
    checks.check_double_conv_block,
    checks.check_max_pool_by_hand,
    checks.check_contracting_path_sizes,
]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_a_stub_gets_your_turn(checker):
    feedback = checker(stub)
    assert not feedback.passed and "your turn" in feedback.message


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_a_crash_is_reported_not_raised(checker):
    def crashes(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    assert_rejected(checker(crashes), "ZeroDivisionError")
