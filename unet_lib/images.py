"""Image files and the label convention (notebook 06): one reader for every command, your own folders.

* ``read_image`` — any PNG, TIFF, JPEG or BMP as a gray float32 image in [0, 1]: the one reader of
  ``train``, ``evaluate`` and ``predict``, of ``load_folder`` and of the ISBI loader, so that every
  path sees the same numbers. ``IMAGE_SUFFIXES`` is the one list of file types they accept.
* ``mask_to_label`` — binary or instance-label masks in the course convention.
* ``SegmentationData`` — images with their labels: what every data source returns.
* ``load_folder`` — your own ``images/`` + ``masks/`` folder.

Labels everywhere: 1 = cell interior / object (foreground, white in the ISBI labels), 0 = membrane / background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.transform
import tifffile
from PIL import Image
from scipy import ndimage

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
"""The file types every command and loader reads (case does not matter); files starting with ``.`` are skipped."""


@dataclass
class SegmentationData:
    """Images with their labels: what every loader returns and ``TileDataset`` consumes.

    ``images``: (H, W) float32 in [0, 1], sizes may differ. ``labels``: (H, W) uint8,
    1 = cell / object, 0 = membrane / background; ``None`` for unlabelled images.
    """

    images: list[np.ndarray]
    labels: list[np.ndarray] | None
    names: list[str]
    source: str
    description: str

    def __post_init__(self) -> None:
        counts = {len(self.images), len(self.names)} | ({len(self.labels)} if self.labels is not None else set())
        if len(counts) != 1:
            raise ValueError(f"images, labels and names must have the same length, got {sorted(counts)}")

    def subset(self, indices: Sequence[int]) -> SegmentationData:
        """The images at ``indices`` (e.g. ``TRAIN_SLICES``), same source and description."""
        pick = [int(i) for i in indices]
        labels = None if self.labels is None else [self.labels[i] for i in pick]
        return SegmentationData(
            [self.images[i] for i in pick], labels, [self.names[i] for i in pick], self.source, self.description
        )

    def __len__(self) -> int:
        return len(self.images)


# -- reading files --------------------------------------------------------------------------------


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` in name order: ``IMAGE_SUFFIXES`` only, hidden ``.x`` and macOS ``._x`` skipped."""
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."))


def read_array(path: Path) -> np.ndarray:
    """The pixel array of an image file, as stored (``tifffile`` for TIFF, Pillow for the rest)."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            return np.asarray(tifffile.imread(path))
        with Image.open(path) as image:
            return np.asarray(image)
    except Exception as error:  # Pillow and tifffile raise many kinds
        raise ValueError(f"cannot read {path.name} as an image ({type(error).__name__}: {error})") from error


def _single_channel(array: np.ndarray, name: str, average_colour: bool) -> np.ndarray:
    """A 2-D array: gray stored as RGB(A) keeps one channel; real colour is averaged, or refused for masks."""
    array = np.squeeze(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        rgb = array[..., :3]
        if np.ptp(rgb, axis=-1).max() == 0:
            array = rgb[..., 0]
        elif average_colour:
            array = rgb.astype(np.float32).mean(axis=-1)
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(f"{name} has shape {array.shape}, but must be one 2-D image; save it as a single gray image")
    return array


def read_image(path: str | Path) -> np.ndarray:
    """A gray float32 image in [0, 1] from an image file; colour is averaged to gray.

    Each image is scaled by its own minimum and maximum, so 8-bit, 16-bit and float files all
    end up on the same scale; a constant image becomes all zeros.
    """
    path = Path(path)
    array = _single_channel(read_array(path), path.name, average_colour=True).astype(np.float32)
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask file as a uint8 label in the course convention (see ``mask_to_label``)."""
    path = Path(path)
    return mask_to_label(_single_channel(read_array(path), path.name, average_colour=False), path.name)


def load_folder(path: str | Path) -> SegmentationData:
    """Your own data: ``path/images/`` and ``path/masks/`` with matching file names (PNG or TIFF).

    Masks may be binary (0/255 or 0/1) or instance labels (0 = background, 1, 2, 3 … one
    number per object); instance labels become foreground = label > 0 with a one-pixel
    background line wherever two objects touch, so the weight map can see the border.
    Images of any size; each is scaled to [0, 1] by its own minimum and maximum.
    """
    root = Path(path).expanduser()
    folders = root / "images", root / "masks"
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{root} needs two subfolders, images/ and masks/, with matching file names; {folder.name}/ is missing"
            )
    images, masks = (_files_by_stem(folder) for folder in folders)
    _check_pairs(images, masks)
    pairs = [(read_image(images[stem]), read_mask(masks[stem])) for stem in sorted(images)]
    for stem, (image, label) in zip(sorted(images), pairs):
        if image.shape != label.shape:
            raise ValueError(f"{images[stem].name} is {image.shape} but its mask {masks[stem].name} is {label.shape}")
    return SegmentationData(
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        [images[s].name for s in sorted(images)],
        "folder",
        f"your own data ({root.name}: {len(pairs)} images with masks)",
    )


def _files_by_stem(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for file in image_files(folder):
        if True:
            if file.stem in files:
                raise ValueError(
                    f"{folder.name}/ has two files named {file.stem} ({files[file.stem].name}, {file.name}); keep one"
                )
            files[file.stem] = file
    if not files:
        raise FileNotFoundError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _check_pairs(images: dict[str, Path], masks: dict[str, Path]) -> None:
    lonely_images = sorted(images[s].name for s in images.keys() - masks.keys())
    lonely_masks = sorted(masks[s].name for s in masks.keys() - images.keys())
    if lonely_images or lonely_masks:
        raise ValueError(
            "images/ and masks/ must hold the same file names (extensions may differ). "
            f"Images without a mask: {lonely_images or 'none'}; masks without an image: {lonely_masks or 'none'}"
        )


def mask_to_label(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Binary (0/255, 0/1, bool) or instance-label mask → uint8 label, 1 = object, 0 = background.

    Instance labels keep a background line where two objects touch: a pixel becomes 0 when a
    neighbour (3×3) carries a larger object number, which separates every pair of objects.
    """
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    values = np.unique(mask)
    if np.issubdtype(mask.dtype, np.floating) and not np.all(np.isfinite(values) & (values == np.round(values))):
        raise ValueError(
            f"{name} holds non-integer values; a mask must be binary (0/255 or 0/1) or instance labels (0, 1, 2, …)"
        )
    if values.min() < 0:
        raise ValueError(
            f"{name} holds negative values; a mask must be binary (0/255 or 0/1) or instance labels (0, 1, 2, …)"
        )
    if set(values.tolist()) <= {0, 255} or set(values.tolist()) <= {0, 1}:
        return (mask > 0).astype(np.uint8)
    objects = mask.astype(np.int64)
    touching = (objects > 0) & (ndimage.maximum_filter(objects, size=3, mode="nearest") > objects)
    return ((objects > 0) & ~touching).astype(np.uint8)


# -- notebook 11: your own images — colour-coded masks, pixel size, rescaling ---------------------

_MICROMETRES_PER_UNIT = {"nm": 1e-3, "um": 1.0, "µm": 1.0, "\\u00b5m": 1.0, "micron": 1.0, "mm": 1e3, "cm": 1e4}
"""ImageJ's names of length units, in micrometres."""


def colour_mask_to_instances(mask: np.ndarray) -> np.ndarray:
    """A colour-coded instance mask (H, W, 3 or 4) → int32 instance labels: black 0, each other colour 1, 2, 3 …

    Annotation tools often save one random colour per object. Averaging the channels to gray would give
    two colours of the same brightness the same number; packing the three channels into one integer keeps
    every colour apart. An alpha channel is ignored.
    """
    mask = np.asarray(mask)
    if mask.ndim != 3 or mask.shape[-1] not in (3, 4):
        raise ValueError(f"expected a colour mask of shape (H, W, 3) or (H, W, 4), got {mask.shape}")
    rgb = mask[..., :3].astype(np.int64)
    packed = (rgb[..., 0] << 32) | (rgb[..., 1] << 16) | rgb[..., 2]
    colours, numbers = np.unique(packed, return_inverse=True)
    if colours[0] != 0:  # no black pixel: every colour is an object
        numbers = numbers + 1
    return numbers.reshape(packed.shape).astype(np.int32)


def read_pixel_size(path: str | Path) -> float | None:
    """Micrometres per pixel recorded in a TIFF file (its resolution tags, ImageJ's unit), or ``None`` if it says none.

    Microscope software and Fiji write the pixel size into the TIFFs they save (Fiji: Image ▸ Properties).
    PNG and JPEG files from screenshots or exports usually carry none; then ask whoever took the images.
    """
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        if "XResolution" not in tags:
            return None
        numerator, denominator = tags["XResolution"].value
        unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 1
        if unit == 2:  # pixels per inch
            micrometres = 25_400.0
        elif unit == 3:  # pixels per centimetre
            micrometres = 10_000.0
        else:  # no unit in the TIFF tags: ImageJ keeps it in its own metadata
            name = str((tif.imagej_metadata or {}).get("unit", "")).strip().lower()
            micrometres = _MICROMETRES_PER_UNIT.get(name, 0.0)
    if not micrometres or not numerator:
        return None
    return micrometres * denominator / numerator


def rescale(array: np.ndarray, factor: float, mask: bool = False) -> np.ndarray:
    """``array`` resampled by ``factor`` (0.5 halves both sides): images to another pixel size.

    Images are interpolated bilinearly and smoothed first when they shrink, so fine texture does not
    alias into noise; masks and instance labels (``mask=True``) take the nearest pixel, so labels stay
    labels. The new size is the old one times ``factor``, rounded.
    """
    if factor <= 0:
        raise ValueError(f"the rescaling factor must be positive, got {factor}")
    shape = tuple(max(1, round(n * factor)) for n in np.shape(array))
    return resize(array, shape, mask)


def resize(array: np.ndarray, shape: tuple[int, int], mask: bool = False) -> np.ndarray:
    """``array`` resampled to ``shape``: the way back after predicting on a rescaled image (see ``rescale``)."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D image or mask, got shape {array.shape}")
    if mask:
        return skimage.transform.resize(array, shape, order=0, preserve_range=True, anti_aliasing=False).astype(
            array.dtype
        )
    shrinks = shape[0] < array.shape[0] or shape[1] < array.shape[1]
    resized = skimage.transform.resize(array.astype(np.float32), shape, order=1, anti_aliasing=shrinks)
    return resized.astype(np.float32)
