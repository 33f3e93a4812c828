"""Helpers for the reliability suite (issue 13): small own-data folders, tiny runs, a checkpoint that carries code,
and the rule every refused command must follow — one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image

from unet_lib import checkpoints
from unet_lib.model import UNetModel

TINY = ["--base-channels", "2", "--depth", "2", "--tile-size", "92", "--batch-size", "2", "--val-tiles", "2"]
"""The smallest recipe that trains: a run of a few steps takes about a second."""


def blobs(size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fluorescence-like image (bright round nuclei on a dark background) and its 0/255 mask."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: size[0], : size[1]]
    mask = np.zeros(size, bool)
    for _ in range(4):
        r, c = rng.integers(0, size[0]), rng.integers(0, size[1])
        mask |= (rows - r) ** 2 + (cols - c) ** 2 < rng.integers(6, 14) ** 2
    image = (mask * 150 + rng.normal(40, 15, size)).clip(0, 255).astype(np.uint8)
    return image, mask.astype(np.uint8) * 255


def make_own_data(root: Path, count: int = 3, size: tuple[int, int] = (96, 96), empty_masks: bool = False) -> Path:
    """An ``images/`` + ``masks/`` folder of ``count`` blob images."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    for k in range(count):
        image, mask = blobs(size, k)
        Image.fromarray(image).save(root / "images" / f"cells{k}.png")
        Image.fromarray(mask * (0 if empty_masks else 1)).save(root / "masks" / f"cells{k}.png")
    return root


def mixed_size_stack(path: Path) -> Path:
    """A 3-page TIFF whose pages differ in size (30×40, 24×24, 30×40): what a stack of crops looks like."""
    rng = np.random.default_rng(4)
    with tifffile.TiffWriter(path) as tiff:
        for shape in ((30, 40), (24, 24), (30, 40)):
            tiff.write(rng.integers(0, 255, shape, dtype=np.uint8), photometric="minisblack")
    return path


def tiny_checkpoint(path: Path, **extra) -> Path:
    """An untrained depth-2 U-Net saved as ``train`` would save a model (enough for predict and evaluate)."""
    torch.manual_seed(0)
    return checkpoints.save_checkpoint(path, UNetModel(base_channels=2, depth=2), None, 0, None, **extra)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def refused(self, *fragments: str) -> Result:
        """Assert the command was refused the way issue 13 asks, with every fragment in the message."""
        assert self.code == 2, (self.code, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        assert "Traceback" not in self.err + self.out
        for fragment in fragments:
            assert fragment in lines[0], (fragment, lines[0])
        return self


class Payload:
    """Pickles into a call of ``os.system``: what a malicious checkpoint carries."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))
