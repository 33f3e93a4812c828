"""The U-Net's building blocks, one small function each.

Every block here is introduced, and written line by line, in a notebook:

* ``double_conv``  — notebook 01 (two 3×3 convolutions, each followed by ReLU)
* ``max_pool``     — notebook 02 (the 2×2 down-step of the contracting path)
* ``up_conv``      — notebook 03 (the 2×2 "up-convolution" of the expansive path)
* ``center_crop``  — notebook 04 (cut a skip connection to the size of the upsampled map)
* ``grid_strength`` — notebooks 03 and 05 (how much checkerboard an up-convolution leaves)

The notebooks show these definitions verbatim; ``tests/test_notebook_sync.py`` fails
when a notebook and this file drift apart.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

Padding = Literal["valid", "same"]
UpMode = Literal["transpose", "bilinear", "nearest"]


def double_conv(
    in_channels: int,
    out_channels: int,
    padding: Padding = "valid",
    batch_norm: bool = False,
) -> nn.Sequential:
    """Two 3×3 convolutions, each followed by a ReLU (notebook 01).

    The paper uses *unpadded* ("valid") convolutions, so each one trims one pixel
    from every border: a double convolution makes the map 4 pixels smaller in height and width.
    ``padding="same"`` keeps the size, ``batch_norm=True`` adds the batch norm that
    later U-Nets use (the bias is then redundant and dropped).
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    pad = 0 if padding == "valid" else 1
    layers: list[nn.Module] = []
    for channels_in in (in_channels, out_channels):
        layers.append(nn.Conv2d(channels_in, out_channels, kernel_size=3, padding=pad, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def max_pool() -> nn.MaxPool2d:
    """2×2 max pooling with stride 2 (notebook 02): halves height and width.

    It keeps the strongest response in each 2×2 window, so the next double
    convolution sees twice the context for the same kernel size.
    """
    return nn.MaxPool2d(kernel_size=2, stride=2)


def up_conv(in_channels: int, out_channels: int | None = None, mode: UpMode = "transpose") -> nn.Module:
    """The paper's "up-convolution" (notebook 03): double the size, halve the channels.

    ``mode="transpose"`` is the paper's learned 2×2 transposed convolution with
    stride 2: its stamps tile the output without overlap, but unequal weights repeat as a
    2-pixel pattern. ``"bilinear"`` and ``"nearest"`` upsample first and then mix channels
    with a 1×1 convolution: a flat map stays flat whatever the weights, so no checkerboard.
    """
    out_channels = in_channels // 2 if out_channels is None else out_channels
    if mode == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
    if mode in ("bilinear", "nearest"):
        align = False if mode == "bilinear" else None
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode=mode, align_corners=align),
            nn.Conv2d(in_channels, out_channels, kernel_size=1),
        )
    raise ValueError(f"up mode must be 'transpose', 'bilinear' or 'nearest', got {mode!r}")


conv_transpose = up_conv
"""The name ``up_conv`` had in the course's first code; kept so that code written against it keeps working."""


def grid_strength(image: np.ndarray | torch.Tensor, period: int = 16) -> float:
    """How much of a 2-D map repeats with a ``period``-pixel grid: about 0 for none, up to 1 (notebooks 03, 05).

    The map is cut into ``period × period`` blocks; averaging the blocks gives one mean per
    position in the block. Without a grid the means are nearly equal; the spread of the means,
    divided by the spread of the whole map, is the grid strength. Untrained up-convolutions
    stamp their kernels at every level of the expansive path, with periods 2, 4, 8 and 16.
    """
    image = np.asarray(image, dtype=np.float64)
    height, width = (image.shape[0] // period) * period, (image.shape[1] // period) * period
    if height == 0 or width == 0:
        raise ValueError(f"the map ({image.shape[0]}×{image.shape[1]}) is smaller than one {period}-pixel block")
    blocks = image[:height, :width].reshape(height // period, period, width // period, period)
    spread = image[:height, :width].std()
    return float(blocks.mean(axis=(0, 2)).std() / spread) if spread > 0 else 0.0


def center_crop(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Cut the centre ``size`` (an int or ``(height, width)``) out of ``x`` (notebook 04).

    The contracting path's maps are larger than the upsampled ones they are joined
    to, because every valid convolution lost a border. Cropping by slicing keeps the
    pixels exactly aligned; with an odd difference the extra pixel goes to the bottom/right.
    """
    height, width = (size, size) if isinstance(size, int) else size
    in_height, in_width = x.shape[-2:]
    if height > in_height or width > in_width:
        raise ValueError(
            f"cannot crop a {in_height}×{in_width} map to {height}×{width}: "
            "the target is larger than the input (a centre crop can only make a map smaller)"
        )
    top = (in_height - height) // 2
    left = (in_width - width) // 2
    return x[..., top : top + height, left : left + width]
