"""The paper's augmentation in unet_lib.augment (notebook 06): alignment, binary labels, identity, seeds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unet_lib import augment
from unet_lib.augment import Transform, elastic_deform, flip_rotate, gray_value_change, random_augment, smooth_field

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(8, 64)


def blobs(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random image and its thresholded binary label."""
    image = smooth_field(np.random.default_rng(seed), (size, size), grid=5).astype(np.float32)
    return image, (image > 0).astype(np.uint8)


def test_smooth_field_passes_through_the_coarse_grid():
    rng = np.random.default_rng(4)
    field = smooth_field(rng, (41, 61), grid=3, std=10.0)
    coarse = np.random.default_rng(4).normal(0.0, 10.0, size=(3, 3))
    corners_and_middles = field[np.ix_([0, 20, 40], [0, 30, 60])]
    assert np.allclose(corners_and_middles, coarse)


def test_displacements_have_the_papers_ten_pixel_spread():
    rng = np.random.default_rng(0)
    corner_values = [augment.random_transform(rng, (64, 64)).dy[0, 0] for _ in range(2000)]
    assert 9.5 < np.std(corner_values) < 10.5


@settings(max_examples=25, deadline=None)
@given(size=sizes, seed=seeds)
def test_zero_displacement_is_the_identity(size, seed):
    image, label = blobs(size, seed)
    weights = image + 2
    out_image, out_label, out_weights = elastic_deform(
        image, label, np.random.default_rng(seed), sigma=0.0, weights=weights
    )
    assert np.allclose(out_image, image, atol=1e-6)
    assert np.array_equal(out_label, label)
    assert np.allclose(out_weights, weights, atol=1e-6)
    cubic, _ = elastic_deform(image, label, np.random.default_rng(seed), sigma=0.0, image_order=3)
    assert np.allclose(cubic, image, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(size=sizes, seed=seeds)
def test_image_and_label_stay_aligned(size, seed):
    """Warp the label as if it were the image (nearest neighbour for both): the results must be identical."""
    _, label = blobs(size, seed)
    image = label.astype(np.float32)
    out_image, out_label = elastic_deform(image, label, np.random.default_rng(seed), image_order=0)
    assert np.array_equal(out_image, out_label.astype(np.float32))


@settings(max_examples=25, deadline=None)
@given(size=sizes, seed=seeds)
def test_labels_stay_binary_and_same_seed_gives_same_result(size, seed):
    image, label = blobs(size, seed)
    first = random_augment(image, label, np.random.default_rng(seed), weights=image)
    again = random_augment(image, label, np.random.default_rng(seed), weights=image)
    assert set(np.unique(first[1])) <= {0, 1} and first[1].dtype == np.uint8
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_different_seeds_give_different_deformations():
    image, label = blobs(96, 1)
    a, _ = elastic_deform(image, label, np.random.default_rng(1))
    b, _ = elastic_deform(image, label, np.random.default_rng(2))
    assert not np.allclose(a, b)


def test_random_augment_keeps_alignment_with_interpolated_image():
    """Bilinear image, nearest label: thresholding the warped image gives back (almost) the warped label."""
    _, label = blobs(128, 7)
    image = label.astype(np.float32)
    for seed in range(5):
        out_image, out_label = random_augment(image, label, np.random.default_rng(seed), gray=False)
        assert np.mean((out_image > 0.5) == (out_label == 1)) > 0.99


def test_flip_rotate_matches_numpy():
    image = np.arange(12.0).reshape(3, 4)
    label = (image > 5).astype(np.uint8)
    out_image, out_label, out_weights = flip_rotate(image, label, k=1, flip=True, weights=image * 2)
    assert np.array_equal(out_image, np.fliplr(np.rot90(image)))
    assert np.array_equal(out_label, np.fliplr(np.rot90(label)))
    assert np.array_equal(out_weights, 2 * out_image)


@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_transform_coordinates_match_rotating_the_sampled_array(k, flip):
    image = np.random.default_rng(0).random((9, 9))
    sampled = augment.warp(image, Transform(k, flip).coordinates(image.shape), order=0)
    expected = np.rot90(image, k)
    assert np.array_equal(sampled, np.fliplr(expected) if flip else expected)


def test_gray_value_change_is_identity_at_zero_strength_and_changes_otherwise():
    image, _ = blobs(64, 3)
    assert np.allclose(gray_value_change(image, np.random.default_rng(0), strength=0.0), image, atol=1e-6)
    changed = gray_value_change(image, np.random.default_rng(0))
    assert changed.shape == image.shape and changed.dtype == image.dtype
    assert not np.allclose(changed, image)


def test_return_arity_follows_weights():
    image, label = blobs(32, 0)
    assert len(random_augment(image, label, np.random.default_rng(0))) == 2
    assert len(random_augment(image, label, np.random.default_rng(0), weights=image)) == 3
    assert len(elastic_deform(image, label, np.random.default_rng(0))) == 2


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="one shape"):
        elastic_deform(np.zeros((8, 8)), np.zeros((8, 9), np.uint8), np.random.default_rng(0))


def test_augmentation_explorer_builds_and_reacts_without_a_front_end():
    from unet_lib.widgets import augmentation_explorer

    image, label = blobs(64, 2)
    explorer = augmentation_explorer(image, label, sigma=10.0, grid=3, seed=0)
    controls, summary, _picture = explorer.children
    sigma_slider, _grid, seed_slider = controls.children[0].children
    first = summary.value
    assert "largest displacement" in first and "rotation 0°" in first
    seed_slider.value = 1
    assert summary.value != first
    sigma_slider.value = 0.0
    assert "<b>0.0 px</b>" in summary.value
