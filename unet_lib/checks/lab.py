"""Checker of notebook 11, section 10 (take your model to the lab): the halo of a U-Net of another depth.

The package of a valid-padding U-Net declares how many pixels its output loses on each side (92 for the
paper's depth 4). The learner adds them up level by level; the expected value comes from
``unet_lib.model.unet_output_size``, and the usual slips are named: both sides counted, a path or the
bottleneck forgotten, the pixels of a deep level counted as if they were input pixels, levels counted from 1.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import unet_output_size, valid_input_sizes
from .core import Feedback, Mistake, case, check_cases, whole_number


def _halo(depth: int) -> int:
    """Pixels lost per side, from the size walk of ``unet_lib.model`` (not from a formula)."""
    size = valid_input_sizes(1, 20 * 2**depth, depth)[0]
    return (size - unet_output_size(size, depth)) // 2


def check_halo(halo: Callable[[int], int]) -> Feedback:
    """Notebook 11, exercise 4: the pixels a valid-padding U-Net of ``depth`` poolings loses on each side."""
    cases = [case(d, expected=_halo(d)) for d in (4, 1, 2, 0, 5)]  # depth 4 first: every slip differs there
    mistakes = [
        Mistake(
            gives=lambda d: 2 * _halo(d),
            says="that is what both sides lose together — the package's halo is one side's share, half of it.",
        ),
        Mistake(
            gives=lambda d: 2 * (2**d - 1) + 2 * 2**d,
            says="the contracting path and the bottleneck, but not the way up: the expansive path's double "
            "convolutions trim too, as much as the contracting path's.",
        ),
        Mistake(
            gives=lambda d: _halo(d) - 2 * 2**d,
            says="the bottleneck is missing: its double convolution trims 2 pixels per side at the deepest level, "
            "2 · 2**depth input pixels.",
        ),
        Mistake(
            gives=lambda d: 2 * sum(2 * 2**level for level in range(1, d + 1)) + 2 * 2**d,
            says="your levels start at 1: level 0 is the input's own resolution, where a pixel is 2**0 = 1 input "
            "pixel wide — the paths have levels 0 to depth − 1, the bottleneck is at depth.",
        ),
        Mistake(
            gives=lambda d: 2 * (2 * d + 1),
            says="each double convolution trims 2 pixels per side *at its own level*, and a pixel `level` poolings "
            "down is 2**level input pixels wide: weigh each level's 2 pixels by 2**level.",
        ),
    ]
    return check_cases(
        "halo",
        halo,
        cases,
        mistakes,
        success=f"depth 4 loses {_halo(4)} px per side (the paper's 572 → 388); depth 5 would lose {_halo(5)}.",
        rule="add 2 pixels per side for every double convolution, times the width in input pixels of its level "
        "(2**level): down, bottleneck and up.",
        returns=whole_number,
    )
