"""Data for the course (notebook 06): the real ISBI 2012 EM slices, a built-in look-alike, your own folders.

* ``load_isbi2012`` — the 30 annotated slices of the ISBI 2012 challenge (serial-section TEM of the
  *Drosophila* larva ventral nerve cord, Cardona et al. 2010), the data of the U-Net paper. They are
  downloaded once with ``pooch`` from a commit-pinned public mirror and every file is checked against
  its SHA-256 (``isbi2012_sha256.txt``, shipped with this package). A folder that already holds them
  is only read, never written, so a read-only copy works.
* ``make_synthetic_em`` — EM-like slices generated here, deterministic by seed: the offline stand-in.
  ``load_dataset`` falls back to it, and says so, when the real data cannot be had.
* ``load_folder`` — your own ``images/`` + ``masks/`` folder.
* ``TileDataset`` — random training tiles with mirror padding, their labels and weight maps.

Labels everywhere: 1 = cell interior (foreground, white in the ISBI labels), 0 = membrane / background.
The ISBI data may be used for non-commercial research and teaching only; see ``data/README.md``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial import cKDTree

from .augment import IMAGE_ORDER, gray_value_change, random_transform, smooth_field, warp
from .losses import class_balance_weights, weight_map
from .tiling import mirror_indices

DATA_DIR_ENV = "UNET_DATA_DIR"
"""Environment variable naming the data folder; the ISBI slices live in ``$UNET_DATA_DIR/isbi2012``."""

DATA_URL_ENV = "UNET_DATA_URL"
"""Environment variable to download from another mirror laid out like ``ISBI2012_BASE_URL`` (tests use a local server)."""

TRAIN_SLICES: tuple[int, ...] = tuple(range(25))
"""ISBI slices 0–24: the training split used throughout the course."""

VAL_SLICES: tuple[int, ...] = tuple(range(25, 30))
"""ISBI slices 25–29: the validation split (the challenge's test labels are not public)."""

ISBI2012_COMMIT = "b45af4d458437d8281cc218a07fd4380818ece4a"
"""The commit of github.com/zhixuhao/unet whose PNG export of the ISBI 2012 stacks we download."""

ISBI2012_BASE_URL = f"https://raw.githubusercontent.com/zhixuhao/unet/{ISBI2012_COMMIT}/data/membrane/"
"""Pinned public mirror: ``train/image/{i}.png``, ``train/label/{i}.png`` and ``test/{i}.png`` for i = 0..29."""

SPLIT_FOLDERS = {"train": ("images", "labels"), "test": ("test_images",)}
"""Which subfolders of ``isbi2012/`` each split reads."""

DOWNLOAD_TIMEOUT_S = 30
DOWNLOAD_RETRIES = 1
_CHECKSUMS_FILE = "isbi2012_sha256.txt"
_REMOTE_FOLDERS = {"images": "train/image", "labels": "train/label", "test_images": "test"}
_CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


class DataUnavailable(RuntimeError):
    """The real data cannot be had (no network, a checksum mismatch, an unwritable folder …).

    ``reason`` is a few words without paths, fit to print to learners; ``str(error)`` says
    what happened in full and what to do.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


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
        return SegmentationData([self.images[i] for i in pick], labels, [self.names[i] for i in pick], self.source, self.description)

    def __len__(self) -> int:
        return len(self.images)


# -- where the data lives -------------------------------------------------------------------------


def data_dir() -> Path:
    """The data folder: ``$UNET_DATA_DIR``; else ``data/`` of the course checkout; else a per-user cache.

    The checkout's ``data/`` is recognised by its ``README.md``; a pip-installed ``unet_lib``
    has none and uses ``pooch.os_cache("unet-from-scratch")`` (e.g. ``~/.cache/unet-from-scratch``).
    """
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    if (_CHECKOUT_ROOT / "data" / "README.md").is_file():
        return _CHECKOUT_ROOT / "data"
    import pooch

    return Path(pooch.os_cache("unet-from-scratch"))


def isbi2012_checksums() -> dict[str, str]:
    """``{"images/00.png": sha256, ...}`` for all 90 files, from the checksum list shipped with unet_lib."""
    text = resources.files("unet_lib").joinpath(_CHECKSUMS_FILE).read_text(encoding="utf-8")
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def isbi2012_url(name: str, base_url: str | None = None) -> str:
    """The download address of ``images/03.png`` etc. (the mirror numbers files 0..29 without padding)."""
    folder, file = name.split("/")
    base = base_url or os.environ.get(DATA_URL_ENV, "").strip() or ISBI2012_BASE_URL
    return f"{base.rstrip('/')}/{_REMOTE_FOLDERS[folder]}/{int(Path(file).stem)}.png"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _missing_or_bad(root: Path, names: Sequence[str], checksums: dict[str, str]) -> list[str]:
    return [name for name in names if not (root / name).is_file() or _sha256(root / name) != checksums[name]]


def download_isbi2012(split: str = "train", root: Path | None = None, base_url: str | None = None) -> Path:
    """Make sure every file of ``split`` is in ``<data_dir>/isbi2012`` with the right SHA-256; return that folder.

    Files already there and correct are only read. Missing or damaged ones are fetched with
    ``pooch``, which downloads to a temporary file beside the target and moves it into place
    only after its SHA-256 matched: a failed or corrupt download never leaves a partial file.
    """
    root = (root or data_dir()) / "isbi2012"
    checksums = isbi2012_checksums()
    names = sorted(n for n in checksums if n.split("/")[0] in _split_folders(split))
    todo = _missing_or_bad(root, names, checksums)
    if todo:
        _fetch(root, todo, checksums, base_url)
    return root


def _fetch(root: Path, names: list[str], checksums: dict[str, str], base_url: str | None) -> None:
    import pooch

    print(f"Downloading {len(names)} ISBI 2012 files from the public mirror; each is checked against its SHA-256 …")
    registry = {name: f"sha256:{checksums[name]}" for name in names}
    urls = {name: isbi2012_url(name, base_url) for name in names}
    store = pooch.create(path=root, base_url="", registry=registry, urls=urls, retry_if_failed=DOWNLOAD_RETRIES)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=DOWNLOAD_TIMEOUT_S)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch's own messages name local paths; ours above do not
    folders = [root.parent, root, *sorted({root / name.split("/")[0] for name in names})]
    new_folders = [folder for folder in folders if not folder.exists()]
    try:
        for name in names:
            _fetch_one(store, name, urls[name], downloader)
    except DataUnavailable:
        for folder in reversed(new_folders):  # leave no empty folders behind either
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        logger.setLevel(level)


def _fetch_one(store: Any, name: str, url: str, downloader: Callable[..., Any]) -> None:
    """Fetch one file; turn each way it can fail into a ``DataUnavailable`` that says what to do."""
    import requests

    try:
        store.fetch(name, downloader=downloader)
    except requests.exceptions.RequestException as error:  # before OSError: it is one
        offline = isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))
        raise DataUnavailable(
            f"Could not download {name} from {url} ({type(error).__name__}: {error}). Check your internet "
            f"connection, or put the ISBI 2012 slices into {store.abspath} yourself (see data/README.md).",
            reason="no network" if offline else "download failed",
        ) from error
    except ValueError as error:  # pooch: hash mismatch (the temporary file is already deleted)
        raise DataUnavailable(
            f"The download of {name} from {url} failed its SHA-256 check and was discarded ({error}). "
            f"The mirror may have changed or the transfer was damaged; try again later or set ${DATA_URL_ENV} "
            "to another mirror.",
            reason="checksum mismatch",
        ) from error
    except OSError as error:  # e.g. a read-only folder that lacks some files
        raise DataUnavailable(
            f"Could not write {name} into {store.abspath} ({error}). Point ${DATA_DIR_ENV} at a writable "
            "folder, or at one that already holds the complete ISBI 2012 slices.",
            reason="data folder not writable",
        ) from error


def _split_folders(split: str) -> tuple[str, ...]:
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split must be one of {sorted(SPLIT_FOLDERS)}, got {split!r}")
    return SPLIT_FOLDERS[split]


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def load_isbi2012(split: str = "train", download: bool = True) -> SegmentationData:
    """The ISBI 2012 slices: ``"train"`` (30 labelled, 512×512) or ``"test"`` (30 unlabelled).

    Every file is checked against its SHA-256 before use. With ``download=False`` nothing
    is fetched and missing files raise ``DataUnavailable``.
    """
    folders = _split_folders(split)
    root = data_dir() / "isbi2012"
    if download:
        download_isbi2012(split)
    else:
        checksums = isbi2012_checksums()
        wanted = sorted(n for n in checksums if n.split("/")[0] in folders)
        bad = _missing_or_bad(root, wanted, checksums)
        if bad:
            raise DataUnavailable(
                f"{len(bad)} ISBI 2012 files are missing or damaged in {root} (first: {bad[0]}); "
                "call load_isbi2012(download=True) or set $UNET_DATA_DIR to a folder that has them.",
                reason="files missing, download off",
            )
    names = [f"{folders[0]}/{i:02d}.png" for i in range(30)]
    images = [_read_png(root / name).astype(np.float32) / 255.0 for name in names]
    labels = None
    if split == "train":
        labels = [(_read_png(root / name.replace("images/", "labels/")) > 127).astype(np.uint8) for name in names]
    kind = "training slices" if split == "train" else "test slices, no public labels"
    return SegmentationData(
        images, labels, [f"isbi2012/{n}" for n in names], "isbi2012", f"ISBI 2012 {kind} (real EM data, checksums verified)"
    )


# -- the built-in EM-like data --------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _cell_tessellation(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(cell index, distance to the nearest cell border in px, number of cells)`` for a ``size``² slice.

    Cells are a multiplicatively weighted Voronoi diagram (round, unequal cells) of seeds
    drawn with a varying density, seen through a smooth random warp (curved, wiggly borders).
    Distances are computed at half resolution from the three nearest seeds and then interpolated.
    """
    half = -(-size // 2)
    count = max(int(rng.integers(100, 140) * (size / 512) ** 2), 4)
    density = _sigmoid(smooth_field(rng, (half, half), grid=4, std=2.0))
    candidates = rng.uniform(0, size, size=(8 * count, 2))
    accept = rng.uniform(size=len(candidates)) < density[(candidates[:, 0] / 2).astype(int), (candidates[:, 1] / 2).astype(int)]
    seeds = candidates[accept][:count].astype(np.float32)
    if len(seeds) < 4:
        seeds = candidates[:count].astype(np.float32)
    scale = np.exp(rng.normal(0.0, 0.2, len(seeds))).astype(np.float32)
    warp = [smooth_field(rng, (half, half), 9, 7.0) + smooth_field(rng, (half, half), 24, 1.3) for _ in "yx"]
    centre = np.arange(half, dtype=np.float32) * 2 + 0.5
    points = np.stack([centre[:, None] + warp[0], centre[None, :] + warp[1]], axis=-1).astype(np.float32)  # (h, h, 2)
    nearest = _nearest_weighted_seeds(points, seeds, scale)  # (h, h, 8) candidate seed indices
    offset = points[:, :, None, :] - seeds[nearest]  # (h, h, 4, 2)
    radius = np.sqrt((offset**2).sum(-1)) + 1e-3
    weighted = radius / scale[nearest]
    order = np.argsort(weighted, axis=-1)[..., :3]
    weighted = np.take_along_axis(weighted, order, -1)
    # the gradient of |p − s| / w is the unit vector from s to p divided by w: it turns a
    # difference of weighted distances into a distance in pixels to the border between two cells
    gradient = np.take_along_axis(offset / (radius * scale[nearest])[..., None], order[..., None], -2)
    border = [(weighted[..., k] - weighted[..., 0]) / np.maximum(np.linalg.norm(gradient[..., k, :] - gradient[..., 0, :], axis=-1), 1e-3) for k in (1, 2)]
    distance = 1 / np.sqrt(border[0] ** -2.0 + border[1] ** -2.0)  # a soft minimum: wider where three cells meet
    distance = ndimage.zoom(distance, 2, order=1, grid_mode=True, mode="nearest")[:size, :size]
    cell = np.take_along_axis(nearest, order[..., :1], -1)[..., 0].repeat(2, 0).repeat(2, 1)[:size, :size]
    return cell, distance, len(seeds)


def _nearest_weighted_seeds(points: np.ndarray, seeds: np.ndarray, scale: np.ndarray, step: int = 4, keep: int = 8) -> np.ndarray:
    """Candidate seeds per point: the ``keep`` smallest weighted distances among the 24 nearest seeds,
    looked up once per ``step × step`` block (checked against a brute-force search: ≤ 0.01 % of labels differ)."""
    coarse = points[step // 2 :: step, step // 2 :: step]
    distance, index = cKDTree(seeds).query(coarse.reshape(-1, 2), k=min(24, len(seeds)))
    best = np.take_along_axis(index, np.argsort(distance / scale[index], axis=1)[:, :keep], 1)
    best = best.reshape(*coarse.shape[:2], -1)
    return best.repeat(step, 0).repeat(step, 1)[: points.shape[0], : points.shape[1]]


@lru_cache(maxsize=1)
def _vesicle_kernel() -> np.ndarray:
    """A small dark ring with a lighter centre (a difference of Gaussians), 19×19 pixels."""
    delta = np.zeros((19, 19))
    delta[9, 9] = 1.0
    return ndimage.gaussian_filter(delta, 2.2) * 28 - ndimage.gaussian_filter(delta, 1.0) * 5.5


def _stamp(kernel: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sum of ``kernel`` copies centred at ``(rows, cols)``, clipped at the border (cheaper than filtering)."""
    r = kernel.shape[0] // 2
    ky, kx = np.mgrid[-r : r + 1, -r : r + 1]
    y, x = rows[:, None, None] + ky, cols[:, None, None] + kx
    inside = (y >= 0) & (y < shape[0]) & (x >= 0) & (x < shape[1])
    weights = np.broadcast_to(kernel, y.shape)[inside]
    total = np.bincount((y * shape[1] + x)[inside], weights=weights, minlength=shape[0] * shape[1])
    return total.reshape(shape).astype(np.float32)


def _organelles(rng: np.random.Generator, image: np.ndarray, cell: np.ndarray, label: np.ndarray, cells: int) -> None:
    """Darken ``image`` in place with vesicles (small rings, clustered in some cells) and a few mitochondria."""
    size = image.shape[0]
    richness = rng.gamma(0.5, 1.0, size=cells)
    count = int(rng.integers(600, 1200) * (size / 512) ** 2)
    rows, cols = rng.integers(0, size, count), rng.integers(0, size, count)
    keep = rng.uniform(size=count) * richness.max() < richness[cell[rows, cols]]
    image -= 0.4 * _stamp(_vesicle_kernel(), rows[keep], cols[keep], image.shape) * label
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, size, 2)
        long_axis = rng.uniform(12, 26)
        short_axis, angle = long_axis * rng.uniform(0.5, 0.9), rng.uniform(0, np.pi)
        top, left = int(max(cy - long_axis - 4, 0)), int(max(cx - long_axis - 4, 0))
        y, x = np.mgrid[top : int(min(cy + long_axis + 4, size)), left : int(min(cx + long_axis + 4, size))]
        u = ((y - cy) * np.cos(angle) + (x - cx) * np.sin(angle)) / long_axis
        v = (-(y - cy) * np.sin(angle) + (x - cx) * np.cos(angle)) / short_axis
        radius = np.sqrt(u**2 + v**2)
        cristae = 0.5 + 0.5 * np.cos(v * short_axis * 1.3 + u * 3)
        image[y, x] -= (radius < 1) * (0.12 + 0.1 * cristae) + 0.25 * np.exp(-(((radius - 1) / 0.08) ** 2))


def _synthetic_slice(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One EM-like slice and its label: cells, dark membranes of varying width, texture, shading, noise."""
    cell, distance, cells = _cell_tessellation(rng, size)
    half_width = (1.0 + 1.3 * _sigmoid(smooth_field(rng, (size, size), grid=6, std=2.0))).astype(np.float32)
    label = (distance >= 2 * half_width).astype(np.uint8)
    image = rng.normal(0.62, 0.06, size=cells).astype(np.float32)[cell]
    grain = ndimage.gaussian_filter(rng.standard_normal((size, size), dtype=np.float32), 1.0)
    mottle = ndimage.gaussian_filter(rng.standard_normal((size, size), dtype=np.float32), 3.0, truncate=2.5)
    image += (0.06 / grain.std()) * grain + (0.04 / mottle.std()) * mottle
    _organelles(rng, image, cell, label, cells)
    image -= 0.45 * np.exp(-0.5 * (np.maximum(distance, 0) / (1.25 * half_width)) ** 2)
    image *= 1 + smooth_field(rng, (size, size), grid=4, std=0.1).astype(np.float32)
    image += smooth_field(rng, (size, size), grid=5, std=0.04).astype(np.float32)
    image += 0.03 * rng.standard_normal((size, size), dtype=np.float32)
    return np.clip(image, 0.0, 1.0), label


def make_synthetic_em(n_slices: int = 30, size: int = 512, seed: int = 0) -> SegmentationData:
    """``n_slices`` EM-like slices generated here, in the ISBI label convention; the same ``seed`` gives the same data.

    Slice ``i`` depends only on ``(seed, i)``, so the first slices do not change when you ask for more.
    """
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    pairs = [_synthetic_slice(np.random.default_rng([seed, i]), size) for i in range(n_slices)]
    return SegmentationData(
        [image for image, _ in pairs],
        [label for _, label in pairs],
        [f"synthetic/{i:02d}" for i in range(n_slices)],
        "synthetic",
        "built-in synthetic EM-like slices (generated by unet_lib, no download needed)",
    )


# -- your own data -----------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
"""File types ``load_folder`` reads (case does not matter)."""


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
            raise FileNotFoundError(f"{root} needs two subfolders, images/ and masks/, with matching file names; {folder.name}/ is missing")
    images, masks = (_image_files(folder) for folder in folders)
    _check_pairs(images, masks)
    pairs = [(_to_unit_range(_read_2d(images[stem])), mask_to_label(_read_2d(masks[stem]), masks[stem].name)) for stem in sorted(images)]
    for stem, (image, label) in zip(sorted(images), pairs):
        if image.shape != label.shape:
            raise ValueError(f"{images[stem].name} is {image.shape} but its mask {masks[stem].name} is {label.shape}")
    return SegmentationData(
        [p[0] for p in pairs], [p[1] for p in pairs], [images[s].name for s in sorted(images)], "folder", f"your own data ({root.name}: {len(pairs)} images with masks)"
    )


def _image_files(folder: Path) -> dict[str, Path]:
    files = {}
    for file in sorted(folder.iterdir()):
        if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith("."):
            if file.stem in files:
                raise ValueError(f"{folder.name}/ has two files named {file.stem} ({files[file.stem].name}, {file.name}); keep one")
            files[file.stem] = file
    if not files:
        raise FileNotFoundError(f"{folder} holds no PNG or TIFF files")
    return files


def _check_pairs(images: dict[str, Path], masks: dict[str, Path]) -> None:
    lonely_images = sorted(images[s].name for s in images.keys() - masks.keys())
    lonely_masks = sorted(masks[s].name for s in masks.keys() - images.keys())
    if lonely_images or lonely_masks:
        raise ValueError(
            "images/ and masks/ must hold the same file names (extensions may differ). "
            f"Images without a mask: {lonely_images or 'none'}; masks without an image: {lonely_masks or 'none'}"
        )


def _read_2d(path: Path) -> np.ndarray:
    """A 2-D array from a PNG or TIFF; gray stored as RGB(A) with equal channels is accepted too."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            array = np.asarray(tifffile.imread(path))
        else:
            array = _read_png(path)
    except Exception as error:  # PIL and tifffile raise many kinds
        raise ValueError(f"cannot read {path.name}: {error}") from error
    array = np.squeeze(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4) and np.ptp(array[..., :3], axis=-1).max() == 0:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(f"{path.name} has shape {array.shape}, but must be a single-channel 2-D image; save one channel (grayscale)")
    return array


def _to_unit_range(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def mask_to_label(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Binary (0/255, 0/1, bool) or instance-label mask → uint8 label, 1 = object, 0 = background.

    Instance labels keep a background line where two objects touch: a pixel becomes 0 when a
    neighbour (3×3) carries a larger object number, which separates every pair of objects.
    """
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    values = np.unique(mask)
    if np.issubdtype(mask.dtype, np.floating) and not np.all(np.isfinite(values) & (values == np.round(values))):
        raise ValueError(f"{name} holds non-integer values; a mask must be binary (0/255 or 0/1) or instance labels (0, 1, 2, …)")
    if values.min() < 0:
        raise ValueError(f"{name} holds negative values; a mask must be binary (0/255 or 0/1) or instance labels (0, 1, 2, …)")
    if set(values.tolist()) <= {0, 255} or set(values.tolist()) <= {0, 1}:
        return (mask > 0).astype(np.uint8)
    objects = mask.astype(np.int64)
    touching = (objects > 0) & (ndimage.maximum_filter(objects, size=3, mode="nearest") > objects)
    return ((objects > 0) & ~touching).astype(np.uint8)


# -- choosing a dataset ------------------------------------------------------------------------------


def load_dataset(name: str = "isbi2012", verbose: bool = True, download: bool = True) -> SegmentationData:
    """``"isbi2012"`` (the real data, else the built-in data), ``"synthetic"``, or a folder path.

    With ``verbose`` it prints one line saying which data is in use, never a local path.
    """
    if name == "isbi2012":
        try:
            data = load_isbi2012("train", download=download)
            message = "Data: real ISBI 2012 data (checksums verified), 30 labelled slices."
        except DataUnavailable as error:
            data = make_synthetic_em()
            message = (
                f"Data: built-in synthetic EM-like data ({error.reason}); the real ISBI 2012 slices could not be had. "
                "Everything works the same, only the pictures and numbers differ."
            )
    elif name == "synthetic":
        data = make_synthetic_em()
        message = "Data: built-in synthetic EM-like data (chosen), 30 labelled slices."
    elif Path(name).expanduser().is_dir():
        data = load_folder(name)
        message = f"Data: {data.description}."
    else:
        raise ValueError(f"unknown dataset {name!r}: use 'isbi2012', 'synthetic' or a folder with images/ and masks/")
    if verbose:
        print(message)
    return data


def train_val_split(data: SegmentationData) -> tuple[SegmentationData, SegmentationData]:
    """The course's fixed split: ISBI-sized data (30 images) uses ``TRAIN_SLICES`` / ``VAL_SLICES``;
    other data keeps its last sixth (at least one image) for validation."""
    if len(data) == len(TRAIN_SLICES) + len(VAL_SLICES):
        return data.subset(TRAIN_SLICES), data.subset(VAL_SLICES)
    if len(data) < 2:
        raise ValueError("a train/validation split needs at least 2 images")
    cut = len(data) - max(1, len(data) // 6)
    return data.subset(range(cut)), data.subset(range(cut, len(data)))


# -- training tiles -----------------------------------------------------------------------------------


def normalize(image: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per image, as float32: the only preprocessing before the model.

    Used by ``TileDataset`` and, at prediction time, by ``unet_lib.tiling``, so training and
    prediction see the same numbers. A constant image becomes all zeros.
    """
    image = np.asarray(image, dtype=np.float32)
    spread = float(image.std())
    return (image - float(image.mean())) / (spread if spread > 0 else 1.0)


class TileDataset(torch.utils.data.Dataset):
    """Random training tiles the way the paper feeds its U-Net (notebook 06).

    Item ``i`` picks an image and a random output window inside it (deterministic given
    ``(seed, i)``). The input tile is that window plus ``(input_size − output_size) / 2``
    pixels of context on each side, mirrored where it leaves the image (the overlap-tile
    idea). It returns ``(x, y, w)``: the normalized input tile ``(1, in, in)``, the class
    indices ``(out, out)`` and the weight-map crop ``(out, out)``. With ``augment`` every
    tile gets a random flip and rotation, the elastic deformation and gray-value changes,
    read straight from the whole image so that deformed context is real image, not padding.
    """

    def __init__(
        self,
        data: SegmentationData,
        input_size: int,
        output_size: int,
        num_tiles: int,
        augment: bool = True,
        weight_maps: bool = True,
        w0: float = 10.0,
        sigma: float = 5.0,
        seed: int = 0,
    ) -> None:
        if data.labels is None:
            raise ValueError(f"{data.description} has no labels; training tiles need labelled images")
        if output_size > input_size or (input_size - output_size) % 2:
            raise ValueError(f"input_size − output_size must be even and ≥ 0, got {input_size} and {output_size}")
        self.data, self.input_size, self.output_size = data, input_size, output_size
        self.num_tiles, self.augment, self.seed = num_tiles, augment, seed
        self.margin = (input_size - output_size) // 2
        self.images = [normalize(image) for image in data.images]
        self.labels = [label.astype(np.uint8) for label in data.labels]
        self.class_weights = class_balance_weights(np.concatenate([label.ravel() for label in self.labels]))
        self.weights = [
            weight_map(label, w0, sigma, self.class_weights) if weight_maps else np.ones(label.shape, np.float32) for label in self.labels
        ]

    def __len__(self) -> int:
        return self.num_tiles

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = self._rng(index)
        k, top, left = self._draw_position(rng)
        if self.augment:
            x, y, w = self._augmented(rng, k, top, left)
        else:
            x, y, w = self._plain(k, top, left)
        return torch.from_numpy(x[None].astype(np.float32)), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(w.astype(np.float32))

    def position(self, index: int) -> tuple[int, int, int]:
        """``(image index, top, left)`` of tile ``index``'s output window in its image (before augmentation)."""
        return self._draw_position(self._rng(index))

    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.num_tiles:
            raise IndexError(f"tile {index} out of range (0..{self.num_tiles - 1})")
        return np.random.default_rng([self.seed, index])

    def _draw_position(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """An image, and an output window inside it (or around it, when the image is smaller than the window)."""
        k = int(rng.integers(len(self.images)))
        spare = [n - self.output_size for n in self.labels[k].shape]
        top, left = (int(rng.integers(min(s, 0), max(s, 0) + 1)) for s in spare)
        return k, top, left

    def _plain(self, k: int, top: int, left: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m, out = self.margin, self.output_size
        rows, cols = (mirror_indices(s - m, s - m + self.input_size, n) for s, n in zip((top, left), self.images[k].shape))
        inner = np.ix_(rows[m : m + out], cols[m : m + out])
        return self.images[k][np.ix_(rows, cols)], self.labels[k][inner], self.weights[k][inner]

    def _augmented(self, rng: np.random.Generator, k: int, top: int, left: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m, out = self.margin, self.output_size
        transform = random_transform(rng, (self.input_size, self.input_size))
        coordinates = transform.coordinates((self.input_size, self.input_size), top - m, left - m)
        x = warp(self.images[k], coordinates, IMAGE_ORDER)
        inner = coordinates[:, m : m + out, m : m + out]
        y = warp(self.labels[k], inner, 0)
        w = warp(self.weights[k], inner, 1)
        return gray_value_change(x, rng), y, w
