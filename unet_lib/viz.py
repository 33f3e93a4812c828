"""Pictures for the notebooks: images, feature maps, shape flows, overlays, curves.

Colour-blind-safe by default: images in ``gray``, maps in ``viridis``/``cividis``/``magma``,
lines and overlays in the Okabe–Ito palette (``unet_lib.runtime.OKABE_ITO``).
Sections follow the notebooks that introduce each picture.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .runtime import OKABE_ITO


# -- notebooks 00–02 ---------------------------------------------------------------------


def _as_image(image: object) -> np.ndarray:
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
    arrays = [_as_image(image) for image in images]
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
    from matplotlib.patches import Rectangle

    array = _as_image(values).astype(float)
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
                (col - 0.5 + inset, row - 0.5 + inset), width - 2 * inset, height - 2 * inset,
                fill=False, edgecolor=colour, linewidth=3, linestyle=style,
            )
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


# -- notebook 05: U-Net diagram ------------------------------------------------------------

import copy  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

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
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Rectangle

    shapes = record_unet_shapes(model, input_size)
    depth, gap = shapes.depth, 0.6
    heights = [_box_height(level_maps[-1][1], input_size) for level_maps in shapes.down]
    rows = [0.0]  # the centre line of each level: tall boxes on top, levels packed below
    for level in range(1, depth + 1):
        rows.append(rows[-1] - (heights[level - 1] + heights[level]) / 2 - 0.9)
    inset = 0.12  # vertical arrows run near a box's right edge, clear of the labels
    config = getattr(model, "config", {})
    fig, ax = plt.subplots() if ax is None else (ax.figure, ax)

    def box(x: float, level: int, fmap: Map, fill: str = "#56B4E9", size_label: bool = True) -> tuple[float, float, float, float]:
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
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, color=colour, linestyle=style, linewidth=1.4))

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
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), fontsize=8, frameon=False)
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


# -- notebook 08: training ---------------------------------------------------------------


def plot_history(history: object, axes: "np.ndarray | None" = None, window: int = 20) -> "plt.Figure":
    """Loss curves (training, smoothed over ``window`` steps, and validation) and validation accuracy."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    loss_ax, acc_ax = axes
    for ax in axes:
        ax.clear()
    if history.step:
        loss_ax.plot(history.step, history.loss, color=OKABE_ITO[0], alpha=0.25, lw=0.8)
        loss_ax.plot(history.step, history.smoothed_loss(window), color=OKABE_ITO[0], label=f"training (mean of {window} steps)")
    if history.val_step:
        loss_ax.plot(history.val_step, history.val_loss, "o-", color=OKABE_ITO[1], ms=3, label="validation")
        acc_ax.plot(history.val_step, history.val_accuracy, "o-", color=OKABE_ITO[2], ms=3)
    loss_ax.set(xlabel="step", ylabel="weighted cross-entropy", title="loss")
    acc_ax.set(xlabel="step", ylabel="pixel accuracy", title="validation accuracy")
    if history.step or history.val_step:
        loss_ax.legend(loc="upper right", fontsize=8)
    fig = loss_ax.figure
    fig.tight_layout()
    return fig


class LiveCurves:
    """One figure of training curves that ``fit`` redraws in place in a notebook (IPython display handle).

    The figure is built without ``pyplot`` and sent as a PNG, so the notebook shows it
    once, whatever the plotting backend, and each update replaces the picture.
    """

    def __init__(self) -> None:
        from IPython.display import display
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(9, 3.2))
        self.axes = np.array(self.figure.subplots(1, 2))
        self.handle = display(self._png(), display_id=True)

    def _png(self) -> object:
        import io

        from IPython.display import Image

        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=80)
        return Image(data=buffer.getvalue(), format="png")

    def update(self, history: object) -> None:
        plot_history(history, self.axes)
        if self.handle is not None:
            self.handle.update(self._png())


# -- notebook 09: evaluation -------------------------------------------------------------

ERROR_COLORS = {"false cell": OKABE_ITO[1], "false membrane": OKABE_ITO[0]}
"""Error-map colours (Okabe–Ito): orange = predicted cell on true membrane, blue = predicted membrane in a cell."""


def error_map(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """An RGB picture of the mistakes: right pixels in light/dark gray, false cell orange, false membrane blue."""
    from matplotlib.colors import to_rgb

    pred, true = np.asarray(pred).astype(bool), np.asarray(true).astype(bool)
    rgb = np.where(true[..., None], 0.85, 0.25) * np.ones(3)
    rgb[pred & ~true] = to_rgb(ERROR_COLORS["false cell"])
    rgb[~pred & true] = to_rgb(ERROR_COLORS["false membrane"])
    return rgb


def _error_legend(ax: "plt.Axes") -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=name) for name, c in ERROR_COLORS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)


def show_tiles(image: np.ndarray, boxes: list, highlight: int = 0, ax: "plt.Axes | None" = None) -> "plt.Axes":
    """Draw overlap-tile boxes on an image: every output tile, and the input tile of one (``highlight``)."""
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    image = _as_image(image)
    pad = max(max(-b[1][0], -b[1][1], 0) for b in boxes)
    ax.imshow(image, cmap="gray", extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    for k, ((top, left, h, w), _) in enumerate(boxes):
        color = OKABE_ITO[k % 7]
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, lw=1.5, ec=color))
    (top, left, h, w), (itop, ileft, ih, iw) = boxes[highlight]
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=True, alpha=0.25, fc=OKABE_ITO[highlight % 7]))
    ax.add_patch(Rectangle((ileft - 0.5, itop - 0.5), iw, ih, fill=False, lw=2, ls="--", ec=OKABE_ITO[highlight % 7]))
    ax.set_xlim(-pad - 0.5, image.shape[1] + pad - 0.5)
    ax.set_ylim(image.shape[0] + pad - 0.5, -pad - 0.5)
    ax.set_title(f"{len(boxes)} output tiles; dashed: the input tile of the shaded one", fontsize=9)
    return ax


def show_prediction(image: np.ndarray, probability: np.ndarray, label: np.ndarray | None = None,
                    threshold: float = 0.5, title: str = "", axes: "np.ndarray | None" = None) -> "plt.Figure":
    """Image, cell probability, thresholded mask, and (with a label) the error map, side by side."""
    panels = 4 if label is not None else 3
    if axes is None:
        _, axes = plt.subplots(1, panels, figsize=(3 * panels, 3.2))
    mask = np.asarray(probability) > threshold
    axes[0].imshow(_as_image(image), cmap="gray")
    axes[0].set_title(title or "image", fontsize=9)
    shown = axes[1].imshow(probability, cmap="viridis", vmin=0, vmax=1)
    axes[1].set_title("cell probability", fontsize=9)
    axes[1].figure.colorbar(shown, ax=axes[1], fraction=0.046)
    axes[2].imshow(mask, cmap="gray", vmin=0, vmax=1)
    axes[2].set_title(f"mask (probability > {threshold:.2f})", fontsize=9)
    if label is not None:
        axes[3].imshow(error_map(mask, label))
        axes[3].set_title("errors against the label", fontsize=9)
        _error_legend(axes[3])
    for ax in axes:
        ax.axis("off")
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def prediction_figure(images: list, probabilities: list, labels: list | None, names: list[str],
                      threshold: float = 0.5) -> "plt.Figure":
    """One row per image (image, probability, mask, errors): the PNG that ``python -m unet_lib train`` writes."""
    from matplotlib.figure import Figure

    panels = 4 if labels is not None else 3
    fig = Figure(figsize=(3 * panels, 3.2 * len(images)))
    axes = np.array(fig.subplots(len(images), panels, squeeze=False))
    for row, (image, probability, name) in enumerate(zip(images, probabilities, names)):
        show_prediction(image, probability, None if labels is None else labels[row], threshold, name, axes[row])
    fig.tight_layout()
    return fig


# -- notebooks 06–07: EM data, tiles, weight maps ----------------------------------------------

from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Rectangle as _Rectangle  # noqa: E402

MEMBRANE_OVERLAY = ListedColormap([OKABE_ITO[1]])
"""Membrane pixels drawn in Okabe–Ito orange over a gray image."""


def _bare(ax: plt.Axes, title: str = "") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def show_overlay(image: np.ndarray, label: np.ndarray, ax: plt.Axes | None = None, title: str = "", alpha: float = 0.45) -> plt.Axes:
    """An EM image with its membrane/background pixels (label 0) tinted orange (notebook 06)."""
    ax = plt.subplots(figsize=(4, 4))[1] if ax is None else ax
    ax.imshow(image, cmap="gray")
    ax.imshow(np.ma.masked_where(np.asarray(label) != 0, np.ones(np.shape(label))), cmap=MEMBRANE_OVERLAY, alpha=alpha, vmin=0, vmax=1)
    _bare(ax, title)
    return ax


def show_data_samples(data, indices: tuple[int, ...] = (0, 1, 2), size: float = 3.2) -> plt.Figure:
    """Slices (top), their labels (middle) and the overlay (bottom) of a ``SegmentationData`` (notebook 06)."""
    fig, axes = plt.subplots(3, len(indices), figsize=(size * len(indices), size * 3), squeeze=False)
    for column, index in enumerate(indices):
        image, label = data.images[index], data.labels[index]
        axes[0, column].imshow(image, cmap="gray", vmin=0, vmax=1)
        _bare(axes[0, column], data.names[index])
        axes[1, column].imshow(label, cmap="gray", vmin=0, vmax=1)
        _bare(axes[1, column], "label: white = cell (1), black = membrane (0)" if column == 0 else "")
        show_overlay(image, label, axes[2, column], "membrane in orange" if column == 0 else "")
    fig.tight_layout()
    return fig


def show_tile_geometry(image: np.ndarray, label: np.ndarray, input_size: int, output_size: int, top: int, left: int) -> plt.Figure:
    """The overlap-tile idea on one slice (notebook 06): the mirrored surroundings, the input tile, its output window.

    Left: the slice with ``margin`` pixels of mirror padding; the real image inside the green
    dashed frame, the input tile in blue, the output window it predicts in orange.
    Middle and right: the input tile and the label crop for the output window.
    """
    margin = (input_size - output_size) // 2
    padded = np.pad(image, margin, mode="reflect")
    rows = np.arange(top - margin, top - margin + input_size) + margin
    cols = np.arange(left - margin, left - margin + input_size) + margin
    tile = padded[np.ix_(rows, cols)]
    crop = np.pad(label, margin, mode="reflect")[np.ix_(rows[margin:-margin or None], cols[margin:-margin or None])]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.35, 1, 1]})
    axes[0].imshow(padded, cmap="gray")
    frames = [
        (margin, margin, image.shape[1], image.shape[0], OKABE_ITO[2], "--", "the slice"),
        (left, top, input_size, input_size, OKABE_ITO[0], "-", f"input tile {input_size}²"),
        (left + margin, top + margin, output_size, output_size, OKABE_ITO[1], "-", f"output window {output_size}²"),
    ]
    for x, y, w, h, colour, style, name in frames:
        axes[0].add_patch(_Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=colour, linestyle=style, linewidth=2.2, label=name))
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3, fontsize=8, frameon=False)
    _bare(axes[0], f"mirror padding: {margin} px on every side")
    axes[1].imshow(tile, cmap="gray")
    axes[1].add_patch(_Rectangle((margin - 0.5, margin - 0.5), output_size, output_size, fill=False, edgecolor=OKABE_ITO[1], linewidth=2.2))
    _bare(axes[1], f"the network's input ({input_size}×{input_size})")
    axes[2].imshow(crop, cmap="gray", vmin=0, vmax=1)
    _bare(axes[2], f"the label it learns ({output_size}×{output_size})")
    fig.tight_layout()
    return fig


def show_deformation(image: np.ndarray, label: np.ndarray, transform, step: int = 32, axes=None) -> plt.Figure:
    """Original with a regular grid, the deformed image with the same grid carried along, the deformed label (notebook 06)."""
    from .augment import warp

    coordinates = transform.coordinates(image.shape)
    warped_image, warped_label = warp(image, coordinates, 1), warp(label, coordinates, 0)
    grid = np.zeros(image.shape, np.float32)
    grid[::step, :] = grid[:, ::step] = 1.0
    warped_grid = warp(grid, coordinates, 1)
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.9))
    fig = axes[0].figure
    lines = ListedColormap([OKABE_ITO[5]])
    for ax, picture, lattice, title in (
        (axes[0], image, grid, "original"),
        (axes[1], warped_image, warped_grid, "deformed image"),
        (axes[2], warped_label, warped_grid, "deformed label"),
    ):
        ax.imshow(picture, cmap="gray")
        ax.imshow(np.ma.masked_where(lattice < 0.3, lattice), cmap=lines, alpha=0.8, vmin=0, vmax=1)
        _bare(ax, title)
    fig.tight_layout()
    return fig


def show_weight_map(label: np.ndarray, weights: np.ndarray, axes=None, vmax: float | None = None, title: str = "weight map") -> plt.Figure:
    """A label and its weight map side by side (notebook 07); the map in ``magma`` with a colour bar."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    fig = axes[0].figure
    axes[0].imshow(label, cmap="gray", vmin=0, vmax=1)
    _bare(axes[0], "label")
    shown = axes[1].imshow(weights, cmap="magma", vmin=0, vmax=vmax)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    _bare(axes[1], title)
    fig.tight_layout()
    return fig
