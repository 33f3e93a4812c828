"""Automatic feedback for the notebooks' exercises.

Each ``check_*`` function takes the learner's answer (usually a function), tries it on
a few cases and returns a ``Feedback`` that says *what* is wrong, not just "wrong".
An answer that still raises ``NotImplementedError`` (the student version's stub)
gets a friendly "your turn" instead of a traceback, so "Run all" keeps going.

Sections below follow the notebooks; each checker names its notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# -- notebook 00: welcome ---------------------------------------------------------------
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .core import Feedback, attempt, your_turn


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _float_instead_of_int(exercise: str, value: Any) -> Feedback | None:
    """Sizes and counts are whole numbers; `/` gives floats, so name it."""
    if _is_int(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return Feedback(
            False,
            f"`{exercise}` returned {value!r}, a float: sizes and counts are whole numbers — use `//` instead of `/`, or int(...).",
        )
    return Feedback(False, f"`{exercise}` should return a whole number (int), got {value!r} ({type(value).__name__}).")


def _on_input(feedback: Feedback, case: str) -> Feedback:
    """Add which test input made the learner's code crash (a stub's "your turn" stays as it is)."""
    if feedback.message.startswith("your turn"):
        return feedback
    return Feedback(
        False, f"{feedback.message} (on {case}: read the sizes from the input's shape rather than fixing them)"
    )


def _model_input_problem(image: np.ndarray, result: Any) -> str | None:
    """What is wrong with ``result`` as the model input for ``image`` (None when it is right)."""
    height, width = image.shape
    expected_shape = (1, 1, height, width)
    if not isinstance(result, torch.Tensor):
        return f"return a torch.Tensor, got {type(result).__name__} — torch.from_numpy(image) turns an array into a tensor."
    shape = tuple(result.shape)
    if shape != expected_shape:
        where = (
            f"for a {height}×{width} image you returned shape {shape}; the model wants {expected_shape} = (N, C, H, W)"
        )
        if shape == (height, width):
            return (
                where
                + ": add a batch and a channel axis in front, e.g. tensor[None, None] or .unsqueeze(0).unsqueeze(0)."
            )
        if shape == (height, width, 1, 1):
            return where + ": the new axes went to the end — put them in front (tensor[None, None])."
        if shape == (1, 1, width, height):
            return where + ": height and width are swapped — keep the image's own axis order, no transpose."
        if len(shape) == 3:
            return where + ": that is 3 axes, the model wants 4 — batch, channels, height, width."
        return where + "."
    if not result.is_floating_point():
        return f"dtype is {result.dtype}: a model computes in floating point — convert with .float()."
    if result.dtype != torch.float32:
        return f"dtype is {result.dtype}: the model's weights are float32 — use .float() (NumPy's float64 survives torch.from_numpy)."
    values = result.detach().cpu().double()[0, 0]
    if values.max() > 1.0 + 1e-6:
        return f"values go up to {values.max().item():.0f}: scale the 0–255 pixels to [0, 1] by dividing by 255."
    if not torch.allclose(values, torch.from_numpy(image).double() / 255, atol=1e-6):
        return "shape and dtype are right, but the values are not the pixels divided by 255 (did you normalise differently, or flip the image?)."
    return None


def check_to_model_input(to_model_input: Callable[[np.ndarray], torch.Tensor]) -> Feedback:
    """Notebook 00, exercise 1: a 2-D uint8 image → a ``(1, 1, H, W)`` float32 tensor in [0, 1].

    Two non-square test images (so a swapped height and width shows) with both 0 and
    255 in them (so that dividing by 255 and min–max scaling agree).
    """
    rng = np.random.default_rng(0)
    for height, width in ((5, 7), (3, 4)):
        image = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
        image.flat[:2] = (0, 255)
        result, failed = attempt("to_model_input", to_model_input, image.copy())
        if failed is not None:
            return _on_input(failed, f"a {height}×{width} image")
        problem = _model_input_problem(image, result)
        if problem:
            return Feedback(False, problem)
    return Feedback(
        True, "a 2-D uint8 image becomes a (1, 1, H, W) float32 tensor with values in [0, 1] — what a model expects."
    )


def check_pixels_lost_per_side(pixels_lost_per_side: Callable[[int, int], int]) -> Feedback:
    """Notebook 00, exercise 2: how many pixels the output loses on each side of the input."""
    for input_size, output_size in ((572, 388), (188, 4), (20, 12), (64, 64)):
        expected = (input_size - output_size) // 2
        result, failed = attempt("pixels_lost_per_side", pixels_lost_per_side, input_size, output_size)
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("pixels_lost_per_side", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        case = f"for input {input_size} and output {output_size} you returned {result}"
        if result == 2 * expected:
            return Feedback(
                False, f"{case}: that is what both sides lose together — each side loses half of it, {expected}."
            )
        if result == -expected:
            return Feedback(
                False, f"{case}: negative — subtract the output size from the input size, not the other way round."
            )
        return Feedback(
            False,
            f"{case}, expected {expected}: the output sits in the centre, so (input − output) is shared by two sides.",
        )
    return Feedback(
        True, f"the paper's U-Net loses {(572 - 388) // 2} pixels on every side: 572 − 2·{(572 - 388) // 2} = 388."
    )


# -- notebook 01: double convolution ------------------------------------------------------


def check_conv_output_size(conv_output_size: Callable[..., int]) -> Feedback:
    """Notebook 01, exercise 1: ``conv_output_size(size, kernel_size=3, padding=0)`` for stride 1.

    The usual slips each get a name: the off-by-one (``size − k``), ignoring the padding,
    padding only one side, and a kernel size fixed at 3.
    """
    cases = [(572, 3, 0), (570, 3, 0), (5, 3, 0), (10, 5, 0), (7, 1, 0), (572, 3, 1), (10, 5, 2), (6, 3, 2)]
    for size, k, p in cases:
        expected = size + 2 * p - k + 1
        result, failed = attempt("conv_output_size", conv_output_size, size, kernel_size=k, padding=p)
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("conv_output_size", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        case = f"conv_output_size({size}, kernel_size={k}, padding={p}) returned {result}, expected {expected}"
        if p and result == size - k + 1:
            why = "the padding is ignored — padding adds `padding` pixels on each side, 2·padding in total."
        elif p and result == size + p - k + 1:
            why = "padding goes on both sides — add 2·padding, not padding."
        elif result == expected - 1:
            why = (
                f"off by one — a {k}-wide kernel fits in size − {k} + 1 positions (3 positions in 5 pixels for k = 3)."
            )
        elif result == expected + 1:
            why = f"one too many — a {k}×{k} kernel loses {k // 2} pixel(s) on *each* side, {k - 1} in total."
        elif k != 3 and result == size + 2 * p - 2:
            why = "the kernel size is fixed at 3 — use the kernel_size argument."
        else:
            why = "the size after a stride-1 convolution is size + 2·padding − kernel_size + 1."
        return Feedback(False, f"{case}: {why}")
    return Feedback(
        True, "a valid 3×3 convolution turns 572 into 570 (one pixel lost per side); padding=1 keeps the size."
    )


def _conv_parameters(in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> int:
    with torch.device("meta"):  # only the shapes are needed: no memory, no arithmetic
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)
    return sum(p.numel() for p in conv.parameters())


def check_conv_parameter_count(conv_parameter_count: Callable[..., int]) -> Feedback:
    """Notebook 01, exercise 2: ``conv_parameter_count(in_channels, out_channels, kernel_size=3, bias=True)``.

    The expected counts come from PyTorch itself; a wrong answer is matched against the
    classic slips (no bias, bias per input channel, k instead of k², a missing factor).
    """
    for i, o, k, bias in [(1, 64, 3, True), (64, 64, 3, True), (3, 8, 5, True), (2, 4, 3, False), (128, 64, 1, True)]:
        expected = _conv_parameters(i, o, k, bias)
        result, failed = attempt("conv_parameter_count", conv_parameter_count, i, o, kernel_size=k, bias=bias)
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("conv_parameter_count", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        weights, biases = i * o * k * k, (o if bias else 0)
        case = f"conv_parameter_count({i}, {o}, kernel_size={k}, bias={bias}) returned {result}, expected {expected}"
        slips = [
            (bias and result == weights, "the bias is missing — each output channel has one bias (+ out_channels)."),
            (not bias and result == weights + o, "with bias=False there is no bias to count."),
            (
                bias and result == weights + i,
                "the bias belongs to the output channels (one per output channel), not the input channels.",
            ),
            (
                k != 1 and result == i * o * k + biases,
                f"a {k}×{k} kernel has {k}·{k} = {k * k} weights per input–output channel pair, not {k}.",
            ),
            (
                i != 1 and result == o * k * k + biases,
                "each output channel has a kernel for *every* input channel — multiply by in_channels.",
            ),
            (
                o != 1 and result == i * k * k + biases,
                "there is one kernel stack per output channel — multiply by out_channels.",
            ),
        ]
        why = next(
            (message for matched, message in slips if matched),
            "count out_channels · in_channels · k² weights, plus out_channels biases.",
        )
        return Feedback(False, f"{case}: {why}")
    count = _conv_parameters(1, 64, 3, True) + _conv_parameters(64, 64, 3, True)
    return Feedback(
        True,
        f"double_conv(1, 64) has {_conv_parameters(1, 64, 3, True):,} + {_conv_parameters(64, 64, 3, True):,} = {count:,} parameters.",
    )


def _conv_layer_problem(number: int, conv: nn.Conv2d, expected_in: int, expected_out: int) -> str | None:
    name = f"convolution {number}"
    if conv.kernel_size != (3, 3):
        return f"{name} has kernel_size {conv.kernel_size}: the paper uses 3×3 kernels (kernel_size=3)."
    if conv.padding != (0, 0):
        return (
            f"{name} uses padding {conv.padding!r}: the paper's convolutions are unpadded (padding=0, the default), "
            "so that every output pixel sees only real pixels — each convolution trims one pixel per side."
        )
    if conv.stride != (1, 1) or conv.dilation != (1, 1):
        return f"{name} has stride {conv.stride} and dilation {conv.dilation}: use the defaults (1)."
    if (conv.in_channels, conv.out_channels) != (expected_in, expected_out):
        role = (
            "in_channels → out_channels"
            if number == 1
            else "out_channels → out_channels (its input is the first convolution's output)"
        )
        return f"wrong channel count: {name} maps {conv.in_channels} → {conv.out_channels} channels; it should map {role}, here {expected_in} → {expected_out}."
    if conv.bias is None:
        return f"{name} has no bias: keep bias=True (the default) — the paper's block has no batch norm to replace it."
    return None


def check_double_conv_block(my_double_conv: Callable[[int, int], nn.Module]) -> Feedback:
    """Notebook 01, exercise 3: build conv 3×3 → ReLU → conv 3×3 → ReLU, unpadded.

    The layers are inspected first (count, kernel size, padding, channels), then the
    block is run and compared with the same two convolutions wired with and without
    each ReLU, so that a missing ReLU is named by its place.
    """
    in_channels, out_channels = 3, 8
    block, failed = attempt("my_double_conv", my_double_conv, in_channels, out_channels)
    if failed is not None:
        return failed
    if not isinstance(block, nn.Module):
        return Feedback(False, f"return an nn.Module (e.g. nn.Sequential(...)), got {type(block).__name__}.")
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        return Feedback(False, f"found {len(convs)} convolution(s) (nn.Conv2d): a double convolution has exactly two.")
    for number, (conv, c_in) in enumerate(zip(convs, (in_channels, out_channels)), start=1):
        problem = _conv_layer_problem(number, conv, c_in, out_channels)
        if problem:
            return Feedback(False, problem)
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in block.modules()):
        return Feedback(False, "the block has batch norm: the paper's block is just conv → ReLU → conv → ReLU.")
    x = torch.randn(2, in_channels, 12, 12, generator=torch.Generator().manual_seed(0))
    block.eval()
    with torch.no_grad():
        out, failed = attempt("my_double_conv(...)(x)", block, x.clone())
        if failed is not None:
            return failed
        first, second = convs
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
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return Feedback(
            False,
            f"a (2, 3, 12, 12) input gave {got}, expected {expected_shape}: the block should contain only the two convolutions and their ReLUs.",
        )
    for verdict, expected in wirings.items():
        if torch.allclose(out, expected, atol=1e-5):
            if verdict == "right":
                return Feedback(
                    True,
                    "conv 3×3 → ReLU → conv 3×3 → ReLU, unpadded: a 12×12 input becomes 8×8, just like unet_lib's double_conv.",
                )
            return Feedback(False, verdict + ".")
    return Feedback(
        False,
        "the output differs from conv → ReLU → conv → ReLU computed with your own layers: check the order of the layers.",
    )


# -- notebook 02: max pooling ---------------------------------------------------------------


def _pooling_shape_problem(x: torch.Tensor, result: torch.Tensor) -> str | None:
    n, c, h, w = x.shape
    expected = (n, c, h // 2, w // 2)
    shape = tuple(result.shape)
    if shape == expected:
        return None
    case = f"for an input of shape {tuple(x.shape)} you returned shape {shape}, expected {expected}"
    if shape == (n, c, h // 2, w):
        return case + ": only the height was pooled — take the max over both window axes."
    if shape == (n, c, h, w // 2):
        return case + ": only the width was pooled — take the max over both window axes."
    if shape == (n, c, h // 2, 2, w // 2, 2):
        return case + ": you reshaped into windows but did not reduce them — take .amax(dim=(3, 5))."
    if len(shape) != 4:
        return case + ": keep four axes; the batch and channel axes (N, C) stay as they are."
    if shape[-2:] == (h // 2, w // 2):
        return case + ": the spatial size is right, but N and C must stay unchanged."
    return case + " — read N, C, H, W from x.shape rather than fixing them."


def check_max_pool_by_hand(max_pool_2x2: Callable[[torch.Tensor], torch.Tensor]) -> Feedback:
    """Notebook 02, exercise 1: 2×2 max pooling with reshape and amax, compared with nn.MaxPool2d.

    Two random inputs of different, non-square shapes, so that hard-coded sizes and
    a swapped height/width show up.
    """
    generator = torch.Generator().manual_seed(0)
    shapes = [(2, 3, 6, 8), (1, 1, 10, 4)]
    for shape in shapes:
        x = torch.randn(*shape, generator=generator)
        result, failed = attempt("max_pool_2x2", max_pool_2x2, x.clone())
        if failed is not None:
            return _on_input(failed, f"an input of shape {shape}")
        if not isinstance(result, torch.Tensor):
            return Feedback(False, f"return a torch.Tensor, got {type(result).__name__}.")
        problem = _pooling_shape_problem(x, result)
        if problem:
            return Feedback(False, problem)
        n, c, h, w = x.shape
        windows = x.reshape(n, c, h // 2, 2, w // 2, 2)
        if torch.allclose(result, nn.MaxPool2d(2)(x)):
            continue
        if torch.allclose(result, windows.mean(dim=(3, 5)), atol=1e-6):
            return Feedback(False, "this is average pooling: take the maximum of each window (amax), not the mean.")
        if torch.allclose(result, windows.amin(dim=(3, 5))):
            return Feedback(False, "this is the minimum of each window: take amax, not amin.")
        if torch.allclose(result, x.reshape(n, c, h // 2, w // 2, 4).amax(dim=-1)):
            return Feedback(
                False,
                "the windows are not 2×2 squares: reshape(n, c, h // 2, w // 2, 4) groups neighbours along a row. "
                "Reshape to (n, c, h // 2, 2, w // 2, 2) and take amax over dims 3 and 5.",
            )
        return Feedback(
            False, f"for an input of shape {shape} the shape is right but the values differ from nn.MaxPool2d(2)."
        )
    return Feedback(True, f"matches nn.MaxPool2d(2) on random inputs of shapes {shapes[0]} and {shapes[1]}.")


def _simulate_contracting_path(input_size: int, depth: int, trim: int = 4) -> tuple[list[int], int | None]:
    """Sizes after each double convolution, pooling like nn.MaxPool2d (rounding down), and the
    first odd size a pool sees (None if there is none)."""
    sizes, size, first_odd = [], input_size, None
    for level in range(depth + 1):
        size -= trim
        sizes.append(size)
        if level < depth:
            if size % 2 and first_odd is None:
                first_odd = size
            size //= 2
    return sizes, first_odd


def _path_trace(input_size: int) -> str:
    """The contracting path written out, e.g. "570 → 566 → 283 → 279", up to the first odd size."""
    steps, size = [input_size], input_size
    while size > 4:
        size -= 4
        steps.append(size)
        if size % 2:
            break
        size //= 2
        steps.append(size)
    return " → ".join(str(s) for s in steps)


def _call_contracting(answer: Callable[..., list[int]], input_size: int, depth: int) -> tuple[Any, Exception | None]:
    """Call the learner's function; a ValueError is an answer here (odd sizes must raise one)."""
    try:
        return answer(input_size, depth=depth), None
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 — every error is reported to the learner
        return None, error


_TRIM_SLIPS = {
    2: "each double convolution trims 4 pixels (2 per 3×3 convolution); did you forget the second convolution?",
    8: "a 3×3 convolution trims 1 pixel per side, 2 in total, so a double convolution trims 4, not 8.",
}


def _contracting_slip(result: list[int], input_size: int, depth: int) -> str:
    """Name the slip behind a wrong list of sizes (or say what was expected)."""
    expected, _ = _simulate_contracting_path(input_size, depth)
    shown = f"contracting_path_sizes({input_size}, depth={depth}) returned {result}, expected {expected}"
    for trim, why in _TRIM_SLIPS.items():
        if result == _simulate_contracting_path(input_size, depth, trim)[0]:
            return f"{shown}: off by {abs(4 - trim)} per level — {why}"
    if result == expected[:-1]:
        return f"{shown}: the bottleneck is missing — after the last pool comes one more double convolution (depth + 1 sizes)."
    if result == [s // 2 for s in expected[:-1]]:
        return f"{shown}: these are the sizes after pooling; list the size after each double convolution."
    if len(result) > len(expected) and expected == [s for s in result if s in expected]:
        return f"{shown}: list only the sizes after the double convolutions, not after the pools."
    return f"{shown}."


def _valid_size_refused(answer: Callable[..., list[int]], error: Exception, input_size: int, depth: int) -> str:
    """Why a valid size was refused: find the wrong trim by trying a size that suits that trim."""
    message = f"contracting_path_sizes({input_size}, depth={depth}) raised {type(error).__name__}: {error}"
    if not isinstance(error, ValueError):
        return message + "."
    message += f" — but {input_size} is a valid size"
    for trim, why in _TRIM_SLIPS.items():
        probe = next(
            n
            for n in range(input_size, input_size + 2 ** (depth + 1) * trim)
            if _simulate_contracting_path(n, depth, trim)[1] is None
        )
        result, probe_error = _call_contracting(answer, probe, depth)
        if probe_error is None and result == _simulate_contracting_path(probe, depth, trim)[0]:
            return f"{message}, while {probe} passes with sizes {result}: you trim {trim} pixels per double convolution — {why}"
    return message + "."


def _odd_size_problem(answer: Callable[..., list[int]], input_size: int) -> str | None:
    """An input whose path meets an odd size must be refused with a ValueError."""
    result, error = _call_contracting(answer, input_size, 4)
    if error is None:
        odd = _simulate_contracting_path(input_size, 4)[1]
        return (
            f"contracting_path_sizes({input_size}) returned {result!r}, but {_path_trace(input_size)}: the next pool "
            f"would see the odd size {odd}, nn.MaxPool2d would silently drop a row, and the skip connections would "
            "no longer line up. Raise a ValueError instead."
        )
    if not isinstance(error, ValueError):
        return f"for the odd size in contracting_path_sizes({input_size}) raise a ValueError, not {type(error).__name__} ({error})."
    return None


def check_contracting_path_sizes(contracting_path_sizes: Callable[..., list[int]]) -> Feedback:
    """Notebook 02, exercise 2: the size after each double convolution of the contracting path.

    ``contracting_path_sizes(input_size, depth=4)`` returns depth + 1 sizes (the bottleneck
    last) and raises ``ValueError`` when a pool would see an odd size. The wrong answers
    named: forgetting the second convolution (trim 2), trimming 8, leaving out the
    bottleneck, listing pooled sizes, and silently pooling an odd size.
    """
    try:
        for input_size, depth in ((572, 4), (188, 4), (572, 2), (140, 1)):
            result, error = _call_contracting(contracting_path_sizes, input_size, depth)
            if error is not None:
                return Feedback(False, _valid_size_refused(contracting_path_sizes, error, input_size, depth))
            if not isinstance(result, (list, tuple)) or not all(_is_int(s) for s in result):
                return Feedback(
                    False,
                    f"contracting_path_sizes({input_size}, depth={depth}) should return a list of ints, got {result!r}.",
                )
            if list(result) != _simulate_contracting_path(input_size, depth)[0]:
                return Feedback(False, _contracting_slip(list(result), input_size, depth))
        for input_size in (570, 571):
            problem = _odd_size_problem(contracting_path_sizes, input_size)
            if problem:
                return Feedback(False, problem)
    except NotImplementedError:
        return your_turn("contracting_path_sizes")
    sizes = _simulate_contracting_path(572, 4)[0]
    return Feedback(
        True,
        f"572 → {sizes}: the bottleneck works on {sizes[-1]}×{sizes[-1]} maps; 570 and 571 are refused because a pool would see an odd size.",
    )


# -- notebook 03: transposed convolution ---------------------------------------------------


def _stamp_by_hand(x: torch.Tensor, kernel: torch.Tensor, stride: int, overwrite: bool = False) -> torch.Tensor:
    """Each input pixel stamps ``x[i, j] · kernel``; ``overwrite=True`` is the classic slip (= instead of +=)."""
    k_h, k_w = kernel.shape
    out = torch.zeros((x.shape[0] - 1) * stride + k_h, (x.shape[1] - 1) * stride + k_w, dtype=x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            window = out[i * stride : i * stride + k_h, j * stride : j * stride + k_w]
            if overwrite:
                window.copy_(x[i, j] * kernel)
            else:
                window += x[i, j] * kernel
    return out


def _as_tensor(value: Any) -> torch.Tensor | None:
    """A tensor from a tensor or an array-like; None when it is neither."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return None


def _transposed_conv_problem(x: torch.Tensor, kernel: torch.Tensor, stride: int, result: torch.Tensor) -> str | None:
    expected = F.conv_transpose2d(x[None, None], kernel[None, None], stride=stride)[0, 0]
    (h, w), (k_h, k_w) = x.shape, kernel.shape
    case = f"for a {h}×{w} input, a {k_h}×{k_w} kernel and stride {stride}"
    if tuple(result.shape) != tuple(expected.shape):
        got, want = tuple(result.shape), tuple(expected.shape)
        if got == (h * stride, w * stride):
            return (
                f"{case} the output has shape {got}, expected {want}: size·stride is right only when the kernel is as wide "
                "as the stride. The last stamp starts at (size − 1)·stride and is kernel_size wide: (size − 1)·stride + kernel_size."
            )
        if got == want[::-1]:
            return f"{case} the output has shape {got}, expected {want}: height and width are swapped."
        return f"{case} the output has shape {got}, expected {want} = ((H − 1)·stride + k_h, (W − 1)·stride + k_w)."
    result = result.to(expected.dtype)
    if torch.allclose(result, expected, atol=1e-5):
        return None
    if torch.allclose(result, _stamp_by_hand(x, kernel, stride, overwrite=True), atol=1e-5):
        return (
            f"{case} the values differ where stamps overlap: you kept only the last stamp there. "
            "Overlapping contributions are added (+=), not assigned (=)."
        )
    if torch.allclose(result, _stamp_by_hand(x, kernel.flip(0, 1), stride), atol=1e-5):
        return (
            f"{case} you stamped the kernel rotated by 180°: a transposed convolution stamps x[i, j] · kernel as it is."
        )
    row, col = (torch.nonzero(~torch.isclose(result, expected, atol=1e-5))[0]).tolist()
    return (
        f"{case} the value at row {row}, column {col} is {result[row, col].item():g}, expected {expected[row, col].item():g}. "
        "Start from zeros and add x[i, j] · kernel into out[i·stride : i·stride + k_h, j·stride : j·stride + k_w]."
    )


def check_transposed_conv_by_hand(transposed_conv2d: Callable[..., torch.Tensor]) -> Feedback:
    """Notebook 03, exercise 1: ``transposed_conv2d(x, kernel, stride=2)`` on 2-D tensors, compared with PyTorch.

    Three cases: the paper's 2×2 kernel with stride 2 (no overlap), a 3×3 kernel with
    stride 2 and a non-square input (overlaps, and a swapped height/width shows), and a
    stride-1 case where almost every pixel gets several stamps. Shape mistakes and value
    mistakes (overwriting overlaps, a flipped kernel) are named separately.
    """
    cases = [
        (torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [2.0, -1.0]]), 2),
        (torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]]), torch.arange(1.0, 10.0).reshape(3, 3), 2),
        (torch.tensor([[2.0, 1.0], [-1.0, 3.0], [1.0, 1.0]]), torch.tensor([[1.0, 2.0], [3.0, 5.0]]), 1),
    ]
    for x, kernel, stride in cases:
        result, failed = attempt("transposed_conv2d", transposed_conv2d, x.clone(), kernel.clone(), stride=stride)
        if failed is not None:
            return failed
        tensor = _as_tensor(result)
        if tensor is None or tensor.ndim != 2:
            return Feedback(
                False,
                f"return a 2-D tensor (the output image), got {type(result).__name__} {getattr(result, 'shape', '')}.",
            )
        problem = _transposed_conv_problem(x, kernel, stride, tensor)
        if problem:
            return Feedback(False, problem)
    return Feedback(
        True,
        "your stamps match F.conv_transpose2d exactly — without overlap (2×2, stride 2), and where stamps overlap and add up.",
    )


def _transposed_output_size(size: int, kernel_size: int, stride: int) -> int:
    """What PyTorch's ConvTranspose2d gives (padding 0): measured on the meta device, so it is PyTorch's own answer."""
    with torch.device("meta"):
        layer = nn.ConvTranspose2d(1, 1, kernel_size, stride=stride)
        return layer(torch.empty(1, 1, size, size)).shape[-1]


def check_transposed_output_size(transposed_conv_output_size: Callable[..., int]) -> Feedback:
    """Notebook 03, exercise 2: ``transposed_conv_output_size(size, kernel_size=2, stride=2)``.

    Names the off-by-one slips: ``size·stride`` (right only when kernel_size == stride),
    being one pixel short or over, and the ordinary convolution's formula (which shrinks).
    """
    cases = [(28, 2, 2), (4, 2, 2), (4, 3, 2), (5, 3, 1), (3, 4, 2), (1, 2, 2), (6, 1, 3)]
    for size, k, s in cases:
        expected = _transposed_output_size(size, k, s)
        result, failed = attempt(
            "transposed_conv_output_size", transposed_conv_output_size, size, kernel_size=k, stride=s
        )
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("transposed_conv_output_size", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        case = (
            f"transposed_conv_output_size({size}, kernel_size={k}, stride={s}) returned {result}, expected {expected}"
        )
        if result == size * s:
            why = (
                "size · stride is right only when kernel_size == stride. The last stamp starts at (size − 1)·stride "
                "and is kernel_size wide."
            )
        elif abs(result - expected) == 1:
            why = "off by one. Count where the last stamp starts, (size − 1)·stride, and add its width, kernel_size."
        elif result == (size - k) // s + 1:
            why = (
                "that is the ordinary convolution's formula, which shrinks. A transposed convolution runs it backwards."
            )
        else:
            why = "the output is (size − 1)·stride + kernel_size."
        return Feedback(False, f"{case}: {why}")
    return Feedback(
        True, "(size − 1)·stride + kernel_size: with the paper's kernel 2, stride 2 that is exactly 2·size, so 28 → 56."
    )


# -- notebook 04: centre crop -----------------------------------------------------------------

from ..model import UNetModel, count_parameters, nearest_valid_sizes, unet_output_size  # noqa: E402


def _crop_problem(x: torch.Tensor, size: tuple[int, int], result: Any) -> str | None:
    """What is wrong with ``result`` as the centre crop of ``x`` (values 0, 1, 2, … so offsets can be read back)."""
    *lead, height, width = x.shape
    h, w = size
    top, left = (height - h) // 2, (width - w) // 2
    case = f"cropping a map of shape {tuple(x.shape)} to {h}×{w}"
    if not isinstance(result, torch.Tensor):
        return f"{case}: return a torch.Tensor, got {type(result).__name__}."
    if tuple(result.shape[:-2]) != tuple(lead):
        return f"{case} gave shape {tuple(result.shape)}: keep the batch and channel axes and slice only the last two (x[..., rows, columns])."
    if tuple(result.shape[-2:]) != (h, w):
        got_h, got_w = result.shape[-2:]
        if (got_h, got_w) == (w, h):
            return f"{case} gave {got_h}×{got_w}: height and width are swapped — size is (height, width)."
        if abs(got_h - h) <= 1 and abs(got_w - w) <= 1:
            return f"{case} gave {got_h}×{got_w}: off by one in the size. The slice top : top + height holds exactly height rows."
        return f"{case} gave {got_h}×{got_w}, expected {h}×{w}."
    first = result.flatten()[0].item()
    got_top, got_left = divmod(int(first), width)
    block = x[..., got_top : got_top + h, got_left : got_left + w]
    if not (
        first == int(first)
        and 0 <= first < height * width
        and block.shape == result.shape
        and torch.equal(result.to(x.dtype), block)
    ):
        return f"{case}: the result has the right shape but is not a block of the input. Crop by slicing, without resizing or copying pixels around."
    if (got_top, got_left) == (top, left):
        return None
    start = f"{case} you started at row {got_top}, column {got_left}; the centre crop starts at ((H − h) // 2, (W − w) // 2) = ({top}, {left})"
    if (got_top, got_left) == (0, 0):
        return f"{case} you cut the top-left corner, not the centre: start at ((H − h) // 2, (W − w) // 2) = ({top}, {left})."
    if (got_top, got_left) == (height - h, width - w):
        return f"{case} you cut the bottom-right corner, not the centre: start at ((H − h) // 2, (W − w) // 2) = ({top}, {left})."
    if (got_top, got_left) == (left, top):
        return f"{start}: the row and column offsets are swapped."
    if (got_top, got_left) == (-(-(height - h) // 2), -(-(width - w) // 2)):
        return f"{start}: with an odd difference the extra pixel goes to the bottom/right — round down with //."
    if abs(got_top - top) <= 1 and abs(got_left - left) <= 1:
        return f"{start}: an off-by-one offset."
    return start + "."


def check_center_crop(my_center_crop: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]) -> Feedback:
    """Notebook 04, exercise 1: ``my_center_crop(x, (height, width))`` on ``(N, C, H, W)`` tensors.

    The inputs hold 0, 1, 2, … in each plane, so the checker reads back where the crop
    started and names a corner crop, an off-by-one or swapped offset, and the rounding
    with an odd difference. The U-Net's own differences are even; the library's rule
    for odd ones (extra pixel bottom/right) is the one checked.
    """
    cases = [((1, 2, 10, 10), (6, 6)), ((2, 1, 9, 12), (4, 6)), ((1, 1, 568, 568), (392, 392)), ((1, 1, 5, 7), (5, 7))]
    for shape, size in cases:
        *lead, height, width = shape
        plane = torch.arange(height * width, dtype=torch.float64).reshape(height, width)
        x = plane.expand(*lead, height, width).clone()
        result, failed = attempt("my_center_crop", my_center_crop, x.clone(), size)
        if failed is not None:
            return failed
        problem = _crop_problem(x, size, result)
        if problem:
            return Feedback(False, problem)
    return Feedback(
        True,
        "your crop keeps exactly the centre, batch and channels untouched: 568×568 → 392×392 cuts 88 px from every side.",
    )


def _skip_and_up_sizes(input_size: int, depth: int) -> list[tuple[int, int]]:
    """(skip size, up-convolved size) at each level 0 … depth − 1 (level 0 = the top), valid convolutions."""
    skips, size = [], input_size
    for _ in range(depth):
        size -= 4
        skips.append(size)
        size //= 2
    size -= 4  # bottleneck
    ups = []
    for _ in range(depth):
        size *= 2
        ups.append(size)
        size -= 4
    return list(zip(skips, reversed(ups)))


def check_crop_per_side(crop_per_side: Callable[..., int]) -> Feedback:
    """Notebook 04, exercise 2: ``crop_per_side(input_size, level, depth=4)``, pixels cut from each side of a skip.

    Level 0 is the top level (64 channels at the paper's width). Named slips: the total
    instead of per side, levels counted from the bottom, a crop taken after the
    expansive double convolution instead of right after the up-convolution.
    """
    cases = [(572, level, 4) for level in range(4)] + [(188, 0, 4), (124, 1, 3), (124, 0, 3), (92, 0, 2)]
    for input_size, level, depth in cases:
        pairs = _skip_and_up_sizes(input_size, depth)
        skip, up = pairs[level]
        expected = (skip - up) // 2
        result, failed = attempt("crop_per_side", crop_per_side, input_size, level, depth=depth)
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("crop_per_side", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        case = f"crop_per_side({input_size}, level={level}, depth={depth}) returned {result}, expected {expected} (skip {skip}, up-convolved {up})"
        mirrored_skip, mirrored_up = pairs[depth - 1 - level]
        if result == skip - up:
            why = "that is what both sides lose together — each side loses half."
        elif level != depth - 1 - level and result == (mirrored_skip - mirrored_up) // 2:
            why = "your levels are counted from the bottom. Level 0 is the top level, the one with the longest copy arrow."
        elif result == (skip - (up - 4)) // 2:
            why = "you cropped to the size after the expansive double convolution. The crop happens right after the up-convolution, before the double convolution."
        else:
            why = "follow one size: the skip is the map after level's double convolution; the up-convolved map is twice the size coming up from below."
        return Feedback(False, f"{case}: {why}")
    amounts = [(s - u) // 2 for s, u in _skip_and_up_sizes(572, 4)]
    return Feedback(
        True,
        f"at 572 the skips lose {'/'.join(map(str, amounts))} px per side, top to bottom — and the same at every valid size.",
    )


# -- notebook 05: full U-Net ------------------------------------------------------------------


def _nearest_valid_size(size: int, depth: int) -> int:
    below, above = nearest_valid_sizes(size, depth)
    return above if below is None or above - size <= size - below else below


def check_nearest_valid_size(nearest_valid_size: Callable[..., int]) -> Feedback:
    """Notebook 05, exercise 1: ``nearest_valid_size(size, depth=4)``, the closest size the U-Net accepts.

    A tie goes to the larger size (a larger tile gives a larger output). Named slips: an
    answer that is not valid, always rounding up or down, the tie, and ignoring ``depth``.
    """
    cases = [(570, 4), (560, 4), (572, 4), (100, 4), (564, 4), (600, 4), (503, 3), (400, 5), (30, 2)]
    for size, depth in cases:
        below, above = nearest_valid_sizes(size, depth)
        expected = _nearest_valid_size(size, depth)
        result, failed = attempt("nearest_valid_size", nearest_valid_size, size, depth=depth)
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("nearest_valid_size", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        case = f"nearest_valid_size({size}, depth={depth}) returned {result}, expected {expected}"
        if depth != 4 and result == _nearest_valid_size(size, 4):
            why = f"{result} is the answer for depth 4 — use the depth argument (valid sizes are {2**depth} apart at depth {depth})."
        elif unet_output_size(result, depth) is None:
            why = f"{result} is not a valid input for depth {depth} — the network would refuse it. Test a candidate n with unet_output_size(n, depth) is not None."
        elif below is not None and size - below == above - size and result == below:
            why = f"{size} is as far from {below} as from {above}: on a tie take the larger size (a larger tile gives a larger output)."
        elif result == above:
            why = f"you rounded up, but {below} is nearer ({size - below} px away, {above} is {above - size} px away)."
        elif result == below:
            why = (
                f"you rounded down, but {above} is nearer ({above - size} px away, {below} is {size - below} px away)."
            )
        else:
            why = f"the nearest valid sizes are {below} below and {above} above."
        return Feedback(False, f"{case}: {why}")
    return Feedback(
        True,
        "570 → 572, 560 → 556, and every depth has its own spacing (2**depth): the U-Net takes any of these without complaint.",
    )


class _ModuleCreationLog:
    """Context manager that records every ``nn.Module`` constructed while it is active.

    Containers built on the fly (slicing an ``nn.ModuleList`` makes a new one) are harmless;
    ``with_weights`` keeps only the modules that own parameters or buffers.
    """

    def __enter__(self) -> list[nn.Module]:
        self.created: list[nn.Module] = []
        self._original = nn.Module.__init__
        created, original = self.created, self._original

        def logging_init(module: nn.Module, *args: Any, **kwargs: Any) -> None:
            created.append(module)
            original(module, *args, **kwargs)

        nn.Module.__init__ = logging_init  # type: ignore[method-assign]
        return self.created

    def __exit__(self, *exc: object) -> None:
        nn.Module.__init__ = self._original  # type: ignore[method-assign]

    @staticmethod
    def with_weights(modules: list[nn.Module]) -> list[str]:
        """Type names of the modules that own parameters or buffers (a created layer with weights)."""
        own = lambda m: any(v is not None for v in (*m._parameters.values(), *m._buffers.values()))  # noqa: E731
        return [type(m).__name__ for m in modules if own(m)]


def _modules_in_plain_containers(model: nn.Module) -> list[str]:
    """Attributes that hold layers in a plain list/tuple/dict, where nn.Module cannot see them."""
    found = []
    for module_name, module in model.named_modules():
        for name, value in vars(module).items():
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            if not name.startswith("_") and any(isinstance(item, nn.Module) for item in items):
                found.append(f"{module_name}.{name}" if module_name else name)
    return found


def check_registers_layers(model_class: type) -> Feedback:
    """Notebook 05, exercise 2: ``model_class()`` must create every layer in ``__init__``.

    The contract: ``model_class()`` takes ``(N, 1, H, W)`` images and returns 2 class
    scores per pixel. The checker names a layer created in ``forward`` (it logs every
    module constructed during a call), layers hidden in a plain Python list, and two
    calls on the same input that disagree.
    """
    name = getattr(model_class, "__name__", "the model")
    model, failed = attempt(f"{name}.__init__", model_class)
    if failed is not None:
        return failed
    if not isinstance(model, nn.Module):
        return Feedback(
            False,
            f"{name}() should build an nn.Module, got {type(model).__name__}: subclass nn.Module and call super().__init__().",
        )
    hidden = _modules_in_plain_containers(model)
    if hidden:
        return Feedback(
            False,
            f"layers in a plain Python list ({', '.join(hidden)}): nn.Module cannot see them, so .parameters() and "
            "state_dict() miss them and the optimiser never trains them. Use nn.ModuleList (or nn.Sequential).",
        )
    keys_before = list(model.state_dict())
    x = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad(), _ModuleCreationLog() as created:
        first, failed = attempt(f"{name}.forward", model, x)
        second = model(x) if not failed else None
    if failed is not None:
        return failed
    created_layers = _ModuleCreationLog.with_weights(created)
    if created_layers:
        kinds = ", ".join(sorted(set(created_layers)))
        return Feedback(
            False,
            f"layer created in forward: every call builds a new {kinds}. It is re-initialised with random weights at "
            "each call, never trained, and missing from state_dict() — create it once in __init__ (self.head = …) "
            "and only *use* it in forward.",
        )
    if not isinstance(first, torch.Tensor) or first.ndim != 4 or first.shape[:2] != (2, 2):
        got = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        return Feedback(
            False,
            f"for input of shape {tuple(x.shape)} the output should be (2, 2, H, W) — two class scores per pixel — got {got}.",
        )
    if not torch.equal(first, second):
        return Feedback(
            False,
            "two calls on the same input gave different outputs (in eval mode): forward must not draw new random weights.",
        )
    if not keys_before:
        return Feedback(
            False, f"{name}() has no parameters in its state_dict: register the layers as attributes in __init__."
        )
    if list(model.state_dict()) != keys_before:
        return Feedback(
            False, "state_dict() changed during forward: some layer is (re)assigned in forward — create it in __init__."
        )
    return Feedback(
        True,
        f"every layer is built in __init__: state_dict() holds {len(keys_before)} tensors ({', '.join(keys_before)}), and two calls agree.",
    )


def _unet_parameters_by_formula(
    base_channels: int,
    depth: int,
    in_channels: int,
    num_classes: int,
    biases: bool = True,
    concat: bool = True,
    up_convs: bool = True,
    head: bool = True,
) -> int:
    """The paper U-Net's parameter count, with switches that reproduce the classic slips."""
    b = 1 if biases else 0
    conv = lambda c_in, c_out, k: c_in * c_out * k * k + b * c_out  # noqa: E731
    widths = [base_channels * 2**level for level in range(depth + 1)]
    total, c_in = 0, in_channels
    for width in widths:  # contracting path and bottleneck
        total += conv(c_in, width, 3) + conv(width, width, 3)
        c_in = width
    for level in reversed(range(depth)):  # expansive path
        width = widths[level]
        if up_convs:
            total += conv(widths[level + 1], width, 2)
        total += conv((2 if concat else 1) * width, width, 3) + conv(width, width, 3)
    if head:
        total += conv(widths[0], num_classes, 1)
    return total


def _unet_parameters(base_channels: int, depth: int, in_channels: int, num_classes: int) -> int:
    """PyTorch's own count for the configuration, built on the meta device (no memory, no time)."""
    with torch.device("meta"):
        model = UNetModel(in_channels=in_channels, num_classes=num_classes, base_channels=base_channels, depth=depth)
    return count_parameters(model)


def check_unet_parameter_count(unet_parameter_count: Callable[..., int]) -> Feedback:
    """Notebook 05, exercise 3: ``unet_parameter_count(base_channels=64, depth=4, in_channels=1, num_classes=2)`` by hand.

    The expected numbers come from ``UNetModel`` itself; a wrong answer is matched against
    the classic slips: no biases, the concatenation forgotten (the first expansive conv
    sees skip + up channels), the up-convolutions or the final 1×1 head left out.
    """
    cases = [(64, 4, 1, 2), (16, 3, 1, 2), (32, 5, 3, 4), (8, 1, 1, 2), (4, 0, 2, 3)]
    for base, depth, c_in, n_cls in cases:
        expected = _unet_parameters(base, depth, c_in, n_cls)
        result, failed = attempt(
            "unet_parameter_count",
            unet_parameter_count,
            base_channels=base,
            depth=depth,
            in_channels=c_in,
            num_classes=n_cls,
        )
        if failed is not None:
            return failed
        not_int = _float_instead_of_int("unet_parameter_count", result)
        if not_int is not None:
            return not_int
        if result == expected:
            continue
        args = (base, depth, c_in, n_cls)
        case = f"unet_parameter_count(base_channels={base}, depth={depth}, in_channels={c_in}, num_classes={n_cls}) returned {result:,}, expected {expected:,}"
        slips = [
            (dict(biases=False), "the biases are missing — every convolution has one bias per output channel."),
            (
                dict(concat=False),
                "the first convolution of each expansive block sees the skip *and* the up-convolved map: 2 × the channels.",
            ),
            (
                dict(up_convs=False),
                "the up-convolutions are missing — each is a 2×2 kernel from 2c to c channels, plus biases.",
            ),
            (dict(head=False), "the final 1×1 convolution (base_channels → num_classes, plus biases) is missing."),
        ]
        why = next((text for switches, text in slips if result == _unet_parameters_by_formula(*args, **switches)), None)
        return Feedback(
            False, f"{case}: {why or 'add up double convolutions, up-convolutions and the head, level by level.'}"
        )
    return Feedback(
        True,
        f"{_unet_parameters(64, 4, 1, 2):,} for the paper's U-Net, and your formula holds for every width, depth, input and class count tried.",
    )


# -- notebook 06: EM data ---------------------------------------------------------------------


def _as_array(value: Any) -> np.ndarray | None:
    """A NumPy array from an array or tensor answer, None if it is neither."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    return None


def check_mirror_pad(mirror_pad: Callable[[np.ndarray, int], np.ndarray]) -> Feedback:
    """Notebook 06, exercise 1: ``mirror_pad(image, pad)`` extends an image by mirroring, as the overlap-tile strategy does.

    Named slips: the edge pixel repeated (``"symmetric"`` instead of ``"reflect"``), zeros or
    edge copies instead of a mirror image, wrapping around, padding one side only.
    """
    image = np.arange(30.0).reshape(5, 6)
    for pad in (2, 1, 0, 4):
        expected = np.pad(image, pad, mode="reflect")
        result, failed = attempt("mirror_pad", mirror_pad, image.copy(), pad)
        if failed is not None:
            return failed
        array = _as_array(result)
        if array is None:
            return Feedback(False, f"mirror_pad returned a {type(result).__name__}; return a NumPy array.")
        if array.shape != expected.shape:
            return Feedback(
                False,
                f"a 5×6 image padded by {pad} must be {expected.shape[0]}×{expected.shape[1]} (pad on all four sides), got {array.shape}.",
            )
        if np.array_equal(array, expected):
            continue
        slips = [
            (
                "symmetric",
                'the edge pixel is repeated — the paper mirrors *about* the edge pixel, so row −1 is row 1 (numpy\'s mode "reflect", not "symmetric").',
            ),
            (
                "constant",
                "that is zero padding — the overlap-tile strategy mirrors the image so the network sees plausible context.",
            ),
            ("edge", "that repeats the edge pixel outwards — mirror the image instead."),
            ("wrap", "that wraps around to the opposite side — mirror at the near border instead."),
        ]
        why = next((text for mode, text in slips if np.array_equal(array, np.pad(image, pad, mode=mode))), None)
        if why is None and not np.array_equal(array[pad : pad + 5, pad : pad + 6], image):
            why = "the original image must sit unchanged in the middle."
        return Feedback(
            False,
            f"mirror_pad(5×6 ramp, {pad}): {why or 'row −k must equal row k, and row H−1+k row H−1−k (the same for columns).'}",
        )
    return Feedback(
        True,
        "your padding mirrors about the border pixel, exactly like numpy.pad(mode='reflect') — the context the U-Net gets beyond the image border.",
    )


def check_cell_fraction(cell_fraction: Callable[[list[np.ndarray]], float]) -> Feedback:
    """Notebook 06, exercise 2: ``cell_fraction(labels)``, the share of cell pixels (class 1) over all pixels.

    The labels have different sizes, so the mean of per-image fractions is wrong; percentages,
    the membrane share and counting the value 255 are the other slips it names.
    """
    labels = [np.zeros((4, 5), np.uint8), np.ones((2, 2), np.uint8), np.eye(6, dtype=np.uint8)]
    labels[0][:, :2] = 1
    cells = sum(int(lab.sum()) for lab in labels)
    total = sum(lab.size for lab in labels)
    expected = cells / total
    result, failed = attempt("cell_fraction", cell_fraction, [lab.copy() for lab in labels])
    if failed is not None:
        return failed
    if isinstance(result, (str, bytes)) or np.ndim(result) != 0:
        return Feedback(False, f"cell_fraction returned {type(result).__name__}; return one number between 0 and 1.")
    value = float(result)
    if abs(value - expected) < 1e-9:
        return Feedback(
            True,
            f"pooled over all pixels ({cells} of {total} here): the share of the cell class, weighted by image size.",
        )
    per_image = float(np.mean([lab.mean() for lab in labels]))
    slips = [
        (
            per_image,
            "that is the mean of per-image fractions — images of different sizes must count by their pixels: sum the cell pixels, divide by all pixels.",
        ),
        (100 * expected, "that is a percentage — return a fraction between 0 and 1."),
        (1 - expected, "that is the membrane (class 0) share — count class 1."),
        (0.0, "nothing counted — labels here are 0/1 (the loaders turned 255 into 1), so count `label == 1`."),
    ]
    why = next(
        (text for wrong, text in slips if abs(value - wrong) < 1e-9),
        "sum the cell pixels of all labels and divide by the number of all pixels.",
    )
    return Feedback(False, f"three labels (4×5, 2×2, 6×6) gave {value:.4f}, expected {expected:.4f}: {why}")


# -- notebook 07: weighted loss ---------------------------------------------------------------


def check_cross_entropy_by_hand(cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Notebook 07, exercise 1: ``cross_entropy(logits, target)``, the pixel-wise softmax cross-entropy by hand.

    Compared with ``torch.nn.functional.cross_entropy``; named slips: a missing minus sign,
    the sum instead of the mean, the softmax over the wrong axis, and overflow for large logits.
    """
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=generator) * 2
    target = torch.randint(0, 3, (2, 4, 5), generator=generator)
    expected = F.cross_entropy(logits, target)
    result, failed = attempt("cross_entropy", cross_entropy, logits.clone(), target.clone())
    if failed is not None:
        return failed
    if not isinstance(result, torch.Tensor) or result.numel() != 1:
        return Feedback(
            False,
            f"return one number as a tensor (the mean over all pixels), got {type(result).__name__} {tuple(getattr(result, 'shape', ()))}.",
        )
    value = float(result)
    if not abs(value - float(expected)) < 1e-4:
        wrong_axis = [float(-(torch.log_softmax(logits, d).gather(1, target[:, None]).mean())) for d in (0, 2, 3)]
        slips = [
            (-float(expected), "the sign is flipped — the loss is −log p, which is positive."),
            (
                float(expected) * target.numel(),
                "that is the sum over pixels — the paper's energy is summed, but PyTorch (and unet_lib) take the mean.",
            ),
            *(
                (w, "the softmax runs over the wrong axis — the classes are dimension 1 of (N, C, H, W).")
                for w in wrong_axis
            ),
        ]
        why = next(
            (text for wrong, text in slips if abs(value - wrong) < 1e-4),
            "take log_softmax over the classes (dim 1), pick each pixel's true class, negate, average.",
        )
        return Feedback(False, f"got {value:.4f}, PyTorch's cross_entropy gives {float(expected):.4f}: {why}")
    big = torch.tensor([[[[1000.0]], [[-1000.0]]]])
    result, failed = attempt("cross_entropy", cross_entropy, big, torch.tensor([[[1]]]))
    if failed is not None:
        return failed
    if not torch.isfinite(torch.as_tensor(result)).all() or abs(float(result) - 2000.0) > 1e-2:
        return Feedback(
            False,
            f"logits (1000, −1000) with class 1 gave {float(result)}, expected 2000: exp(1000) overflows — subtract the largest logit first (log-sum-exp), or use torch.log_softmax.",
        )
    return Feedback(True, "the same number as PyTorch's cross_entropy, and stable for logits of ±1000.")


def check_border_weight(border_weight: Callable[..., np.ndarray]) -> Feedback:
    """Notebook 07, exercise 2: ``border_weight(d1, d2, w0=10, sigma=5)``, the paper's w0·exp(−(d1+d2)²/(2σ²)).

    Named slips: squaring each distance instead of their sum, the factor 2 or the square on σ
    forgotten, w0 left out or added instead of multiplied.
    """
    d1 = np.array([0.0, 1.0, 2.0, 3.0, 1.5, 6.0])
    d2 = np.array([0.0, 1.0, 4.0, 3.0, 7.0, 9.0])
    for w0, sigma in ((10.0, 5.0), (4.0, 2.5)):
        expected = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
        result, failed = attempt("border_weight", border_weight, d1.copy(), d2.copy(), w0=w0, sigma=sigma)
        if failed is not None:
            return failed
        array = _as_array(result) if not np.isscalar(result) else np.asarray(result)
        if array is None or array.shape != expected.shape:
            return Feedback(
                False,
                f"border_weight must work element-wise on arrays: got {type(result).__name__} {getattr(array, 'shape', '')}, expected shape {expected.shape} (use np.exp, not math.exp).",
            )
        if np.allclose(array, expected, rtol=1e-6, atol=1e-9):
            continue
        s = sigma
        slips = [
            (w0 * np.exp(-(d1**2 + d2**2) / (2 * s**2)), "square the *sum* d1 + d2, not each distance: (d1 + d2)²."),
            (w0 * np.exp(-((d1 + d2) ** 2) / s**2), "the denominator is 2σ² — the factor 2 is missing."),
            (w0 * np.exp(-((d1 + d2) ** 2) / (2 * s)), "σ must be squared in the denominator: 2σ²."),
            (
                np.exp(-((d1 + d2) ** 2) / (2 * s**2)),
                "w0 is missing — it sets how much the borders weigh (10 in the paper).",
            ),
            (w0 + np.exp(-((d1 + d2) ** 2) / (2 * s**2)), "w0 multiplies the exponential, it is not added."),
        ]
        why = next(
            (text for wrong, text in slips if np.allclose(array, wrong)), "w(x) = w0 · exp(−(d1 + d2)² / (2σ²))."
        )
        return Feedback(False, f"with w0={w0:g}, σ={sigma:g}: {why}")
    near, far = (10 * np.exp(-(gap**2) / 50) for gap in (5, 15))
    return Feedback(
        True,
        f"with w0 = 10 and σ = 5 a pixel in a 5 px gap (d1 + d2 = 5) gets {near:.2f} extra weight, one in a 15 px gap only {far:.2f}.",
    )


# -- notebook 08: training -----------------------------------------------------------------


def _step_model(seed: int = 0) -> nn.Module:
    """A tiny U-Net with batch norm (so that forgetting ``model.train()`` shows)."""
    torch.manual_seed(seed)
    return UNetModel(base_channels=2, depth=1, batch_norm=True)


def _step_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 1, 36, 36, generator=generator)
    y = torch.randint(0, 2, (2, 20, 20), generator=generator)
    return x, y, torch.rand(2, 20, 20, generator=generator) + 0.5


def _weighted_ce(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    per_pixel = F.cross_entropy(logits, y, reduction="none")
    return per_pixel.mean() if w is None else (w * per_pixel).mean()


def check_train_step(train_step: Callable[..., float]) -> Feedback:
    """Notebook 08, exercise 1: ``train_step(model, optimizer, loss_fn, x, y, w)``, one step of gradient descent.

    Runs two steps against ``unet_lib.train.train_step`` from the same weights; named slips:
    no ``optimizer.step()``, no ``zero_grad`` (gradients pile up over steps), no
    ``model.train()``, and returning a tensor instead of ``loss.item()``.
    """
    from ..train import train_step as reference_step

    mine, ref = _step_model(), _step_model()
    mine.eval()  # the learner's step must switch to training mode itself
    opt_mine = torch.optim.SGD(mine.parameters(), lr=0.1)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    for step in range(2):
        x, y, w = _step_batch(step)
        before = [p.detach().clone() for p in mine.parameters()]
        result, failed = attempt("train_step", train_step, mine, opt_mine, _weighted_ce, x, y, w)
        if failed is not None:
            return failed
        expected = reference_step(ref, opt_ref, _weighted_ce, x, y, w)
        if isinstance(result, torch.Tensor):
            return Feedback(
                False,
                "return the loss as a Python number with `loss.item()`: a tensor would keep the whole graph alive in your history.",
            )
        if not isinstance(result, float):
            return Feedback(False, f"return the loss as a float (`loss.item()`), got {type(result).__name__}.")
        if all(torch.equal(a, p) for a, p in zip(before, mine.parameters())):
            return Feedback(False, "the weights did not change: call `optimizer.step()` after `loss.backward()`.")
        if step == 0 and abs(result - expected) > 1e-5:
            return Feedback(
                False,
                f"the loss is {result:.5f}, expected {expected:.5f}: call `model.train()` first — in eval mode batch norm uses its running statistics.",
            )
        if not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine.parameters(), ref.parameters())):
            if step == 1:
                return Feedback(
                    False,
                    "the first step is right, the second is not: call `optimizer.zero_grad()` before `loss.backward()`, or the gradients of both steps add up.",
                )
            return Feedback(
                False,
                "the weights after one step differ from unet_lib's: forward, loss, `loss.backward()`, `optimizer.step()`.",
            )
    return Feedback(
        True, "two steps give exactly unet_lib's weights: zero the gradients, forward, loss, backward, step."
    )


def check_should_stop(should_stop: Callable[[int, int | None, float, float | None], bool]) -> Feedback:
    """Notebook 08, exercise 2: ``should_stop(step, steps, elapsed_seconds, minutes)``, the training budget.

    Named slips: seconds compared with minutes, ``>`` instead of ``>=``, and a ``None``
    budget treated as zero.
    """
    cases = [
        ((5, 10, 0.0, None), False, "5 of 10 steps done: keep going."),
        ((10, 10, 0.0, None), True, "stop when the step count *reaches* `steps` (≥, not >)."),
        (
            (0, None, 59.0, 1.0),
            False,
            "59 s of a 1-minute budget: keep going — `minutes` is in minutes, the clock in seconds (× 60).",
        ),
        ((0, None, 60.0, 1.0), True, "60 s is the whole 1-minute budget: stop (≥, and minutes × 60 = seconds)."),
        ((3, None, 1000.0, None), False, "with no budget given (`None`) that budget never stops the run."),
        ((3, 10, 1000.0, 5.0), True, "1000 s is more than 5 minutes: stop, even though steps are left."),
        ((12, 10, 1.0, 5.0), True, "12 ≥ 10 steps: stop, even though time is left."),
    ]
    for args, expected, why in cases:
        result, failed = attempt("should_stop", should_stop, *args)
        if failed is not None:
            return failed
        if bool(result) != expected:
            return Feedback(False, f"should_stop{args} returned {result!r}: {why}")
    return Feedback(
        True, "stops at the step count or the time budget, whichever comes first, and ignores a budget of None."
    )


def check_save_atomically(save_atomically: Callable[[Any, Any], Any]) -> Feedback:
    """Notebook 08, exercise 3: ``save_atomically(obj, path)``, a checkpoint that a crash cannot damage.

    Simulates a crash inside ``torch.save``; named slips: writing straight to the target
    (the old checkpoint is destroyed) and leaving the temporary file behind.
    """
    import tempfile
    from pathlib import Path

    real_save = torch.save
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.ckpt"
        _, failed = attempt("save_atomically", save_atomically, {"step": 1}, path)
        if failed is not None:
            return failed
        if not path.is_file() or torch.load(path, weights_only=True) != {"step": 1}:
            return Feedback(
                False, "after save_atomically(obj, path) the file must exist and torch.load it must give obj back."
            )
        if sorted(p.name for p in Path(folder).iterdir()) != ["last.ckpt"]:
            return Feedback(
                False, "a temporary file was left beside the checkpoint: rename it with os.replace(temporary, path)."
            )

        def crash(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            Path(f).write_bytes(b"half a checkpoint")
            raise OSError("simulated crash while writing")

        torch.save = crash
        try:
            save_atomically({"step": 2}, path)
        except OSError:
            pass
        except NotImplementedError:
            return your_turn("save_atomically")
        finally:
            torch.save = real_save
        try:
            survived = torch.load(path, weights_only=True) == {"step": 1}
        except Exception:
            survived = False
        if not survived:
            return Feedback(
                False,
                "a crash while saving destroyed the previous checkpoint: write to a temporary file in the same folder first, then os.replace it onto the target.",
            )
        if sorted(p.name for p in Path(folder).iterdir()) != ["last.ckpt"]:
            return Feedback(
                False,
                "the old checkpoint survived the crash, but the half-written temporary file was left behind: remove it in a `finally:` (or `except`).",
            )
    return Feedback(
        True, "the old checkpoint survives a crash in the middle of saving, and no temporary file is left behind."
    )


# -- notebook 09: evaluation -------------------------------------------------------------------


def check_count_tiles(count_tiles: Callable[[int, int, int], int]) -> Feedback:
    """Notebook 09, exercise 1: ``count_tiles(height, width, stride)``, output tiles needed to cover an image.

    Named slips: rounding down (the border strip is left out), and dividing areas.
    """
    for height, width, stride in ((512, 512, 384), (512, 512, 256), (520, 696, 192), (100, 30, 200), (384, 768, 384)):
        expected = -(-height // stride) * -(-width // stride)
        result, failed = attempt("count_tiles", count_tiles, height, width, stride)
        if failed is not None:
            return failed
        if result != expected:
            if result == (height // stride) * (width // stride):
                why = "rounding down leaves a strip at the bottom/right unpredicted: a partial tile is still a tile (round up)."
            elif result == -(-(height * width) // stride**2):
                why = "count rows of tiles and columns of tiles separately, each rounded up, then multiply."
            else:
                why = "tiles per row = ⌈width / stride⌉, rows = ⌈height / stride⌉."
            return Feedback(
                False, f"count_tiles({height}, {width}, {stride}) returned {result!r}, expected {expected}: {why}"
            )
    return Feedback(True, "a 512 × 512 slice with 388-px output tiles placed 384 px apart takes 2 × 2 = 4 tiles.")


def check_foreground_iou(iou: Callable[[np.ndarray, np.ndarray], float]) -> Feedback:
    """Notebook 09, exercise 2: ``iou(pred, true)``, intersection over union of the foreground (class 1).

    Named slips: the sum of the areas instead of the union (that is half the Dice), the
    membrane class instead of the cell class, and an error for two empty masks.
    """
    from .. import metrics

    rng = np.random.default_rng(0)
    true = rng.random((20, 20)) < 0.7
    pred = true ^ (rng.random((20, 20)) < 0.15)
    result, failed = attempt("iou", iou, pred.astype(np.uint8), true.astype(np.uint8))
    if failed is not None:
        return failed
    expected = metrics.iou(pred, true)
    if result is None or not np.isscalar(result) and np.ndim(result) != 0:
        return Feedback(False, f"return one number, got {type(result).__name__}.")
    if abs(float(result) - expected) > 1e-6:
        slips = [
            (
                (pred & true).sum() / (pred.sum() + true.sum()),
                "divide by the union |P ∪ T| (pixels in either), not |P| + |T| (that counts the overlap twice).",
            ),
            (
                metrics.iou(~pred, ~true),
                "that is the IoU of the membrane (class 0): the foreground is class 1, the cells.",
            ),
            (
                metrics.dice(pred, true),
                "that is the Dice coefficient 2|P ∩ T| / (|P| + |T|); IoU is |P ∩ T| / |P ∪ T|.",
            ),
        ]
        why = next(
            (text for wrong, text in slips if abs(float(result) - wrong) < 1e-6),
            "IoU = |P ∩ T| / |P ∪ T| with P, T the pixels labelled 1.",
        )
        return Feedback(False, f"got {float(result):.4f}, expected {expected:.4f}: {why}")
    empty = np.zeros((4, 4), np.uint8)
    result, failed = attempt("iou", iou, empty, empty)
    if failed is not None:
        return Feedback(
            False,
            f"two empty masks agree perfectly: return 1.0 instead of dividing by an empty union ({failed.message})",
        )
    if result is None or not float(result) == 1.0:
        return Feedback(False, f"two empty masks agree perfectly: return 1.0 (got {result!r}).")
    return Feedback(True, f"{expected:.3f} on the test masks, and 1.0 for two empty masks.")


def check_isbi_pixel_error(isbi_pixel_error: Callable[..., float]) -> Feedback:
    """Notebook 09, exercise 3: ``isbi_pixel_error(probability, true, thresholds)``, the challenge's pixel error.

    Named slips: 1 − accuracy, the best F-score itself (not 1 − it), and the worst threshold.
    """
    from .. import metrics

    rng = np.random.default_rng(1)
    true = rng.random((30, 30)) < 0.75
    probability = np.clip(true * 0.5 + rng.normal(0.25, 0.2, true.shape), 0, 1)
    thresholds = np.linspace(0.1, 0.9, 9)
    expected = metrics.isbi_pixel_error(probability, true, thresholds)
    result, failed = attempt(
        "isbi_pixel_error", isbi_pixel_error, probability.copy(), true.astype(np.uint8), thresholds
    )
    if failed is not None:
        return failed
    if result is None or np.ndim(result) != 0:
        return Feedback(False, f"return one number, got {type(result).__name__}.")
    value = float(result)
    if abs(value - expected) > 1e-6:
        scores = metrics.f_scores(probability, true, thresholds)
        slips = [
            (
                metrics.pixel_error(probability > 0.5, true),
                "that is 1 − accuracy at threshold 0.5; the challenge takes 1 − the *F-score*, at the best threshold.",
            ),
            (1 - expected, "that is the best F-score itself; the pixel error is 1 − it."),
            (1 - scores.min(), "that is the *worst* threshold: take the maximum F-score over thresholds."),
            (1 - scores[4], "that is the F-score at a single threshold (0.5): take the best over all `thresholds`."),
        ]
        why = next(
            (text for wrong, text in slips if abs(value - wrong) < 1e-6),
            "for each threshold t: F-score of (probability > t) against true, then 1 − the largest.",
        )
        return Feedback(False, f"got {value:.4f}, expected {expected:.4f}: {why}")
    return Feedback(
        True,
        f"1 − max F = {expected:.3f} here, while 1 − accuracy at 0.5 is {metrics.pixel_error(probability > 0.5, true):.3f}: not the same measure.",
    )


# -- notebook 11: your own images ------------------------------------------------------------------
from .own_images import check_colour_to_instances, check_median_diameter, check_object_scores  # noqa: E402, F401
