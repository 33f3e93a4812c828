"""Interactive explorers for the notebooks: a course tool, not part of the U-Net you build.

Each function builds and returns a widget; the notebook displays it. Widgets work in
JupyterLab, Binder and Colab; without a front end (nbval, a terminal) they still build.
They use only what ipywidgets 7.7 (Colab's) and 8.x both have; tests/test_widgets.py runs in both.
Sections follow the notebooks that introduce each widget.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .augment import Transform, gray_value_change, smooth_field
from .layers import Padding
from .losses import weight_map
from .metrics import segmentation_report
from .model import describe_input_size, nearest_valid_sizes
from .viz import error_legend, error_map, show_deformation, show_prediction, show_weight_map


def _show_in(output: widgets.Output, figure: plt.Figure) -> None:
    """Replace what ``output`` shows by ``figure``, then close it so that figures do not pile up.

    The figure goes in as data (``append_display_data``), not by capturing ``display`` inside
    ``with output:``: a captured display of a large figure made notebook runs through nbclient
    (``tools/nbtools.py execute``) wait for their full cell timeout.
    """
    output.outputs = ()
    output.append_display_data(figure)
    plt.close(figure)


# -- notebook 00: do widgets draw here? ------------------------------------------------------


def widget_check(size: int = 572) -> widgets.VBox:
    """A slider and a sentence that follows it (notebook 00): if both appear and the sentence changes while you
    drag, widgets work here; if not, ``runtime.widget_help()`` says what to do.

    The sentence is notebook 01's first fact: a valid 3×3 convolution trims one pixel from every side.
    """
    slider = widgets.IntSlider(
        value=size,
        min=3,
        max=1200,
        description="image size",
        style={"description_width": "90px"},
        layout=widgets.Layout(width="520px"),
    )
    sentence = widgets.HTML()

    def update(_change: object = None) -> None:
        n = slider.value
        sentence.value = f"a valid 3×3 convolution turns <b>{n} × {n}</b> pixels into <b>{n - 2} × {n - 2}</b>"

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, sentence])


# -- notebook 04: valid-size calculator ---------------------------------------------------


def valid_size_calculator(size: int = 572, depth: int = 4, padding: Padding = "valid") -> widgets.VBox:
    """Pick an input size, depth and padding; see the output size or the nearest valid sizes (notebook 04).

    The children are ``(size slider, depth slider, padding buttons, snap button, result)``;
    the result line is ``describe_input_size`` of the current choice, so it works (and can
    be tested) without a browser.
    """
    style = {"description_width": "90px"}
    size_slider = widgets.IntSlider(
        value=size, min=1, max=1200, description="input size", style=style, layout=widgets.Layout(width="520px")
    )
    depth_slider = widgets.IntSlider(value=depth, min=0, max=6, description="depth", style=style)
    padding_buttons = widgets.ToggleButtons(
        options=["valid", "same"], value=padding, description="padding", style=style
    )
    snap = widgets.Button(description="snap to nearest valid size", layout=widgets.Layout(width="220px"))
    result = widgets.HTML()

    def update(_change: object = None) -> None:
        text = describe_input_size(size_slider.value, depth_slider.value, padding_buttons.value)
        result.value = f"<b>{html.escape(text)}</b>"

    def snap_to_valid(_button: object = None) -> None:
        below, above = nearest_valid_sizes(size_slider.value, depth_slider.value, padding_buttons.value)
        nearer_below = below is not None and size_slider.value - below < above - size_slider.value
        size_slider.value = below if nearer_below else above

    for control in (size_slider, depth_slider, padding_buttons):
        control.observe(update, names="value")
    snap.on_click(snap_to_valid)
    update()
    return widgets.VBox([size_slider, depth_slider, padding_buttons, snap, result])


# -- notebooks 06–07: augmentation explorer and weight-map explorer -----------------------------


def augmentation_explorer(
    image: object, label: object, sigma: float = 10.0, grid: int = 3, seed: int = 0
) -> widgets.VBox:
    """Deform an EM crop the paper's way and watch image, label and a grid move together (notebook 06).

    Sliders: the displacement spread σ (px), the coarse grid size, the random seed; boxes
    switch flips/rotations and gray-value changes on. The summary line states the largest
    displacement of the current field.
    """

    image, label = np.asarray(image, np.float32), np.asarray(label)
    style = {"description_width": "110px"}
    sigma_slider = widgets.FloatSlider(
        value=sigma, min=0.0, max=25.0, step=1.0, description="σ (px)", style=style, continuous_update=False
    )
    grid_slider = widgets.IntSlider(
        value=grid, min=2, max=8, description="grid points", style=style, continuous_update=False
    )
    seed_slider = widgets.IntSlider(value=seed, min=0, max=99, description="seed", style=style, continuous_update=False)
    flips = widgets.Checkbox(value=False, description="flips and rotations")
    gray = widgets.Checkbox(value=False, description="gray-value change")
    summary, picture = widgets.HTML(), widgets.Output()

    def render(change: object = None) -> None:
        rng = np.random.default_rng(seed_slider.value)  # the field first: switching flips on keeps it
        dy = smooth_field(rng, image.shape, grid_slider.value, sigma_slider.value)
        dx = smooth_field(rng, image.shape, grid_slider.value, sigma_slider.value)
        k, flip = (int(rng.integers(4)), bool(rng.integers(2))) if flips.value else (0, False)
        shown = gray_value_change(image, rng) if gray.value else image
        fig = show_deformation(shown, label, Transform(k, flip, dy, dx))
        summary.value = (
            f"largest displacement: <b>{float(np.hypot(dy, dx).max()):.1f} px</b>; rotation {90 * k}°, flipped: {flip}"
        )
        _show_in(picture, fig)
        plt.close("all")

    for control in (sigma_slider, grid_slider, seed_slider, flips, gray):
        control.observe(render, names="value")
    render()
    return widgets.VBox(
        [
            widgets.HBox([widgets.VBox([sigma_slider, grid_slider, seed_slider]), widgets.VBox([flips, gray])]),
            summary,
            picture,
        ]
    )


def weight_map_explorer(label: object, w0: float = 10.0, sigma: float = 5.0) -> widgets.VBox:
    """Change w0 and σ of the paper's weight map and see where the weight goes (notebook 07).

    The colour scale stays fixed (0 to 30) so that a larger w0 visibly brightens the gaps;
    the summary line gives the largest weight and the share of the total weight that lies
    on membrane/background pixels.
    """

    label = np.asarray(label)
    style = {"description_width": "60px"}
    w0_slider = widgets.FloatSlider(
        value=w0, min=0.0, max=30.0, step=1.0, description="w0", style=style, continuous_update=False
    )
    sigma_slider = widgets.FloatSlider(
        value=sigma, min=1.0, max=15.0, step=0.5, description="σ (px)", style=style, continuous_update=False
    )
    summary, picture = widgets.HTML(), widgets.Output()

    def render(change: object = None) -> None:
        weights = weight_map(label, w0_slider.value, sigma_slider.value)
        share = float(weights[label == 0].sum() / weights.sum())
        summary.value = (
            f"largest weight <b>{float(weights.max()):.1f}</b>; "
            f"membrane pixels carry <b>{share:.0%}</b> of the total weight"
        )
        _show_in(
            picture,
            show_weight_map(
                label, weights, vmax=30.0, title=f"w0 = {w0_slider.value:g}, σ = {sigma_slider.value:g} px"
            ),
        )

    for control in (w0_slider, sigma_slider):
        control.observe(render, names="value")
    render()
    return widgets.VBox([widgets.HBox([w0_slider, sigma_slider]), summary, picture])


# -- notebook 09: threshold widget and prediction browser ---------------------------------


def _metrics_line(probability: object, label: object, threshold: float) -> str:

    r = segmentation_report(probability, label, threshold)
    return (
        f"threshold {threshold:.2f}: pixel accuracy <b>{r['pixel_accuracy']:.3f}</b> · "
        f"Dice cell {r['dice']:.3f}, membrane {r['membrane_dice']:.3f} · Rand error <b>{r['rand_error']:.3f}</b>"
    )


def threshold_explorer(image: object, probability: object, label: object, threshold: float = 0.5) -> widgets.VBox:
    """Slide the threshold that turns the cell probability into a mask; watch the mask, the errors and the scores.

    A low threshold calls more pixels "cell" (membranes break, cells merge: the Rand
    error jumps); a high one thickens the membranes (pixel accuracy drops).
    """

    slider = widgets.FloatSlider(
        value=threshold,
        min=0.05,
        max=0.95,
        step=0.05,
        description="threshold",
        continuous_update=False,
        readout_format=".2f",
    )
    scores, picture = widgets.HTML(), widgets.Output()

    def render(change: object = None) -> None:
        t = slider.value
        mask = probability > t
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
        axes[0].imshow(image, cmap="gray")
        axes[0].set_title("image", fontsize=9)
        axes[1].imshow(mask, cmap="gray", vmin=0, vmax=1)
        axes[1].set_title(f"mask: probability > {t:.2f}", fontsize=9)
        axes[2].imshow(error_map(mask, label))
        axes[2].set_title("errors", fontsize=9)
        error_legend(axes[2])
        for ax in axes:
            ax.axis("off")
        fig.tight_layout()
        scores.value = _metrics_line(probability, label, t)
        _show_in(picture, fig)

    slider.observe(render, names="value")
    render()
    return widgets.VBox([slider, scores, picture])


def prediction_browser(
    images: list, probabilities: list, labels: list, names: list[str], threshold: float = 0.5
) -> widgets.VBox:
    """Page through predicted slices: image, probability, mask and, where a label exists, the error map and scores.

    ``labels`` may hold ``None`` for unlabelled images (the ISBI test slices).
    """

    chooser = widgets.Dropdown(options=[(name, i) for i, name in enumerate(names)], value=0, description="slice")
    scores, picture = widgets.HTML(), widgets.Output()

    def render(change: object = None) -> None:
        i = chooser.value
        label = labels[i]
        panels = 3 if label is None else 4
        fig, axes = plt.subplots(1, panels, figsize=(3 * panels, 3.2))
        show_prediction(images[i], probabilities[i], label, threshold, names[i], axes)
        scores.value = (
            _metrics_line(probabilities[i], label, threshold)
            if label is not None
            else "no label for this slice (ISBI test set): judge by eye"
        )
        _show_in(picture, fig)

    chooser.observe(render, names="value")
    render()
    return widgets.VBox([chooser, scores, picture])
