"""Overlap-tile prediction: segment an image of any size with a fixed-size network (notebook 09).

The paper's Fig. 2: an unpadded U-Net sees a larger input tile than the output it
returns, so the image is cut into output tiles and each one is predicted from an input
tile that adds the missing context around it. Beyond the image border that context is
*mirrored*. The tiles are stitched into a seamless whole, and only one batch of tiles is
in memory at a time, so the image may be as large as you like.

Two details make the stitching exact (the tests compare with one whole-image pass):

* tile positions are multiples of ``2**depth`` apart, so every tile's pooling grid lines
  up with the whole image's grid (a U-Net is shift-equivariant only for such shifts);
* the mirror padding is computed by index arithmetic (``mirror_indices``), so a pixel
  far outside the image gets the same mirrored value whichever tile asks for it.

``predict_probability(..., rotations=4)`` averages the maps of the image's four right-angle
rotations, each turned back: the paper's ISBI entry was "averaged over 7 rotated versions of
the input data" (Section 4; it does not say which seven). A faint membrane that one view
misses is seen by another, so fewer gaps merge two cells (notebook 09 measures it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from . import runtime
from .data import mirror_indices, normalize
from .model import unet_output_size

MEMORY_BUDGET = 2**30
"""Bytes of feature maps one forward pass of prediction may hold (1 GiB): it bounds the tile size and the batch."""

MAPS_PER_PIXEL = 8
"""Peak memory of one forward pass, per input pixel: this many maps of ``base_channels`` channels …"""

FIXED_MAPS = 48
"""… plus this many single-channel maps, whatever the width: buffers of the first layers that a narrower network
does not shrink. Measured with the allocator (tests/test_tiling.py; 1–2 threads, AVX2 and AMX), the readings jump
between a few levels from run to run: 5–7 maps of 16–64 channels in most runs, up to 137 single-channel maps at 16
(0.78 of 8 · 16 + 48); 54 in all at 4 base channels and 80 at 8, more than ten maps of 8 channels."""

SAME_PADDING_CONTEXT = 16
"""For ``padding="same"`` models: pixels thrown away at every side of an output tile, where zero padding distorts it."""


def model_margin(model: nn.Module, tile_size: int) -> tuple[int, int]:
    """``(output tile size, margin)``: what one input tile of ``tile_size`` predicts, and the context on each side."""
    depth, padding = getattr(model, "depth", 4), getattr(model, "padding", "valid")
    out = unet_output_size(tile_size, depth, padding)
    if out is None:
        raise ValueError(f"tile size {tile_size} does not fit this U-Net; pick one of model.valid_input_sizes(…)")
    if padding == "valid":
        return out, (tile_size - out) // 2
    kept = tile_size - 2 * SAME_PADDING_CONTEXT
    if kept < 2**depth:
        raise ValueError(
            f"tile size {tile_size} is too small for a same-padding U-Net; "
            f"use at least {2**depth + 2 * SAME_PADDING_CONTEXT}"
        )
    return kept, SAME_PADDING_CONTEXT


def tile_stride(model: nn.Module, output_size: int) -> int:
    """The largest multiple of ``2**depth`` that fits in one output tile: the distance between tiles."""
    step = 2 ** getattr(model, "depth", 4)
    return max(step, output_size // step * step)


def forward_bytes(model: nn.Module, tile_size: int, batch_size: int = 1, bytes_per_value: int = 4) -> int:
    """About how much memory the feature maps of one forward pass of ``batch_size`` tiles need at their peak."""
    base = model.config["base_channels"] if hasattr(model, "config") else 64
    return (MAPS_PER_PIXEL * base + FIXED_MAPS) * tile_size**2 * batch_size * bytes_per_value


def tile_count(model: nn.Module, height: int, width: int, tile_size: int) -> int:
    """How many tiles of ``tile_size`` cover an image of ``height × width``."""
    stride = tile_stride(model, model_margin(model, tile_size)[0])
    return len(tile_positions(height, width, stride))


def choose_tile_size(model: nn.Module, height: int, width: int, memory: int = MEMORY_BUDGET) -> int:
    """The valid input tile that predicts the whole image with the least computation, within ``memory``.

    Every tile recomputes its margin of context, so the cost is the number of tiles × the tile's area. One
    tile that covers a 512² slice (700², output 516²) costs 490,000 input pixels; four 572² tiles cost
    1.3 million (notebook 09). A large image takes as many of the largest affordable tiles as it needs.
    """
    depth, padding = getattr(model, "depth", 4), getattr(model, "padding", "valid")
    largest = max(math.isqrt(memory // forward_bytes(model, 1)), 2**depth)
    candidates = [n for n in range(2**depth, largest + 1) if unet_output_size(n, depth, padding) is not None]
    candidates = [n for n in candidates if padding == "valid" or n > 2 * SAME_PADDING_CONTEXT + 2**depth]
    if not candidates:
        raise ValueError(f"no valid tile fits a memory budget of {memory / 2**20:.0f} MiB for this U-Net")
    return min(candidates, key=lambda n: (tile_count(model, height, width, n) * n**2, n))


def batch_for(model: nn.Module, tile_size: int, tiles: int, memory: int = MEMORY_BUDGET) -> int:
    """How many tiles go through the network at once: as many as ``memory`` holds, at least one."""
    return max(1, min(tiles, memory // forward_bytes(model, tile_size)))


def tile_positions(height: int, width: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of the output tiles, ``stride`` apart, that cover an image of ``height × width``."""
    rows = range(0, max(height, 1), stride)
    cols = range(0, max(width, 1), stride)
    return [(top, left) for top in rows for left in cols]


def padding_is_same(model: nn.Module) -> bool:
    """True for a ``padding="same"`` U-Net, whose output tiles are cut back by ``SAME_PADDING_CONTEXT``."""
    return getattr(model, "padding", "valid") == "same"


def batched(items: list, size: int) -> Iterator[list]:
    """``items`` in consecutive groups of ``size`` (the last may be shorter): one group of tiles per forward pass."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def as_channels(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A float32 ``(C, H, W)`` array from an ``(H, W)`` or ``(C, H, W)`` array or tensor."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"expected an image of shape (H, W) or (C, H, W), got {array.shape}")
    return array.astype(np.float32, copy=False)


def input_tile(channels: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """The ``size × size`` window at ``(top, left)`` of a ``(C, H, W)`` image, mirrored where it leaves the image."""
    _, height, width = channels.shape
    rows = mirror_indices(top, top + size, height)
    cols = mirror_indices(left, left + size, width)
    return channels[:, rows[:, None], cols[None, :]]


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    tile_size: int | None = None,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    precision: str | runtime.Precision = "auto",
) -> np.ndarray:
    """Class scores ``(num_classes, H, W)`` for a prepared ``(H, W)`` or ``(C, H, W)`` image, tile by tile.

    The image goes in as it is (normalise it first, see ``predict_probability``). Each
    input tile is its output tile plus ``margin`` pixels of context on every side,
    mirrored beyond the border; ``batch_size`` tiles go through the network at a time.
    By default the tile is the cheapest one (``choose_tile_size``: often a single tile)
    and the batch as large as memory allows; ``precision`` as in ``runtime.choose_precision``.
    """
    channels = as_channels(image)
    _, height, width = channels.shape
    tile_size = tile_size or choose_tile_size(model, height, width)
    out_size, margin = model_margin(model, tile_size)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    how = precision
    if not isinstance(how, runtime.Precision):  # "auto": the layout is measured on this model at this tile
        how = inference_precision(model, (height, width), how, tile_size)
    positions = tile_positions(height, width, tile_stride(model, out_size))
    batch_size = batch_size or batch_for(model, tile_size, len(positions))
    result = np.empty((model.num_classes, height, width), dtype=np.float32)
    was_training = model.training
    model.eval().to(memory_format=how.memory_format)
    for batch in batched(positions, batch_size):
        tiles = np.stack([input_tile(channels, top - margin, left - margin, tile_size) for top, left in batch])
        x = torch.from_numpy(tiles).to(device).contiguous(memory_format=how.memory_format)
        with how.autocast():
            logits = model(x).float().cpu().numpy()
        if padding_is_same(model):  # keep only the centre, away from the zero padding
            logits = logits[..., margin : margin + out_size, margin : margin + out_size]
        for (top, left), tile in zip(batch, logits):  # tiles of the last row/column may stick out
            h, w = min(out_size, height - top), min(out_size, width - left)
            result[:, top : top + h, left : left + w] = tile[:, :h, :w]
    model.train(was_training)
    return result


def inference_precision(
    model: nn.Module, image_size: tuple[int, int], precision: str = "auto", tile_size: int | None = None
) -> runtime.Precision:
    """The precision to predict an image of ``image_size`` in: ``runtime.choose_precision`` for inference, with
    the memory layout measured on this model at the tile that ``predict_logits`` uses for such an image."""
    tile_size = tile_size or choose_tile_size(model, *image_size)
    shape = (1, getattr(model, "in_channels", 1), tile_size, tile_size)
    device = next(model.parameters()).device
    return runtime.choose_precision(precision, device, training=False, model=model, input_shape=shape)


ROTATIONS = (1, 4, 8)
"""How many views of an image ``predict_probability`` can average: the image alone; its four right-angle
rotations (exact on the pixel grid, so nothing is interpolated); those four and their mirror images."""


def check_rotations(rotations: int) -> int:
    """``rotations`` if it is one of ``ROTATIONS``, else a ``ValueError`` that lists them."""
    if isinstance(rotations, bool) or not isinstance(rotations, int) or rotations not in ROTATIONS:
        choices = ", ".join(map(str, ROTATIONS))
        raise ValueError(f"rotations must be one of {choices} (views averaged per image), got {rotations!r}")
    return int(rotations)


def views(rotations: int) -> list[tuple[int, bool]]:
    """The ``(quarter turns, mirrored)`` of each view that ``predict_probability`` averages."""
    return [(turns % 4, turns >= 4) for turns in range(check_rotations(rotations))]


def predict_probability(
    model: nn.Module,
    image: np.ndarray,
    tile_size: int | None = None,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    precision: str | runtime.Precision = "auto",
    rotations: int = 1,
) -> np.ndarray:
    """Cell probability ``(H, W)`` of a raw image in [0, 1]: normalise, overlap-tile, softmax (in fp32), channel 1.

    With ``rotations`` 4 or 8 it is the mean of the probabilities of that many views of the image (rotated, and
    for 8 also mirrored), each turned back before averaging; it costs that many predictions.
    """
    normalized = normalize(np.asarray(image, dtype=np.float32))  # the same statistics for every view
    total = None
    for turns, mirrored in views(rotations):
        view = np.rot90(normalized, turns, axes=(-2, -1))
        view = np.ascontiguousarray(view[..., ::-1] if mirrored else view)
        logits = predict_logits(model, view, tile_size, batch_size, device, precision)
        probability = torch.softmax(torch.from_numpy(logits), dim=0)[1].numpy()
        probability = probability[..., ::-1] if mirrored else probability
        probability = np.rot90(probability, -turns)
        total = probability.copy() if total is None else total + probability
    return np.ascontiguousarray(total / len(views(rotations)), dtype=np.float32)


def tile_boxes(
    model: nn.Module, height: int, width: int, tile_size: int | None = None
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """For drawing (notebook 09): per tile, the output box and the input box ``(top, left, height, width)``."""
    tile_size = tile_size or choose_tile_size(model, height, width)
    out_size, margin = model_margin(model, tile_size)
    boxes = []
    for top, left in tile_positions(height, width, tile_stride(model, out_size)):
        output = (top, left, min(out_size, height - top), min(out_size, width - left))
        boxes.append((output, (top - margin, left - margin, tile_size, tile_size)))
    return boxes
