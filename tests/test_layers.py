"""The building blocks of unet_lib.layers (notebooks 01–04)."""

import numpy as np
import pytest
import torch
from torch import nn

from unet_lib.layers import center_crop, conv_transpose, double_conv, grid_strength, max_pool, up_conv


def test_double_conv_valid_trims_four_pixels():
    block = double_conv(1, 64)
    assert block(torch.rand(1, 1, 572, 572)).shape == (1, 64, 568, 568)
    convs = [m for m in block if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 and all(c.kernel_size == (3, 3) and c.padding == (0, 0) for c in convs)
    assert [type(m) for m in block] == [nn.Conv2d, nn.ReLU, nn.Conv2d, nn.ReLU]


def test_double_conv_parameter_count_matches_hand_count():
    # (3·3·1·64 + 64) + (3·3·64·64 + 64) = 640 + 36,928
    assert sum(p.numel() for p in double_conv(1, 64).parameters()) == 37_568


def test_double_conv_same_padding_and_batch_norm():
    block = double_conv(3, 8, padding="same", batch_norm=True)
    assert block(torch.rand(2, 3, 20, 20)).shape == (2, 8, 20, 20)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in block) == 2
    assert all(m.bias is None for m in block if isinstance(m, nn.Conv2d))


def test_double_conv_rejects_unknown_padding():
    with pytest.raises(ValueError, match="valid"):
        double_conv(1, 2, padding="full")


def test_max_pool_halves():
    assert max_pool()(torch.rand(1, 3, 568, 568)).shape == (1, 3, 284, 284)


@pytest.mark.parametrize("mode", ["transpose", "bilinear", "nearest"])
def test_up_conv_doubles_size_and_halves_channels(mode):
    assert up_conv(1024, mode=mode)(torch.rand(1, 1024, 28, 28)).shape == (1, 512, 56, 56)


def test_up_conv_rejects_unknown_mode():
    with pytest.raises(ValueError, match="transpose"):
        up_conv(8, mode="pixelshuffle")


def test_conv_transpose_alias_is_up_conv():
    assert conv_transpose is up_conv
    layer = conv_transpose(16, 8)
    assert isinstance(layer, nn.ConvTranspose2d) and layer.kernel_size == (2, 2) and layer.stride == (2, 2)


def test_center_crop_is_exact_centre():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    assert torch.equal(center_crop(x, 2), x[..., 2:4, 2:4])
    assert center_crop(torch.rand(1, 512, 64, 64), (56, 56)).shape == (1, 512, 56, 56)
    assert center_crop(torch.rand(1, 1, 7, 9), (3, 5)).shape == (1, 1, 3, 5)


def test_center_crop_paper_amounts():
    # 64 → 56 is 4 px per side; the paper's four skips lose 88/40/16/4 px per side at 572.
    for big, small, per_side in [(568, 392, 88), (280, 200, 40), (136, 104, 16), (64, 56, 4)]:
        x = torch.zeros(1, 1, big, big)
        x[..., per_side:-per_side, per_side:-per_side] = 1
        assert center_crop(x, small).min() == 1 and (big - small) // 2 == per_side


def test_center_crop_too_large_is_a_clear_error():
    with pytest.raises(ValueError, match="larger than the input"):
        center_crop(torch.rand(1, 1, 10, 10), 12)


def test_grid_strength_sees_a_repeating_pattern_and_not_a_smooth_one():
    rows, cols = np.mgrid[0:256, 0:256]
    smooth = np.sin(rows / 10.0) + np.cos(cols / 13.0)
    checkerboard = ((rows + cols) % 2).astype(float)
    assert grid_strength(checkerboard) == pytest.approx(1.0)
    assert grid_strength(smooth) < 0.05
    assert grid_strength(smooth + 0.5 * checkerboard) > 0.2  # a faint grid on top of a smooth map
    assert grid_strength(np.ones((32, 32))) == 0.0
    with pytest.raises(ValueError, match="smaller than one 16-pixel block"):
        grid_strength(np.ones((8, 8)))
