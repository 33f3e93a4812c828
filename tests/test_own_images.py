"""Notebook 11's data pieces: the built-in nuclei, colour-coded masks, the pixel size in a TIFF, rescaling."""

import time

import numpy as np
import pytest
import tifffile
from PIL import Image

from unet_lib import images, objects
from unet_lib.images import colour_mask_to_instances, load_folder, read_mask, read_pixel_size, rescale, resize
from unet_lib.synthetic import NUCLEI_PIXEL_SIZE, make_synthetic_nuclei


@pytest.fixture(scope="module")
def nuclei():
    return make_synthetic_nuclei(4, 128, seed=3)


# -- the built-in nuclei ------------------------------------------------------------------------------


def test_nuclei_images_and_instance_labels(nuclei):
    assert len(nuclei) == 4 and nuclei.pixel_size == NUCLEI_PIXEL_SIZE
    for image, instances in zip(nuclei.images, nuclei.instances):
        assert image.shape == instances.shape == (128, 128)
        assert image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
        assert instances.dtype == np.int32
        numbers = np.unique(instances)
        assert list(numbers) == list(range(int(numbers.max()) + 1)), "numbered 0, 1, 2, … without gaps"
        assert numbers.max() >= 5
        assert image[instances > 0].mean() > 3 * image[instances == 0].mean(), "bright nuclei on a dark background"


def test_nuclei_are_deterministic_and_independent_of_the_count(nuclei):
    again = make_synthetic_nuclei(2, 128, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again.images, nuclei.images[:2]))
    assert all(np.array_equal(a, b) for a, b in zip(again.instances, nuclei.instances[:2]))
    other = make_synthetic_nuclei(1, 128, seed=4)
    assert not np.array_equal(other.instances[0], nuclei.instances[0])


def touching_pairs(instances: np.ndarray) -> int:
    """Pairs of different nuclei that share a border (4-neighbours)."""
    pairs = set()
    for a, b in ((instances[1:], instances[:-1]), (instances[:, 1:], instances[:, :-1])):
        touch = (a > 0) & (b > 0) & (a != b)
        pairs |= {tuple(sorted(p)) for p in zip(a[touch], b[touch])}
    return len(pairs)


def test_many_nuclei_touch_and_their_brightness_varies(nuclei):
    assert all(touching_pairs(instances) >= 3 for instances in nuclei.instances)
    image, instances = nuclei.images[0], nuclei.instances[0]
    means = np.array([image[instances == k].mean() for k in range(1, instances.max() + 1)])
    assert means.max() > 1.5 * means.min()


def test_course_labels_keep_a_line_between_touching_nuclei(nuclei):
    data = nuclei.segmentation_data()
    assert data.source == "synthetic-nuclei" and len(data) == 4
    label, instances = data.labels[0], nuclei.instances[0]
    assert set(np.unique(label)) == {0, 1}
    assert objects.label_objects(label, 0).max() == instances.max(), "every nucleus its own piece"
    assert objects.label_objects(instances > 0, 0).max() < instances.max(), "the bare mask merges touching ones"


def test_nuclei_keep_their_size_in_micrometres_at_another_pixel_size():
    coarse = make_synthetic_nuclei(1, 128, pixel_size=0.5, seed=1)
    fine = make_synthetic_nuclei(1, 256, pixel_size=0.25, seed=1)
    ratio = objects.median_diameter(fine.instances[0]) / objects.median_diameter(coarse.instances[0])
    assert ratio == pytest.approx(2.0, rel=0.05)
    assert abs(int(fine.instances[0].max()) - int(coarse.instances[0].max())) <= 2, "the same nuclei"
    with pytest.raises(ValueError, match="pixel_size"):
        make_synthetic_nuclei(1, 64, pixel_size=0)


def test_eighteen_nuclei_images_are_quick_to_make():
    start = time.perf_counter()
    make_synthetic_nuclei(18, 256)
    assert time.perf_counter() - start < 15, "notebook 11 makes these under a 90 s budget"


def test_nuclei_written_as_16_bit_tiffs_read_back_through_load_folder(nuclei, tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for k, (image, instances) in enumerate(zip(nuclei.images, nuclei.instances)):
        tifffile.imwrite(tmp_path / "images" / f"n{k}.tif", np.round(image * 4000 + 100).astype(np.uint16))
        tifffile.imwrite(tmp_path / "masks" / f"n{k}.tif", instances.astype(np.uint16))
    data = load_folder(tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(data.labels, nuclei.segmentation_data().labels))


# -- colour-coded masks ---------------------------------------------------------------------------------


def test_colour_mask_to_instances_keeps_colours_of_equal_brightness_apart():
    mask = np.zeros((4, 8, 3), np.uint8)
    mask[:2, :2], mask[:2, 2:4], mask[2:, 4:6] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    labels = colour_mask_to_instances(mask)
    assert labels.dtype == np.int32 and labels.shape == (4, 8)
    assert labels[3, 0] == 0 and len({labels[0, 0], labels[0, 2], labels[2, 4]}) == 3
    assert set(np.unique(labels)) == {0, 1, 2, 3}


def test_colour_mask_without_black_and_with_alpha():
    mask = np.full((2, 4, 4), 255, np.uint8)
    mask[:, 2:, :3] = (10, 20, 30)
    mask[0, 0, 3] = 0  # alpha is ignored
    labels = colour_mask_to_instances(mask)
    assert labels.min() == 1 and len(np.unique(labels)) == 2, "with no black pixel every colour is an object"
    assert labels[0, 0] == labels[1, 1] != labels[0, 2]
    with pytest.raises(ValueError, match="colour mask"):
        colour_mask_to_instances(np.zeros((3, 3)))


def test_a_colour_coded_mask_file_is_refused_by_read_mask_and_converts(tmp_path):
    """read_mask refuses real colour (notebook 11 converts first); gray stored as RGB is read as gray."""
    mask = np.zeros((6, 6, 3), np.uint8)
    mask[1:3, 1:3], mask[3:5, 3:5] = (200, 30, 30), (30, 200, 30)
    Image.fromarray(mask).save(tmp_path / "colour.png")
    with pytest.raises(ValueError, match="colour_mask_to_instances") as refused:  # issue 17: not "save it as gray"
        read_mask(tmp_path / "colour.png")
    assert "single gray image" not in str(refused.value)
    gray = np.repeat((colour_mask_to_instances(mask) > 0)[..., None] * np.uint8(255), 3, axis=-1)
    Image.fromarray(gray).save(tmp_path / "gray_as_rgb.png")
    assert read_mask(tmp_path / "gray_as_rgb.png").sum() == 8


# -- the pixel size in a TIFF ----------------------------------------------------------------------------


def test_read_pixel_size_from_imagej_and_tiff_units(tmp_path):
    data = np.zeros((4, 4), np.uint16)
    tifffile.imwrite(
        tmp_path / "fiji.tif", data, imagej=True, resolution=(1 / 0.325, 1 / 0.325), metadata={"unit": "um"}
    )
    tifffile.imwrite(tmp_path / "nm.tif", data, imagej=True, resolution=(1 / 65.0, 1 / 65.0), metadata={"unit": "nm"})
    tifffile.imwrite(tmp_path / "cm.tif", data, resolution=(20_000.0, 20_000.0), resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "inch.tif", data, resolution=(25_400.0, 25_400.0), resolutionunit="INCH")
    tifffile.imwrite(tmp_path / "plain.tif", data)
    Image.fromarray(data.astype(np.uint8)).save(tmp_path / "plain.png")
    assert read_pixel_size(tmp_path / "fiji.tif") == pytest.approx(0.325, rel=1e-5)
    assert read_pixel_size(tmp_path / "nm.tif") == pytest.approx(0.065, rel=1e-5)
    assert read_pixel_size(tmp_path / "cm.tif") == pytest.approx(0.5)
    assert read_pixel_size(tmp_path / "inch.tif") == pytest.approx(1.0)
    assert read_pixel_size(tmp_path / "plain.tif") is None
    assert read_pixel_size(tmp_path / "plain.png") is None


# -- rescaling -------------------------------------------------------------------------------------------


def test_rescale_images_and_masks():
    image = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(64, 48)
    half = rescale(image, 0.5)
    assert half.shape == (32, 24) and half.dtype == np.float32
    assert half.mean() == pytest.approx(image.mean(), abs=0.01)
    labels = np.zeros((64, 48), np.int32)
    labels[10:30, 10:30], labels[40:60, 5:25] = 3, 7
    small = rescale(labels, 0.5, mask=True)
    assert small.shape == (32, 24) and small.dtype == np.int32 and set(np.unique(small)) == {0, 3, 7}
    assert resize(half, (64, 48)).shape == (64, 48)
    assert rescale(image, 1 / 3).shape == (21, 16)
    with pytest.raises(ValueError, match="positive"):
        rescale(image, 0)
    with pytest.raises(ValueError, match="2-D"):
        resize(np.zeros((2, 3, 4)), (4, 4))


def test_shrinking_smooths_fine_texture_instead_of_aliasing():
    stripes = np.tile(np.array([0.0, 0.0, 1.0, 1.0], np.float32), (64, 16))  # period 4 px
    shrunk = rescale(stripes, 0.25)
    assert shrunk.std() < 0.1, "a period-4 pattern shrunk 4× is a uniform gray, not stripes"
    assert images.rescale(stripes, 2.0).shape == (128, 128)


def test_a_folder_of_many_unpaired_images_is_refused_in_one_short_line(tmp_path):
    """load_folder named every unpaired file: 500 images without masks made a 500-name error line."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for k in range(6):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "images" / f"i{k}.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "masks" / "m.png")
    with pytest.raises(ValueError, match="same file names") as refused:
        images.load_folder(tmp_path)
    assert "images without a mask: i0.png, i1.png, i2.png and 3 more; masks without an image: m.png" in str(
        refused.value
    )


def test_the_loader_and_the_doctor_name_two_files_with_one_name_alike(tmp_path):
    """One pairing (images.pair_files) for load_folder, which refuses, and the doctor, which reports: both name the
    two files that share a name (the loader named them, the doctor only the second)."""
    from unet_lib import diagnose

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for folder, suffixes in (("images", (".png", ".tif")), ("masks", (".png",))):
        for suffix in suffixes:
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / folder / f"a{suffix}")
    with pytest.raises(ValueError, match="same file names") as refused:
        images.load_folder(tmp_path)
    assert "two files with one name: images/a.png and a.tif" in str(refused.value)
    _, findings = diagnose.check_folder(tmp_path)
    [pairing] = diagnose.about(findings, "pairing")
    assert pairing.severity == "problem" and "two files with one name: images/a.png and a.tif" in pairing.found


def test_a_tiffs_thumbnail_is_not_a_slice(tmp_path):
    """Microscope software stores a reduced-resolution preview page beside the image; it was read as slice 2 and
    predicted as an image of its own ("2 slices of sizes 128×128, 32×32")."""
    image = np.random.default_rng(0).integers(0, 256, (128, 96), dtype=np.uint8)
    path = tmp_path / "with_thumbnail.tif"
    tifffile.imwrite(path, image)
    tifffile.imwrite(path, image[::4, ::4], append=True, subfiletype=1)  # subfiletype 1: a reduced image
    assert images.count_slices(path) == 1
    assert np.array_equal(images.read_array(path), image)
    assert np.array_equal(images.read_array(path, 0), image)
    stack = tmp_path / "stack.tif"  # a stack without previews keeps every page
    tifffile.imwrite(stack, np.stack([image, image[::-1]]))
    assert images.count_slices(stack) == 2 and np.array_equal(images.read_array(stack, 1), image[::-1])


def test_a_tiff_written_again_is_looked_at_again(tmp_path):
    """Which pages are full-resolution is found once per file version (page by page it cost 30 ms a page of a
    500-page stack): a file saved again with another page count is counted again."""
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((2, 8, 8), np.uint8))
    assert images.count_slices(path) == 2
    tifffile.imwrite(path, np.zeros((5, 8, 8), np.uint8))  # (3, 8, 8) would be one RGB page
    assert images.count_slices(path) == 5 and images.read_array(path, 4).shape == (8, 8)


def test_an_image_too_large_to_open_is_named_as_the_caller_names_it(tmp_path, monkeypatch):
    """The readers' pixel limit named the bare file ('a.png has … pixels') where load_folder names the folder too
    ('images/a.png'), as for every other file it cannot use."""
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "b.tif", np.zeros((20, 20), np.uint8))
    for file in ("a.png", "b.tif"):
        with pytest.raises(images.TooManyPixels, match=rf"^images/{file} has 400 pixels per image, more than the 100"):
            images.read_array(tmp_path / file, name=f"images/{file}")


def test_the_readable_advice_names_every_type_the_readers_take():
    """predict and export told a learner with a file that does not open which types to give, in two lists."""
    named = {word.strip(",").lower() for word in images.READABLE_ADVICE.split()} - {"give", "a", "or", "file"}
    taken = {suffix[1:] for suffix in images.IMAGE_SUFFIXES} - {"tif", "jpg"}
    assert named == {"png", "tiff", "jpeg", "bmp"} and taken == named
