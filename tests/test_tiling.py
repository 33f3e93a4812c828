"""Overlap-tile prediction must equal one whole-image pass of a valid-padding U-Net, in as few passes as memory allows.

Exactness is a property of fp32 arithmetic: those tests pass ``precision="fp32"``, since ``"auto"`` may pick bf16
on a processor that computes it fast (tests/test_precision.py covers that path).
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt  # the Agg backend: conftest.py sets MPLBACKEND
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unet_lib import data, tiling, viz
from unet_lib.model import UNetModel


@pytest.fixture(scope="module")
def small_unet() -> UNetModel:
    torch.manual_seed(0)
    return UNetModel(base_channels=4, depth=2).eval()


def whole_image_pass(model: UNetModel, image: np.ndarray) -> np.ndarray:
    """The reference: mirror-pad the whole image once, run the network once, crop."""
    height, width = image.shape
    margin = tiling.model_margin(model, model.valid_input_sizes(1, 200)[0])[1]  # the same for every tile size
    _, size = model.nearest_valid_sizes(max(height, width) + 2 * margin)
    rows = data.mirror_indices(-margin, size - margin, height)
    cols = data.mirror_indices(-margin, size - margin, width)
    with torch.no_grad():
        out = model(torch.from_numpy(image[rows[:, None], cols[None, :]])[None, None])
    return out[0, :, :height, :width].numpy()


def test_mirror_indices_equal_numpy_reflect_padding_even_far_out():
    row = np.arange(7)
    assert np.array_equal(row[data.mirror_indices(-30, 7 + 25, 7)], np.pad(row, (30, 25), mode="reflect"))
    assert np.array_equal(data.mirror_indices(-3, 4, 1), np.zeros(7, int))


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(1, 90),
    width=st.integers(1, 90),
    tile_index=st.integers(0, 4),
    batch=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_tiled_prediction_equals_one_whole_image_pass(small_unet, height, width, tile_index, batch, seed):
    image = np.random.default_rng(seed).standard_normal((height, width)).astype(np.float32)
    tile = small_unet.valid_input_sizes(56, 132)[::4][tile_index]  # outputs 16 … 92 px
    tiled = tiling.predict_logits(small_unet, image, tile_size=tile, batch_size=batch, precision="fp32")
    assert tiled.shape == (2, height, width)
    assert np.abs(tiled - whole_image_pass(small_unet, image)).max() <= 1e-4


def test_depth_four_model_with_several_tiles():
    torch.manual_seed(1)
    model = UNetModel(base_channels=2, depth=4).eval()
    image = np.random.default_rng(0).standard_normal((70, 45)).astype(np.float32)
    tiled = tiling.predict_logits(model, image, tile_size=204, precision="fp32")  # output 20 px: 5 × 3 tiles
    assert len(tiling.tile_positions(70, 45, tiling.tile_stride(model, 20))) == 15
    margin = 92
    _, size = model.nearest_valid_sizes(70 + 2 * margin)
    rows, cols = data.mirror_indices(-margin, size - margin, 70), data.mirror_indices(-margin, size - margin, 45)
    with torch.no_grad():
        whole = model(torch.from_numpy(image[rows[:, None], cols[None, :]])[None, None])[0, :, :70, :45].numpy()
    assert np.abs(tiled - whole).max() <= 1e-4


def test_tile_positions_are_a_multiple_of_the_pooling_grid(small_unet):
    out, margin = tiling.model_margin(small_unet, 68)
    assert (out, margin) == (28, 20)
    stride = tiling.tile_stride(small_unet, out)
    assert stride % 4 == 0 and stride <= out
    assert all(top % 4 == 0 and left % 4 == 0 for top, left in tiling.tile_positions(100, 61, stride))


def test_choose_tile_size_covers_an_image_in_one_pass_when_memory_allows(small_unet):
    tile = tiling.choose_tile_size(small_unet, 30, 20)
    assert tiling.model_margin(small_unet, tile)[0] >= 30 and tiling.tile_count(small_unet, 30, 20, tile) == 1
    paper = UNetModel(base_channels=1)
    assert tiling.choose_tile_size(paper, 512, 512) == 700  # output 516 ≥ 512: one tile, not four of 572
    assert tiling.tile_count(paper, 512, 512, 700) == 1 and tiling.tile_count(paper, 512, 512, 572) == 4
    with torch.device("meta"):
        shipped_size = UNetModel(base_channels=16)
    assert tiling.choose_tile_size(shipped_size, 512, 512) == 700


def test_a_large_image_takes_the_largest_affordable_tiles_in_batches(small_unet):
    budget = tiling.forward_bytes(small_unet, 100)  # room for one 100² tile
    tile = tiling.choose_tile_size(small_unet, 5000, 5000, memory=budget)
    assert tile <= 100 and tiling.forward_bytes(small_unet, tile) <= budget
    assert tiling.batch_for(small_unet, tile, tiles=50, memory=budget) == 1
    assert tiling.batch_for(small_unet, tile, tiles=50, memory=10 * budget) >= 2
    assert tiling.batch_for(small_unet, tile, tiles=3, memory=10**12) == 3
    with pytest.raises(ValueError, match="memory budget"):
        tiling.choose_tile_size(small_unet, 50, 50, memory=10)


@pytest.mark.parametrize("base, size", [(4, 1212), (8, 1212), (16, 700)])
def test_forward_bytes_bounds_the_measured_memory_of_a_forward_pass(tmp_path, base, size):
    """The estimate behind the memory budget is at least what a forward pass really takes (in a child process:
    resident memory before the pass, its peak after it). Narrow networks matter: their buffers that do not shrink
    with the width once took 80 single-channel maps at 8 base channels, beyond an estimate of 10 × 8."""
    script = tmp_path / "measure.py"
    script.write_text(
        "import os, torch\n"
        "from unet_lib.model import UNetModel\n"
        "torch.set_num_threads(1)\n"
        f"m = UNetModel(base_channels={base}, batch_norm=True).eval()\n"
        f"x = torch.randn(1, 1, {size}, {size})\n"
        "before = int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "with torch.inference_mode():\n"
        "    m(x)\n"
        "peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "print(peak * 1024 - before)\n"
    )
    # The peak is the kernel's VmHWM of the child's own address space: getrusage's ru_maxrss would also count the
    # forked copy of this (large) pytest process from before the exec.
    # The lower of two runs: the allocator's own overhead varies by a few per cent from one process to the next.
    measured = min(
        int(subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout)
        for _ in range(2)
    )
    with torch.device("meta"):
        model = UNetModel(base_channels=base, batch_norm=True)
    estimate = tiling.forward_bytes(model, size)
    assert 0.3 * estimate <= measured <= estimate  # the estimate is an upper bound, and not a wild one


def test_wrong_tile_size_and_bad_image_shape_give_clear_errors(small_unet):
    with pytest.raises(ValueError, match="does not fit"):
        tiling.predict_logits(small_unet, np.zeros((10, 10), np.float32), tile_size=45)
    with pytest.raises(ValueError, match="shape"):
        tiling.predict_logits(small_unet, np.zeros((1, 1, 10, 10), np.float32))


def test_same_padding_model_predicts_every_pixel():
    torch.manual_seed(0)
    model = UNetModel(base_channels=4, depth=2, padding="same").eval()
    image = np.random.default_rng(0).standard_normal((50, 37)).astype(np.float32)
    assert tiling.predict_logits(model, image, tile_size=64).shape == (2, 50, 37)


def test_tile_boxes_describe_the_drawn_tiles(small_unet):
    boxes = tiling.tile_boxes(small_unet, 60, 60, tile_size=68)
    (top, left, h, w), (itop, ileft, ih, iw) = boxes[0]
    assert (top, left, itop, ileft, ih, iw) == (0, 0, -20, -20, 68, 68)
    assert sum(h * w for (_, _, h, w), _ in boxes) >= 60 * 60


def test_drawn_tiles_fit_inside_the_plot(small_unet):
    """Notebook 09's picture: the dashed input tile reaches beyond the slice, and must not be cut off by the axes."""
    boxes = tiling.tile_boxes(small_unet, 60, 60, tile_size=68)
    ax = viz.show_tiles(np.zeros((60, 60)), boxes)
    (_, _, _, _), (itop, ileft, ih, iw) = boxes[0]
    (x0, x1), (y1, y0) = ax.get_xlim(), ax.get_ylim()
    assert x0 < ileft - 0.5 and x1 > ileft + iw - 0.5 and y0 < itop - 0.5 and y1 > itop + ih - 0.5
    plt.close(ax.figure)


def test_averaging_rotations_is_the_mean_of_the_views_turned_back(small_unet):
    """``rotations=4``: the mean of the four rotated predictions, each turned back; 1 is a single plain pass."""
    image = np.random.default_rng(3).uniform(0, 255, (70, 90)).astype(np.float32)
    single = tiling.predict_probability(small_unet, image, precision="fp32")
    logits = tiling.predict_logits(small_unet, data.normalize(image), precision="fp32")
    assert np.array_equal(single, torch.softmax(torch.from_numpy(logits), dim=0)[1].numpy())
    by_hand = np.mean(
        [np.rot90(tiling.predict_probability(small_unet, np.rot90(image, k), precision="fp32"), -k) for k in range(4)],
        axis=0,
    )
    averaged = tiling.predict_probability(small_unet, image, precision="fp32", rotations=4)
    assert averaged.shape == image.shape and averaged.dtype == np.float32
    assert np.abs(averaged - by_hand).max() <= 1e-6
    assert np.abs(averaged - single).max() > 1e-3  # an untrained U-Net is not rotation-invariant: it changes the map


@pytest.mark.parametrize("rotations", [4, 8])
def test_an_averaged_map_turns_with_the_image(small_unet, rotations):
    """Averaging over the rotations (and mirror images) makes the prediction rotate with the image, exactly."""
    image = np.random.default_rng(4).uniform(0, 255, (64, 80)).astype(np.float32)
    turned = tiling.predict_probability(small_unet, np.rot90(image), precision="fp32", rotations=rotations)
    plain = tiling.predict_probability(small_unet, image, precision="fp32", rotations=rotations)
    assert np.abs(turned - np.rot90(plain)).max() <= 1e-5
    if rotations == 8:
        mirrored = tiling.predict_probability(small_unet, image[:, ::-1], precision="fp32", rotations=8)
        assert np.abs(mirrored - plain[:, ::-1]).max() <= 1e-5


@pytest.mark.parametrize("rotations", [0, 2, 3, 7, True, 4.0])
def test_other_numbers_of_views_are_refused(small_unet, rotations):
    with pytest.raises(ValueError, match="rotations must be one of 1, 4, 8"):
        tiling.predict_probability(small_unet, np.zeros((40, 40), np.float32), rotations=rotations)
