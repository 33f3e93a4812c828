"""Every widget of unet_lib.widgets builds, reacts to a value change and redraws, on ipywidgets 7.7 and 8.x.

The normal test environment has ipywidgets 8; the Colab-like CI job (``.ci/colab``) runs this file again
with Colab's ipywidgets 7.7.1. Without a front end an ``Output`` widget cannot capture a figure, so the
tests record what each widget hands to ``display``: one new figure per change is a redraw.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt  # the Agg backend: conftest.py sets MPLBACKEND
import numpy as np
import pytest
from tqdm.auto import tqdm as auto_tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from unet_lib import train, widgets


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[plt.Figure]:
    """The figures the widgets display, in order."""
    figures: list[plt.Figure] = []
    append = ipywidgets.Output.append_display_data

    def record(output: ipywidgets.Output, figure: plt.Figure) -> None:
        figures.append(figure)
        append(output, figure)  # the real thing too: the figure must become display data in the widget
        assert len(output.outputs) == 1, "an Output shows one figure at a time"

    monkeypatch.setattr(ipywidgets.Output, "append_display_data", record)
    yield figures
    plt.close("all")


@pytest.fixture(scope="module")
def crop() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 64² image, a label with two cells apart and a smooth cell probability."""
    rng = np.random.default_rng(0)
    label = np.zeros((64, 64), np.int64)
    label[8:30, 8:56] = label[36:58, 8:56] = 1
    image = (0.6 * label + 0.2 * rng.random(label.shape)).astype(np.float32)
    probability = np.clip(0.8 * label + 0.3 * rng.random(label.shape), 0, 1)
    return image, label, probability


def children(box: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    """Every widget inside ``box``, depth first."""
    found = []
    for child in getattr(box, "children", ()):
        found += [child, *children(child)]
    return found


def one(box: ipywidgets.Widget, kind: type, description: str | None = None) -> ipywidgets.Widget:
    matches = [w for w in children(box) if isinstance(w, kind) and description in (None, w.description)]
    assert len(matches) == 1, f"expected one {kind.__name__} {description or ''} in the widget, found {len(matches)}"
    return matches[0]


def panels(figure: plt.Figure) -> list[plt.Axes]:
    """The picture panels of a figure (colour bars aside)."""
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def test_the_widgets_of_this_environment_are_7_7_or_8():
    assert ipywidgets.__version__.split(".")[0] in ("7", "8") and ipywidgets.__version__ >= "7.7"


def test_widget_check_follows_its_slider():
    box = widgets.widget_check()
    slider, sentence = box.children
    assert "<b>572 × 572</b> pixels into <b>570 × 570</b>" in sentence.value
    slider.value = 100
    assert "<b>100 × 100</b> pixels into <b>98 × 98</b>" in sentence.value


def test_valid_size_calculator_reacts():
    box = widgets.valid_size_calculator()
    size, _depth, _padding, snap, result = box.children
    size.value = 570
    assert "Use 556 or 572" in result.value
    snap.click()
    assert size.value == 572 and "388 × 388" in result.value


def test_augmentation_explorer_redraws(shown, crop):
    image, label, _ = crop
    box = widgets.augmentation_explorer(image, label)
    summary = one(box, ipywidgets.HTML)
    assert len(shown) == 1 and "largest displacement" in summary.value and "rotation 0°" in summary.value
    before = summary.value
    one(box, ipywidgets.FloatSlider, "σ (px)").value = 20.0
    assert len(shown) == 2 and summary.value != before
    one(box, ipywidgets.Checkbox, "gray-value change").value = True
    one(box, ipywidgets.IntSlider, "seed").value = 3
    assert len(shown) == 4 and all(isinstance(f, plt.Figure) for f in shown)


def test_weight_map_explorer_redraws(shown, crop):
    _, label, _ = crop
    box = widgets.weight_map_explorer(label)
    summary = one(box, ipywidgets.HTML)
    assert len(shown) == 1 and "w0 = 10" in shown[0].axes[1].get_title()
    before = summary.value
    one(box, ipywidgets.FloatSlider, "w0").value = 20.0
    assert len(shown) == 2 and "w0 = 20" in shown[1].axes[1].get_title() and summary.value != before


def test_threshold_explorer_redraws(shown, crop):
    image, label, probability = crop
    box = widgets.threshold_explorer(image, probability, label)
    slider, scores = box.children[:2]
    assert "threshold 0.50" in scores.value and "probability > 0.50" in shown[0].axes[1].get_title()
    slider.value = 0.9
    assert "threshold 0.90" in scores.value and "probability > 0.90" in shown[1].axes[1].get_title()


def test_prediction_browser_pages(shown, crop):
    image, label, probability = crop
    box = widgets.prediction_browser([image, image], [probability, probability], [label, None], ["a", "b"])
    chooser, scores = box.children[:2]
    assert "pixel accuracy" in scores.value and len(panels(shown[0])) == 4
    chooser.value = 1
    assert "no label" in scores.value and len(shown) == 2 and len(panels(shown[1])) == 3


def test_training_progress_bar_is_tqdm_auto():
    """train.py's bar comes from tqdm.auto: a widget in Jupyter (tqdm.notebook), text elsewhere."""
    assert train.tqdm is auto_tqdm


def test_notebook_progress_bar_builds_on_these_widgets(capsys):
    """What tqdm.auto gives inside Jupyter, built on this ipywidgets: an HBox with a progress bar that moves."""
    bar = notebook_tqdm(total=4, desc="training")
    bar.update(3)
    bar.refresh()  # a bar redraws at most every 0.1 s; refresh draws now
    progress = [w for w in bar.container.children if isinstance(w, ipywidgets.FloatProgress)]
    assert len(progress) == 1 and progress[0].value == 3 and progress[0].max == 4
    bar.close()
