"""Checkers of notebooks 04–05: the centre crop and the skip connections, the full U-Net."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..layers import center_crop
from ..model import UNetModel, count_parameters, nearest_valid_sizes, size_walk, unet_output_size
from .core import Feedback, Mistake, attempt, case, check_cases, name_of, same_values, whole_number

# -- notebook 04: centre crop and skip connections --------------------------------------------


def _offsets(x: torch.Tensor, size: tuple[int, int]) -> tuple[int, int]:
    """Where the centre crop starts: ((H − h) // 2, (W − w) // 2)."""
    return (x.shape[-2] - size[0]) // 2, (x.shape[-1] - size[1]) // 2


def _crop_from(x: torch.Tensor, size: tuple[int, int], top: int, left: int) -> torch.Tensor:
    return x[..., top : top + size[0], left : left + size[1]]


def _where_the_crop_started(got: torch.Tensor, x: torch.Tensor, size: tuple[int, int]) -> str:
    """Read back where the learner's crop started (the inputs hold 0, 1, 2, … row by row)."""
    height, width = x.shape[-2:]
    first = float(got.flatten()[0])
    got_top, got_left = divmod(int(first), width)
    block = _crop_from(x, size, got_top, got_left)
    is_block = first.is_integer() and 0 <= first < height * width and block.shape == got.shape
    if not (is_block and torch.equal(got.to(x.dtype), block)):
        return "the result is not a block of the input. Crop by slicing, without resizing or moving pixels around."
    top, left = _offsets(x, size)
    start = f"you started at row {got_top}, column {got_left}; the centre crop starts at ({top}, {left})"
    if abs(got_top - top) <= 1 and abs(got_left - left) <= 1:
        return f"{start}: an off-by-one offset."
    return f"{start} = ((H − h) // 2, (W − w) // 2)."


def _start_at(x: torch.Tensor, size: tuple[int, int]) -> str:
    return "start at ((H − h) // 2, (W − w) // 2) = ({}, {}).".format(*_offsets(x, size))


_CROP_MISTAKES = [
    Mistake(
        when=lambda got, x, size: tuple(got.shape[:-2]) != tuple(x.shape[:-2]),
        says="keep the batch and channel axes and slice only the last two (x[..., rows, columns]).",
    ),
    Mistake(
        when=lambda got, x, size: size[0] != size[1] and tuple(got.shape[-2:]) == (size[1], size[0]),
        says="height and width are swapped — size is (height, width).",
    ),
    Mistake(
        when=lambda got, x, size: max(abs(g - s) for g, s in zip(got.shape[-2:], size)) == 1,
        says="off by one in the size. The slice top : top + height holds exactly height rows.",
    ),
    Mistake(
        when=lambda got, x, size: tuple(got.shape[-2:]) != tuple(size),
        says=lambda got, x, size: f"the crop must be exactly {size[0]}×{size[1]}.",
    ),
    Mistake(
        gives=lambda x, size: _crop_from(x, size, 0, 0),
        says=lambda got, x, size: "you cut the top-left corner, not the centre: " + _start_at(x, size),
    ),
    Mistake(
        gives=lambda x, size: _crop_from(x, size, x.shape[-2] - size[0], x.shape[-1] - size[1]),
        says=lambda got, x, size: "you cut the bottom-right corner, not the centre: " + _start_at(x, size),
    ),
    Mistake(
        gives=lambda x, size: _crop_from(x, size, *_offsets(x, size)[::-1]),
        says="the row and column offsets are swapped.",
    ),
    Mistake(
        gives=lambda x, size: _crop_from(x, size, -(-(x.shape[-2] - size[0]) // 2), -(-(x.shape[-1] - size[1]) // 2)),
        says="with an odd difference the extra pixel goes to the bottom/right — round down with //.",
    ),
    Mistake(
        gives=lambda x, size: _crop_from(
            x, size, round((x.shape[-2] - size[0]) / 2), round((x.shape[-1] - size[1]) / 2)
        ),
        says="Python's round() rounds halves to the even number (round(2.5) = 2, round(3.5) = 4), so the extra "
        "pixel goes sometimes to the top, sometimes to the bottom — round down with //.",
    ),
    Mistake(when=lambda got, x, size: True, says=_where_the_crop_started),
]


def check_center_crop(my_center_crop: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]) -> Feedback:
    """Notebook 04, exercise 1: ``my_center_crop(x, (height, width))`` on ``(N, C, H, W)`` tensors.

    The inputs hold 0, 1, 2, … in each plane, so the checker reads back where the crop
    started and names a corner crop, an off-by-one or swapped offset, and the rounding
    with an odd difference (rounding up, and Python's round(), which rounds halves to even). The U-Net's
    own differences are even; the library's rule
    (``unet_lib.layers.center_crop``: extra pixel bottom/right) is the one checked.
    """
    cases = []
    shapes = [
        ((1, 2, 10, 10), (6, 6)),
        ((2, 1, 9, 12), (4, 6)),
        ((1, 1, 11, 13), (4, 6)),
        ((1, 1, 568, 568), (392, 392)),
    ]
    for shape, size in shapes:  # 11 − 4 = 13 − 6 = 7: Python's round(3.5) = 4 shows, as round(2.5) = 2 does not
        *lead, height, width = shape
        plane = torch.arange(height * width, dtype=torch.float64).reshape(height, width)
        x = plane.expand(*lead, height, width).clone()
        cases.append(case(x, size, expected=center_crop(x, size), label=f"a {shape} map, {size}"))
    identity = torch.arange(35.0, dtype=torch.float64).reshape(1, 1, 5, 7)
    cases.append(case(identity, (5, 7), expected=identity, label="a (1, 1, 5, 7) map, (5, 7)"))
    return check_cases(
        "my_center_crop",
        my_center_crop,
        cases,
        _CROP_MISTAKES,
        success="your crop keeps exactly the centre, batch and channels untouched: 568×568 → 392×392 cuts 88 px "
        "from every side.",
        rule="slice x[..., top : top + height, left : left + width] with the centre's offsets.",
        returns=lambda got, expected: None if isinstance(got, torch.Tensor) else "return a torch.Tensor.",
        same=same_values(0.0),
    )


def _skip_and_up(input_size: int, level: int, depth: int) -> tuple[int, int, int]:
    """At ``level`` (0 = top), read off ``size_walk``: the skip's size, the up-convolved size, and the size
    after the expansive double convolution that follows."""
    sizes, _ = size_walk(input_size, depth)
    up = 4 * depth - 2 * level  # index of the up-convolution that meets this level's skip
    return sizes[2 * level + 1], sizes[up], sizes[up + 1]


def _per_side(input_size: int, level: int, depth: int) -> int:
    skip, up, _ = _skip_and_up(input_size, level, depth)
    return (skip - up) // 2


def _both_sides(input_size: int, level: int, depth: int) -> int:
    skip, up, _ = _skip_and_up(input_size, level, depth)
    return skip - up


def _after_double_conv(input_size: int, level: int, depth: int) -> int:
    skip, _, after = _skip_and_up(input_size, level, depth)
    return (skip - after) // 2


def _without_bottleneck(input_size: int, level: int, depth: int) -> int:
    """The crop of a walk that forgets the bottleneck's 4 px: each up-convolution doubles them, so level
    ``level``'s map comes back 4 · 2^(depth − level) px larger, and each side loses half of that less."""
    return _per_side(input_size, level, depth) - 2 ** (depth - level + 1)


def _one_level_too_many(input_size: int, level: int, depth: int) -> int | None:
    """The crop of a walk that pools once more and copies the bottleneck as a skip: the answer of depth + 1."""
    _, problem = size_walk(input_size, depth + 1)
    return None if problem else _per_side(input_size, level, depth + 1)


def _bottleneck_trim(got: Any, input_size: int, level: int, depth: int) -> str:
    """Names the forgotten bottleneck with the sizes of this input, read off ``size_walk``."""
    sizes, _ = size_walk(input_size, depth)
    return (
        f"your sizes skip the bottleneck: at {input_size} its double convolution trims {sizes[2 * depth]} → "
        f"{sizes[2 * depth + 1]} px between the last pooling and the first up-convolution."
    )


_CROP_PER_SIDE_MISTAKES = [
    Mistake(gives=_both_sides, says="that is what both sides lose together — each side loses half."),
    Mistake(
        gives=lambda input_size, level, depth: _per_side(input_size, depth - 1 - level, depth),
        says="your levels are counted from the bottom. Level 0 is the top level, the one with the longest copy arrow.",
    ),
    Mistake(
        gives=_after_double_conv,
        says="2 px too many per side: either you cropped to the size after the expansive double convolution (the "
        "crop happens right after the up-convolution, before the double convolution), or you copied the skip "
        "before its level's double convolution (the copy is the map after it).",
    ),
    Mistake(gives=_without_bottleneck, says=_bottleneck_trim),
    Mistake(
        gives=_one_level_too_many,
        says="your walk goes one level too deep: `depth` counts the poolings, so the skips are at levels 0 to "
        "depth − 1, and the bottleneck below them is not copied.",
    ),
]


def check_crop_per_side(crop_per_side: Callable[..., int]) -> Feedback:
    """Notebook 04, exercise 2: ``crop_per_side(input_size, level, depth=4)``, pixels cut from each side of a skip.

    Level 0 is the top level (64 channels at the paper's width). The expected sizes are read
    off ``unet_lib.model.size_walk``. Named slips: the total instead of per side, levels counted
    from the bottom, a crop taken after the expansive double convolution instead of right after
    the up-convolution (or, the same numbers, a skip copied before its double convolution), a walk that skips
    the bottleneck's double convolution, and one that goes a level too deep (the bottleneck taken for a level).
    """
    inputs = [(572, level, 4) for level in range(4)] + [(188, 0, 4), (124, 1, 3), (124, 0, 3), (92, 0, 2)]
    cases = []
    for n, level, depth in inputs:
        skip, up, _ = _skip_and_up(n, level, depth)
        note = f"here the skip is {skip} px and the up-convolved map {up} px, and the two sides share the difference"
        cases.append(case(n, level, depth=depth, expected=_per_side(n, level, depth), note=note))
    amounts = [_per_side(572, level, 4) for level in range(4)]
    return check_cases(
        "crop_per_side",
        crop_per_side,
        cases,
        _CROP_PER_SIDE_MISTAKES,
        success=f"at 572 the skips lose {'/'.join(map(str, amounts))} px per side, top to bottom — and the same at "
        "every valid size.",
        rule="follow one size down and up again.",
        returns=whole_number,
    )


# -- notebook 05: the full U-Net ---------------------------------------------------------------


def _nearest_valid_size(size: int, depth: int) -> int:
    """The exercise's rule on top of ``unet_lib.model.nearest_valid_sizes``: the nearer one, the larger on a tie."""
    below, above = nearest_valid_sizes(size, depth)
    return above if below is None or above - size <= size - below else below


def _is_tie(size: int, depth: int) -> bool:
    below, above = nearest_valid_sizes(size, depth)
    return below is not None and size - below == above - size


def _tie(got: int, size: int, depth: int) -> str:
    below, above = nearest_valid_sizes(size, depth)
    return (
        f"{size} is as far from {below} as from {above}: on a tie take the larger size (a larger tile gives a "
        "larger output)."
    )


def _rounded_up(got: int, size: int, depth: int) -> str:
    below, above = nearest_valid_sizes(size, depth)
    return f"you rounded up, but {below} is nearer ({size - below} px away, {above} is {above - size} px away)."


def _rounded_down(got: int, size: int, depth: int) -> str:
    below, above = nearest_valid_sizes(size, depth)
    return f"you rounded down, but {above} is nearer ({above - size} px away, {below} is {size - below} px away)."


_NEAREST_MISTAKES = [
    Mistake(
        gives=lambda size, depth: _nearest_valid_size(size, 4),
        says=lambda got, size, depth: (
            f"{got} is the answer for depth 4 — use the depth argument (valid sizes are "
            f"{2**depth} apart at depth {depth})."
        ),
    ),
    Mistake(
        when=lambda got, size, depth: unet_output_size(got, depth) is None,
        says=lambda got, size, depth: (
            f"{got} is not a valid input for depth {depth} — the network would refuse it. "
            "Test a candidate n with unet_output_size(n, depth) is not None."
        ),
    ),
    Mistake(gives=lambda size, depth: nearest_valid_sizes(size, depth)[0] if _is_tie(size, depth) else None, says=_tie),
    Mistake(gives=lambda size, depth: nearest_valid_sizes(size, depth)[1], says=_rounded_up),
    Mistake(gives=lambda size, depth: nearest_valid_sizes(size, depth)[0], says=_rounded_down),
]


def check_nearest_valid_size(nearest_valid_size: Callable[..., int]) -> Feedback:
    """Notebook 05, exercise 1: ``nearest_valid_size(size, depth=4)``, the closest size the U-Net accepts.

    A tie goes to the larger size (a larger tile gives a larger output). Named slips: an
    answer that is not valid, always rounding up or down, the tie, and ignoring ``depth``.
    """
    inputs = [(570, 4), (560, 4), (572, 4), (100, 4), (564, 4), (600, 4), (503, 3), (400, 5), (30, 2)]
    cases = [case(size, depth=depth, expected=_nearest_valid_size(size, depth)) for size, depth in inputs]
    return check_cases(
        "nearest_valid_size",
        nearest_valid_size,
        cases,
        _NEAREST_MISTAKES,
        success="570 → 572, 560 → 556, and every depth has its own spacing (2**depth): the U-Net takes any of these "
        "without complaint.",
        rule="take the nearest of the valid sizes below and above (unet_lib.model.nearest_valid_sizes shows them).",
        returns=whole_number,
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

        def owns_weights(module: nn.Module) -> bool:
            return any(v is not None for v in (*module._parameters.values(), *module._buffers.values()))

        return [type(m).__name__ for m in modules if owns_weights(m)]


def _modules_in_plain_containers(model: nn.Module) -> dict[str, str]:
    """Attributes that hold layers in a plain list/tuple/dict, where nn.Module cannot see them: name → "list"…

    A plain list of layers that are registered anyway (``self.order = [self.first, self.second]``) hides nothing.
    """
    registered = {id(m) for m in model.modules()}
    found = {}
    for module_name, module in model.named_modules():
        for name, value in vars(module).items():
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            if not name.startswith("_") and any(isinstance(i, nn.Module) and id(i) not in registered for i in items):
                found[f"{module_name}.{name}" if module_name else name] = type(value).__name__
    return found


def _plain_tensors(model: nn.Module) -> list[str]:
    """Tensor attributes that are neither parameters nor buffers: nn.Module neither trains nor saves them."""
    return [
        f"{module_name}.{name}" if module_name else name
        for module_name, module in model.named_modules()
        for name, value in vars(module).items()
        if not name.startswith("_") and isinstance(value, torch.Tensor)
    ]


def _unregistered_problem(model: Any, name: str) -> Feedback | None:
    """What nn.Module cannot see in a built model: not a module at all, layers in a plain list or dict, a plain tensor
    where a parameter belongs (none of them trained by the optimiser, nor saved)."""
    if not isinstance(model, nn.Module):
        return Feedback(
            False,
            f"{name}() should build an nn.Module, got {type(model).__name__}: subclass nn.Module and call "
            "super().__init__().",
        )
    hidden = _modules_in_plain_containers(model)
    if hidden:
        kinds = " or ".join(sorted(set(hidden.values())))
        return Feedback(
            False,
            f"layers in a plain Python {kinds} ({', '.join(hidden)}): nn.Module cannot see them, so .parameters() "
            "and state_dict() miss them and the optimiser never trains them. Use nn.ModuleList (or nn.Sequential; "
            "nn.ModuleDict for a dict).",
        )
    tensors = _plain_tensors(model)
    if tensors:
        return Feedback(
            False,
            f"a plain tensor attribute ({', '.join(tensors)}): nn.Module neither trains nor saves it — wrap a "
            "learned weight in nn.Parameter (a fixed tensor: self.register_buffer).",
        )
    return None


def check_registers_layers(model_class: type) -> Feedback:
    """Notebook 05, exercise 2: ``model_class()`` must create every layer in ``__init__``.

    Bespoke (the answer is a class whose behaviour over two calls matters). The contract:
    ``model_class()`` takes ``(N, 1, H, W)`` images and returns 2 class scores per pixel. The
    checker names a layer created in ``forward`` (it logs every module constructed during a
    call), layers hidden in a plain Python list, and two calls on the same input that disagree.
    A stub in ``__init__`` or in ``forward`` gets "your turn" naming that method.
    """
    name = name_of(model_class, "the model")
    model, failed = attempt(f"{name}.__init__", model_class)
    if failed is not None:
        return failed
    unseen = _unregistered_problem(model, name)
    if unseen is not None:
        return unseen
    keys_before = list(model.state_dict())
    x = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad(), _ModuleCreationLog() as created:
        first, failed = attempt(f"{name}.forward", model, x)
        second, _ = attempt(f"{name}.forward", model, x) if failed is None else (None, None)
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
            f"for input of shape {tuple(x.shape)} the output should be (2, 2, H, W) — two class scores per pixel — "
            f"got {got}.",
        )
    if not (isinstance(second, torch.Tensor) and torch.equal(first, second)):
        return Feedback(
            False,
            "two calls on the same input gave different outputs (in eval mode): forward must not draw new random "
            "weights.",
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
        f"every layer is built in __init__: state_dict() holds {len(keys_before)} tensors "
        f"({', '.join(keys_before)}), and two calls agree.",
    )


def _unet_parameters(base_channels: int, depth: int, in_channels: int, num_classes: int) -> int:
    """PyTorch's own count for the configuration, built on the meta device (no memory, no time)."""
    with torch.device("meta"):
        model = UNetModel(in_channels=in_channels, num_classes=num_classes, base_channels=base_channels, depth=depth)
    return count_parameters(model)


def _unet_parameters_with_slip(
    base_channels: int,
    depth: int,
    in_channels: int,
    num_classes: int,
    biases: bool = True,
    concat: bool = True,
    up_convs: bool = True,
    head: bool = True,
    up_kernel: int = 2,
    head_kernel: int = 1,
) -> int:
    """A model of the learner's count, with switches that reproduce the classic slips (all on: the right count)."""
    b = 1 if biases else 0

    def conv(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k + b * c_out

    widths = [base_channels * 2**level for level in range(depth + 1)]
    total, c_in = 0, in_channels
    for width in widths:  # contracting path and bottleneck
        total += conv(c_in, width, 3) + conv(width, width, 3)
        c_in = width
    for level in reversed(range(depth)):  # expansive path
        width = widths[level]
        if up_convs:
            total += conv(widths[level + 1], width, up_kernel)
        total += conv((2 if concat else 1) * width, width, 3) + conv(width, width, 3)
    if head:
        total += conv(widths[0], num_classes, head_kernel)
    return total


def _slip(**switches: int) -> Callable[..., int]:
    def count(base_channels: int, depth: int, in_channels: int, num_classes: int) -> int:
        return _unet_parameters_with_slip(base_channels, depth, in_channels, num_classes, **switches)

    return count


_UNET_PARAMETER_MISTAKES = [
    Mistake(
        gives=_slip(biases=False), says="the biases are missing — every convolution has one bias per output channel."
    ),
    Mistake(
        gives=_slip(concat=False),
        says="the first convolution of each expansive block sees the skip *and* the up-convolved map: 2 × the "
        "channels.",
    ),
    Mistake(
        gives=_slip(up_convs=False),
        says="the up-convolutions are missing — each is a 2×2 kernel from 2c to c channels, plus biases.",
    ),
    Mistake(
        gives=_slip(head=False), says="the final 1×1 convolution (base_channels → num_classes, plus biases) is missing."
    ),
    Mistake(
        gives=_slip(up_kernel=3),
        says="an up-convolution has a 2×2 kernel (2² = 4 weights per channel pair), not 3×3.",
    ),
    Mistake(
        gives=_slip(head_kernel=3),
        says="the head is a 1×1 convolution (one weight per channel pair), not 3×3.",
    ),
    Mistake(
        gives=lambda base_channels, depth, in_channels, num_classes: (
            _unet_parameters(base_channels, depth, 1, num_classes) if in_channels != 1 else None
        ),
        says="in_channels is fixed at 1: the first convolution reads in_channels channels — use the argument.",
    ),
    Mistake(
        gives=lambda base_channels, depth, in_channels, num_classes: (
            _unet_parameters(base_channels, depth, in_channels, 2) if num_classes != 2 else None
        ),
        says="num_classes is fixed at 2: the head maps base_channels → num_classes channels — use the argument.",
    ),
]


def check_unet_parameter_count(unet_parameter_count: Callable[..., int]) -> Feedback:
    """Notebook 05, exercise 3: ``unet_parameter_count(base_channels=64, depth=4, in_channels=1, num_classes=2)``.

    The expected numbers come from ``UNetModel`` itself; a wrong answer is matched against
    the classic slips: no biases, the concatenation forgotten (the first expansive conv
    sees skip + up channels), the up-convolutions or the final 1×1 head left out, either counted with a 3×3
    kernel, and in_channels or num_classes fixed at the paper's 1 and 2.
    """
    configurations = [(64, 4, 1, 2), (16, 3, 1, 2), (32, 5, 3, 4), (8, 1, 1, 2), (4, 0, 2, 3)]
    cases = [
        case(base_channels=b, depth=d, in_channels=i, num_classes=n, expected=_unet_parameters(b, d, i, n))
        for b, d, i, n in configurations
    ]
    return check_cases(
        "unet_parameter_count",
        unet_parameter_count,
        cases,
        _UNET_PARAMETER_MISTAKES,
        success=f"{_unet_parameters(64, 4, 1, 2):,} for the paper's U-Net, and your formula holds for every width, "
        "depth, input and class count tried.",
        rule="add up double convolutions, up-convolutions and the head, level by level.",
        returns=whole_number,
    )
