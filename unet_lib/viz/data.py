"""Pictures of the data (notebooks 06–07): EM slices with their labels, tiles, deformations, weight maps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle

from ..augment import Transform, warp
from ..runtime import OKABE_ITO

if TYPE_CHECKING:
    from ..images import SegmentationData

# -- notebooks 06–07: EM data, tiles, weight maps ----------------------------------------------


MEMBRANE_OVERLAY = ListedColormap([OKABE_ITO[1]])
"""Membrane pixels drawn in Okabe–Ito orange over a gray image."""


def _bare(ax: plt.Axes, title: str = "") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def show_overlay(
    image: np.ndarray, label: np.ndarray, ax: plt.Axes | None = None, title: str = "", alpha: float = 0.45
) -> plt.Axes:
    """An EM image with its membrane/background pixels (label 0) tinted orange (notebook 06)."""
    ax = plt.subplots(figsize=(4, 4))[1] if ax is None else ax
    ax.imshow(image, cmap="gray")
    ax.imshow(
        np.ma.masked_where(np.asarray(label) != 0, np.ones(np.shape(label))),
        cmap=MEMBRANE_OVERLAY,
        alpha=alpha,
        vmin=0,
        vmax=1,
    )
    _bare(ax, title)
    return ax


def show_data_samples(data: SegmentationData, indices: tuple[int, ...] = (0, 1, 2), size: float = 3.2) -> plt.Figure:
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


def show_tile_geometry(
    image: np.ndarray, label: np.ndarray, input_size: int, output_size: int, top: int, left: int
) -> plt.Figure:
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
    crop = np.pad(label, margin, mode="reflect")[np.ix_(rows[margin : -margin or None], cols[margin : -margin or None])]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.35, 1, 1]})
    axes[0].imshow(padded, cmap="gray")
    frames = [
        (margin, margin, image.shape[1], image.shape[0], OKABE_ITO[2], "--", "the slice"),
        (left, top, input_size, input_size, OKABE_ITO[0], "-", f"input tile {input_size}²"),
        (left + margin, top + margin, output_size, output_size, OKABE_ITO[1], "-", f"output window {output_size}²"),
    ]
    for x, y, w, h, colour, style, name in frames:
        axes[0].add_patch(
            Rectangle(
                (x - 0.5, y - 0.5), w, h, fill=False, edgecolor=colour, linestyle=style, linewidth=2.2, label=name
            )
        )
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3, fontsize=8, frameon=False)
    _bare(axes[0], f"mirror padding: {margin} px on every side")
    axes[1].imshow(tile, cmap="gray")
    axes[1].add_patch(
        Rectangle(
            (margin - 0.5, margin - 0.5), output_size, output_size, fill=False, edgecolor=OKABE_ITO[1], linewidth=2.2
        )
    )
    _bare(axes[1], f"the network's input ({input_size}×{input_size})")
    axes[2].imshow(crop, cmap="gray", vmin=0, vmax=1)
    _bare(axes[2], f"the label it learns ({output_size}×{output_size})")
    fig.tight_layout()
    return fig


def show_deformation(
    image: np.ndarray, label: np.ndarray, transform: Transform, step: int = 32, axes: np.ndarray | None = None
) -> plt.Figure:
    """The original with a grid, the deformed image with the grid carried along, the deformed label (notebook 06)."""

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


def show_weight_map(
    label: np.ndarray,
    weights: np.ndarray,
    axes: np.ndarray | None = None,
    vmax: float | None = None,
    title: str = "weight map",
) -> plt.Figure:
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
