"""Data for training (notebook 06): which dataset, the split, normalisation, mirror padding, training tiles.

* ``load_dataset`` — the real ISBI 2012 slices (``unet_lib.isbi2012``), else the built-in EM-like data
  (``unet_lib.synthetic``), or your own folder (``unet_lib.images.load_folder``); it says which one is in use.
* ``train_val_split`` — ISBI slices 0–24 for training, 25–29 for validation.
* ``normalize`` and ``mirror_indices`` — the only preprocessing, and the mirror padding of the overlap-tile
  strategy: training tiles here and prediction tiles in ``unet_lib.tiling`` use the same two functions.
* ``TileDataset`` — random training tiles with mirror padding, their labels and (optionally) weight maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .augment import IMAGE_ORDER, gray_value_change, random_transform, warp
from .images import SegmentationData, load_folder
from .isbi2012 import DataUnavailable, load_isbi2012
from .synthetic import make_synthetic_em

TRAIN_SLICES: tuple[int, ...] = tuple(range(25))
"""ISBI slices 0–24: the training split used throughout the course."""

VAL_SLICES: tuple[int, ...] = tuple(range(25, 30))
"""ISBI slices 25–29: the validation split (the challenge's test labels are not public)."""


# -- choosing a dataset ------------------------------------------------------------------------------

BUILT_IN_DATA: tuple[str, ...] = ("isbi2012", "synthetic")
"""The ``--data`` names that are datasets, not folders: the paper's EM slices and the built-in stand-in."""


def images_folder(name: str) -> Path | None:
    """The ``images/`` folder of a ``--data`` folder, ``None`` for a built-in dataset or where there is none: the
    doctor and ``train`` read its files' recorded pixel sizes without loading any pixels."""
    folder = Path(name).expanduser() / "images"
    return None if name in BUILT_IN_DATA or not folder.is_dir() else folder


def no_such_data(name: str) -> str:
    """The one line ``train``, ``evaluate``, ``doctor`` and ``load_dataset`` give for a ``--data`` that is
    neither a dataset's name nor a folder (a typo, most often)."""
    return f"{name}: no such folder; give 'isbi2012', 'synthetic' or a folder with images/ and masks/"


def load_dataset(
    name: str = "isbi2012", verbose: bool = True, download: bool = True, fallback: bool = True
) -> SegmentationData:
    """``"isbi2012"`` (the real data, else the built-in data), ``"synthetic"``, or a folder path.

    With ``verbose`` it prints one line saying which data is in use, never a local path, and the
    notes of an own folder (how its masks were read). ``fallback=False`` raises ``DataUnavailable``
    instead of using the built-in data when the real slices cannot be had (``evaluate`` does: a score
    on other data than asked for would be silent nonsense).
    """
    notes: tuple[str, ...] = ()
    if name == "isbi2012":
        try:
            data = load_isbi2012("train", download=download)
            message = "Data: real ISBI 2012 data (checksums verified), 30 labelled slices."
        except DataUnavailable as error:
            if not fallback:
                raise
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
        message, notes = f"Data: {data.description}.", data.notes
    else:
        raise ValueError(no_such_data(name))
    if verbose:
        print("\n".join([message, *(f"  note: {note}" for note in notes)]))
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


# -- preprocessing and training tiles -----------------------------------------------------------------


def normalize(image: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per image, as float32: the only preprocessing before the model.

    Used by ``TileDataset`` and, at prediction time, by ``unet_lib.tiling``, so training and
    prediction see the same numbers. A constant image becomes all zeros.
    """
    image = np.asarray(image, dtype=np.float32)
    spread = float(image.std())
    return (image - float(image.mean())) / (spread if spread > 0 else 1.0)


def mirror_indices(start: int, stop: int, size: int) -> np.ndarray:
    """Indices into an axis of length ``size`` for positions ``start..stop-1``, mirrored at both ends.

    Mirroring excludes the edge pixel (``numpy.pad(mode="reflect")``): position −1 reads
    pixel 1, position ``size`` reads pixel ``size − 2``. It repeats for positions far away.
    """
    positions = np.arange(start, stop)
    if size == 1:
        return np.zeros_like(positions)
    period = 2 * (size - 1)
    folded = np.mod(positions, period)
    return np.where(folded < size, folded, period - folded)


class TileDataset(torch.utils.data.Dataset):
    """Random training tiles the way the paper feeds its U-Net (notebook 06).

    Item ``i`` picks an image and a random output window inside it (deterministic given
    ``(seed, i)``). The input tile is that window plus ``(input_size − output_size) / 2``
    pixels of context on each side, mirrored where it leaves the image (the overlap-tile
    idea). It returns ``(x, y, w)``: the normalized input tile ``(1, in, in)``, the class
    indices ``(out, out)`` and the weight-map crop ``(out, out)``. ``weight_maps`` holds one
    map per image — the paper's, from ``unet_lib.losses.weight_maps`` (notebook 07) — or is
    ``None`` for equal weights. With ``augment`` every tile gets a random flip and rotation,
    the elastic deformation and gray-value changes, read straight from the whole image so
    that deformed context is real image, not padding; ``elastic=False`` leaves out the elastic
    deformation only (notebook 10 measures what it buys).
    """

    def __init__(
        self,
        data: SegmentationData,
        input_size: int,
        output_size: int,
        num_tiles: int,
        augment: bool = True,
        weight_maps: Sequence[np.ndarray] | None = None,
        seed: int = 0,
        elastic: bool = True,
    ) -> None:
        if data.labels is None:
            raise ValueError(f"{data.description} has no labels; training tiles need labelled images")
        if output_size > input_size or (input_size - output_size) % 2:
            raise ValueError(f"input_size − output_size must be even and ≥ 0, got {input_size} and {output_size}")
        self.data, self.input_size, self.output_size = data, input_size, output_size
        self.num_tiles, self.augment, self.seed, self.elastic = num_tiles, augment, seed, elastic
        self.margin = (input_size - output_size) // 2
        self.images = [normalize(image) for image in data.images]
        self.labels = [label.astype(np.uint8) for label in data.labels]
        if weight_maps is None:
            weight_maps = [np.ones(label.shape, np.float32) for label in self.labels]
        if [np.shape(w) for w in weight_maps] != [label.shape for label in self.labels]:
            raise ValueError("weight_maps must hold one map per image, each of its image's shape")
        self.weights = [np.asarray(w, dtype=np.float32) for w in weight_maps]

    def __len__(self) -> int:
        return self.num_tiles

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = self._rng(index)
        k, top, left = self._draw_position(rng)
        if self.augment:
            x, y, w = self._augmented(rng, k, top, left)
        else:
            x, y, w = self._plain(k, top, left)
        return (
            torch.from_numpy(x[None].astype(np.float32)),
            torch.from_numpy(y.astype(np.int64)),
            torch.from_numpy(w.astype(np.float32)),
        )

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
        rows, cols = (
            mirror_indices(s - m, s - m + self.input_size, n) for s, n in zip((top, left), self.images[k].shape)
        )
        inner = np.ix_(rows[m : m + out], cols[m : m + out])
        return self.images[k][np.ix_(rows, cols)], self.labels[k][inner], self.weights[k][inner]

    def _augmented(
        self, rng: np.random.Generator, k: int, top: int, left: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m, out = self.margin, self.output_size
        transform = random_transform(rng, (self.input_size, self.input_size), elastic=self.elastic)
        coordinates = transform.coordinates((self.input_size, self.input_size), top - m, left - m)
        x = warp(self.images[k], coordinates, IMAGE_ORDER)
        inner = coordinates[:, m : m + out, m : m + out]
        y = warp(self.labels[k], inner, 0)
        w = warp(self.weights[k], inner, 1)
        return gray_value_change(x, rng), y, w
