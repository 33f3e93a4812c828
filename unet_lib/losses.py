"""The paper's loss (notebook 07): pixel-wise softmax cross-entropy, weighted by a weight map; and Dice.

The U-Net paper computes "a pixel-wise soft-max over the final feature map combined with
the cross entropy loss function", and weights every pixel by

    w(x) = w_c(x) + w0 · exp(−(d1(x) + d2(x))² / (2σ²)),     w0 = 10, σ ≈ 5 pixels,

where ``w_c`` balances the class frequencies and ``d1``, ``d2`` are the distances to the
border of the nearest and the second-nearest cell. The second term is large only in the
thin gaps *between* two cells, so the network is pushed hardest to learn the separating
borders that keep touching cells apart.

Labels follow the course convention: 1 = cell interior (foreground), 0 = membrane / background.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

CUTOFF_SIGMAS = 6.0
"""Distances beyond ``CUTOFF_SIGMAS · σ`` are treated as infinite: there the border term is below w0·e⁻¹⁸."""


def class_balance_weights(label: np.ndarray) -> tuple[float, float]:
    """``(w_background, w_foreground)`` that make both classes weigh the same in total.

    Class ``c`` with ``n_c`` of the ``n`` pixels gets ``n / (2 n_c)``, so the mean of ``w_c``
    over the image is 1. For ISBI 2012 (78% cell) that is about 2.3 for membrane and 0.64
    for cell. An image with only one class gets 1 for both.
    """
    foreground = np.count_nonzero(label)
    counts = (label.size - foreground, foreground)
    if min(counts) == 0:
        return 1.0, 1.0
    return tuple(label.size / (2 * count) for count in counts)


def nearest_two_distances(label: np.ndarray, cutoff: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """``(d1, d2)``: each pixel's distance to the nearest and the second-nearest cell (∞ if none).

    Cells are the connected components of the foreground. A pixel inside a cell is at
    distance 0 from it. Only distances up to ``cutoff`` are computed (∞ beyond), which lets
    each cell's distance transform run in a small window around it.
    """
    cells, count = ndimage.label(label > 0)
    d1 = np.full(label.shape, np.inf)
    d2 = np.full(label.shape, np.inf)
    reach = int(np.ceil(cutoff)) if np.isfinite(cutoff) else max(label.shape)
    for index, box in enumerate(ndimage.find_objects(cells), start=1):
        window = tuple(slice(max(s.start - reach, 0), min(s.stop + reach, n)) for s, n in zip(box, label.shape))
        distance = ndimage.distance_transform_edt(cells[window] != index)
        distance[distance > cutoff] = np.inf
        near, second = d1[window], d2[window]
        second[...] = np.minimum(second, np.maximum(near, distance))
        near[...] = np.minimum(near, distance)
    return d1, d2


def weight_map(
    label: np.ndarray, w0: float = 10.0, sigma: float = 5.0, class_weights: tuple[float, float] | None = None
) -> np.ndarray:
    """The paper's weight map w = w_c + w0 · exp(−(d1 + d2)² / (2σ²)) for one binary label image (notebook 07).

    ``w_c`` balances the classes (``class_balance_weights`` unless ``class_weights`` gives
    ``(background, foreground)``). The border term is added on background pixels — the
    membranes and gaps that separate cells; inside a cell ``d1 = 0`` and the term would
    only blur the cell's rim. Distances are in pixels, from ``scipy.ndimage`` distance transforms.
    """
    foreground = np.asarray(label) > 0
    w_background, w_foreground = class_balance_weights(foreground) if class_weights is None else class_weights
    w_c = np.where(foreground, w_foreground, w_background)
    d1, d2 = nearest_two_distances(foreground, cutoff=CUTOFF_SIGMAS * sigma)
    border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    return (w_c + np.where(foreground, 0.0, border)).astype(np.float32)


def weight_maps(labels: Sequence[np.ndarray], w0: float = 10.0, sigma: float = 5.0) -> list[np.ndarray]:
    """The paper's weight map for each label image, with one class balance for the whole dataset.

    Balancing the classes over all images rather than per image keeps a membrane pixel worth the
    same everywhere. ``unet_lib.data.TileDataset(weight_maps=...)`` crops its training tiles from these.
    """
    balance = class_balance_weights(np.concatenate([np.asarray(label).ravel() > 0 for label in labels]))
    return [weight_map(label, w0, sigma, balance) for label in labels]


def weighted_cross_entropy(logits: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Pixel-wise softmax cross-entropy, each pixel weighted by ``weights`` (notebook 07).

    ``logits`` (N, C, H, W), ``target`` (N, H, W) class indices, ``weights`` (N, H, W).
    The loss is the mean over pixels of −w(x) · log p_ℓ(x)(x), where p is the softmax over
    the C channels and ℓ(x) the true class. ``log_softmax`` keeps large logits from overflowing.
    """
    if logits.dim() != 4 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"expected logits (N, C, H, W) and target (N, H, W), got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    log_p = F.log_softmax(logits, dim=1)
    per_pixel = -log_p.gather(1, target.long().unsqueeze(1)).squeeze(1)
    if weights is None:
        return per_pixel.mean()
    return (weights * per_pixel).mean()


def dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """1 − soft Dice of the foreground (class 1), averaged over the batch: the common alternative loss.

    Dice = 2|P∩T| / (|P| + |T|) with the softmax probability as a soft P. It ignores the
    true negatives, so a small foreground is not swamped by a large background. ``eps``
    keeps an image with no foreground from dividing by zero.
    """
    probability = F.softmax(logits, dim=1)[:, 1]
    truth = (target == 1).to(probability.dtype)
    overlap = (probability * truth).sum(dim=(1, 2))
    total = probability.sum(dim=(1, 2)) + truth.sum(dim=(1, 2))
    return (1 - (2 * overlap + eps) / (total + eps)).mean()
