"""The paper's weight map and loss, and Dice, in unet_lib.losses (notebook 07)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from unet_lib.losses import class_balance_weights, dice_loss, nearest_two_distances, weight_map, weighted_cross_entropy
from unet_lib.synthetic import make_synthetic_em


def two_dot_cells() -> np.ndarray:
    """Two one-pixel cells at (5, 5) and (5, 15) in an 11×21 image: distances are easy by hand."""
    label = np.zeros((11, 21), np.uint8)
    label[5, 5] = label[5, 15] = 1
    return label


def test_weight_map_formula_by_hand_at_known_distances():
    label = two_dot_cells()
    w_bg, w_fg = 231 / 2 / 229, 231 / 2 / 2  # n / (2 n_c): 229 background and 2 cell pixels
    w = weight_map(label, w0=10.0, sigma=5.0)
    by_hand = {
        (5, 10): (5.0, 5.0),  # midway: 5 px to each cell
        (5, 7): (2.0, 8.0),  # 2 px to the left cell, 8 px to the right one
        (0, 10): (math.hypot(5, 5), math.hypot(5, 5)),  # Euclidean, diagonally up
        (10, 0): (math.hypot(5, 5), math.hypot(5, 15)),
    }
    for (row, col), (d1, d2) in by_hand.items():
        expected = w_bg + 10.0 * math.exp(-((d1 + d2) ** 2) / (2 * 5.0**2))
        assert w[row, col] == pytest.approx(expected, rel=1e-5), (row, col)
    assert w[5, 5] == pytest.approx(w_fg) and w[5, 15] == pytest.approx(w_fg)


def test_weight_map_on_two_bars_is_constant_across_the_gap():
    """Cells in columns 0–9 and 15–39: every gap pixel has d1 + d2 = 6."""
    label = np.zeros((20, 40), np.uint8)
    label[:, :10] = label[:, 15:] = 1
    w = weight_map(label, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0))
    assert np.allclose(w[:, 10:15], 1.0 + 10.0 * math.exp(-36 / 50))
    assert np.allclose(w[label == 1], 1.0)


def test_weight_map_is_highest_in_gaps_between_touching_cells():
    label = np.zeros((60, 60), np.uint8)
    label[10:50, 5:28] = 1  # two cells 2 px apart ...
    label[10:50, 30:40] = 1
    label[10:50, 52:58] = 1  # ... and one 12 px away
    w = weight_map(label)
    row, col = np.unravel_index(np.argmax(w), w.shape)
    assert 10 <= row < 50 and col in (28, 29)
    assert w[30, 28] > 2 * w[30, 46]


def test_weight_map_has_no_border_term_with_a_single_cell():
    label = np.zeros((30, 30), np.uint8)
    label[10:20, 10:20] = 1
    w_bg, w_fg = class_balance_weights(label)
    assert np.allclose(weight_map(label), np.where(label == 1, w_fg, w_bg))


def test_class_balance_weights():
    label = np.zeros((10, 10), np.uint8)
    label[:, :8] = 1
    w_bg, w_fg = class_balance_weights(label)
    assert (w_bg, w_fg) == pytest.approx((100 / 40, 100 / 160))
    assert np.mean(np.where(label == 1, w_fg, w_bg)) == pytest.approx(1.0)
    assert class_balance_weights(np.ones((4, 4))) == (1.0, 1.0)


def test_cutoff_changes_nothing_that_matters():
    """The per-cell windows (6σ) give the same weight map as full-image distance transforms."""
    label = make_synthetic_em(1, 160, seed=3).labels[0]
    d1, d2 = nearest_two_distances(label)
    w_bg, w_fg = class_balance_weights(label)
    full = np.where(label == 1, w_fg, w_bg + 10.0 * np.exp(-((d1 + d2) ** 2) / 50.0))
    assert np.abs(weight_map(label) - full).max() < 1e-5


def random_batch(seed: int, n: int = 2, c: int = 2, size: int = 6):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, size, size, generator=generator) * 3
    target = torch.randint(0, c, (n, size, size), generator=generator)
    return logits, target


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), classes=st.integers(2, 4))
def test_unit_weights_give_pytorch_cross_entropy(seed, classes):
    logits, target = random_batch(seed, c=classes)
    expected = F.cross_entropy(logits, target)
    assert torch.allclose(weighted_cross_entropy(logits, target, torch.ones(target.shape)), expected, atol=1e-6)
    assert torch.allclose(weighted_cross_entropy(logits, target), expected, atol=1e-6)


def test_weights_scale_each_pixel():
    logits, target = random_batch(0)
    weights = torch.rand(target.shape)
    per_pixel = F.cross_entropy(logits, target, reduction="none")
    assert torch.allclose(weighted_cross_entropy(logits, target, weights), (weights * per_pixel).mean(), atol=1e-6)


def test_cross_entropy_is_stable_for_large_logits_and_has_gradients():
    logits = torch.tensor([[[[1000.0]], [[-1000.0]]]], requires_grad=True)
    loss = weighted_cross_entropy(logits, torch.tensor([[[1]]]))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(2000.0)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_cross_entropy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        weighted_cross_entropy(torch.zeros(1, 2, 4, 4), torch.zeros(1, 5, 5, dtype=torch.long))


def test_dice_loss_perfect_wrong_and_empty():
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, 2:6, 2:6] = 1
    perfect = torch.stack([1 - target, target], dim=1).float() * 40 - 20
    assert dice_loss(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    assert dice_loss(-perfect, target).item() == pytest.approx(1.0, abs=0.05)
    empty = torch.zeros(1, 8, 8, dtype=torch.long)
    all_background = torch.stack([torch.ones(1, 8, 8), torch.zeros(1, 8, 8)], dim=1) * 40
    assert dice_loss(all_background, empty).item() == pytest.approx(0.0, abs=1e-6)
    logits, random_target = random_batch(1)
    assert 0.0 <= dice_loss(logits, random_target).item() <= 1.0


def test_weight_map_explorer_follows_its_sliders():
    from unet_lib.widgets import weight_map_explorer

    label = np.zeros((40, 60), np.uint8)
    label[5:35, 5:28] = label[5:35, 30:55] = 1
    explorer = weight_map_explorer(label, w0=10.0, sigma=5.0)
    (w0_slider, sigma_slider), summary, _picture = explorer.children[0].children, *explorer.children[1:]
    expected = weight_map(label, 10.0, 5.0).max()
    assert f"<b>{expected:.1f}</b>" in summary.value
    w0_slider.value = 20.0
    assert f"<b>{weight_map(label, 20.0, 5.0).max():.1f}</b>" in summary.value
    sigma_slider.value = 2.0
    assert f"<b>{weight_map(label, 20.0, 2.0).max():.1f}</b>" in summary.value
