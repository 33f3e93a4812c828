"""Image files and the label convention (notebook 06): one reader for every command, your own folders.

* ``read_image`` — any PNG, TIFF, JPEG or BMP as a gray float32 image in [0, 1]: the one reader of
  ``train``, ``evaluate`` and ``predict`` and of ``load_folder``, so that every path sees the same
  numbers. ``IMAGE_SUFFIXES`` is the one list of file types they accept, ``image_files`` the one
  rule for which files of a folder count. Palette (indexed-colour) files are looked up in their
  palette, colour is averaged to gray; NaN, infinite or constant images are refused by name.
* ``colour_found`` / ``COLOUR_ADVICE`` — the one sentence on colour images averaged to gray, which
  ``load_folder``'s note, ``predict`` and the doctor's finding all print: counted, with what to do.
* ``count_slices`` / ``read_slices`` — multi-page TIFF stacks (the ISBI challenge's format, and most
  microscopes'), one slice at a time.
* ``interpret_mask`` / ``mask_to_label`` — binary, anti-aliased or instance-label masks in the course
  convention, with a note saying how a mask with more than two values was read.
* ``SegmentationData`` — images with their labels: what every data source returns; ``fingerprint`` knows an
  image again by its pixels.
* ``load_folder`` — your own ``images/`` + ``masks/`` folder.

Labels everywhere: 1 = cell interior / object (foreground, white in the ISBI labels), 0 = membrane / background.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.transform
import tifffile
from PIL import Image
from scipy import ndimage
from skimage import measure

from . import runtime

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
"""The file types every command and loader reads (case does not matter); files starting with ``.`` are skipped."""

MAX_IMAGE_PIXELS = 2 * 89_478_485
"""The largest image (pixels per slice) the readers open: Pillow's own limit against decompression bombs,
applied to TIFF files too, so that one damaged or hostile header cannot ask for all the memory."""


@dataclass
class SegmentationData:
    """Images with their labels: what every loader returns and ``TileDataset`` consumes.

    ``images``: (H, W) float32 in [0, 1], sizes may differ. ``labels``: (H, W) uint8,
    1 = cell / object, 0 = membrane / background; ``None`` for unlabelled images.
    ``notes``: how the loader read unusual files (e.g. instance-label masks), for the learner to see.
    """

    images: list[np.ndarray]
    labels: list[np.ndarray] | None
    names: list[str]
    source: str
    description: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        counts = {len(self.images), len(self.names)} | ({len(self.labels)} if self.labels is not None else set())
        if len(counts) != 1:
            raise ValueError(f"images, labels and names must have the same length, got {sorted(counts)}")

    def subset(self, indices: Sequence[int]) -> SegmentationData:
        """The images at ``indices`` (e.g. ``TRAIN_SLICES``), same source and description."""
        pick = [int(i) for i in indices]
        labels = None if self.labels is None else [self.labels[i] for i in pick]
        return SegmentationData(
            [self.images[i] for i in pick],
            labels,
            [self.names[i] for i in pick],
            self.source,
            self.description,
            self.notes,
        )

    def __len__(self) -> int:
        return len(self.images)


def fingerprint(image: np.ndarray) -> str:
    """A short hash of an image's pixels as the readers return them. A checkpoint stores those of the images it
    trained on, so ``evaluate`` knows them again in any folder, under any name, and says they flatter its scores."""
    pixels = np.ascontiguousarray(image, dtype=np.float32)
    return hashlib.sha256(str(pixels.shape).encode() + pixels.tobytes()).hexdigest()[:16]


# -- reading files --------------------------------------------------------------------------------
class BlankImage(ValueError):
    """An image with one value in every pixel: nothing to segment. ``shape`` lets a stack keep its place."""

    def __init__(self, message: str, shape: tuple[int, ...]) -> None:
        super().__init__(message)
        self.shape = shape


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` in name order: ``IMAGE_SUFFIXES`` only, hidden ``.x`` and macOS ``._x`` skipped."""
    return sorted(f for f in folder.iterdir() if is_image_file(f) and not f.name.startswith("."))


def is_image_file(path: Path) -> bool:
    """True for a file whose suffix is one of ``IMAGE_SUFFIXES`` (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


@contextmanager
def open_tiff(path: Path) -> Iterator[tifffile.TiffFile]:
    """``tifffile.TiffFile(path)`` with tifffile's log quiet meanwhile: a damaged file made it print lines such as
    "invalid page offset" above the command's own one-line error, which names the file and what to do."""
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        with tifffile.TiffFile(path) as tiff:
            yield tiff
    finally:
        log.setLevel(level)


class TooManyPixels(ValueError):
    """An image larger than ``MAX_IMAGE_PIXELS``: the readers' own refusal, passed on as it is."""


def _is_tiff(path: Path) -> bool:
    return path.suffix.lower() in (".tif", ".tiff")


def full_pages(tiff: tifffile.TiffFile) -> list[tifffile.TiffPage]:
    """A TIFF's pages less its reduced-resolution ones (a thumbnail or a pyramid level that microscope software
    stores beside the image): those are previews of a page, not slices, and read as slices they were predicted
    as images of their own."""
    return [tiff.pages[k] for k in _full_page_numbers(tiff)]


_FULL_PAGES: dict[tuple[str, int, int], tuple[int, ...]] = {}
"""Full-resolution page numbers by (path, modification time, size): a file written again is looked at again."""


def _full_page_numbers(tiff: tifffile.TiffFile) -> tuple[int, ...]:
    """Which pages of ``tiff`` are full-resolution, found once per file version: ``predict`` reads a stack page by
    page, and parsing every page for each one made a 500-page stack take 30 ms a page."""
    stat = Path(tiff.filehandle.path).stat()
    key = (tiff.filehandle.path, stat.st_mtime_ns, stat.st_size)
    if key not in _FULL_PAGES:
        pages = list(tiff.pages)
        full = tuple(k for k, page in enumerate(pages) if not getattr(page, "is_reduced", False))
        if len(_FULL_PAGES) > 64:  # a long session over many folders: keep the memory small
            _FULL_PAGES.clear()
        _FULL_PAGES[key] = full or tuple(range(len(pages)))
    return _FULL_PAGES[key]


def count_slices(path: str | Path) -> int:
    """How many 2-D images a file holds: the full-resolution pages of a TIFF stack, 1 for every other image."""
    path = Path(path)
    if not _is_tiff(path):
        return 1
    try:
        with open_tiff(path) as tiff:
            return max(1, len(_full_page_numbers(tiff)))
    except Exception as error:  # tifffile raises many kinds
        raise ValueError(f"cannot read {path.name} as an image ({type(error).__name__}: {error})") from error


def hyperstack_note(path: str | Path) -> str:
    """A note for an ImageJ hyperstack with several channels (its pages interleave them: slice 0 channel 0,
    slice 0 channel 1, …), which ``predict`` reads page by page; ``""`` for any other file."""
    path = Path(path)
    if not _is_tiff(path):
        return ""
    try:
        with open_tiff(path) as tiff:
            metadata = tiff.imagej_metadata or {}
            pages = len(_full_page_numbers(tiff))
    except Exception:  # unreadable: the reader says so
        return ""
    channels = metadata.get("channels", 1)
    if not isinstance(channels, int) or channels < 2:
        return ""
    return (
        f"note: {path.name} is an ImageJ hyperstack with {channels} channels; each of its {pages} pages (every "
        "channel of every slice) is predicted as a slice of its own; to predict one channel, save it on its own "
        "(Fiji: Image > Color > Split Channels)"
    )


def read_array(path: str | Path, index: int | None = None, name: str | None = None) -> np.ndarray:
    """The pixels of an image file as they look: palette files through their palette, other colour models as RGB.

    TIFF files are read with ``tifffile`` (all full-resolution pages, or page ``index`` of them; previews are no
    slices: ``full_pages``), the rest with Pillow. A file that does not open, or holds more pixels than the readers
    open, is a ``ValueError`` naming it ``name`` (default: the file's name; ``load_folder`` gives "images/a.png").
    """
    path = Path(path)
    name = name or path.name
    try:
        if _is_tiff(path):
            return _tiff_array(path, index, name)
        with Image.open(path) as image:
            _check_pixel_count(name, image.height * image.width)
            return np.asarray(_plain_mode(image))
    except TooManyPixels:
        raise
    except Exception as error:  # Pillow and tifffile raise many kinds (a file cut short: tifffile's ValueError)
        raise ValueError(f"cannot read {name} as an image ({type(error).__name__}: {error})") from error


def _check_pixel_count(name: str, pixels: int) -> None:
    if pixels > MAX_IMAGE_PIXELS:
        raise TooManyPixels(
            f"{name} has {pixels:,} pixels per image, more than the {MAX_IMAGE_PIXELS:,} the readers open; "
            "cut it into smaller images"
        )


def _plain_mode(image: Image.Image) -> Image.Image:
    """Palette images become the colours they show; CMYK, YCbCr, LAB and HSV become RGB; the rest stay."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    if image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    return image


def _tiff_array(path: Path, index: int | None, name: str) -> np.ndarray:
    with open_tiff(path) as tiff:
        pages = full_pages(tiff) if index is None else [tiff.pages[_full_page_numbers(tiff)[index]]]
        _check_pixel_count(name, int(np.prod(pages[0].shape[:2])))
        arrays = []
        for page in pages:
            array = page.asarray()
            if page.photometric == tifffile.PHOTOMETRIC.PALETTE and page.colormap is not None:
                array = np.moveaxis(page.colormap[:, array], 0, -1)  # indices → the RGB colours they stand for
            elif page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and array.ndim == 3:
                array = np.moveaxis(array, 0, -1)  # colour planes one after the other → channels last
            arrays.append(array)
    return arrays[0] if len(arrays) == 1 else np.stack(arrays)


def _squeeze_pages(array: np.ndarray) -> np.ndarray:
    """``array`` without leading axes of length 1: (1, H, W) and (1, 1, H, W) TIFF pages."""
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    return array


def is_colour(array: np.ndarray) -> bool:
    """True for a colour image as ``read_array`` gives it: three or four channels (RGB, RGBA) whose red, green
    and blue differ somewhere it is not transparent. Gray saved as RGB (all three equal) is no colour: it is read
    as it is."""
    array = _squeeze_pages(np.asarray(array))
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        return False
    rgb = array[..., :3] if array.shape[-1] == 3 else array[..., :3][array[..., 3] > 0]  # transparent pixels: unseen
    return rgb.size > 0 and bool(np.ptp(rgb, axis=-1).max() > 0)


COLOUR_ADVICE = (
    "where the channels show different stains or dyes, the mean mixes them: save the channel that shows your "
    "objects as a gray image (Fiji: Image > Color > Split Channels)"
)
"""What to do about colour images, after ``colour_found``: the one wording of ``load_folder``, ``predict`` and
the doctor."""


def colour_found(names: Sequence[str], total: int) -> str:
    """What ``read_image`` did to the colour images ``names`` among ``total`` images, e.g. "2 of 5 images (a.png,
    b.png) are colour, read as gray (the mean of the red, green and blue channels)"; ``""`` for none."""
    if not names:
        return ""
    shown = runtime.name_list(names)
    count = runtime.every(total, "image") if len(names) == total and total > 1 else ""
    which = shown if total == 1 else f"{count or f'{len(names)} of {total} images'} ({shown})"
    verb = "is" if len(names) == 1 else "are"
    return f"{which} {verb} colour, read as gray (the mean of the red, green and blue channels)"


def colour_note(names: Sequence[str], total: int) -> str:
    """``colour_found`` and ``COLOUR_ADVICE`` in one line: the note of ``load_folder`` and ``predict``."""
    return f"{colour_found(names, total)}; {COLOUR_ADVICE}" if names else ""


def _single_channel(array: np.ndarray, name: str, average_colour: bool) -> np.ndarray:
    """A 2-D array: gray stored as RGB(A) keeps one channel; real colour is averaged, or refused for masks."""
    array = _squeeze_pages(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 2:  # gray + alpha
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        rgb = array[..., :3]
        if not is_colour(array):
            array = rgb[..., 0]
        elif average_colour:
            array = rgb.astype(np.float64).mean(axis=-1)
        else:
            raise ValueError(
                f"{name} is a colour image: a colour-coded instance mask must become instance labels first. Convert "
                "it with unet_lib.images.colour_mask_to_instances and save the result as a 16-bit TIFF (notebook 11, "
                "section 3); converting it to gray can give two objects the same value"
            )
    if array.ndim == 3 and array.shape[-1] > 4:
        raise ValueError(
            f"{name} is a stack of {array.shape[0]} slices ({' × '.join(map(str, array.shape))}); "
            "predict reads stacks slice by slice, but for training save each slice as its own file"
        )
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(f"{name} has shape {array.shape}, but must be one 2-D image; save it as a single gray image")
    return array


def _check_values(array: np.ndarray, name: str) -> None:
    """Refuse what no image should hold: complex numbers, NaN or infinite pixels."""
    if np.iscomplexobj(array):
        raise ValueError(f"{name} holds complex numbers; save the magnitude (numpy.abs) as a gray image")
    if array.dtype.kind == "f":
        nan, infinite = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        if nan or infinite:
            raise ValueError(
                f"{name} holds {nan:,} NaN and {infinite:,} infinite pixels; replace them with real values "
                "(e.g. numpy.nan_to_num) and save it again"
            )


def gray_values(array: np.ndarray) -> np.ndarray | None:
    """The values ``read_image`` scales, as the file holds them: gray kept, colour averaged over red, green and blue
    (alpha never counts); ``None`` where the array is no single image. ``doctor`` compares masks with them."""
    try:
        return _single_channel(array, "image", average_colour=True)
    except ValueError:
        return None


def read_image(path: str | Path, index: int | None = None) -> np.ndarray:
    """A gray float32 image in [0, 1] from an image file (slice ``index`` of a TIFF stack); colour is averaged.

    Each image is scaled by its own minimum and maximum, so 8-bit, 16-bit and float files all
    end up on the same scale. A constant image (one value everywhere, nothing to segment),
    NaN or infinite pixels and a stack without ``index`` are refused with a ``ValueError`` that
    names the file.
    """
    return read_image_with_colour(path, index)[0]


def read_image_with_colour(
    path: str | Path, index: int | None = None, name: str | None = None
) -> tuple[np.ndarray, bool]:
    """``read_image``, and whether the file held colour that was averaged to gray (``is_colour``): ``load_folder``
    and ``predict`` count such files for their one note (``colour_note``). Messages call the file ``name``
    (default: its name; ``load_folder`` says ``images/a.png``, as it says ``masks/a.png`` of the mask)."""
    path = Path(path)
    name = name or path.name
    name = name if index is None else f"{name} (slice {index})"
    array = read_array(path, index, name)
    _check_values(array, name)
    colour = is_colour(array)
    array = _single_channel(array, name, average_colour=True)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    low, high = array.min(), array.max()
    if not high > low:
        raise BlankImage(
            f"{name} has the same value ({low}) in every pixel: there is nothing to segment in it", array.shape
        )
    if array.dtype.kind == "f":  # halve first: the range of a float64 image may not fit a float64 itself
        scaled = (array.astype(np.float64) / 2 - float(low) / 2) / (float(high) / 2 - float(low) / 2)
    else:
        scaled = (array.astype(np.float64) - float(low)) / (float(high) - float(low))
    return np.clip(scaled, 0.0, 1.0).astype(np.float32), colour


def read_slices(path: str | Path) -> Iterator[np.ndarray]:
    """The slices of an image file one at a time (``read_image`` each): a TIFF stack page by page, else one image."""
    path = Path(path)
    slices = count_slices(path)
    if slices == 1:
        yield read_image(path)
        return
    for index in range(slices):
        yield read_image(path, index)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask file as a uint8 label in the course convention (see ``interpret_mask``)."""
    return read_mask_with_note(path)[0]


def read_mask_with_note(path: str | Path, name: str | None = None) -> tuple[np.ndarray, str]:
    """A mask file as a uint8 label, and ``interpret_mask``'s note on how it was read; messages call it ``name``
    (default: the file's name; ``load_folder`` says ``masks/a.png``, so it is clear which of two files is meant)."""
    path = Path(path)
    name = name or path.name
    array = read_array(path, name=name)
    _check_values(array, name)
    return interpret_mask(_single_channel(array, name, average_colour=False), name, path.suffix.lower())


def load_folder(path: str | Path) -> SegmentationData:
    """Your own data: ``path/images/`` and ``path/masks/`` with matching file names (PNG or TIFF).

    Masks may be binary (0/255 or 0/1) or instance labels (0 = background, 1, 2, 3 … one
    number per object); instance labels become foreground = label > 0 with a one-pixel
    background line wherever two objects touch, so the weight map can see the border.
    Anti-aliased binary masks are thresholded (``interpret_mask``); ``notes`` says which masks
    were read in which way, and one note counts the colour images, each read as the mean of its channels
    (``colour_note``). Images of any size; each is scaled to [0, 1] by its own minimum and maximum.
    """
    root = Path(path).expanduser()
    folders = root / "images", root / "masks"
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{root} needs two subfolders, images/ and masks/, with matching file names; {folder.name}/ is missing"
            )
    pairing = pair_files(root)
    for folder, files in zip(folders, (pairing.images, pairing.masks)):
        if not files:
            raise FileNotFoundError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if pairing.problems():
        raise ValueError(
            f"images/ and masks/ must hold the same file names (extensions may differ); {'; '.join(pairing.problems())}"
        )
    images, masks = pairing.images, pairing.masks
    stems = sorted(images)
    try:
        grays = [read_image_with_colour(images[stem], name=f"images/{images[stem].name}") for stem in stems]
        readings = [read_mask_with_note(masks[stem], f"masks/{masks[stem].name}") for stem in stems]
    except ValueError as error:
        raise with_advice(error) from error
    pictures = [picture for picture, _ in grays]
    colour = [images[stem].name for stem, (_, averaged) in zip(stems, grays) if averaged]
    for stem, image, (label, _) in zip(stems, pictures, readings):
        if image.shape != label.shape:
            raise ValueError(
                f"{images[stem].name} is {image.shape} but its mask {masks[stem].name} is {label.shape}; "
                "save each mask at the size of its image"
            )
    counted = "1 image with its mask" if len(pictures) == 1 else f"{len(pictures)} images with masks"
    return SegmentationData(
        pictures,
        [label for label, _ in readings],
        [images[s].name for s in stems],
        "folder",
        f"your own data ({root.name}: {counted})",
        _summarise_notes([(masks[stem].name, note) for stem, (_, note) in zip(stems, readings)])
        + ((colour_note(colour, len(stems)),) if colour else ()),
    )


UNREADABLE_ADVICE = "save it as PNG or TIFF, or move it out of the folder"
"""What to do about a file of an own folder that does not open: ``load_folder``'s and the doctor's words."""

READABLE_ADVICE = "give a PNG, TIFF, JPEG or BMP file"
"""What to do about a single file that does not open (``predict``'s images, ``export --image``): the types of
``IMAGE_SUFFIXES``."""

BLANK_ADVICE = "remove it and its mask from the folder"
"""What to do about an image of an own folder with one value in every pixel (``BlankImage``)."""


def with_advice(error: ValueError) -> ValueError:
    """``load_folder``'s refusal of a file that does not open or holds one value, with what to do after a ``;``
    (``predict`` adds its own: it reads single files, not a folder of pairs)."""
    if isinstance(error, BlankImage):
        return BlankImage(f"{error}; {BLANK_ADVICE}", error.shape)
    if str(error).startswith("cannot read"):
        return ValueError(f"{error}; {UNREADABLE_ADVICE}")
    return error


def _summarise_notes(notes: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """One line per kind of note (the text before its first colon): the masks it concerns (at most three named)
    and the first one's details, e.g. "instance labels in masks/ a.png, b.png — a.png: 12 objects …"."""
    kinds: dict[str, list[tuple[str, str]]] = {}
    for name, note in notes:
        if note:
            kind, _, detail = note.partition(": ")
            kinds.setdefault(kind, []).append((name, detail))
    lines = []
    for kind, found in kinds.items():
        names = [name for name, _ in found]
        lines.append(f"{kind} in masks/ {runtime.name_list(names)} — {found[0][0]}: {found[0][1]}")
    return tuple(lines)


@dataclass(frozen=True)
class Pairing:
    """How the files of ``images/`` and ``masks/`` pair by name, whatever the extension: ``load_folder`` refuses any
    mismatch, the doctor names every one (notebooks 11 and 12).

    ``images`` and ``masks`` map a name without extension to its file (the first one found where two share it);
    ``doubles`` are those two-file names, e.g. ``"a.png and a.tif"``.
    """

    images: dict[str, Path]
    masks: dict[str, Path]
    doubles: list[str]

    def problems(self) -> list[str]:
        """Images without a mask, masks without an image, two files with one name: one phrase each, files named."""
        lonely_images = sorted(self.images[s].name for s in self.images.keys() - self.masks.keys())
        lonely_masks = sorted(self.masks[s].name for s in self.masks.keys() - self.images.keys())
        parts = [f"images without a mask: {runtime.name_list(lonely_images)}"] if lonely_images else []
        parts += [f"masks without an image: {runtime.name_list(lonely_masks)}"] if lonely_masks else []
        parts += [f"two files with one name: {runtime.name_list(self.doubles)}"] if self.doubles else []
        return parts


def pair_files(root: Path) -> Pairing:
    """The pairing of ``root/images`` and ``root/masks`` (both must exist)."""
    (images, image_doubles), (masks, mask_doubles) = _files_by_stem(root / "images"), _files_by_stem(root / "masks")
    return Pairing(images, masks, image_doubles + mask_doubles)


def _files_by_stem(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """``{name without extension: file}`` of a folder's images, and the names that two files share."""
    files: dict[str, Path] = {}
    doubles = []
    for file in image_files(folder):
        if file.stem in files:
            doubles.append(f"{folder.name}/{files[file.stem].name} and {file.name}")
        else:
            files[file.stem] = file
    return files, doubles


# -- what a mask means --------------------------------------------------------------------------------

ANTI_ALIASING_SPECK = 4
"""The in-between values of an anti-aliased mask come in pieces of this many pixels or fewer, on average."""


def interpret_mask(mask: np.ndarray, name: str = "mask", suffix: str = "") -> tuple[np.ndarray, str]:
    """A mask → ``(uint8 label, note)``: 1 = object, 0 = background; the note says how it was read ("" if plainly).

    * two values (0 and any one other; or bool): binary, no note;
    * a binary mask with anti-aliased edges (its in-between values lie only at the border of the
      full-value regions) or a JPEG-compressed one: thresholded at half its maximum, with a note;
    * whole numbers ≥ 0 otherwise: instance labels, one number per object, with a note;
      touching objects get a background line between them (``_separate_instances``).

    Negative or other non-integer values are refused with what to do instead.
    """
    if mask.dtype == bool:
        return mask.astype(np.uint8), ""
    values = np.unique(mask)
    if values.min() < 0:
        raise ValueError(
            f"{name} holds negative values; a mask must be binary (0/255 or 0/1) or instance labels (0, 1, 2, …)"
        )
    top = values.max()
    whole = not np.issubdtype(mask.dtype, np.floating) or bool(np.all(values == np.round(values)))
    if whole and set(values.tolist()) <= {0, top}:
        return (mask > 0).astype(np.uint8), ""
    between = (mask > 0) & (mask < top)
    if suffix in (".jpg", ".jpeg") or _looks_anti_aliased(mask, between, top):
        label = (mask >= top / 2).astype(np.uint8)
        why = "JPEG compression" if suffix in (".jpg", ".jpeg") else "anti-aliased edges"
        return label, (
            f"binary with {why}: {between.mean():.1%} of its pixels lie between 0 and {top:g}, "
            f"thresholded at {top / 2:g} (save masks as PNG or TIFF with two values to avoid this)"
        )
    if not whole:
        raise ValueError(
            f"{name} holds non-integer values; a mask must be binary (0/255 or 0/1) or instance labels (0, 1, 2, …)"
        )
    objects = len(values) - 1
    return _separate_instances(mask), (
        f"instance labels: {objects} objects numbered up to {top:g}, one number per object; "
        "touching objects are kept apart by a background line"
    )


def _looks_anti_aliased(mask: np.ndarray, between: np.ndarray, top: float) -> bool:
    """In-between values only as specks along edges: no more of them than full-value pixels, and each value in
    pieces of a few pixels. In an instance-label image each number is one whole object."""
    if not between.any() or between.sum() > (mask == top).sum():
        return False
    pieces = measure.label(np.where(between, mask, 0), background=0, connectivity=2).max()
    return between.sum() / pieces <= ANTI_ALIASING_SPECK


def mask_to_label(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Binary (0/255, 0/1, bool), anti-aliased or instance-label mask → uint8 label, 1 = object, 0 = background.

    See ``interpret_mask``, which also says how the mask was read.
    """
    return interpret_mask(mask, name)[0]


def _separate_instances(mask: np.ndarray) -> np.ndarray:
    """Instance labels → foreground with a background line where two objects touch.

    A pixel becomes 0 when a neighbour (3×3) carries a larger object number, which separates
    every pair of objects.
    """
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
    with open_tiff(path) as tif:
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


PIXEL_SIZE_RATIO = 1.25
"""Recorded pixel sizes that differ by more than this factor mean objects of different sizes in pixels."""


def pixel_size_note(names: Sequence[str], sizes: Sequence[float], trained: float | None) -> str:
    """One line for images whose recorded pixel sizes (µm, ``read_pixel_size``) differ from the training images'
    by more than ``PIXEL_SIZE_RATIO``, ``""`` when none do or nothing is recorded: ``predict`` and ``evaluate``
    say it, as the doctor does (notebook 11: a model knows objects at the size in pixels it trained on)."""
    off = [
        (n, s)
        for n, s in zip(names, sizes)
        if trained and s and not 1 / PIXEL_SIZE_RATIO < s / trained < PIXEL_SIZE_RATIO
    ]
    if not off:
        return ""
    shown = runtime.name_list([n for n, _ in off])
    sizes = [size for _, size in off]
    at, times, by = _span(sizes), _span([trained / x for x in sizes]), _span([x / trained for x in sizes])
    return (
        f"{shown} record{'s' if len(off) == 1 else ''} {at} µm per pixel, the model trained at {trained:g}: objects "
        f"span {times}× the pixels it knows; rescale by {by} (images.rescale, notebook 11) or train on images "
        "like these"
    )


def _span(values: Sequence[float]) -> str:
    """``0.5`` or ``0.5 to 2``: the range of ``values``, two significant digits."""
    return " to ".join(dict.fromkeys(f"{value:.2g}" for value in (min(values), max(values))))


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
