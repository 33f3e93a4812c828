"""Reliability (issue 13), hostile input: image files, masks, model configurations and checkpoints.

Each test is one case of the issue's findings (the number in its docstring); hypothesis varies sizes,
dtypes, NaN/Inf positions, palettes and folder layouts. Every refusal must name the file and say what to do.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from reliability_helpers import Payload
from scipy import ndimage
from torch import nn

from unet_lib import checkpoints, model
from unet_lib.checkpoints import CheckpointError, load_checkpoint, load_model, save_checkpoint
from unet_lib.images import load_folder, read_image, read_mask
from unet_lib.model import UNetModel, count_parameters

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])


def image_arrays(min_side: int = 1, max_side: int = 24):
    return DTYPES.flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            st.tuples(st.integers(min_side, max_side), st.integers(min_side, max_side)),
            elements=(
                st.floats(-1e6, 1e6, allow_nan=False, width=32 if dtype == np.float32 else 64)
                if np.dtype(dtype).kind == "f"
                else st.integers(np.iinfo(dtype).min, np.iinfo(dtype).max)
            ),
        )
    )


# -- 5: NaN, Inf and every dtype ----------------------------------------------------------------------
@SETTINGS
@given(array=image_arrays(), data=st.data())
def test_any_dtype_and_size_reads_to_the_unit_range_or_is_refused_by_name(tmp_path, array, data):
    """5, 11: every dtype and size is scaled by its own minimum and maximum, 1×N included (not called 1-D)."""
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, array)
    if array.min() == array.max():
        with pytest.raises(ValueError, match=r"x\.tif has the same value .* nothing to segment"):
            read_image(path)
        return
    image = read_image(path)
    assert image.shape == array.shape and image.dtype == np.float32
    assert image.min() == 0.0 and image.max() == 1.0
    wide = array.astype(np.float64)
    assert np.allclose(image, (wide - wide.min()) / (wide.max() - wide.min()), atol=1e-6)


@SETTINGS
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(2, 30)),
    bad=st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), min_size=1, max_size=4),
    data=st.data(),
)
def test_a_single_nan_or_inf_pixel_is_refused_by_name(tmp_path, shape, bad, data):
    """5: one NaN pixel used to blank the whole image (100 % foreground), one Inf pixel to empty it."""
    array = np.random.default_rng(0).random(shape).astype(np.float32)
    for value in bad:
        array[data.draw(st.integers(0, shape[0] - 1)), data.draw(st.integers(0, shape[1] - 1))] = value
    tifffile.imwrite(tmp_path / "float.tif", array)
    nan, infinite = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    with pytest.raises(ValueError, match=rf"float\.tif holds {nan} NaN and {infinite} infinite pixels; replace them"):
        read_image(tmp_path / "float.tif")


def test_one_row_images_are_two_dimensional(tmp_path):
    """11: a 1×N image used to be called 1-D."""
    Image.fromarray(np.arange(50, dtype=np.uint8)[None]).save(tmp_path / "row.png")
    assert read_image(tmp_path / "row.png").shape == (1, 50)
    tifffile.imwrite(tmp_path / "column.tif", np.arange(7, dtype=np.uint16)[:, None])
    assert read_image(tmp_path / "column.tif").shape == (7, 1)


def test_float64_input_gets_a_clear_message_from_the_model():
    """11: float64 input used to get torch's raw dtype error."""
    unet = UNetModel(base_channels=2, depth=1)
    with pytest.raises(
        TypeError, match=r"float64 tensor \(NumPy's default\) but its weights are float32.*x\.float\(\)"
    ):
        unet(torch.zeros(1, 1, 28, 28, dtype=torch.float64))


# -- 6: palettes, anti-aliasing, instance labels --------------------------------------------------------
@SETTINGS
@given(indices=hnp.arrays(np.uint8, (12, 17), elements=st.integers(0, 7)), colours=st.data())
def test_palette_images_are_read_as_the_colours_they_show(tmp_path, indices, colours):
    """6: palette-mode PNGs used to be read as palette indices (accuracy 0.924 → 0.617)."""
    palette = colours.draw(hnp.arrays(np.uint8, (8, 3), elements=st.integers(0, 255)))
    rgb = palette[indices]
    if rgb.mean(axis=-1).min() == rgb.mean(axis=-1).max():
        return  # a constant picture: refused, tested above
    indexed = Image.fromarray(indices, mode="P")
    indexed.putpalette(palette.ravel().tolist() + [0] * (768 - palette.size))
    indexed.save(tmp_path / "palette.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    assert np.array_equal(read_image(tmp_path / "palette.png"), read_image(tmp_path / "rgb.png"))


def test_planar_rgb_tiff_is_a_colour_image_not_a_stack(tmp_path):
    """12: a (3, H, W) TIFF page with separate colour planes is one colour image; pages make a stack."""
    from unet_lib.images import count_slices

    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert count_slices(tmp_path / "planar.tif") == 1
    assert np.array_equal(read_image(tmp_path / "planar.tif"), read_image(tmp_path / "rgb.png"))
    tifffile.imwrite(tmp_path / "pages.tif", np.moveaxis(rgb, -1, 0), photometric="minisblack")
    assert count_slices(tmp_path / "pages.tif") == 3
    green = rgb[..., 1].astype(np.float64)
    assert np.allclose(read_image(tmp_path / "pages.tif", 1), (green - green.min()) / (green.max() - green.min()))


def test_a_gray_palette_tiff_is_read_through_its_colour_map(tmp_path):
    """6: the same for TIFF files with a colour map (photometric = palette)."""
    indices = np.arange(64, dtype=np.uint8).reshape(8, 8)
    colormap = np.tile((255 - np.arange(256)) * 257, (3, 1)).astype(np.uint16)  # index i shows gray 255 − i
    tifffile.imwrite(tmp_path / "palette.tif", indices, photometric="palette", colormap=colormap)
    assert np.allclose(read_image(tmp_path / "palette.tif"), (63 - indices) / 63)


def disks(size: int, centres: list[tuple[int, int, int]], scale: int = 1) -> np.ndarray:
    rows, cols = np.mgrid[: size * scale, : size * scale] / scale
    mask = np.zeros(rows.shape, bool)
    for r, c, radius in centres:
        mask |= (rows - r) ** 2 + (cols - c) ** 2 < radius**2
    return mask


CENTRES = st.lists(st.tuples(st.integers(6, 34), st.integers(6, 34), st.integers(3, 8)), min_size=1, max_size=5)


@SETTINGS
@given(centres=CENTRES)
def test_anti_aliased_binary_masks_are_thresholded_with_a_note(tmp_path, centres):
    """6: anti-aliased grey edges used to be read as instance labels (19.6 % of pixels flipped)."""
    fine = disks(40, centres, scale=4).reshape(40, 4, 40, 4).mean(axis=(1, 3))  # drawn at 4×, averaged down
    mask = np.round(fine * 255).astype(np.uint8)
    if len(np.unique(mask)) <= 2:
        return
    Image.fromarray(mask).save(tmp_path / "soft.png")
    label = read_mask(tmp_path / "soft.png")
    assert np.array_equal(label, (mask >= 127.5).astype(np.uint8))
    from unet_lib.images import read_mask_with_note

    assert "anti-aliased edges" in read_mask_with_note(tmp_path / "soft.png")[1]


@SETTINGS
@given(count=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_instance_labels_are_separated_and_explained(tmp_path, count, seed):
    """6: masks with {0, 1, 2, …} are instance labels — now with a note, and touching objects kept apart."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((40, 40), np.uint16)
    for k in range(1, count + 1):  # touching boxes side by side
        top = int(rng.integers(0, 20))
        labels[top : top + 15, (k - 1) * 6 : k * 6] = k
    tifffile.imwrite(tmp_path / "instances.tif", labels)
    from unet_lib.images import read_mask_with_note

    label, note = read_mask_with_note(tmp_path / "instances.tif")
    assert note.startswith(f"instance labels: {count} objects")
    assert ndimage.label(label)[1] == count, "every object stays its own piece"


def test_load_folder_says_how_masks_were_read(tmp_path, capsys):
    """6: the notes reach the learner through load_dataset; plain binary masks get none."""
    from unet_lib.data import load_dataset

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(tmp_path / "images" / f"{name}.png")
    three = np.zeros((20, 20), np.uint8)
    three[2:8, 2:8], three[10:18, 10:18] = 1, 2
    Image.fromarray(three).save(tmp_path / "masks" / "a.png")
    Image.fromarray(three * 100).save(tmp_path / "masks" / "b.png")
    Image.fromarray((three > 0).astype(np.uint8) * 255).save(tmp_path / "masks" / "c.png")
    data = load_dataset(str(tmp_path))
    printed = capsys.readouterr().out
    assert data.notes == (
        "instance labels in masks/ a.png, b.png — a.png: 2 objects numbered up to 2, one number per object; "
        "touching objects are kept apart by a background line",
    )
    assert "  note: instance labels in masks/ a.png, b.png — a.png: 2 objects" in printed


def test_a_jpeg_mask_is_thresholded_with_a_note(tmp_path):
    """6: JPEG compression smears a mask's values; the mask is read as binary and the learner told."""
    mask = disks(40, [(20, 20, 10)]).astype(np.uint8) * 255
    Image.fromarray(mask).save(tmp_path / "m.jpg", quality=70)
    from unet_lib.images import read_mask_with_note

    label, note = read_mask_with_note(tmp_path / "m.jpg")
    assert "binary with JPEG compression" in note and np.mean(label != (mask > 0)) < 0.02


def test_a_stack_in_an_own_data_folder_is_refused_with_the_fix(tmp_path):
    """12: training reads one image per file; a stack is named and the fix given."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    tifffile.imwrite(tmp_path / "images" / "s.tif", np.random.default_rng(0).random((5, 16, 16)).astype(np.float32))
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "masks" / "s.png")
    with pytest.raises(ValueError, match=r"s\.tif is a stack of 5 slices.*save each slice as its own file"):
        load_folder(tmp_path)


SUFFIXES = st.sampled_from([".png", ".PNG", ".tif", ".TIFF", ".jpg", ".bmp"])
NOISE = st.sampled_from(["._{}.png", ".{}.png", "{}.txt", "{}.gif"])


@SETTINGS
@given(suffixes=st.lists(SUFFIXES, min_size=1, max_size=4), noise=st.lists(NOISE, max_size=3))
def test_train_evaluate_and_predict_share_one_suffix_policy(tmp_path_factory, suffixes, noise):
    """3, 11: one reader and one suffix rule; macOS ``._x`` files, text and GIF files never count."""
    from unet_lib.prediction import gather_sources

    root = tmp_path_factory.mktemp("layout")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for k, suffix in enumerate(suffixes):
        picture = Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8))
        picture.save(root / "images" / f"im{k}{suffix}", format=Image.registered_extensions()[suffix.lower()])
        Image.fromarray((rng.random((12, 12)) > 0.5).astype(np.uint8) * 255).save(root / "masks" / f"im{k}.png")
    for k, pattern in enumerate(noise):
        (root / "images" / pattern.format(f"junk{k}")).write_bytes(b"\x00\x05 not an image")
    trained_on = load_folder(root).names
    predicted = [source.label.split("/")[-1] for source in gather_sources([str(root / "images")], False)]
    assert trained_on == predicted == sorted(f"im{k}{s}" for k, s in enumerate(suffixes))


# -- 9: no allocation before the size is checked -------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    base=st.integers(1, 6),
    depth=st.integers(0, 3),
    channels=st.integers(1, 3),
    classes=st.integers(1, 3),
    batch_norm=st.booleans(),
    up_mode=st.sampled_from(["transpose", "bilinear", "nearest"]),
)
def test_the_parameter_count_is_known_before_building(base, depth, channels, classes, batch_norm, up_mode):
    """9: the count the size check relies on is exactly the built model's."""
    config = dict(
        in_channels=channels,
        num_classes=classes,
        base_channels=base,
        depth=depth,
        batch_norm=batch_norm,
        up_mode=up_mode,
    )
    assert model.count_config_parameters(**config) == count_parameters(UNetModel(**config))


@pytest.mark.parametrize(
    "config, match",
    [
        (dict(depth=20), "more than the 12 poolings"),
        (dict(base_channels=200_000), "parameters, more than the 250,000,000"),
        (dict(base_channels=128, depth=6), "parameters, more than"),
        (dict(base_channels=0), "base_channels must be a whole number ≥ 1"),
        (dict(num_classes=True), "num_classes must be a whole number"),
    ],
)
def test_giant_or_impossible_models_are_refused_before_any_layer_exists(monkeypatch, config, match):
    """9: UNetModel(depth=20) was killed by the out-of-memory killer."""
    monkeypatch.setattr(nn.Conv2d, "__init__", lambda *a, **k: pytest.fail("a layer was allocated"))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        UNetModel(**config)
    assert time.perf_counter() - start < 1


def test_the_depth_limit_is_explained_with_a_true_number():
    """The docstring of MAX_DEPTH says a valid depth-12 U-Net needs tiles of 49,148 px: computed here."""
    source = Path(model.__file__).read_text()
    assert model.MAX_DEPTH == 12 and "depth-12 U-Net already needs input tiles of 49,148 px" in source
    assert model.nearest_valid_sizes(1, depth=12)[1] == 49_148 and model.unet_output_size(49_148, depth=12) == 4


def test_feature_maps_are_counted_like_a_real_forward_pass():
    """The memory check of `train` counts feature maps from the size rule; hooks count them on the model."""
    for config, size in [(dict(base_channels=3, depth=2), 92), (dict(base_channels=2, depth=1, padding="same"), 32)]:
        unet, seen = UNetModel(**config), []
        for layer in unet.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d)):
                layer.register_forward_hook(lambda m, i, o, seen=seen: seen.append(o.numel()))
        with torch.no_grad():
            unet(torch.zeros(1, 1, size, size))
        assert model.feature_map_elements(size, **config) == sum(seen)


# -- 8, 9, 10, 11: checkpoints that lie --------------------------------------------------------------------
def saved_state(tmp_path, **extra) -> dict:
    path = save_checkpoint(tmp_path / "ok.ckpt", UNetModel(base_channels=2, depth=1), None, 3, None, **extra)
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s["model_config"].update(depth=20), "cannot be built: depth 20"),
        (lambda s: s["model_config"].update(base_channels=200_000), "cannot be built: .* parameters"),
        (lambda s: s["model_config"].update(depth=True), "depth must be a whole number"),
        (lambda s: s["model_config"].update(padding=3), "malformed model config"),
        (lambda s: s.update(threshold=float("nan")), "stores threshold nan, which is not a probability"),
        (lambda s: s.update(threshold=7.0), "stores threshold 7.0, which is not a probability"),
        (lambda s: s.update(segmentation_threshold="high"), "stores segmentation_threshold 'high'"),
        (lambda s: s.update(rotations=3), "stores rotations 3, not one of 1, 4, 8"),
        (lambda s: s.update(rotations=torch.ones(4)), "stores rotations tensor"),
        (lambda s: s.pop("model_state"), "holds no model weights"),
        (lambda s: s.pop("history"), "lacks history"),
        (lambda s: s.update(step=-4), "malformed step count -4"),
        (lambda s: s.update(torch_rng_state=[1, 2]), "malformed random-number state"),
    ],
)
def test_a_lying_checkpoint_is_refused_before_anything_is_built(tmp_path, monkeypatch, change, match):
    """8, 9, 10: a config for a giant network, bad thresholds, missing weights — refused by name, nothing allocated."""
    state = saved_state(tmp_path, threshold=0.4)
    change(state)
    torch.save(state, tmp_path / "bad.ckpt")
    monkeypatch.setattr(checkpoints, "UNetModel", lambda **c: pytest.fail(f"built a model from {c}"))
    with pytest.raises(CheckpointError, match=match):
        load_model(tmp_path / "bad.ckpt")


def test_a_checkpoint_that_carries_code_is_called_what_it_is(tmp_path):
    """11: a malicious checkpoint used to be called "damaged"; the pinned message for a damaged file stays."""
    torch.save({"format": checkpoints.CHECKPOINT_FORMAT, "x": Payload()}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match=r"was NOT loaded: it asks to import \w+\.system") as caught:
        load_checkpoint(tmp_path / "evil.ckpt")
    assert "damaged" not in str(caught.value)
    (tmp_path / "damaged.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"\(UnpicklingError\): the file is damaged or not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "damaged.ckpt")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_plain_pickle_that_carries_code_is_called_what_it_is(tmp_path, protocol, recwarn):
    """11: made by Python's own ``pickle.dump`` (protocol 4 is its default), the same payload was called "damaged"
    (torch's reader stops at the first opcode it does not know, before the import); nothing runs, no warning."""
    path = tmp_path / "evil.ckpt"
    with path.open("wb") as file:
        pickle.dump({"format": checkpoints.CHECKPOINT_FORMAT, "x": Payload()}, file, protocol=protocol)
    with pytest.raises(CheckpointError, match=r"was NOT loaded: it asks to import \w+\.system") as caught:
        load_checkpoint(path)
    assert "damaged" not in str(caught.value)
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]
