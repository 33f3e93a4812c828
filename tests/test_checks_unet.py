"""Exercise checkers of notebooks 03–05: each accepts the reference solution and names typical mistakes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unet_lib import checks
from unet_lib.layers import center_crop, double_conv
from unet_lib.model import UNetModel, count_parameters, nearest_valid_sizes


def stub(*args, **kwargs):
    raise NotImplementedError("Your turn")


def assert_fails(feedback: checks.Feedback, *phrases: str) -> None:
    assert not feedback, repr(feedback)
    for phrase in phrases:
        assert phrase in feedback.message, f"{phrase!r} not in {feedback.message!r}"


# -- notebook 03: transposed convolution ------------------------------------------------------


def transposed_conv2d(x, kernel, stride=2):
    k_h, k_w = kernel.shape
    out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] += x[i, j] * kernel
    return out


def test_transposed_conv_reference_passes():
    assert checks.check_transposed_conv_by_hand(transposed_conv2d)


def test_transposed_conv_stub_is_your_turn():
    assert_fails(checks.check_transposed_conv_by_hand(stub), "your turn")


def test_transposed_conv_names_overwritten_overlaps():
    def overwrite(x, kernel, stride=2):
        k_h, k_w = kernel.shape
        out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] = x[i, j] * kernel
        return out

    assert_fails(checks.check_transposed_conv_by_hand(overwrite), "added (+=), not assigned (=)")


def test_transposed_conv_names_wrong_shape():
    def size_times_stride(x, kernel, stride=2):
        out = torch.zeros(x.shape[0] * stride, x.shape[1] * stride)
        k = min(kernel.shape[0], stride)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                out[i * stride : i * stride + k, j * stride : j * stride + k] += x[i, j] * kernel[:k, :k]
        return out

    assert_fails(checks.check_transposed_conv_by_hand(size_times_stride), "shape", "(size − 1)·stride + kernel_size")


def test_transposed_conv_names_flipped_kernel():
    assert_fails(
        checks.check_transposed_conv_by_hand(
            lambda x, kernel, stride=2: transposed_conv2d(x, kernel.flip(0, 1), stride)
        ),
        "rotated by 180°",
    )


def test_transposed_output_size():
    assert checks.check_transposed_output_size(lambda size, kernel_size=2, stride=2: (size - 1) * stride + kernel_size)
    assert_fails(
        checks.check_transposed_output_size(lambda size, kernel_size=2, stride=2: size * stride), "size · stride"
    )
    assert_fails(
        checks.check_transposed_output_size(
            lambda size, kernel_size=2, stride=2: (size - 1) * stride + kernel_size - 1
        ),
        "off by one",
    )
    assert_fails(checks.check_transposed_output_size(lambda size, kernel_size=2, stride=2: 2.0 * size), "float")
    assert_fails(checks.check_transposed_output_size(stub), "your turn")


# -- notebook 04: centre crop -----------------------------------------------------------------


def test_center_crop_reference_passes():
    assert checks.check_center_crop(lambda x, size: center_crop(x, size))


def _crop_at(top_of, left_of):
    def crop(x, size):
        h, w = size
        top, left = top_of(x.shape[-2], h), left_of(x.shape[-1], w)
        return x[..., top : top + h, left : left + w]

    return crop


@pytest.mark.parametrize(
    "answer, phrase",
    [
        (lambda x, size: x[..., : size[0], : size[1]], "top-left corner"),
        (lambda x, size: x[..., x.shape[-2] - size[0] :, x.shape[-1] - size[1] :], "bottom-right corner"),
        (
            _crop_at(lambda big, small: (big - small) // 2 + 1, lambda big, small: (big - small) // 2),
            "off-by-one offset",
        ),
        (_crop_at(lambda big, small: (big - small + 1) // 2, lambda big, small: (big - small + 1) // 2), "round down"),
        (lambda x, size: center_crop(x, size)[..., :-1, :-1], "off by one in the size"),
        (lambda x, size: center_crop(x, size)[0], "keep the batch and channel axes"),
        (lambda x, size: center_crop(x, size) * 0, "not a block of the input"),
        (stub, "your turn"),
    ],
)
def test_center_crop_mistakes_are_named(answer, phrase):
    assert_fails(checks.check_center_crop(answer), phrase)


def reference_crop_per_side(input_size, level, depth=4):
    size = input_size
    for _ in range(level + 1):
        size -= 4
        skip = size
        size //= 2
    size = input_size
    for _ in range(depth):
        size = (size - 4) // 2
    size -= 4
    for _ in range(depth - level):
        up = 2 * size
        size = up - 4
    return (skip - up) // 2


def test_crop_per_side_reference_passes():
    assert [reference_crop_per_side(572, level) for level in range(4)] == [88, 40, 16, 4]
    feedback = checks.check_crop_per_side(reference_crop_per_side)
    assert feedback and "88/40/16/4" in feedback.message


def test_crop_per_side_mistakes_are_named():
    assert_fails(
        checks.check_crop_per_side(lambda n, level, depth=4: 2 * reference_crop_per_side(n, level, depth)), "both sides"
    )
    assert_fails(
        checks.check_crop_per_side(lambda n, level, depth=4: reference_crop_per_side(n, depth - 1 - level, depth)),
        "counted from the bottom",
    )
    assert_fails(
        checks.check_crop_per_side(lambda n, level, depth=4: reference_crop_per_side(n, level, depth) + 2),
        "after the up-convolution",
    )
    assert_fails(checks.check_crop_per_side(stub), "your turn")


# -- notebook 05: full U-Net ------------------------------------------------------------------


def reference_nearest(size, depth=4):
    below, above = nearest_valid_sizes(size, depth)
    return above if below is None or above - size <= size - below else below


def test_nearest_valid_size():
    assert checks.check_nearest_valid_size(reference_nearest)
    assert_fails(
        checks.check_nearest_valid_size(lambda size, depth=4: nearest_valid_sizes(size, depth)[1]), "rounded up"
    )
    assert_fails(checks.check_nearest_valid_size(lambda size, depth=4: size), "not a valid input")
    assert_fails(
        checks.check_nearest_valid_size(lambda size, depth=4: reference_nearest(size, 4)), "use the depth argument"
    )
    tie_down = lambda size, depth=4: (lambda b, a: a if b is None or a - size < size - b else b)(
        *nearest_valid_sizes(size, depth)
    )  # noqa: E731
    assert_fails(checks.check_nearest_valid_size(tie_down), "on a tie take the larger")
    assert_fails(checks.check_nearest_valid_size(stub), "your turn")


class GoodNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = double_conv(1, 4)
        self.head = nn.Conv2d(4, 2, kernel_size=1)

    def forward(self, x):
        return self.head(self.features(x))


class HeadInForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = double_conv(1, 4)

    def forward(self, x):
        head = nn.Conv2d(4, 2, kernel_size=1)
        return head(self.features(x))


class HeadAssignedInForward(HeadInForward):
    def forward(self, x):
        self.head = nn.Conv2d(4, 2, kernel_size=1)
        return self.head(self.features(x))


class PlainList(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = [nn.Conv2d(1, 4, 3), nn.Conv2d(4, 2, 1)]

    def forward(self, x):
        return self.convs[1](torch.relu(self.convs[0](x)))


class RandomWeightsInForward(GoodNet):
    def forward(self, x):
        return nn.functional.conv2d(self.features(x), torch.randn(2, 4, 1, 1))


class NoHead(GoodNet):
    def forward(self, x):
        return self.features(x)


class StubInit(nn.Module):
    def __init__(self):
        super().__init__()
        raise NotImplementedError("Your turn")


def test_registers_layers_accepts_good_models():
    feedback = checks.check_registers_layers(GoodNet)
    assert feedback and "head.weight" in feedback.message
    assert checks.check_registers_layers(lambda: UNetModel(base_channels=2, depth=0))


@pytest.mark.parametrize(
    "model_class, phrase",
    [
        (HeadInForward, "layer created in forward: every call builds a new Conv2d"),
        (HeadAssignedInForward, "layer created in forward"),
        (PlainList, "plain Python list (convs)"),
        (RandomWeightsInForward, "different outputs"),
        (NoHead, "two class scores per pixel"),
        (StubInit, "your turn"),
    ],
)
def test_registers_layers_names_the_mistake(model_class, phrase):
    assert_fails(checks.check_registers_layers(model_class), phrase)


def test_module_creation_log_restores_nn_module():
    original = nn.Module.__init__
    with checks._ModuleCreationLog() as created:
        nn.ReLU()
        nn.Conv2d(1, 1, 1)
    assert [type(m).__name__ for m in created] == ["ReLU", "Conv2d"] and nn.Module.__init__ is original
    assert checks._ModuleCreationLog.with_weights(created) == ["Conv2d"]
    with pytest.raises(RuntimeError), checks._ModuleCreationLog():
        raise RuntimeError
    assert nn.Module.__init__ is original


def reference_parameter_count(base_channels=64, depth=4, in_channels=1, num_classes=2):
    conv = lambda c_in, c_out, k: c_in * c_out * k * k + c_out  # noqa: E731
    widths = [base_channels * 2**level for level in range(depth + 1)]
    total = sum(conv(c_in, c, 3) + conv(c, c, 3) for c_in, c in zip([in_channels] + widths, widths))
    total += sum(conv(2 * c, c, 2) + conv(2 * c, c, 3) + conv(c, c, 3) for c in widths[:-1])
    return total + conv(base_channels, num_classes, 1)


@pytest.mark.parametrize("base, depth", [(64, 4), (16, 3), (8, 1), (4, 0), (32, 5)])
def test_parameter_formula_matches_unet_model(base, depth):
    with torch.device("meta"):
        model = UNetModel(base_channels=base, depth=depth)
    assert (
        checks._unet_parameters_by_formula(base, depth, 1, 2)
        == count_parameters(model)
        == reference_parameter_count(base, depth)
    )


def test_unet_parameter_count():
    feedback = checks.check_unet_parameter_count(reference_parameter_count)
    assert feedback and "31,030,658" in feedback.message
    for switches, phrase in [
        (dict(biases=False), "biases are missing"),
        (dict(concat=False), "2 × the channels"),
        (dict(up_convs=False), "up-convolutions are missing"),
        (dict(head=False), "final 1×1 convolution"),
    ]:
        wrong = lambda base_channels=64, depth=4, in_channels=1, num_classes=2, s=switches: (
            checks._unet_parameters_by_formula(  # noqa: E731
                base_channels, depth, in_channels, num_classes, **s
            )
        )
        assert_fails(checks.check_unet_parameter_count(wrong), phrase)
    assert_fails(checks.check_unet_parameter_count(stub), "your turn")
