"""Datasets in unet_lib.data (notebook 06): ISBI 2012, the built-in EM-like data, own folders, training tiles."""

import hashlib
import time

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from scipy import ndimage

from unet_lib import isbi2012, runtime
from unet_lib.data import (
    TRAIN_SLICES,
    VAL_SLICES,
    TileDataset,
    images_folder,
    load_dataset,
    normalize,
    train_val_split,
)
from unet_lib.images import COLOUR_ADVICE, SegmentationData, load_folder, mask_to_label
from unet_lib.isbi2012 import DataUnavailable, load_isbi2012
from unet_lib.losses import class_balance_weights, weight_map, weight_maps
from unet_lib.synthetic import make_synthetic_em


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_em(4, 192, seed=0)


# -- ISBI 2012 ----------------------------------------------------------------------------------------


def test_split_is_fixed():
    assert TRAIN_SLICES == tuple(range(25)) and VAL_SLICES == tuple(range(25, 30))


def test_isbi_training_slices(isbi):
    assert len(isbi) == 30 and isbi.source == "isbi2012"
    assert all(im.shape == (512, 512) and im.dtype == np.float32 for im in isbi.images)
    assert all(set(np.unique(lab)) == {0, 1} and lab.dtype == np.uint8 for lab in isbi.labels)
    assert isbi.names[3] == "isbi2012/images/03.png"
    assert "checksums verified" in isbi.description
    cell_fraction = np.mean([lab.mean() for lab in isbi.labels])
    assert cell_fraction == pytest.approx(0.7804, abs=5e-4)  # SOURCE.md: white is 78.04 %


def test_isbi_pixels_are_the_published_arrays(isbi):
    """The stacked slices hash to the array SHA-256s recorded with the data (independent of PNG encoding)."""
    images = np.stack([np.round(im * 255).astype(np.uint8) for im in isbi.images])
    labels = np.stack(isbi.labels) * np.uint8(255)
    assert (
        hashlib.sha256(images.tobytes()).hexdigest()
        == "200da3d452d726e6c9ca1ce04b869d4edb727320d23b516d01cce707dc8c4760"
    )
    assert (
        hashlib.sha256(labels.tobytes()).hexdigest()
        == "a7cb64000a1a7e542682927e19c91339f58f9f178e0bcce4e207371116f0ca36"
    )


def test_isbi_test_slices_have_no_labels():
    try:
        test = load_isbi2012("test", download=False)
    except DataUnavailable:
        pytest.skip("the ISBI 2012 slices are not in $UNET_DATA_DIR")
    assert len(test) == 30 and test.labels is None and test.names[0] == "isbi2012/test_images/00.png"


def test_subset_and_split(isbi):
    train, val = train_val_split(isbi)
    assert len(train) == 25 and len(val) == 5 and val.names[0] == "isbi2012/images/25.png"
    assert np.array_equal(val.images[0], isbi.images[25]) and val.source == isbi.source


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="split"):
        load_isbi2012("validation")


def test_load_dataset_says_real_data_is_used(isbi, capsys):
    loaded = load_dataset("isbi2012")
    assert loaded.source == "isbi2012"
    assert "real ISBI 2012 data (checksums verified)" in capsys.readouterr().out


# -- built-in EM-like data ----------------------------------------------------------------------------


def test_synthetic_is_deterministic_and_in_the_label_convention(synthetic):
    again = make_synthetic_em(4, 192, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(synthetic.images, again.images))
    assert all(np.array_equal(a, b) for a, b in zip(synthetic.labels, again.labels))
    other = make_synthetic_em(1, 192, seed=1)
    assert not np.array_equal(other.images[0], synthetic.images[0])
    assert all(im.dtype == np.float32 and 0 <= im.min() and im.max() <= 1 for im in synthetic.images)
    assert all(set(np.unique(lab)) == {0, 1} for lab in synthetic.labels)
    assert synthetic.source == "synthetic" and synthetic.names[1] == "synthetic/01"


def test_synthetic_slice_depends_only_on_seed_and_index(synthetic):
    assert np.array_equal(make_synthetic_em(2, 192, seed=0).images[1], synthetic.images[1])


def test_synthetic_looks_like_em_statistically():
    """Class balance, brightness and contrast in the range of the real slices; dark membranes; many cells."""
    slices = make_synthetic_em(3, 512, seed=0)
    for image, label in zip(slices.images, slices.labels):
        assert 0.68 < label.mean() < 0.85  # real: 0.73–0.83
        assert 0.45 < image.mean() < 0.62 and 0.12 < image.std() < 0.22  # real: mean 0.49–0.56, std ~0.17
        assert image[label == 0].mean() < image[label == 1].mean() - 0.15
        assert ndimage.label(label)[1] > 60  # real: ~100–140 connected cell regions per slice


@pytest.mark.slow
def test_thirty_synthetic_slices_are_quick():
    start = time.perf_counter()
    make_synthetic_em(30, 512)
    assert time.perf_counter() - start < 15  # budget 5 s on a quiet 2-core machine; slack for a busy one


# -- your own data ------------------------------------------------------------------------------------


def save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def own_folder(tmp_path):
    rng = np.random.default_rng(0)
    save_png(tmp_path / "images" / "a.png", rng.integers(0, 255, (40, 50), dtype=np.uint8))
    save_png(tmp_path / "masks" / "a.png", np.where(rng.random((40, 50)) > 0.5, 255, 0).astype(np.uint8))
    (tmp_path / "images").mkdir(exist_ok=True)
    tifffile.imwrite(tmp_path / "images" / "b.tif", rng.integers(100, 4000, (30, 20), dtype=np.uint16))
    instances = np.zeros((30, 20), np.uint16)
    instances[5:15, 2:10], instances[5:15, 10:18] = 1, 2  # two touching objects
    tifffile.imwrite(tmp_path / "masks" / "b.tiff", instances)
    gray_rgb = np.repeat(rng.integers(0, 255, (16, 16, 1), dtype=np.uint8), 3, axis=2)
    save_png(tmp_path / "images" / "c.png", gray_rgb)
    save_png(tmp_path / "masks" / "c.png", (rng.random((16, 16)) > 0.5).astype(np.uint8))
    return tmp_path


def test_load_folder_reads_pngs_tiffs_and_instance_labels(own_folder):
    loaded = load_folder(own_folder)
    assert loaded.description == f"your own data ({own_folder.name}: 3 images with masks)"
    assert loaded.names == ["a.png", "b.tif", "c.png"] and loaded.source == "folder"
    assert [im.shape for im in loaded.images] == [(40, 50), (30, 20), (16, 16)]
    assert all(im.dtype == np.float32 and im.min() == 0.0 and im.max() == 1.0 for im in loaded.images)
    assert all(set(np.unique(lab)) <= {0, 1} for lab in loaded.labels)
    touching = loaded.labels[1]
    assert ndimage.label(touching)[1] == 2, "touching instances must stay two objects"
    assert touching[5:15, 2:9].all() and touching[5:15, 10:18].all() and not touching[5:15, 9].any()


def test_load_dataset_reads_a_folder_without_printing_its_path(own_folder, capsys):
    loaded = load_dataset(str(own_folder))
    out = capsys.readouterr().out
    assert loaded.source == "folder" and "3 images" in out and str(own_folder.parent) not in out


def test_mismatched_names_are_named(own_folder):
    (own_folder / "masks" / "a.png").rename(own_folder / "masks" / "a_mask.png")
    with pytest.raises(ValueError, match=r"a\.png.*a_mask\.png"):
        load_folder(own_folder)


def test_unreadable_file_is_named(own_folder):
    (own_folder / "images" / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read images/a\.png"):
        load_folder(own_folder)


def test_a_file_train_cannot_use_is_named_with_its_folder_and_what_to_do(own_folder):
    """An image and its mask share a name: "cannot read a.png" would not say which of the two; and the line says
    what to do, as predict's and the doctor's do (train and evaluate print load_folder's refusal as it is)."""
    save_png(own_folder / "masks" / "a.png", np.zeros((40, 50), np.uint8))
    (own_folder / "masks" / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read masks/a\.png as an image .*; save it as PNG or TIFF, or move"):
        load_folder(own_folder)
    save_png(own_folder / "masks" / "a.png", np.zeros((40, 50), np.uint8))
    save_png(own_folder / "images" / "a.png", np.full((40, 50), 7, np.uint8))
    with pytest.raises(ValueError, match=r"^images/a\.png has the same value \(7\) .*; remove it and its mask from"):
        load_folder(own_folder)


def test_colour_image_becomes_gray_but_a_colour_mask_is_refused_by_name(own_folder):
    """One colour policy for every reader (unet_lib.images): images are averaged to gray, masks must be gray."""
    colour = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    save_png(own_folder / "images" / "a.png", colour)
    gray = colour.astype(np.float32).mean(axis=-1)
    assert np.allclose(load_folder(own_folder).images[0], (gray - gray.min()) / (gray.max() - gray.min()))
    save_png(own_folder / "masks" / "a.png", colour)
    with pytest.raises(ValueError, match=r"a\.png is a colour image.*colour_mask_to_instances"):
        load_folder(own_folder)


def test_a_one_image_folder_is_described_in_the_singular(own_folder):
    for name in ("b", "c"):
        next((own_folder / "images").glob(f"{name}.*")).unlink()
        next((own_folder / "masks").glob(f"{name}.*")).unlink()
    assert load_folder(own_folder).description == f"your own data ({own_folder.name}: 1 image with its mask)"


def test_colour_images_get_one_counted_note_and_gray_ones_none(own_folder, capsys):
    """Colour averaged to gray is said once for the folder, counted, with what to do; c.png (gray saved as RGB)
    and the gray files are not counted, and a folder without colour gets no such note."""
    assert not any("colour" in note for note in load_folder(own_folder).notes)
    rng = np.random.default_rng(1)
    save_png(own_folder / "images" / "a.png", rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
    tifffile.imwrite(own_folder / "images" / "b.tif", rng.integers(0, 255, (30, 20, 4), dtype=np.uint8))
    notes = [note for note in load_folder(own_folder).notes if "colour" in note]
    assert notes == [
        "2 of 3 images (a.png, b.tif) are colour, read as gray (the mean of the red, green and blue channels); "
        + COLOUR_ADVICE
    ]
    load_dataset(str(own_folder))
    assert capsys.readouterr().out.count("are colour") == 1, "train and evaluate print the note once"


def test_colour_is_what_shows_and_the_count_reads_well():
    from unet_lib.images import colour_found, is_colour

    gray = np.full((4, 5), 90, np.uint8)
    hidden = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    hidden[0, 0] = (255, 0, 0, 0)  # a colour under a transparent pixel (some editors leave one): not seen
    assert not is_colour(hidden)
    hidden[0, 0, 3] = 255
    assert is_colour(hidden) and not is_colour(np.dstack([gray] * 3))
    assert colour_found(["a.png", "b.png"], 2).startswith("both images (a.png, b.png) are colour")
    assert colour_found(["a.png", "b.png", "c.png"], 3).startswith("all 3 images (a.png, b.png, c.png) are colour")
    assert colour_found(["a.png"], 3).startswith("1 of 3 images (a.png) is colour")
    assert colour_found(["a.png"], 1).startswith("a.png is colour")


def test_bad_masks_are_rejected_by_name(own_folder):
    tifffile.imwrite(own_folder / "masks" / "b.tiff", np.full((30, 20), 0.5, np.float32))
    with pytest.raises(ValueError, match=r"b\.tiff.*non-integer"):
        load_folder(own_folder)
    tifffile.imwrite(own_folder / "masks" / "b.tiff", np.full((30, 20), -1, np.int16))
    with pytest.raises(ValueError, match=r"b\.tiff.*negative"):
        load_folder(own_folder)


def test_mask_of_another_size_is_rejected(own_folder):
    save_png(own_folder / "masks" / "c.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"c\.png.*\(16, 16\).*\(8, 8\)"):
        load_folder(own_folder)


def test_missing_masks_folder(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="masks/"):
        load_folder(tmp_path)


@pytest.mark.parametrize(
    "mask, expected",
    [
        (np.array([[0, 255], [255, 0]], np.uint8), [[0, 1], [1, 0]]),
        (np.array([[0, 1], [1, 1]], np.uint8), [[0, 1], [1, 1]]),
        (np.array([[False, True], [True, True]]), [[0, 1], [1, 1]]),
        (np.array([[3, 3, 0], [0, 0, 0]], np.int32), [[1, 1, 0], [0, 0, 0]]),
    ],
)
def test_mask_to_label(mask, expected):
    assert np.array_equal(mask_to_label(mask), np.array(expected, np.uint8))


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="isbi2012"):
        load_dataset("imagenet")


# -- preprocessing and tiles --------------------------------------------------------------------------


def test_normalize():
    image = np.random.default_rng(0).random((20, 30)) * 7 + 3
    out = normalize(image)
    assert out.dtype == np.float32 and abs(out.mean()) < 1e-5 and out.std() == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(normalize(np.full((4, 4), 9.0)), np.zeros((4, 4), np.float32))


def test_plain_tiles_are_the_mirror_padded_crops(synthetic):
    tiles = TileDataset(
        synthetic,
        input_size=124,
        output_size=36,
        num_tiles=6,
        augment=False,
        weight_maps=weight_maps(synthetic.labels),
        seed=3,
    )
    margin = 44
    for index in range(6):
        k, top, left = tiles.position(index)
        x, y, w = tiles[index]
        padded = np.pad(normalize(synthetic.images[k]), margin, mode="reflect")
        assert np.array_equal(x[0].numpy(), padded[top : top + 124, left : left + 124])
        assert np.array_equal(y.numpy(), synthetic.labels[k][top : top + 36, left : left + 36])
        assert np.allclose(w.numpy(), tiles.weights[k][top : top + 36, left : left + 36])


def test_tiles_types_shapes_and_determinism(synthetic):
    tiles = TileDataset(synthetic, input_size=188, output_size=4, num_tiles=5, seed=1)
    x, y, w = tiles[2]
    assert x.shape == (1, 188, 188) and x.dtype == torch.float32
    assert y.shape == (4, 4) and y.dtype == torch.int64 and w.shape == (4, 4) and w.dtype == torch.float32
    again = tiles[2]
    assert all(torch.equal(a, b) for a, b in zip((x, y, w), again))
    other = TileDataset(synthetic, input_size=188, output_size=4, num_tiles=5, seed=2)[2]
    assert not torch.equal(x, other[0])
    batch = next(iter(torch.utils.data.DataLoader(tiles, batch_size=2)))
    assert [tuple(t.shape) for t in batch] == [(2, 1, 188, 188), (2, 4, 4), (2, 4, 4)]


def test_augmented_tiles_keep_image_and_label_aligned():
    """An image that *is* its label: the augmented input tile, thresholded, must match the label crop."""
    labels = make_synthetic_em(2, 256, seed=5).labels
    own = SegmentationData([lab.astype(np.float32) for lab in labels], labels, ["a", "b"], "folder", "test")
    tiles = TileDataset(own, input_size=252, output_size=164, num_tiles=8, seed=0)  # no weight maps: all 1
    for index in range(8):
        x, y, w = tiles[index]
        centre = x[0, 44:208, 44:208].numpy()
        threshold = (centre[y.numpy() == 1].mean() + centre[y.numpy() == 0].mean()) / 2
        assert np.mean((centre > threshold) == (y.numpy() == 1)) > 0.97
        assert torch.equal(w, torch.ones(164, 164))


def test_tiles_carry_the_weight_map_with_dataset_class_weights(synthetic):
    maps = weight_maps(synthetic.labels)
    tiles = TileDataset(synthetic, input_size=124, output_size=36, num_tiles=2, augment=False, weight_maps=maps)
    balance = class_balance_weights(np.concatenate([label.ravel() for label in synthetic.labels]))
    assert np.array_equal(tiles.weights[0], weight_map(synthetic.labels[0], 10.0, 5.0, balance))
    assert balance[0] > 1 > balance[1]  # membrane is the rare class
    with pytest.raises(ValueError, match="one map per image"):
        TileDataset(synthetic, 124, 36, 2, weight_maps=maps[:-1])


def test_tiles_from_images_smaller_than_the_output():
    small = make_synthetic_em(1, 48, seed=0)
    x, y, w = TileDataset(small, input_size=188, output_size=100, num_tiles=1)[0]
    assert x.shape == (1, 188, 188) and y.shape == (100, 100) and set(y.unique().tolist()) <= {0, 1}


def test_tile_dataset_errors(synthetic):
    with pytest.raises(ValueError, match="even"):
        TileDataset(synthetic, input_size=100, output_size=37, num_tiles=1)
    unlabelled = SegmentationData(synthetic.images, None, synthetic.names, "isbi2012", "test slices")
    with pytest.raises(ValueError, match="no labels"):
        TileDataset(unlabelled, 124, 36, 1)
    with pytest.raises(IndexError):
        TileDataset(synthetic, 124, 36, 2)[2]


def test_segmentation_data_checks_lengths():
    with pytest.raises(ValueError, match="same length"):
        SegmentationData([np.zeros((2, 2))], [], ["a"], "folder", "x")


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path))
    assert isbi2012.data_dir() == tmp_path
    monkeypatch.delenv("UNET_DATA_DIR")
    assert isbi2012.data_dir() == runtime.checkout_root() / "data"  # a checkout: data/README.md is there
    monkeypatch.setattr(isbi2012, "checkout_root", lambda: None)  # an installed package
    assert "unet-from-scratch" in str(isbi2012.data_dir())


def test_images_folder_only_for_a_folder_with_images(tmp_path, monkeypatch) -> None:
    assert images_folder(str(tmp_path)) is None  # no images/ inside
    (tmp_path / "images").mkdir()
    assert images_folder(str(tmp_path)) == tmp_path / "images"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "isbi2012" / "images").mkdir(parents=True)  # a built-in name is the dataset, not this folder
    assert images_folder("isbi2012") is None and images_folder("synthetic") is None
