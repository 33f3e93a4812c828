"""Pictures of images and of the network (notebooks 00–05): images side by side, feature maps, number grids,
the U-Net diagram with the shapes of a real forward pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle
from torch import nn

from ..runtime import OKABE_ITO

# -- notebooks 00–02 ---------------------------------------------------------------------


def as_image(image: object) -> np.ndarray:
    """A 2-D NumPy array from an array or a tensor; size-1 batch/channel axes are dropped."""
    if hasattr(image, "detach"):  # a torch tensor, possibly with gradients or on a GPU
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    while array.ndim > 2 and array.shape[0] == 1:  # (1, 1, H, W) → (H, W)
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected one 2-D image (optionally with size-1 batch/channel axes), got shape {array.shape}")
    return array


def show_images(
    images: list,
    titles: list[str] | None = None,
    *,
    cmap: str | list[str] = "gray",
    ncols: int | None = None,
    size: float = 3.0,
    same_scale: bool = False,
    show_size: bool = True,
    colorbar: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
) -> plt.Figure:
    """Show 2-D images (arrays or tensors) side by side (notebooks 00–02).

    ``same_scale=True`` draws every image at the same size *per pixel*, centred on the
    largest one, so that a map that lost its border or was pooled visibly shrinks;
    ``show_size`` adds "H×W" to each title because in a U-Net the sizes are the story.
    ``cmap`` is one colour map for all, or one per image (an image in gray, its maps in viridis).
    ``vmin``/``vmax`` fix one colour scale for all images, so that strengths can be compared.
    """
    arrays = [as_image(image) for image in images]
    cmaps = [cmap] * len(arrays) if isinstance(cmap, str) else list(cmap)
    if len(cmaps) != len(arrays):
        raise ValueError(f"got {len(arrays)} images but {len(cmaps)} colour maps")
    titles = list(titles) if titles is not None else [""] * len(arrays)
    if len(titles) != len(arrays):
        raise ValueError(f"got {len(arrays)} images but {len(titles)} titles")
    ncols = min(ncols or len(arrays), len(arrays))
    nrows = -(-len(arrays) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    max_h = max(a.shape[0] for a in arrays)
    max_w = max(a.shape[1] for a in arrays)
    for ax, array, title, cmap in zip(axes.flat, arrays, titles, cmaps):
        height, width = array.shape
        if same_scale:
            top, left = (max_h - height) / 2, (max_w - width) / 2
            extent = (left - 0.5, left + width - 0.5, top + height - 0.5, top - 0.5)
            shown = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
            ax.set_xlim(-0.5, max_w - 0.5)
            ax.set_ylim(max_h - 0.5, -0.5)
        else:
            shown = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax)
        label = f"{title}\n{height}×{width}" if show_size and title else (f"{height}×{width}" if show_size else title)
        ax.set_title(label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        if colorbar:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    for ax in list(axes.flat)[len(arrays) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def show_feature_maps(
    maps: object,
    n: int = 8,
    *,
    ncols: int = 4,
    cmap: str = "viridis",
    size: float = 2.2,
    title: str | None = None,
) -> plt.Figure:
    """The first ``n`` channels of a ``(C, H, W)`` or ``(1, C, H, W)`` feature map, one panel each (notebooks 01–02).

    Each panel has its own colour scale: channels differ in range, and what matters
    is *where* a channel responds, not how strongly compared with its neighbours.
    """
    if hasattr(maps, "detach"):
        maps = maps.detach().cpu().numpy()
    array = np.asarray(maps)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"expected feature maps of shape (C, H, W) or (1, C, H, W), got {array.shape}")
    n = min(n, array.shape[0])
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for channel, ax in enumerate(axes.flat):
        if channel < n:
            ax.imshow(array[channel], cmap=cmap)
            ax.set_title(f"channel {channel}", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_number_grid(
    ax: plt.Axes,
    values: object,
    *,
    highlight: list[tuple] = (),
    cmap: str = "cividis",
    title: str | None = None,
    fmt: str = "{:g}",
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    """Draw a small 2-D array as a grid of numbers, outlining windows on it (notebooks 01–02).

    ``highlight`` holds rectangles ``(row, col, height, width[, colour[, linestyle]])``:
    a convolution kernel's or a pooling window's position, so that a learner can redo
    the arithmetic by hand. Colours default to the Okabe–Ito palette in order. Frames are
    drawn slightly inside their cells, so that neighbouring windows keep separate edges.
    """

    array = as_image(values).astype(float)
    low = np.nanmin(array) if vmin is None else vmin
    high = np.nanmax(array) if vmax is None else vmax
    ax.imshow(array, cmap=cmap, vmin=low, vmax=high)
    colormap = plt.get_cmap(cmap)
    for (row, col), value in np.ndenumerate(array):
        level = 0.5 if high == low else (value - low) / (high - low)
        red, green, blue, _ = colormap(level)
        ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        ax.text(col, row, fmt.format(value), ha="center", va="center", color=ink, fontsize=9)
    for number, box in enumerate(highlight):
        row, col, height, width = box[:4]
        colour = box[4] if len(box) > 4 else OKABE_ITO[(number + 1) % len(OKABE_ITO)]
        style = box[5] if len(box) > 5 else "-"
        inset = 0.06
        ax.add_patch(
            Rectangle(
                (col - 0.5 + inset, row - 0.5 + inset),
                width - 2 * inset,
                height - 2 * inset,
                fill=False,
                edgecolor=colour,
                linewidth=3,
                linestyle=style,
            )
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


# -- notebook 05: U-Net diagram ------------------------------------------------------------


Map = tuple[int, int]
"""One feature map as (channels, size): the U-Net's maps are square when its input is."""


@dataclass
class UNetShapes:
    """The feature maps of one forward pass, recorded with forward hooks (notebook 05).

    Levels count from the top (0) to the bottleneck (``depth``); the expansive lists run
    in execution order, from the deepest level up.
    """

    input: Map
    down: list[list[Map]] = field(default_factory=list)  # per level: after each 3×3 convolution
    pooled: list[Map] = field(default_factory=list)  # the map entering levels 1 … depth
    up: list[Map] = field(default_factory=list)  # the up-convolved map, deepest level first
    skip: list[Map] = field(default_factory=list)  # the cropped skip joined to it
    expansive: list[list[Map]] = field(default_factory=list)  # after each 3×3 convolution
    output: Map = (0, 0)

    @property
    def depth(self) -> int:
        return len(self.pooled)


def record_unet_shapes(model: nn.Module, input_size: int = 572) -> UNetShapes:
    """Run ``model`` on a ``input_size``² input and record every map's shape with forward hooks.

    The run happens on a copy on PyTorch's ``meta`` device: the same layers compute
    only shapes, no numbers, so even the paper's 572² forward pass is free. ``model``
    is any ``UNetModel`` (it needs ``down_convs``, ``pool``, ``up_convs``,
    ``up_double_convs`` and ``head``); an input size it cannot take raises its clear
    ``ValueError``.
    """
    twin = copy.deepcopy(model).to("meta").eval()
    shapes = UNetShapes(input=(twin.in_channels, input_size))
    as_map = lambda tensor: (tensor.shape[1], tensor.shape[-1])  # noqa: E731

    def recorder(target: list[Map]):
        return lambda module, inputs, output: target.append(as_map(output))

    for block in twin.down_convs:
        shapes.down.append([])
        for conv in (m for m in block if isinstance(m, nn.Conv2d)):
            conv.register_forward_hook(recorder(shapes.down[-1]))
    twin.pool.register_forward_hook(recorder(shapes.pooled))
    for up, block in zip(twin.up_convs, twin.up_double_convs):
        up.register_forward_hook(recorder(shapes.up))
        up_channels = up[-1].out_channels if isinstance(up, nn.Sequential) else up.out_channels
        block.register_forward_pre_hook(
            lambda module, inputs, c=up_channels: shapes.skip.append((inputs[0].shape[1] - c, inputs[0].shape[-1]))
        )
        shapes.expansive.append([])
        for conv in (m for m in block if isinstance(m, nn.Conv2d)):
            conv.register_forward_hook(recorder(shapes.expansive[-1]))
    twin.head.register_forward_hook(lambda module, inputs, output: setattr(shapes, "output", as_map(output)))
    with torch.no_grad():
        twin(torch.empty(1, twin.in_channels, input_size, input_size, device="meta"))
    return shapes


_UNET_ARROWS = {  # kind: (colour, line style, legend label); Okabe–Ito colours, styles for greyscale prints
    "conv": (OKABE_ITO[0], "-", "conv 3×3, ReLU"),
    "copy": (OKABE_ITO[7], "--", "copy and crop"),
    "pool": (OKABE_ITO[3], "-", "max pool 2×2"),
    "up": (OKABE_ITO[2], "-", "up-conv 2×2"),
    "head": (OKABE_ITO[1], "-", "conv 1×1"),
}


def _box_width(channels: int) -> float:
    return 0.2 + 0.09 * np.log2(channels + 1)


def _box_height(size: int, input_size: int) -> float:
    return 2.4 * (size / input_size) ** 0.6


def draw_unet(model: nn.Module, input_size: int = 572, ax: plt.Axes | None = None) -> plt.Figure:
    """The classic U-Net picture, drawn from the shapes ``model`` really produces (notebook 05).

    Each box is a feature map: its width grows with the number of channels (written
    above its left edge), its height with the spatial size (written below it: 568² is 568×568).
    White boxes are the cropped copies from the contracting path, joined to the
    up-convolved map beside them. The shapes come from
    ``record_unet_shapes``, so a wider, deeper or padded variant draws itself correctly.
    """

    shapes = record_unet_shapes(model, input_size)
    depth, gap = shapes.depth, 0.6
    heights = [_box_height(level_maps[-1][1], input_size) for level_maps in shapes.down]
    rows = [0.0]  # the centre line of each level: tall boxes on top, levels packed below
    for level in range(1, depth + 1):
        rows.append(rows[-1] - (heights[level - 1] + heights[level]) / 2 - 0.9)
    inset = 0.12  # vertical arrows run near a box's right edge, clear of the labels
    config = getattr(model, "config", {})
    fig, ax = plt.subplots() if ax is None else (ax.figure, ax)

    def box(
        x: float, level: int, fmap: Map, fill: str = "#56B4E9", size_label: bool = True
    ) -> tuple[float, float, float, float]:
        """Draw one map with its left edge at ``x``; returns (left, right, bottom, top)."""
        channels, size = fmap
        width, height = _box_width(channels), _box_height(size, input_size)
        bottom = rows[level] - height / 2
        ax.add_patch(Rectangle((x, bottom), width, height, facecolor=fill, edgecolor="black", linewidth=0.8))
        ax.text(x, bottom + height + 0.06, str(channels), ha="left", va="bottom", fontsize=7)
        if size_label:
            ax.text(x, bottom - 0.06, f"{size}²", ha="left", va="top", fontsize=6.5)
        return x, x + width, bottom, bottom + height

    def arrow(kind: str, start: tuple[float, float], end: tuple[float, float]) -> None:
        colour, style, _ = _UNET_ARROWS[kind]
        ax.add_patch(
            FancyArrowPatch(
                start, end, arrowstyle="-|>", mutation_scale=9, color=colour, linestyle=style, linewidth=1.4
            )
        )

    def conv_row(x: float, level: int, maps: list[Map], previous: tuple) -> tuple:
        for fmap in maps:
            x_new = previous[1] + gap
            current = box(x_new, level, fmap)
            arrow("conv", (previous[1], rows[level]), (current[0], rows[level]))
            previous = current
        return previous

    last = box(0.0, 0, shapes.input, fill="white")
    left_ends = []
    for level in range(depth + 1):  # contracting path, then the bottleneck
        if level:
            pooled = box(last[0], level, shapes.pooled[level - 1])
            arrow("pool", (last[1] - inset, last[2]), (pooled[1] - inset, pooled[3]))
            last = pooled
        last = conv_row(last[1], level, shapes.down[level], last)
        left_ends.append(last)
    for step, level in enumerate(reversed(range(depth))):  # expansive path, from the bottom up
        upsampled = box(last[1] - _box_width(shapes.up[step][0]), level, shapes.up[step], size_label=False)
        arrow("up", (last[1] - inset, last[3]), (upsampled[1] - inset, upsampled[2]))
        skip = box(upsampled[0] - _box_width(shapes.skip[step][0]), level, shapes.skip[step], fill="white")  # same size
        arrow("copy", (left_ends[level][1], rows[level]), (skip[0], rows[level]))
        last = conv_row(upsampled[1], level, shapes.expansive[step], upsampled)
    output = box(last[1] + gap, 0, shapes.output, fill="#E69F00")
    arrow("head", (last[1], 0.0), (output[0], 0.0))

    labels = dict(_UNET_ARROWS)
    if config.get("padding") == "same":
        labels["conv"] = (*labels["conv"][:2], "conv 3×3 (padded), ReLU")
        labels["copy"] = (*labels["copy"][:2], "copy (no crop needed)")
    if config.get("up_mode", "transpose") != "transpose":
        labels["up"] = (*labels["up"][:2], f"{config['up_mode']} upsampling + conv 1×1")
    handles = [Line2D([], [], color=c, linestyle=s, linewidth=2, label=label) for c, s, label in labels.values()]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), fontsize=8, frameon=False
    )
    x_range, y_range = (-0.3, output[1] + 0.3), (rows[-1] - heights[-1] / 2 - 0.4, heights[0] / 2 + 0.4)
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.set_aspect("equal")
    if len(fig.axes) == 1:  # our own figure: give it the diagram's proportions
        fig.set_size_inches(13, 13 * (y_range[1] - y_range[0]) / (x_range[1] - x_range[0]) + 0.8)
    ax.axis("off")
    n_params = sum(p.numel() for p in model.parameters())
    ax.set_title(
        f"U-Net of depth {depth}: {input_size}×{input_size} input → {shapes.output[1]}×{shapes.output[1]} output, "
        f"{n_params:,} parameters",
        fontsize=10,
    )
    return fig
