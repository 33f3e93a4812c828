"""The paper's data augmentation (notebook 06): elastic deformation, flips, rotations, gray values.

With only 30 annotated slices, the U-Net paper leans on augmentation: "we generate smooth
deformations using random displacement vectors on a coarse 3 by 3 grid. The displacements
are sampled from a Gaussian distribution with 10 pixels standard deviation. Per-pixel
displacements are then computed using bicubic interpolation." Tissue really does deform
like that, so the network learns to expect the variation it will actually meet.

Every function takes a NumPy ``rng`` (``numpy.random.default_rng(seed)``): the same seed
gives the same result. Image, label and (optional) weight map get the *same* geometric
transform, so they stay aligned; labels are resampled with nearest-neighbour
interpolation, so they keep their classes. The functions return ``(image, label)``, or
``(image, label, weights)`` when a weight map is passed.

A geometric transform is written as *sampling coordinates*: output pixel ``(i, j)`` reads
the input at ``coordinates[:, i, j]``. Flips and rotations permute that grid, the elastic
deformation adds a smooth displacement to it. ``unet_lib.data.TileDataset`` uses the same
coordinates to read a deformed training tile straight out of the whole slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

IMAGE_ORDER = 1
"""Interpolation order for the image: bilinear. The paper interpolates the *displacements* bicubically
(``smooth_field``); for resampling the image at such gentle displacements cubic splines look the same
and cost three times as much. Labels always use order 0 (nearest), weight maps order 1."""


@lru_cache(maxsize=64)
def cubic_upsampling_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix that cubic-spline interpolates ``n_in`` grid values onto ``n_out`` pixels.

    ``scipy.ndimage.zoom`` is linear and separable, so zooming the identity once gives the
    matrix; a whole 2-D field then costs two tiny matrix products.
    """
    if n_in == 1:
        return np.ones((n_out, 1))
    return ndimage.zoom(np.eye(n_in), (n_out / n_in, 1), order=3, mode="nearest", grid_mode=False)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], grid: int = 3, std: float = 1.0) -> np.ndarray:
    """A smooth random field: Gaussian values on a coarse ``grid × grid`` lattice, bicubically interpolated.

    The lattice points sit on the corners, the edge midpoints and the centre (for ``grid=3``).
    This is how the paper builds its displacements; gray-value drifts use it too.
    """
    coarse = rng.normal(0.0, std, size=(grid, grid))  # one random value per grid point
    rows = cubic_upsampling_matrix(shape[0], grid)  # (H, grid): each grid row's share in each image row
    cols = cubic_upsampling_matrix(shape[1], grid)  # (W, grid): the same for the columns
    # field[i, j] = Σ_k Σ_l rows[i, k] · coarse[k, l] · cols[j, l], that is rows @ coarse @ cols.T
    along_columns = np.einsum("kl,jl->kj", coarse, cols)  # (grid, W): every grid row spread over the columns
    return np.einsum("ik,kj->ij", rows, along_columns)  # (H, W): and then over the rows


@dataclass(frozen=True, eq=False)
class Transform:
    """One random geometric transform: ``k`` quarter turns, a left–right ``flip``, displacements ``(dy, dx)``."""

    k: int = 0
    flip: bool = False
    dy: np.ndarray | None = None
    dx: np.ndarray | None = None

    def coordinates(self, shape: tuple[int, int], top: float = 0.0, left: float = 0.0) -> np.ndarray:
        """Sampling coordinates ``(2, H, W)`` in the source array; ``(top, left)`` is where the window starts."""
        rows = np.arange(shape[0], dtype=np.float64)[:, None] + top
        cols = np.arange(shape[1], dtype=np.float64)[None, :] + left
        if self.dy is not None:
            rows, cols = rows + self.dy, cols + self.dx
        rows, cols = np.broadcast_arrays(rows, cols)
        return np.stack([self._move(rows), self._move(cols)])

    def _move(self, array: np.ndarray) -> np.ndarray:
        """Rotate by ``k`` quarter turns, then mirror left–right if ``flip`` (a view, no copy)."""
        array = np.rot90(array, self.k)
        return array[:, ::-1] if self.flip else array


def random_transform(
    rng: np.random.Generator, shape: tuple[int, int], elastic: bool = True, grid: int = 3, sigma: float = 10.0
) -> Transform:
    """Draw a flip, a quarter-turn count and (if ``elastic``) the paper's displacement field for a square window."""
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    if not elastic:
        return Transform(k, flip)
    return Transform(k, flip, smooth_field(rng, shape, grid, sigma), smooth_field(rng, shape, grid, sigma))


def warp(array: np.ndarray, coordinates: np.ndarray, order: int) -> np.ndarray:
    """Read ``array`` at ``coordinates`` with spline ``order`` (0 nearest, 1 linear, 3 cubic), mirroring
    beyond the border as the overlap-tile strategy does. The result keeps ``array``'s dtype."""
    return ndimage.map_coordinates(array, coordinates, order=order, mode="mirror").astype(array.dtype, copy=False)


def elastic_deform(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    grid: int = 3,
    sigma: float = 10.0,
    weights: np.ndarray | None = None,
    image_order: int = IMAGE_ORDER,
) -> tuple[np.ndarray, ...]:
    """The paper's elastic deformation: one smooth random displacement field applied to all inputs.

    Random displacement vectors (Gaussian, ``sigma`` px) on a coarse ``grid × grid`` lattice,
    bicubically interpolated to every pixel. The image is resampled with ``image_order``
    (bilinear by default), the label with nearest neighbour (so it keeps its classes), the
    weights linearly. ``sigma = 0`` is the identity.
    """
    _check_same_shape(image, label, weights)
    dy, dx = smooth_field(rng, image.shape, grid, sigma), smooth_field(rng, image.shape, grid, sigma)
    return _apply(Transform(0, False, dy, dx), image, label, weights, image_order)


def flip_rotate(
    image: np.ndarray, label: np.ndarray, k: int, flip: bool, weights: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Rotate by ``k`` × 90° and, if ``flip``, mirror left–right: exact, and the same for every input."""
    _check_same_shape(image, label, weights)

    def move(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(Transform(k, flip)._move(array))

    return (move(image), move(label)) if weights is None else (move(image), move(label), move(weights))


def gray_value_change(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Random contrast, brightness and a slow shading drift, in units of the image's own spread.

    Works on any intensity range (``[0, 1]`` or normalized). ``strength = 0`` is the identity.
    """
    mean, spread = float(image.mean()), float(image.std()) or 1.0
    contrast = np.exp(rng.uniform(-0.2, 0.2) * strength)
    brightness = rng.uniform(-0.15, 0.15) * strength * spread
    drift = smooth_field(rng, image.shape, grid=3, std=0.1 * strength * spread)
    return (mean + contrast * (image - mean) + brightness + drift).astype(image.dtype, copy=False)


def random_augment(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
    elastic: bool = True,
    grid: int = 3,
    sigma: float = 10.0,
    gray: bool = True,
) -> tuple[np.ndarray, ...]:
    """Everything a training tile gets: a random flip and 90° rotation, the elastic deformation, gray values.

    Labels and weights follow every geometric step; only the image gets the gray-value change.
    A quarter turn swaps height and width of a non-square array, as ``numpy.rot90`` does.
    """
    _check_same_shape(image, label, weights)
    out = _apply(random_transform(rng, image.shape, elastic, grid, sigma), image, label, weights)
    return (gray_value_change(out[0], rng), *out[1:]) if gray else out


def _apply(
    transform: Transform,
    image: np.ndarray,
    label: np.ndarray,
    weights: np.ndarray | None,
    image_order: int = IMAGE_ORDER,
) -> tuple[np.ndarray, ...]:
    if transform.dy is None:  # flips and rotations only: exact, no resampling
        return flip_rotate(image, label, transform.k, transform.flip, weights)
    coordinates = transform.coordinates(image.shape)
    out = (warp(image, coordinates, image_order), warp(label, coordinates, 0))
    return out if weights is None else (*out, warp(weights, coordinates, 1))


def _check_same_shape(image: np.ndarray, label: np.ndarray, weights: np.ndarray | None) -> None:
    shapes = {"image": np.shape(image), "label": np.shape(label)}
    if weights is not None:
        shapes["weights"] = np.shape(weights)
    if len(shapes["image"]) != 2 or len(set(shapes.values())) != 1:
        raise ValueError(f"augmentation needs 2-D arrays of one shape, got {shapes}")
