"""The U-Net diagram (notebook 05) and the valid-size calculator (notebook 04)."""

from __future__ import annotations

import matplotlib.pyplot as plt  # the Agg backend: conftest.py sets MPLBACKEND
import pytest
import torch
from matplotlib.patches import FancyArrowPatch, Rectangle

from unet_lib import viz, widgets
from unet_lib.model import UNetModel, count_parameters, unet_output_size


@pytest.fixture(scope="module")
def paper_unet():
    with torch.device("meta"):  # the diagram needs shapes only
        return UNetModel()


def test_record_shapes_of_the_paper_unet(paper_unet):
    shapes = viz.record_unet_shapes(paper_unet, 572)
    assert shapes.input == (1, 572)
    assert shapes.down[0] == [(64, 570), (64, 568)] and shapes.down[-1] == [(1024, 30), (1024, 28)]
    assert shapes.pooled == [(64, 284), (128, 140), (256, 68), (512, 32)]
    assert shapes.up == shapes.skip == [(512, 56), (256, 104), (128, 200), (64, 392)]
    assert [level[-1] for level in shapes.expansive] == [(512, 52), (256, 100), (128, 196), (64, 388)]
    assert shapes.output == (2, 388) and shapes.depth == 4


@pytest.mark.parametrize(
    "config, size",
    [
        (dict(depth=2, base_channels=4), 92),
        (dict(depth=3, padding="same", up_mode="bilinear", base_channels=4), 64),
        (dict(depth=1, batch_norm=True, base_channels=4, in_channels=3, num_classes=5), 30),
    ],
)
def test_record_shapes_follow_the_model(config, size):
    model = UNetModel(**config)
    shapes = viz.record_unet_shapes(model, size)
    assert shapes.output == (model.num_classes, unet_output_size(size, model.depth, model.padding))
    assert shapes.input == (model.in_channels, size) and shapes.depth == model.depth
    assert all(len(level) == 2 for level in shapes.down + shapes.expansive)
    assert all(p.device.type == "cpu" for p in model.parameters()), "the model itself stays where it was"
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()), "no hooks are left behind"


def test_record_shapes_refuses_invalid_sizes(paper_unet):
    with pytest.raises(ValueError, match="Use 556 or 572"):
        viz.record_unet_shapes(paper_unet, 570)


def test_draw_unet_paper(paper_unet):
    fig = viz.draw_unet(paper_unet, 572)
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {"572²", "568²", "392²", "28²", "388²", "1024", "64", "2"} <= texts
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    # input, 2 convs × 5 levels, 4 pooled, 4 × (skip + up-conv + 2 convs), output
    assert len(boxes) == 1 + 10 + 4 + 16 + 1
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 10 + 4 + 4 * (1 + 1 + 2) + 1  # convs, pools, (up + copy + 2 convs) per level, head
    assert f"{count_parameters(paper_unet):,}" in ax.get_title() and "388×388" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["conv 3×3, ReLU", "copy and crop", "max pool 2×2", "up-conv 2×2", "conv 1×1"]
    plt.close(fig)


def test_draw_unet_variant_labels_and_axes():
    model = UNetModel(base_channels=4, depth=2, padding="same", up_mode="nearest")
    fig, ax = plt.subplots()
    assert viz.draw_unet(model, 64, ax=ax) is fig
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "copy (no crop needed)" in legend and "nearest upsampling + conv 1×1" in legend
    assert "64²" in {t.get_text() for t in ax.texts}
    plt.close(fig)


def test_describe_input_size():
    assert widgets.describe_input_size(572) == "572 × 572 fits: the output is 388 × 388 (92 px lost per side)."
    text = widgets.describe_input_size(570)
    assert "Use 556 or 572 (outputs 372 and 388)" in text and "odd size (279 px)" in text
    assert widgets.describe_input_size(100).endswith("Use 188 (output 4).")
    assert "same size" in widgets.describe_input_size(64, padding="same")
    assert "Use 48 or 64" in widgets.describe_input_size(60, padding="same")
    assert "shrink to nothing" in widgets.describe_input_size(20, depth=3)


def test_calculator_builds_and_updates():
    box = widgets.valid_size_calculator()
    size, depth, padding, snap, result = box.children
    assert "388 × 388" in result.value
    size.value = 570
    assert "Use 556 or 572" in result.value
    snap.click()
    assert size.value == 572 and "388 × 388" in result.value
    size.value = 560
    snap.click()
    assert size.value == 556
    padding.value = "same"
    assert "Use 544 or 560" in result.value
    depth.value = 3
    assert "Use 552 or 560" in result.value


def test_show_prediction_names_the_classes_it_is_given():
    """Issue 17: notebook 11 is about nuclei, so its panels say "nucleus", not "cell" and "membrane"."""
    import numpy as np

    rng = np.random.default_rng(0)
    label = (rng.random((20, 20)) > 0.5).astype(np.uint8)
    fig = viz.show_prediction(rng.random((20, 20)), rng.random((20, 20)), label, classes=("background", "nucleus"))
    titles = [ax.get_title() for ax in fig.axes]
    legend = [text.get_text() for text in fig.axes[3].get_legend().get_texts()]
    assert "nucleus probability" in titles and legend == ["false nucleus", "false background"]
    default = viz.show_prediction(rng.random((20, 20)), rng.random((20, 20)), label)
    assert "cell probability" in [ax.get_title() for ax in default.axes]
    plt.close("all")
