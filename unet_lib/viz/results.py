"""Pictures of training and of predictions (notebooks 08–09): loss curves, live curves, error maps, tiles."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..runtime import OKABE_ITO
from .network import as_image

# -- notebook 08: training ---------------------------------------------------------------


def plot_history(history: object, axes: np.ndarray | None = None, window: int = 20) -> plt.Figure:
    """Loss curves (training, smoothed over ``window`` steps, and validation) and validation accuracy."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    loss_ax, acc_ax = axes
    for ax in axes:
        ax.clear()
    if history.step:
        loss_ax.plot(history.step, history.loss, color=OKABE_ITO[0], alpha=0.25, lw=0.8)
        loss_ax.plot(
            history.step, history.smoothed_loss(window), color=OKABE_ITO[0], label=f"training (mean of {window} steps)"
        )
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

    pred, true = np.asarray(pred).astype(bool), np.asarray(true).astype(bool)
    rgb = np.where(true[..., None], 0.85, 0.25) * np.ones(3)
    rgb[pred & ~true] = to_rgb(ERROR_COLORS["false cell"])
    rgb[~pred & true] = to_rgb(ERROR_COLORS["false membrane"])
    return rgb


CLASSES = ("membrane", "cell")
"""The names of class 0 and class 1 in the pictures: ISBI's by default; notebook 11 passes ("background", "nucleus")."""


def error_legend(ax: plt.Axes, classes: tuple[str, str] = CLASSES) -> None:
    """The legend of ``error_map``: orange = false class 1, blue = false class 0, named by ``classes``."""
    colours = ERROR_COLORS["false cell"], ERROR_COLORS["false membrane"]
    handles = [Patch(color=c, label=f"false {name}") for name, c in zip(reversed(classes), colours)]
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)


def show_tiles(image: np.ndarray, boxes: list, highlight: int = 0, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw overlap-tile boxes on an image: every output tile, and the input tile of one (``highlight``)."""

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    image = as_image(image)
    ax.imshow(image, cmap="gray", extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    for k, ((top, left, h, w), _) in enumerate(boxes):
        color = OKABE_ITO[k % 7]
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, lw=1.5, ec=color))
    (top, left, h, w), (itop, ileft, ih, iw) = boxes[highlight]
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=True, alpha=0.25, fc=OKABE_ITO[highlight % 7]))
    ax.add_patch(Rectangle((ileft - 0.5, itop - 0.5), iw, ih, fill=False, lw=2, ls="--", ec=OKABE_ITO[highlight % 7]))
    # show the whole slice and the whole dashed input tile, with a little room so no frame sits on the edge
    first_row, first_col = min(0, itop), min(0, ileft)
    last_row, last_col = max(image.shape[0], itop + ih), max(image.shape[1], ileft + iw)
    room = 0.03 * max(last_row - first_row, last_col - first_col)
    ax.set_xlim(first_col - 0.5 - room, last_col - 0.5 + room)
    ax.set_ylim(last_row - 0.5 + room, first_row - 0.5 - room)
    ax.set_title(f"{len(boxes)} output tiles; dashed: the input tile of the shaded one", fontsize=9)
    return ax


def show_prediction(
    image: np.ndarray,
    probability: np.ndarray,
    label: np.ndarray | None = None,
    threshold: float = 0.5,
    title: str = "",
    axes: np.ndarray | None = None,
    classes: tuple[str, str] = CLASSES,
) -> plt.Figure:
    """Image, class-1 probability, thresholded mask, and (with a label) the error map, side by side;
    ``classes`` names class 0 and class 1 (``("background", "nucleus")`` in notebook 11)."""
    panels = 4 if label is not None else 3
    if axes is None:
        _, axes = plt.subplots(1, panels, figsize=(3 * panels, 3.2))
    mask = np.asarray(probability) > threshold
    axes[0].imshow(as_image(image), cmap="gray")
    axes[0].set_title(title or "image", fontsize=9)
    shown = axes[1].imshow(probability, cmap="viridis", vmin=0, vmax=1)
    axes[1].set_title(f"{classes[1]} probability", fontsize=9)
    axes[1].figure.colorbar(shown, ax=axes[1], fraction=0.046)
    axes[2].imshow(mask, cmap="gray", vmin=0, vmax=1)
    axes[2].set_title(f"mask (probability > {threshold:.2f})", fontsize=9)
    if label is not None:
        axes[3].imshow(error_map(mask, label))
        axes[3].set_title("errors against the label", fontsize=9)
        error_legend(axes[3], classes)
    for ax in axes:
        ax.axis("off")
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def prediction_figure(
    images: list, probabilities: list, labels: list | None, names: list[str], threshold: float = 0.5
) -> plt.Figure:
    """One row per image (image, probability, mask, errors): the PNG that ``python -m unet_lib train`` writes."""

    panels = 4 if labels is not None else 3
    fig = Figure(figsize=(3 * panels, 3.2 * len(images)))
    axes = np.array(fig.subplots(len(images), panels, squeeze=False))
    for row, (image, probability, name) in enumerate(zip(images, probabilities, names)):
        show_prediction(image, probability, None if labels is None else labels[row], threshold, name, axes[row])
    fig.tight_layout()
    return fig
