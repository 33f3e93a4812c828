"""A built-in EM-like dataset (notebook 06): the offline stand-in for the ISBI 2012 slices.

``make_synthetic_em`` generates slices that look like serial-section TEM of neural tissue — round cells
of unequal size, dark membranes of varying width, vesicles, mitochondria, grain, shading and noise — with
labels in the ISBI convention (1 = cell interior, 0 = membrane). Slice ``i`` depends only on
``(seed, i)``. ``unet_lib.data.load_dataset`` falls back to it, and says so, when the real data cannot be had.

``make_synthetic_nuclei`` (notebook 11) generates fluorescent-nuclei-like images with instance labels: the
own-folder dataset a learner can make without a microscope.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .augment import smooth_field
from .images import SegmentationData, mask_to_label


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
    accept = (
        rng.uniform(size=len(candidates))
        < density[(candidates[:, 0] / 2).astype(int), (candidates[:, 1] / 2).astype(int)]
    )
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
    border = [
        (weighted[..., k] - weighted[..., 0])
        / np.maximum(np.linalg.norm(gradient[..., k, :] - gradient[..., 0, :], axis=-1), 1e-3)
        for k in (1, 2)
    ]
    distance = 1 / np.sqrt(border[0] ** -2.0 + border[1] ** -2.0)  # a soft minimum: wider where three cells meet
    distance = ndimage.zoom(distance, 2, order=1, grid_mode=True, mode="nearest")[:size, :size]
    cell = np.take_along_axis(nearest, order[..., :1], -1)[..., 0].repeat(2, 0).repeat(2, 1)[:size, :size]
    return cell, distance, len(seeds)


def _nearest_weighted_seeds(
    points: np.ndarray, seeds: np.ndarray, scale: np.ndarray, step: int = 4, keep: int = 8
) -> np.ndarray:
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


# -- notebook 11: fluorescent nuclei ---------------------------------------------------------------

NUCLEI_PIXEL_SIZE = 0.5
"""Micrometres per pixel of the built-in nuclei images unless ``make_synthetic_nuclei`` is told otherwise."""


@dataclass
class NucleiImages:
    """Built-in fluorescent-nuclei images with one number per nucleus (notebook 11).

    ``images``: (H, W) float32 in [0, 1]. ``instances``: (H, W) int32 instance labels, 0 = background,
    1, 2, 3 … one number per nucleus — the richest kind of mask a learner can have.
    ``pixel_size``: micrometres per pixel. ``segmentation_data`` turns them into course labels.
    """

    images: list[np.ndarray]
    instances: list[np.ndarray]
    names: list[str]
    pixel_size: float

    def __len__(self) -> int:
        return len(self.images)

    def segmentation_data(self) -> SegmentationData:
        """Images with course labels (``images.mask_to_label``: a background line between touching nuclei)."""
        labels = [mask_to_label(instance) for instance in self.instances]
        return SegmentationData(
            list(self.images), labels, list(self.names), "synthetic-nuclei", "built-in synthetic fluorescent nuclei"
        )


def _nucleus_layout(rng: np.random.Generator, field: float) -> np.ndarray:
    """Nuclei in a ``field × field`` µm square: rows of ``(y, x, radius, elongation, angle, wobble…)`` in µm.

    Nuclei come in clusters: each new one is placed against a nucleus already in its cluster, a little
    closer than the sum of their radii, so neighbours touch along a shared border as in a dense culture.
    """
    nuclei: list[list[float]] = []
    clusters = max(1, int(round(rng.uniform(0.45, 0.65) * (field / 10) ** 2 / 4)))
    for _ in range(clusters):
        members = [len(nuclei)]
        nuclei.append(_random_nucleus(rng, *rng.uniform(0, field, 2)))
        for _ in range(int(rng.integers(0, 6))):
            anchor = nuclei[members[int(rng.integers(len(members)))]]
            candidate = _random_nucleus(rng, 0.0, 0.0)
            angle = rng.uniform(0, 2 * np.pi)
            distance = (anchor[2] + candidate[2]) * rng.uniform(0.8, 0.95)
            candidate[:2] = [anchor[0] + distance * np.sin(angle), anchor[1] + distance * np.cos(angle)]
            if all(np.hypot(n[0] - candidate[0], n[1] - candidate[1]) > 0.75 * (n[2] + candidate[2]) for n in nuclei):
                members.append(len(nuclei))
                nuclei.append(candidate)
    return np.array(nuclei, dtype=np.float64)


def _random_nucleus(rng: np.random.Generator, y: float, x: float) -> list[float]:
    """One nucleus: centre, radius (µm), elongation, orientation, brightness and two wobble harmonics."""
    radius = float(np.clip(rng.normal(5.0, 1.0), 3.0, 8.0))
    wobble = rng.normal(0.0, 0.04, 4)
    return [y, x, radius, rng.uniform(0.0, 0.3), rng.uniform(0, np.pi), rng.uniform(0.3, 1.0), *wobble]


def _render_nuclei(layout: np.ndarray, size: int, pixel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """``(instances, rho)``: which nucleus owns each pixel and how far out in it the pixel lies (0 centre, 1 rim).

    A pixel covered by two nuclei goes to the one it lies deeper in (smaller ``rho``), so touching
    nuclei meet along a border instead of one lying on top of the other.
    """
    instances = np.zeros((size, size), np.int32)
    rho = np.full((size, size), np.inf, np.float32)
    for number, (y, x, radius, elongation, angle, _, *wobble) in enumerate(layout, start=1):
        reach = radius * (1 + elongation) * 1.2 / pixel_size + 2
        cy, cx = y / pixel_size, x / pixel_size
        top, left = max(int(cy - reach), 0), max(int(cx - reach), 0)
        bottom, right = min(int(cy + reach) + 1, size), min(int(cx + reach) + 1, size)
        if top >= bottom or left >= right:
            continue
        py, px = np.mgrid[top:bottom, left:right].astype(np.float32)
        dy, dx = (py + 0.5) * pixel_size - y, (px + 0.5) * pixel_size - x
        theta = np.arctan2(dy, dx)
        outline = radius * (1 + elongation * np.cos(2 * (theta - angle)))
        outline *= 1 + wobble[0] * np.cos(3 * theta) + wobble[1] * np.sin(3 * theta)
        outline *= 1 + wobble[2] * np.cos(4 * theta) + wobble[3] * np.sin(4 * theta)
        depth = np.hypot(dy, dx) / outline
        window = (slice(top, bottom), slice(left, right))
        deeper = (depth < 1) & (depth < rho[window])
        instances[window][deeper] = number
        rho[window][deeper] = depth[deeper]
    return instances, rho


def _nuclei_image(rng: np.random.Generator, size: int, pixel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """One fluorescence-like image and its instance labels; geometry in µm, so it is the same at any pixel size."""
    layout_rng, texture_rng = (np.random.default_rng(rng.integers(2**63, size=2)) for _ in range(2))
    layout = _nucleus_layout(layout_rng, size * pixel_size)
    instances, rho = _render_nuclei(layout, size, pixel_size)
    instances = _drop_slivers(instances, min_area=6.0 / pixel_size**2)
    brightness = np.concatenate([[0.0], layout[:, 5] if len(layout) else []]).astype(np.float32)
    inside = instances > 0
    dome = np.where(inside, 0.5 + 0.5 * np.sqrt(np.clip(1 - rho**2, 0, 1)), 0).astype(np.float32)
    chromatin = ndimage.gaussian_filter(texture_rng.standard_normal((size, size), dtype=np.float32), 0.8 / pixel_size)
    chromatin /= max(float(chromatin.std()), 1e-6)
    signal = brightness[instances] * dome * (1 + 0.22 * chromatin)
    signal = ndimage.gaussian_filter(signal, 0.5 / pixel_size)  # the microscope's blur
    haze = ndimage.gaussian_filter(signal, 6.0 / pixel_size)  # out-of-focus light
    background = 0.05 + smooth_field(texture_rng, (size, size), grid=3, std=0.015).astype(np.float32)
    image = background + 0.65 * signal + 0.25 * haze
    image += texture_rng.normal(0.0, 1.0, (size, size)).astype(np.float32) * (0.012 + 0.03 * np.sqrt(image))
    return np.clip(image, 0.0, 1.0).astype(np.float32), instances


def _drop_slivers(instances: np.ndarray, min_area: float) -> np.ndarray:
    """Instance labels renumbered 1, 2, … with nuclei smaller than ``min_area`` pixels (cut by the border) removed."""
    areas = np.bincount(instances.ravel())
    keep = areas >= min_area
    keep[0] = False
    numbers = np.zeros(len(areas), np.int32)
    numbers[keep] = np.arange(1, int(keep.sum()) + 1)
    return numbers[instances]


def make_synthetic_nuclei(
    n_images: int = 18, size: int = 256, pixel_size: float = NUCLEI_PIXEL_SIZE, seed: int = 0
) -> NucleiImages:
    """``n_images`` fluorescent-nuclei-like images with instance labels, generated here (notebook 11).

    Bright, textured, round-ish nuclei of varying size (radius about 5 µm) and brightness, many of them
    touching in small clusters, on a dark, noisy, unevenly lit background: the kind of image a DAPI or
    Hoechst stain gives. Everything is laid out in micrometres, so the same ``seed`` at another
    ``pixel_size`` (and a ``size`` scaled to match) shows the same nuclei at another magnification.
    Image ``i`` depends only on ``(seed, i)``.
    """
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    if pixel_size <= 0:
        raise ValueError(f"pixel_size is in micrometres per pixel and must be positive, got {pixel_size}")
    pairs = [_nuclei_image(np.random.default_rng([seed, i, 11]), size, pixel_size) for i in range(n_images)]
    return NucleiImages(
        [image for image, _ in pairs],
        [labels for _, labels in pairs],
        [f"nuclei/{i:02d}" for i in range(n_images)],
        float(pixel_size),
    )
