"""Checkers of notebooks 00–01: the model's input, a convolution's size and parameters, the double convolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import runtime
from .core import (
    Feedback,
    Mistake,
    attempt,
    case,
    check_cases,
    name_of,
    same_values,
    show,
    whole_number,
)

# -- notebook 00: welcome ---------------------------------------------------------------------


def _model_input_kind(got: Any, expected: torch.Tensor) -> str | None:
    """A float32 tensor is what a model takes (its shape and values are compared afterwards)."""
    if not isinstance(got, torch.Tensor):
        return "return a torch.Tensor — torch.from_numpy(image) turns an array into a tensor."
    if not got.is_floating_point():
        return "a model computes in floating point — convert with .float()."
    if got.dtype != torch.float32:
        return "the model's weights are float32 — use .float() (NumPy's float64 survives torch.from_numpy)."
    return None


_MODEL_INPUT_MISTAKES = [
    Mistake(
        when=lambda got, image: tuple(got.shape) == image.shape,
        says="add a batch and a channel axis in front, e.g. tensor[None, None] or .unsqueeze(0).unsqueeze(0): "
        "the model wants (N, C, H, W).",
    ),
    Mistake(
        when=lambda got, image: tuple(got.shape) == (*image.shape, 1, 1),
        says="the new axes went to the end — put them in front (tensor[None, None]).",
    ),
    Mistake(
        when=lambda got, image: tuple(got.shape) == (1, 1, *image.shape[::-1]),
        says="height and width are swapped — keep the image's own axis order, no transpose.",
    ),
    Mistake(when=lambda got, image: got.ndim == 3, says="that is 3 axes, the model wants 4 — batch, channels, H, W."),
    Mistake(
        when=lambda got, image: tuple(got.shape) != (1, 1, *image.shape),
        says=lambda got, image: (
            f"the shape must be (1, 1, H, W) = {(1, 1, *image.shape)}: both new axes of length 1 go in front "
            "(tensor[None, None])."
        ),
    ),
    Mistake(
        when=lambda got, image: float(got.min()) < -1e-6,
        says=lambda got, image: (
            f"values go down to {float(got.min()):.2f}, below 0: subtracting the mean (standardising) gives negative "
            "values; the exercise asks for [0, 1] — divide the 0–255 pixels by 255."
        ),
    ),
    Mistake(
        when=lambda got, image: float(got.max()) > 1.0 + 1e-6,
        says=lambda got, image: (
            f"values go up to {float(got.max()):.0f}: scale the 0–255 pixels to [0, 1] by dividing by 255."
        ),
    ),
]


def check_to_model_input(to_model_input: Callable[[np.ndarray], torch.Tensor]) -> Feedback:
    """Notebook 00, exercise 1: a 2-D uint8 image → a ``(1, 1, H, W)`` float32 tensor in [0, 1].

    Two non-square test images (so a swapped height and width shows) with both 0 and
    255 in them (so that dividing by 255 and min–max scaling agree).
    """
    rng = np.random.default_rng(0)
    cases = []
    for height, width in ((5, 7), (3, 4)):
        image = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
        image.flat[:2] = (0, 255)
        expected = torch.from_numpy(image).float()[None, None] / 255
        cases.append(case(image, expected=expected, label=f"a {height}×{width} image"))
    return check_cases(
        "to_model_input",
        to_model_input,
        cases,
        _MODEL_INPUT_MISTAKES,
        success="a 2-D uint8 image becomes a (1, 1, H, W) float32 tensor with values in [0, 1] — what a model expects.",
        rule="the values are not the pixels divided by 255 (did you normalise differently, or flip the image?).",
        returns=_model_input_kind,
        same=same_values(1e-6),
        on_crash="read the sizes from the input's shape rather than fixing them",
    )


def check_pixels_lost_per_side(pixels_lost_per_side: Callable[[int, int], int]) -> Feedback:
    """Notebook 00, exercise 2: how many pixels the output loses on each side of the input."""
    cases = [case(i, o, expected=(i - o) // 2) for i, o in ((572, 388), (188, 4), (20, 12), (64, 64))]
    mistakes = [
        Mistake(gives=lambda i, o: i - o, says="that is what both sides lose together — each side loses half of it."),
        Mistake(
            gives=lambda i, o: (o - i) // 2,
            says="negative — subtract the output size from the input size, not the other way round.",
        ),
    ]
    return check_cases(
        "pixels_lost_per_side",
        pixels_lost_per_side,
        cases,
        mistakes,
        success=f"the paper's U-Net loses {(572 - 388) // 2} pixels on every side: 572 − 2·{(572 - 388) // 2} = 388.",
        rule="the output sits in the centre, so (input − output) is shared by two sides.",
        returns=whole_number,
    )


# -- notebook 01: double convolution ----------------------------------------------------------


def _conv_output_size(size: int, kernel_size: int, padding: int) -> int:
    """What PyTorch's Conv2d gives (stride 1), measured on the meta device: PyTorch's own answer."""
    with torch.device("meta"):
        return nn.Conv2d(1, 1, kernel_size, padding=padding)(torch.empty(1, 1, size, size)).shape[-1]


_CONV_SIZE_MISTAKES = [
    Mistake(
        gives=lambda size, kernel_size, padding: size - kernel_size + 1,
        says="the padding is ignored — padding adds `padding` pixels on each side, 2·padding in total.",
    ),
    Mistake(
        gives=lambda size, kernel_size, padding: size + padding - kernel_size + 1,
        says="padding goes on both sides — add 2·padding, not padding.",
    ),
    Mistake(
        gives=lambda size, kernel_size, padding: size + 2 * padding - kernel_size,
        says=lambda got, size, kernel_size, padding: (
            f"off by one — a {kernel_size}-wide kernel fits in size − "
            f"{kernel_size} + 1 positions (3 positions in 5 pixels for k = 3)."
        ),
    ),
    Mistake(
        gives=lambda size, kernel_size, padding: size + 2 * padding - kernel_size + 2,
        says=lambda got, size, kernel_size, padding: (
            f"one too many — a {kernel_size}×{kernel_size} kernel loses "
            f"{runtime.plural(kernel_size // 2, 'pixel')} on *each* side, {kernel_size - 1} in total."
        ),
    ),
    Mistake(
        gives=lambda size, kernel_size, padding: size + 2 * padding - 2,
        says="the kernel size is fixed at 3 — use the kernel_size argument.",
    ),
    Mistake(
        gives=lambda size, kernel_size, padding: (
            size + 2 * padding - 2 * (kernel_size // 2) if kernel_size % 2 == 0 else None
        ),
        says="kernel_size // 2 pixels per side holds for odd kernels only; an even kernel is not centred on a pixel. "
        "Count positions: a k-wide kernel fits in size − kernel_size + 1 places (7 in 8 pixels for k = 2).",
    ),
]


def check_conv_output_size(conv_output_size: Callable[..., int]) -> Feedback:
    """Notebook 01, exercise 1: ``conv_output_size(size, kernel_size=3, padding=0)`` for stride 1.

    The usual slips each get a name: the off-by-one (``size − k``), ignoring the padding,
    padding only one side, a kernel size fixed at 3, and ``k // 2`` per side (wrong for the even kernel tried).
    """
    sizes = [(572, 3, 0), (570, 3, 0), (5, 3, 0), (10, 5, 0), (7, 1, 0), (8, 2, 0), (572, 3, 1), (10, 5, 2), (6, 3, 2)]
    cases = [case(n, kernel_size=k, padding=p, expected=_conv_output_size(n, k, p)) for n, k, p in sizes]
    return check_cases(
        "conv_output_size",
        conv_output_size,
        cases,
        _CONV_SIZE_MISTAKES,
        success="a valid 3×3 convolution turns 572 into 570 (one pixel lost per side); padding=1 keeps the size.",
        rule="the size after a stride-1 convolution is size + 2·padding − kernel_size + 1.",
        returns=whole_number,
    )


def _conv_parameters(in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> int:
    with torch.device("meta"):  # only the shapes are needed: no memory, no arithmetic
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)
    return sum(p.numel() for p in conv.parameters())


_PARAMETER_MISTAKES = [
    Mistake(
        gives=lambda i, o, kernel_size, bias: i * o * kernel_size**2 if bias else None,
        says="the bias is missing — each output channel has one bias (+ out_channels).",
    ),
    Mistake(
        gives=lambda i, o, kernel_size, bias: i * o * kernel_size**2 + o,
        says="with bias=False there is no bias to count.",
    ),
    Mistake(
        gives=lambda i, o, kernel_size, bias: i * o * kernel_size**2 + (i if bias else 0),
        says="the bias belongs to the output channels (one per output channel), not the input channels.",
    ),
    Mistake(
        gives=lambda i, o, kernel_size, bias: i * o * kernel_size + (o if bias else 0),
        says=lambda got, i, o, kernel_size, bias: (
            f"a {kernel_size}×{kernel_size} kernel has {kernel_size}·"
            f"{kernel_size} = {kernel_size**2} weights per input–output channel pair, not {kernel_size}."
        ),
    ),
    Mistake(
        gives=lambda i, o, kernel_size, bias: o * kernel_size**2 + (o if bias else 0),
        says="each output channel has a kernel for *every* input channel — multiply by in_channels.",
    ),
    Mistake(
        gives=lambda i, o, kernel_size, bias: i * kernel_size**2 + (o if bias else 0),
        says="there is one kernel stack per output channel — multiply by out_channels.",
    ),
]


def check_conv_parameter_count(conv_parameter_count: Callable[..., int]) -> Feedback:
    """Notebook 01, exercise 2: ``conv_parameter_count(in_channels, out_channels, kernel_size=3, bias=True)``.

    The expected counts come from PyTorch itself; a wrong answer is matched against the
    classic slips (no bias, bias per input channel, k instead of k², a missing factor).
    """
    layers = [(1, 64, 3, True), (64, 64, 3, True), (3, 8, 5, True), (2, 4, 3, False), (128, 64, 1, True)]
    cases = [case(i, o, kernel_size=k, bias=b, expected=_conv_parameters(i, o, k, b)) for i, o, k, b in layers]
    first, second = _conv_parameters(1, 64, 3, True), _conv_parameters(64, 64, 3, True)
    return check_cases(
        "conv_parameter_count",
        conv_parameter_count,
        cases,
        _PARAMETER_MISTAKES,
        success=f"double_conv(1, 64) has {first:,} + {second:,} = {first + second:,} parameters.",
        rule="count out_channels · in_channels · k² weights, plus out_channels biases.",
        returns=whole_number,
    )


def _conv_layer_problem(number: int, conv: nn.Conv2d, expected_in: int, expected_out: int) -> str | None:
    name = f"convolution {number}"
    if conv.kernel_size != (3, 3):
        return f"{name} has kernel_size {conv.kernel_size}: the paper uses 3×3 kernels (kernel_size=3)."
    if conv.padding not in ((0, 0), "valid"):
        return (
            f"{name} uses padding {conv.padding!r}: the paper's convolutions are unpadded (padding=0, the default), "
            "so that every output pixel sees only real pixels — each convolution trims one pixel per side."
        )
    if conv.stride != (1, 1) or conv.dilation != (1, 1):
        return f"{name} has stride {conv.stride} and dilation {conv.dilation}: use the defaults (1)."
    if (conv.in_channels, conv.out_channels) != (expected_in, expected_out):
        role = "in_channels → out_channels" if number == 1 else "out_channels → out_channels (its input is conv 1's)"
        return (
            f"wrong channel count: {name} maps {conv.in_channels} → {conv.out_channels} channels; it should map "
            f"{role}, here {expected_in} → {expected_out}."
        )
    if conv.bias is None:
        return f"{name} has no bias: keep bias=True (the default) — the paper's block has no batch norm to replace it."
    return None


def _convolutions(block: nn.Module, x: torch.Tensor) -> list[nn.Conv2d]:
    """The block's convolutions in the order its forward pass calls them (a module may define them in any
    order); in the order they were defined when the block cannot run — its layer check then names why."""
    defined = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    called: list[nn.Module] = []
    hooks = [conv.register_forward_pre_hook(lambda module, inputs: called.append(module)) for conv in defined]
    try:
        with torch.no_grad():
            block(x.clone())
    except Exception:  # the layer check explains a block that cannot run
        return defined
    finally:
        for hook in hooks:
            hook.remove()
    return called if len(called) == len(defined) and {*map(id, called)} == {*map(id, defined)} else defined


def _block_problem(block: Any, x: torch.Tensor, in_channels: int, out_channels: int) -> str | None:
    """What is wrong with the layers of ``block`` (count, kernel, padding, channels, batch norm), if anything."""
    if not isinstance(block, nn.Module):
        return f"return an nn.Module (e.g. nn.Sequential(...)), got {type(block).__name__}."
    convs = _convolutions(block, x)
    if len(convs) != 2:
        return f"found {runtime.plural(len(convs), 'convolution')} (nn.Conv2d): a double convolution has exactly two."
    for number, (conv, c_in) in enumerate(zip(convs, (in_channels, out_channels)), start=1):
        problem = _conv_layer_problem(number, conv, c_in, out_channels)
        if problem:
            return problem
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in block.modules()):
        return "the block has batch norm: the paper's block is just conv → ReLU → conv → ReLU."
    if any(isinstance(m, nn.modules.dropout._DropoutNd) for m in block.modules()):
        return (
            "the block has dropout: the paper's block is just conv → ReLU → conv → ReLU (its drop-out sits once, "
            "after the bottleneck — notebook 05's UNetModel(dropout=...))."
        )
    others = sorted({type(m).__name__ for m in block.modules() if _is_other_activation(m)})
    if others:
        return f"the block uses {', '.join(others)}: the paper's block follows each convolution with a ReLU (nn.ReLU)."
    return None


def _is_other_activation(module: nn.Module) -> bool:
    """An activation layer of torch.nn (LeakyReLU, Sigmoid, Tanh, …) that is not the paper's ReLU."""
    return type(module).__module__ == nn.ReLU.__module__ and not isinstance(module, nn.ReLU)


def check_double_conv_block(my_double_conv: Callable[[int, int], nn.Module]) -> Feedback:
    """Notebook 01, exercise 3: build conv 3×3 → ReLU → conv 3×3 → ReLU, unpadded.

    Bespoke (the answer is a module, not a value): the layers are inspected first (count,
    kernel size, padding, channels; the convolutions in the order forward calls them), then the block
    is run and compared with the same two
    convolutions wired with and without each ReLU, so that a missing ReLU is named by its place.
    """
    name = name_of(my_double_conv, "my_double_conv")
    in_channels, out_channels = 3, 8
    block, failed = attempt(name, my_double_conv, in_channels, out_channels)
    if failed is not None:
        return failed
    x = torch.randn(2, in_channels, 12, 12, generator=torch.Generator().manual_seed(0))
    problem = _block_problem(block, x, in_channels, out_channels)
    if problem:
        return Feedback(False, problem)
    block.eval()
    with torch.no_grad():
        out, failed = attempt(f"{name}(...)(x)", block, x.clone())
        if failed is not None:
            return failed
        first, second = _convolutions(block, x)
        wirings = {
            "right": F.relu(second(F.relu(first(x)))),
            "the ReLU after the second convolution is missing (the output has negative values)": second(
                F.relu(first(x))
            ),
            "the ReLU between the two convolutions is missing": F.relu(second(first(x))),
            "there is no ReLU at all: without it, two convolutions collapse into one linear filter": second(first(x)),
        }
    expected_shape = tuple(wirings["right"].shape)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected_shape:
        return Feedback(
            False,
            f"a (2, 3, 12, 12) input gave {show(out)}, expected shape {expected_shape}: the block should contain "
            "only the two convolutions and their ReLUs.",
        )
    for verdict, expected in wirings.items():
        if torch.allclose(out, expected, atol=1e-5):
            if verdict == "right":
                return Feedback(
                    True,
                    "conv 3×3 → ReLU → conv 3×3 → ReLU, unpadded: a 12×12 input becomes 8×8, just like unet_lib's "
                    "double_conv.",
                )
            return Feedback(False, verdict + ".")
    return Feedback(
        False,
        "the output differs from conv → ReLU → conv → ReLU computed with your own layers: check the order of the "
        "layers.",
    )
