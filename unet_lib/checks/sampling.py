"""Checkers of notebooks 02–03: max pooling and the contracting path, then the up-convolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..model import size_walk
from .core import Feedback, Mistake, as_array, case, check_cases, is_int, name_of, same_values, whole_number, your_turn

# -- notebook 02: max pooling ----------------------------------------------------------------


def _windows(x: torch.Tensor) -> torch.Tensor:
    """``x`` cut into 2×2 windows: axes 3 and 5 run inside a window."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2)


def _pooled_shape(x: torch.Tensor, height: bool = True, width: bool = True) -> tuple[int, ...]:
    n, c, h, w = x.shape
    return (n, c, h // 2 if height else h, w // 2 if width else w)


_POOLING_MISTAKES = [
    Mistake(
        when=lambda got, x: tuple(got.shape) == _pooled_shape(x, width=False),
        says="only the height was pooled — take the max over both window axes.",
    ),
    Mistake(
        when=lambda got, x: tuple(got.shape) == _pooled_shape(x, height=False),
        says="only the width was pooled — take the max over both window axes.",
    ),
    Mistake(
        when=lambda got, x: tuple(got.shape) == tuple(_windows(x).shape),
        says="you reshaped into windows but did not reduce them — take .amax(dim=(3, 5)).",
    ),
    Mistake(
        when=lambda got, x: got.ndim != 4, says="keep four axes; the batch and channel axes (N, C) stay as they are."
    ),
    Mistake(
        when=lambda got, x: tuple(got.shape[-2:]) == _pooled_shape(x)[-2:] and got.shape[:2] != x.shape[:2],
        says="the spatial size is right, but N and C must stay unchanged.",
    ),
    Mistake(
        when=lambda got, x: tuple(got.shape) != _pooled_shape(x),
        says=lambda got, x: (
            f"the output must have shape (N, C, H // 2, W // 2) = {_pooled_shape(x)}: reshape to "
            "(n, c, h // 2, 2, w // 2, 2) and take the max over the window axes 3 and 5."
        ),
    ),
    Mistake(
        gives=lambda x: _windows(x).mean(dim=(3, 5)),
        says="this is average pooling: take the maximum of each window (amax), not the mean.",
    ),
    Mistake(gives=lambda x: _windows(x).amin(dim=(3, 5)), says="this is the minimum of each window: take amax."),
    Mistake(
        gives=lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4).amax(dim=-1),
        says="the windows are not 2×2 squares: reshape(n, c, h // 2, w // 2, 4) groups neighbours along a row. "
        "Reshape to (n, c, h // 2, 2, w // 2, 2) and take amax over dims 3 and 5.",
    ),
]


def _pooled_kind(got: Any, expected: torch.Tensor) -> str | None:
    """A tensor is what pooling returns; ``.max(dim)`` gives a (values, indices) pair instead."""
    if isinstance(got, torch.Tensor):
        return None
    if hasattr(got, "values") and hasattr(got, "indices"):
        return (
            ".max(dim=...) returns values and indices together: take .values, or use .amax(dim=(3, 5)), which "
            "reduces both window axes at once."
        )
    return "return a torch.Tensor."


def check_max_pool_by_hand(max_pool_2x2: Callable[[torch.Tensor], torch.Tensor]) -> Feedback:
    """Notebook 02, exercise 1: 2×2 max pooling with reshape and amax, compared with nn.MaxPool2d.

    Two random inputs of different, non-square shapes, so that hard-coded sizes and
    a swapped height/width show up.
    """
    generator = torch.Generator().manual_seed(0)
    shapes = [(2, 3, 6, 8), (1, 1, 10, 4)]
    inputs = [torch.randn(*shape, generator=generator) for shape in shapes]
    return check_cases(
        "max_pool_2x2",
        max_pool_2x2,
        [case(x, expected=nn.MaxPool2d(2)(x)) for x in inputs],
        _POOLING_MISTAKES,
        success=f"matches nn.MaxPool2d(2) on random inputs of shapes {shapes[0]} and {shapes[1]}.",
        rule="the values differ from nn.MaxPool2d(2): take the maximum of every 2×2 window.",
        returns=_pooled_kind,
        same=same_values(1e-6),
        on_crash="read N, C, H, W from x.shape rather than fixing them",
    )


def _contracting_sizes(input_size: int, depth: int) -> list[int]:
    """The size after each double convolution, bottleneck last, read off ``size_walk``."""
    sizes, _ = size_walk(input_size, depth)
    return sizes[1 : 2 * depth + 2 : 2]


def _first_odd(input_size: int, depth: int) -> int | None:
    """The odd size a pooling would meet (where ``size_walk`` stops), or None."""
    sizes, problem = size_walk(input_size, depth)
    return sizes[-1] if problem and sizes[-1] >= 2 and sizes[-1] % 2 else None


def _slipped_path(input_size: int, depth: int, trim: int) -> tuple[list[int], bool]:
    """A model of the learner's slip: the sizes with ``trim`` pixels per double convolution instead of 4,
    and whether that path meets an odd size before a pooling."""
    sizes, size, odd = [], input_size, False
    for level in range(depth + 1):
        size -= trim
        sizes.append(size)
        if level < depth:
            odd = odd or size % 2 == 1
            size //= 2
    return sizes, odd


_TRIM_SLIPS = {
    2: "each double convolution trims 4 pixels (2 per 3×3 convolution); did you forget the second convolution?",
    8: "a 3×3 convolution trims 1 pixel per side, 2 in total, so a double convolution trims 4, not 8.",
}


def _call_contracting(answer: Callable[..., list[int]], input_size: int, depth: int) -> tuple[Any, Exception | None]:
    """Call the learner's function; a ValueError is an answer here (odd sizes must raise one)."""
    try:
        return answer(input_size, depth=depth), None
    except NotImplementedError:
        raise
    except Exception as error:  # every error is reported to the learner
        return None, error


def _contracting_slip(name: str, result: list[int], input_size: int, depth: int) -> str:
    """Name the slip behind a wrong list of sizes (or say what was expected)."""
    expected = _contracting_sizes(input_size, depth)
    shown = f"{name}({input_size}, depth={depth}) returned {result}, expected {expected}"
    for trim, why in _TRIM_SLIPS.items():
        if result == _slipped_path(input_size, depth, trim)[0]:
            return f"{shown}: off by {abs(4 - trim)} per level — {why}"
    if result == expected[:-1]:
        return f"{shown}: the bottleneck is missing — after the last pool comes one more double convolution."
    if result == [s // 2 for s in expected[:-1]]:
        return f"{shown}: these are the sizes after pooling; list the size after each double convolution."
    if len(result) > len(expected) and expected == [s for s in result if s in expected]:
        return f"{shown}: list only the sizes after the double convolutions, not after the pools."
    return f"{shown}: subtract 4 for each double convolution, halve for each pooling, depth + 1 sizes in all."


def _valid_size_refused(name: str, answer: Callable[..., list[int]], error: Exception, size: int, depth: int) -> str:
    """Why a valid size was refused: find the wrong trim by trying a size that suits that trim."""
    message = f"{name}({size}, depth={depth}) raised {type(error).__name__}: {error}"
    if not isinstance(error, ValueError):
        return message + "."
    message += f" — but {size} is a valid size"
    bottleneck = _contracting_sizes(size, depth)[-1]
    if bottleneck % 2:
        return (
            f"{message}: its bottleneck is {bottleneck} px, odd, but no pool follows the bottleneck. Test only the "
            f"sizes a pool will see (the first {depth})."
        )
    for trim, why in _TRIM_SLIPS.items():
        probe = next(n for n in range(size, size + 2 ** (depth + 1) * trim) if not _slipped_path(n, depth, trim)[1])
        result, probe_error = _call_contracting(answer, probe, depth)
        if probe_error is None and result == _slipped_path(probe, depth, trim)[0]:
            return (
                f"{message}, while {probe} passes with sizes {result}: you trim {trim} pixels per double "
                f"convolution — {why}"
            )
    return message + "."


def _odd_size_problem(name: str, answer: Callable[..., list[int]], input_size: int) -> str | None:
    """An input whose path meets an odd size must be refused with a ValueError."""
    result, error = _call_contracting(answer, input_size, 4)
    if error is None:
        trace = " → ".join(map(str, size_walk(input_size, 4)[0]))
        return (
            f"{name}({input_size}) returned {result!r}, but {trace}: the next pool would see the odd size "
            f"{_first_odd(input_size, 4)}, nn.MaxPool2d would silently drop a row, and the skip connections would "
            "no longer line up. Raise a ValueError instead."
        )
    if not isinstance(error, ValueError):
        return f"for the odd size in {name}({input_size}) raise a ValueError, not {type(error).__name__} ({error})."
    return None


def check_contracting_path_sizes(contracting_path_sizes: Callable[..., list[int]]) -> Feedback:
    """Notebook 02, exercise 2: the size after each double convolution of the contracting path.

    ``contracting_path_sizes(input_size, depth=4)`` returns depth + 1 sizes (the bottleneck
    last) and raises ``ValueError`` when a pool would see an odd size. Bespoke, because an
    exception is part of the right answer. The wrong answers named: forgetting the second
    convolution (trim 2), trimming 8, leaving out the bottleneck, listing pooled sizes,
    silently pooling an odd size, and refusing an odd bottleneck (no pool follows it).
    """
    name = name_of(contracting_path_sizes, "contracting_path_sizes")
    try:
        for input_size, depth in ((572, 4), (188, 4), (572, 2), (140, 1), (588, 4)):  # 588: an odd bottleneck, 29
            result, error = _call_contracting(contracting_path_sizes, input_size, depth)
            if error is not None:
                return Feedback(False, _valid_size_refused(name, contracting_path_sizes, error, input_size, depth))
            if not isinstance(result, (list, tuple)) or not all(is_int(s) for s in result):
                return Feedback(
                    False, f"{name}({input_size}, depth={depth}) should return a list of ints, got {result!r}."
                )
            if list(result) != _contracting_sizes(input_size, depth):
                return Feedback(False, _contracting_slip(name, list(result), input_size, depth))
        for input_size in (570, 571):
            problem = _odd_size_problem(name, contracting_path_sizes, input_size)
            if problem:
                return Feedback(False, problem)
    except NotImplementedError:
        return your_turn(name)
    sizes = _contracting_sizes(572, 4)
    return Feedback(
        True,
        f"572 → {sizes}: the bottleneck works on {sizes[-1]}×{sizes[-1]} maps; 570 and 571 are refused because a "
        "pool would see an odd size.",
    )


# -- notebook 03: transposed convolution ------------------------------------------------------


def _transposed(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """PyTorch's transposed convolution of one 2-D image with one 2-D kernel (the expected answer)."""
    return F.conv_transpose2d(x[None, None].double(), kernel[None, None].double(), stride=stride)[0, 0]


def _transposed_shape(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> tuple[int, int]:
    return tuple(_transposed(x, kernel, stride).shape)


def _overwritten_stamps(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """A model of the classic slip: each stamp *assigned* (=) where it should be added (+=)."""
    k_h, k_w = kernel.shape
    out = torch.zeros(_transposed_shape(x, kernel, stride), dtype=torch.float64)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i * stride : i * stride + k_h, j * stride : j * stride + k_w] = x[i, j] * kernel
    return out


def _unstrided_stamps(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """A model of the slip: each stamp placed at (i, j) instead of (i·stride, j·stride), in the right-sized output."""
    k_h, k_w = kernel.shape
    out = torch.zeros(_transposed_shape(x, kernel, stride), dtype=torch.float64)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i : i + k_h, j : j + k_w] += x[i, j] * kernel
    return out


_TRANSPOSED_CONV_MISTAKES = [
    Mistake(
        when=lambda got, x, kernel, stride: (
            tuple(got.shape) == (x.shape[0] * stride, x.shape[1] * stride)
            and tuple(got.shape) != _transposed_shape(x, kernel, stride)
        ),
        says="size·stride is right only when the kernel is as wide as the stride. The last stamp starts at "
        "(size − 1)·stride and is kernel_size wide: (size − 1)·stride + kernel_size.",
    ),
    Mistake(
        when=lambda got, x, kernel, stride: (
            tuple(got.shape) == _transposed_shape(x, kernel, stride)[::-1] and got.shape[0] != got.shape[1]
        ),
        says="height and width are swapped.",
    ),
    Mistake(
        when=lambda got, x, kernel, stride: tuple(got.shape) != _transposed_shape(x, kernel, stride),
        says="the output is ((H − 1)·stride + k_h, (W − 1)·stride + k_w).",
    ),
    Mistake(
        gives=_overwritten_stamps,
        says="the values differ where stamps overlap: you kept only the last stamp there. "
        "Overlapping contributions are added (+=), not assigned (=).",
    ),
    Mistake(
        gives=_unstrided_stamps,
        says="the stamp of x[i, j] starts at (i·stride, j·stride), not at (i, j): the stride spreads the stamps "
        "apart, which is what makes the output larger.",
    ),
    Mistake(
        gives=lambda x, kernel, stride: _transposed(x, kernel.T, stride),
        says="the kernel is transposed (its rows and columns swapped): stamp it as it is — kernel[a, b] lands at "
        "out[i·stride + a, j·stride + b], not out[i·stride + b, j·stride + a].",
    ),
    Mistake(
        gives=lambda x, kernel, stride: _transposed(x, kernel.flip(0, 1), stride),
        says="you stamped the kernel rotated by 180°: a transposed convolution stamps x[i, j] · kernel as it is.",
    ),
    Mistake(
        gives=lambda x, kernel, stride: _transposed(x, kernel.flip(0), stride),
        says="the kernel is flipped upside down (its rows in reverse order): stamp x[i, j] · kernel as it is.",
    ),
    Mistake(
        gives=lambda x, kernel, stride: _transposed(x, kernel.flip(1), stride),
        says="the kernel is flipped left to right (its columns in reverse order): stamp x[i, j] · kernel as it is.",
    ),
]


def _an_image(got: Any, expected: Any) -> str | None:
    array = as_array(got)
    return None if array is not None and array.ndim == 2 else "return a 2-D tensor (the output image)."


def check_transposed_conv_by_hand(transposed_conv2d: Callable[..., torch.Tensor]) -> Feedback:
    """Notebook 03, exercise 1: ``transposed_conv2d(x, kernel, stride=2)`` on 2-D tensors, compared with PyTorch.

    Three cases: the paper's 2×2 kernel with stride 2 (no overlap), a 3×3 kernel with
    stride 2 and a non-square input (overlaps, and a swapped height/width shows), and a
    stride-1 case where almost every pixel gets several stamps. Shape mistakes and value
    mistakes (overwriting overlaps, a transposed, rotated or flipped kernel) are named separately.
    """
    inputs = [
        (torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [2.0, -1.0]]), 2),
        (torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]]), torch.arange(1.0, 10.0).reshape(3, 3), 2),
        (torch.tensor([[2.0, 1.0], [-1.0, 3.0], [1.0, 1.0]]), torch.tensor([[1.0, 2.0], [3.0, 5.0]]), 1),
    ]
    cases = [
        case(
            x,
            kernel,
            stride=stride,
            expected=_transposed(x, kernel, stride),
            label=f"a {x.shape[0]}×{x.shape[1]} input, a {kernel.shape[0]}×{kernel.shape[1]} kernel, stride={stride}",
        )
        for x, kernel, stride in inputs
    ]
    return check_cases(
        "transposed_conv2d",
        transposed_conv2d,
        cases,
        _TRANSPOSED_CONV_MISTAKES,
        success="your stamps match F.conv_transpose2d exactly — without overlap (2×2, stride 2), and where stamps "
        "overlap and add up.",
        rule="start from zeros and add x[i, j] · kernel into out[i·stride : i·stride + k_h, j·stride : j·stride + "
        "k_w].",
        returns=_an_image,
        same=same_values(1e-5),
    )


def _transposed_output_size(size: int, kernel_size: int, stride: int) -> int:
    """What PyTorch's ConvTranspose2d gives (padding 0): measured on the meta device, so it is PyTorch's own answer."""
    with torch.device("meta"):
        layer = nn.ConvTranspose2d(1, 1, kernel_size, stride=stride)
        return layer(torch.empty(1, 1, size, size)).shape[-1]


_TRANSPOSED_SIZE_MISTAKES = [
    Mistake(
        gives=lambda size, kernel_size, stride: size * stride,
        says="size · stride is right only when kernel_size == stride. The last stamp starts at (size − 1)·stride "
        "and is kernel_size wide.",
    ),
    Mistake(
        when=lambda got, size, kernel_size, stride: abs(got - _transposed_output_size(size, kernel_size, stride)) == 1,
        says="off by one. Count where the last stamp starts, (size − 1)·stride, and add its width, kernel_size.",
    ),
    Mistake(
        gives=lambda size, kernel_size, stride: (size - kernel_size) // stride + 1,
        says="that is the ordinary convolution's formula, which shrinks. A transposed convolution runs it backwards.",
    ),
]


def check_transposed_output_size(transposed_conv_output_size: Callable[..., int]) -> Feedback:
    """Notebook 03, exercise 2: ``transposed_conv_output_size(size, kernel_size=2, stride=2)``.

    Names the off-by-one slips: ``size·stride`` (right only when kernel_size == stride),
    being one pixel short or over, and the ordinary convolution's formula (which shrinks).
    """
    sizes = [(28, 2, 2), (4, 2, 2), (4, 3, 2), (5, 3, 1), (3, 4, 2), (1, 2, 2), (6, 1, 3)]
    cases = [case(n, kernel_size=k, stride=s, expected=_transposed_output_size(n, k, s)) for n, k, s in sizes]
    return check_cases(
        "transposed_conv_output_size",
        transposed_conv_output_size,
        cases,
        _TRANSPOSED_SIZE_MISTAKES,
        success="(size − 1)·stride + kernel_size: with the paper's kernel 2, stride 2 that is exactly 2·size, "
        "so 28 → 56.",
        rule="the output is (size − 1)·stride + kernel_size.",
        returns=whole_number,
    )
