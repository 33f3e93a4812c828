"""Checkers of notebooks 04–05 (``unet_lib.checks.unet``): answers written here, independently of unet_lib.

Each checker passes a known-right answer and names every typical mistake it claims to name.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from checker_answers import assert_passed, assert_rejected
from torch import nn

from unet_lib import checks
from unet_lib.checks.unet import _ModuleCreationLog

# -- notebook 04 --------------------------------------------------------------------------------------


def my_center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    height, width = size
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


def crop_at(top_of, left_of):
    """A crop whose top and left offsets come from the given rules (big, small) → offset."""

    def crop(x, size):
        h, w = size
        top, left = top_of(x.shape[-2], h), left_of(x.shape[-1], w)
        return x[..., top : top + h, left : left + w]

    return crop


def centre(big: int, small: int) -> int:
    return (big - small) // 2


def test_center_crop_accepts_slicing():
    assert_passed(checks.check_center_crop(my_center_crop), "568×568 → 392×392 cuts 88 px")


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda x, size: x[..., : size[0], : size[1]], ["top-left corner", "= (2, 2)"]),
        (lambda x, size: x[..., x.shape[-2] - size[0] :, x.shape[-1] - size[1] :], ["bottom-right corner"]),
        (crop_at(lambda big, small: centre(big, small) + 1, centre), ["row 3, column 2", "off-by-one offset"]),
        (crop_at(lambda big, small: (big - small + 1) // 2, centre), ["round down with //"]),
        (crop_at(lambda big, small: centre(big, small) + 2, centre), ["row 4, column 2", "= ((H − h) // 2"]),
        (lambda x, size: my_center_crop(x, size)[..., :-1, :-1], ["off by one in the size"]),
        (lambda x, size: my_center_crop(x, size)[..., :2, :2], ["exactly 6×6"]),
        (lambda x, size: my_center_crop(x, size[::-1]), ["(2, 1, 9, 12) map, (4, 6)", "height and width are swapped"]),
        (lambda x, size: my_center_crop(x, size)[0], ["keep the batch and channel axes"]),
        (lambda x, size: my_center_crop(x, size) * 0, ["not a block of the input"]),
        (lambda x, size: my_center_crop(x, size).numpy(), ["torch.Tensor"]),
    ],
    ids=[
        "top-left",
        "bottom-right",
        "offset+1",
        "round up",
        "offset+2",
        "size-1",
        "size",
        "swapped",
        "batch",
        "zeros",
        "NumPy",
    ],
)
def test_center_crop_names_the_mistake(answer, words):
    assert_rejected(checks.check_center_crop(answer), *words)


def test_center_crop_names_swapped_offsets():
    swapped = crop_at(lambda big, small: 3, lambda big, small: 2)  # (2, 1, 9, 12) → (4, 6) starts at (2, 3)

    def right_first(x, size):
        return my_center_crop(x, size) if x.shape[-1] != 12 else swapped(x, size)

    assert_rejected(checks.check_center_crop(right_first), "row and column offsets are swapped")


def crop_walk(input_size: int, level: int, depth: int = 4, *, bottleneck: bool = True, copy_after: bool = True) -> int:
    """Follow the size down to the bottleneck and back up, by hand; the flags make the two walks learners get wrong:
    the bottleneck's double convolution left out, or each skip copied before its level's double convolution."""
    skips, size = [], input_size
    for _ in range(depth):
        skips.append(size - 4 if copy_after else size)
        size = (size - 4) // 2
    size -= 4 if bottleneck else 0
    for current in reversed(range(depth)):
        size *= 2
        if current == level:
            return (skips[level] - size) // 2
        size -= 4
    raise ValueError(level)


def crop_per_side(input_size: int, level: int, depth: int = 4) -> int:
    """The right walk."""
    return crop_walk(input_size, level, depth)


def crop_without_bottleneck(input_size: int, level: int, depth: int = 4) -> int:
    """Down, then straight back up: the bottleneck's double convolution left out."""
    return crop_walk(input_size, level, depth, bottleneck=False)


def crop_copied_before_the_double_conv(input_size: int, level: int, depth: int = 4) -> int:
    """Each skip copied before its level's double convolution: 2 px per side too many."""
    return crop_walk(input_size, level, depth, copy_after=False)


def test_crop_per_side_accepts_the_walk():
    assert [crop_per_side(572, level) for level in range(4)] == [88, 40, 16, 4]
    assert_passed(checks.check_crop_per_side(crop_per_side), "88/40/16/4")


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda n, level, depth=4: 2 * crop_per_side(n, level, depth), ["both sides"]),
        (lambda n, level, depth=4: crop_per_side(n, depth - 1 - level, depth), ["counted from the bottom"]),
        (lambda n, level, depth=4: crop_per_side(n, level, depth) + 2, ["right after the up-convolution"]),
        (lambda n, level, depth=4: crop_per_side(n, level, depth) / 1, ["a float"]),
        (lambda n, level, depth=4: 88, ["returned 88, expected 40", "skip is 280 px and the up-convolved map 200"]),
        (crop_without_bottleneck, ["returned 56, expected 88", "skip the bottleneck", "32 → 28"]),
        (crop_copied_before_the_double_conv, ["returned 90, expected 88", "copied the skip before"]),
        (lambda n, level, depth=4: crop_per_side(n, level, depth + 1), ["returned 184, expected 88", "too deep"]),
    ],
    ids=[
        "total",
        "from the bottom",
        "after the double conv",
        "float",
        "constant",
        "no bottleneck",
        "early copy",
        "too deep",
    ],
)
def test_crop_per_side_names_the_mistake(answer, words):
    assert_rejected(checks.check_crop_per_side(answer), *words)


# -- notebook 05 --------------------------------------------------------------------------------------


def fits(size: int, depth: int) -> bool:
    """Whether a size survives the valid U-Net, walked by hand: down −4 and an even halving per level, the
    bottleneck −4, then up ×2 and −4 per level, never below one pixel."""
    for _ in range(depth):
        size -= 4
        if size < 2 or size % 2:
            return False
        size //= 2
    size -= 4
    for _ in range(depth):
        if size < 1:
            return False
        size = 2 * size - 4
    return size >= 1


def nearest_valid_size(size: int, depth: int = 4) -> int:
    for distance in range(size + 2**depth + 1):
        for candidate in (size + distance, size - distance):  # the larger first: a tie goes up
            if candidate > 0 and fits(candidate, depth):
                return candidate
    raise ValueError(size)


def round_up(size: int, depth: int = 4) -> int:
    return next(n for n in itertools.count(size) if fits(n, depth))


def round_down(size: int, depth: int = 4) -> int:
    return next((n for n in range(size, 0, -1) if fits(n, depth)), round_up(size, depth))


def tie_goes_down(size: int, depth: int = 4) -> int:
    up, down = round_up(size, depth), round_down(size, depth)
    return up if up - size < size - down else down


def test_nearest_valid_size_accepts_the_search():
    assert [nearest_valid_size(570), nearest_valid_size(560)] == [572, 556]
    assert_passed(checks.check_nearest_valid_size(nearest_valid_size), "570 → 572, 560 → 556")


@pytest.mark.parametrize(
    "answer, words",
    [
        (round_up, ["rounded up", "556 is nearer"]),
        (round_down, ["rounded down", "572 is nearer"]),
        (tie_goes_down, ["564 is as far from 556 as from 572", "on a tie take the larger"]),
        (lambda size, depth=4: nearest_valid_size(size, 4), ["the answer for depth 4", "use the depth argument"]),
        (lambda size, depth=4: size, ["570 is not a valid input"]),
        (lambda size, depth=4: float(nearest_valid_size(size, depth)), ["a float"]),
    ],
    ids=["up", "down", "tie", "depth 4", "unchanged", "float"],
)
def test_nearest_valid_size_names_the_mistake(answer, words):
    assert_rejected(checks.check_nearest_valid_size(answer), *words)


class FixedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3)])
        self.head = nn.Conv2d(4, 2, kernel_size=1)

    def forward(self, x):
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.head(x)


class HeadInForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)

    def forward(self, x):
        return nn.Conv2d(4, 2, kernel_size=1)(self.conv(x))


class HeadAssignedInForward(HeadInForward):
    def forward(self, x):
        self.head = nn.Conv2d(4, 2, kernel_size=1)
        return self.head(self.conv(x))


class PlainList(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = [nn.Conv2d(1, 4, 3), nn.Conv2d(4, 2, 1)]

    def forward(self, x):
        return self.convs[1](torch.relu(self.convs[0](x)))


class RandomWeightsInForward(FixedNet):
    def forward(self, x):
        return nn.functional.conv2d(self.convs[0](x), torch.randn(2, 4, 1, 1))


class NoHead(FixedNet):
    def forward(self, x):
        return self.convs[0](x)


class AliasInForward(FixedNet):
    def forward(self, x):
        self.last = self.head  # no new layer, but state_dict() grows
        return super().forward(x)


class NoLayers(nn.Module):
    def forward(self, x):
        return torch.cat([x, -x], dim=1)


class StubInit(nn.Module):
    def __init__(self):
        super().__init__()
        raise NotImplementedError(
            "Your turn: complete `StubInit.__init__` (Exercise 2), then run the check cell below."
        )


class StubForward(nn.Module):
    """The student version of notebook 05 once ``__init__`` is filled in and ``forward`` is not (issue 12)."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(1, 2, kernel_size=1)

    def forward(self, x):
        raise NotImplementedError(
            "Your turn: complete `StubForward.forward` (Exercise 2), then run the check cell below."
        )


def test_registers_layers_accepts_a_model_built_in_init():
    assert_passed(checks.check_registers_layers(FixedNet), "6 tensors (convs.0.weight,", "head.bias), and two calls")


@pytest.mark.parametrize(
    "model_class, words",
    [
        (HeadInForward, ["layer created in forward: every call builds a new Conv2d"]),
        (HeadAssignedInForward, ["layer created in forward"]),
        (PlainList, ["plain Python list (convs)", "nn.ModuleList"]),
        (RandomWeightsInForward, ["different outputs"]),
        (NoHead, ["two class scores per pixel", "got (2, 4, 10, 10)"]),
        (NoLayers, ["no parameters in its state_dict"]),
        (AliasInForward, ["state_dict() changed during forward"]),
        (lambda: "a model", ["should build an nn.Module"]),
        (StubInit, ["your turn — fill in `StubInit.__init__`"]),
        (StubForward, ["your turn — fill in `StubForward.forward`"]),
    ],
    ids=[
        "created",
        "assigned",
        "plain list",
        "random",
        "no head",
        "no layers",
        "alias",
        "not a module",
        "stub init",
        "stub fwd",
    ],
)
def test_registers_layers_names_the_mistake(model_class, words):
    assert_rejected(checks.check_registers_layers(model_class), *words)


def test_module_creation_log_restores_nn_module():
    original = nn.Module.__init__
    with _ModuleCreationLog() as created:
        nn.ReLU()
        nn.Conv2d(1, 1, 1)
    assert [type(m).__name__ for m in created] == ["ReLU", "Conv2d"] and nn.Module.__init__ is original
    assert _ModuleCreationLog.with_weights(created) == ["Conv2d"]
    with pytest.raises(RuntimeError), _ModuleCreationLog():
        raise RuntimeError
    assert nn.Module.__init__ is original


def parameter_count(base_channels=64, depth=4, in_channels=1, num_classes=2, bias=1, concat=2, up=1, head=1):
    """The U-Net's parameters counted by hand; the switches make the slips a learner makes."""

    def conv(c_in, c_out, k):
        return c_in * c_out * k * k + bias * c_out

    widths = [base_channels * 2**level for level in range(depth + 1)]
    total = sum(conv(c_in, c, 3) + conv(c, c, 3) for c_in, c in zip([in_channels] + widths, widths))
    total += sum(up * conv(2 * c, c, 2) + conv(concat * c, c, 3) + conv(c, c, 3) for c in widths[:-1])
    return total + head * conv(base_channels, num_classes, 1)


def test_the_hand_count_is_the_papers():
    assert parameter_count() == 31_030_658


def test_unet_parameter_count_accepts_the_hand_count():
    assert_passed(checks.check_unet_parameter_count(parameter_count), "31,030,658 for the paper's U-Net")


@pytest.mark.parametrize(
    "slip, words",
    [
        (dict(bias=0), ["expected 31,030,658", "biases are missing"]),
        (dict(concat=1), ["2 × the channels"]),
        (dict(up=0), ["up-convolutions are missing"]),
        (dict(head=0), ["final 1×1 convolution"]),
    ],
)
def test_unet_parameter_count_names_the_mistake(slip, words):
    def wrong(base_channels=64, depth=4, in_channels=1, num_classes=2):
        return parameter_count(base_channels, depth, in_channels, num_classes, **slip)

    assert_rejected(checks.check_unet_parameter_count(wrong), *words)


def test_unet_parameter_count_names_a_float():
    assert_rejected(checks.check_unet_parameter_count(lambda **sizes: float(parameter_count(**sizes))), "a float")


def test_center_crop_names_pythons_round_half_to_even():
    """round(2.5) is 2 but round(3.5) is 4: the slip shows only on a difference of 7, 11, …"""
    rounded = crop_at(lambda big, small: round((big - small) / 2), lambda big, small: round((big - small) / 2))
    assert_rejected(checks.check_center_crop(rounded), "(1, 1, 11, 13)", "round down with //")


class ListOfRegisteredLayers(nn.Module):
    """Every layer is an attribute; the plain list only orders them, so nothing is hidden from nn.Module."""

    def __init__(self):
        super().__init__()
        self.first, self.second, self.head = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 2, 1)
        self.order = [self.first, self.second]

    def forward(self, x):
        for conv in self.order:
            x = torch.relu(conv(x))
        return self.head(x)


class PlainTensorWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.head_weight = torch.randn(2, 4, 1, 1)  # not a parameter: never trained, not saved

    def forward(self, x):
        return nn.functional.conv2d(self.conv(x), self.head_weight)


class PlainDict(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = {"conv": nn.Conv2d(1, 2, 3)}

    def forward(self, x):
        return self.layers["conv"](x)


def test_registers_layers_accepts_a_list_of_layers_that_are_registered_anyway():
    assert_passed(checks.check_registers_layers(ListOfRegisteredLayers), "every layer is built in __init__")


def test_registers_layers_names_a_plain_tensor_weight_and_a_plain_dict():
    assert_rejected(checks.check_registers_layers(PlainTensorWeight), "head_weight", "nn.Parameter")
    assert_rejected(checks.check_registers_layers(PlainDict), "plain Python dict (layers)", "nn.ModuleDict")


def count_with_kernels(base_channels=64, depth=4, in_channels=1, num_classes=2, up_kernel=2, head_kernel=1):
    def conv(c_in, c_out, k):
        return c_in * c_out * k * k + c_out

    widths = [base_channels * 2**level for level in range(depth + 1)]
    total = sum(conv(c_in, c, 3) + conv(c, c, 3) for c_in, c in zip([in_channels] + widths, widths))
    total += sum(conv(2 * c, c, up_kernel) + conv(2 * c, c, 3) + conv(c, c, 3) for c in widths[:-1])
    return total + conv(base_channels, num_classes, head_kernel)


@pytest.mark.parametrize(
    "answer, words",
    [
        (
            lambda base_channels, depth, in_channels, num_classes: parameter_count(
                base_channels, depth, 1, num_classes
            ),
            ["in_channels", "fixed at 1"],
        ),
        (
            lambda base_channels, depth, in_channels, num_classes: parameter_count(
                base_channels, depth, in_channels, 2
            ),
            ["num_classes", "fixed at 2"],
        ),
        (lambda **sizes: count_with_kernels(**sizes, up_kernel=3), ["up-convolution", "2×2"]),
        (lambda **sizes: count_with_kernels(**sizes, head_kernel=3), ["head", "1×1"]),
    ],
    ids=["in_channels fixed", "num_classes fixed", "3×3 up-conv", "3×3 head"],
)
def test_unet_parameter_count_names_fixed_arguments_and_wrong_kernels(answer, words):
    assert_rejected(checks.check_unet_parameter_count(answer), *words)
