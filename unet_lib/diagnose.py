"""Why does it not work? The doctor's findings (notebook 12, ``python -m unet_lib doctor``).

The questions learners ask most about a U-Net are not how it works but why *theirs* does not: a black
prediction, a loss that stays flat or turns NaN, a run that crawls. Almost every case is one of a few
causes, and each leaves a trace that a short check can find. Each check here returns ``Finding``\\ s — a
severity (``"ok"``, ``"warning"``, ``"problem"``), a subject, what was found and what to do — so that the
command line, ``train`` and notebook 12 say the same thing in the same words.

* **data** (``check_dataset``, ``check_folder``, ``check_data``): pairing, how each mask will be read, the
  labels' values, foreground share, swapped folders, inverted labels, intensities, colour images, sizes, pixel
  sizes. ``DATA_FINDINGS`` is the one table of their subjects and severities; ``train`` runs the cheap ones
  (``check_data``) before its first step and prints a line for each finding that is not "ok".
* **pipeline** (``check_pipeline``): one batch through the model and the loss; the learning rate; the device,
  precision and measured speed (``train.measure_step_time``).
* **overfit one tile** (``overfit_one_tile``, ``check_overfit``): the first step of any debugging.
* **a trained model** (``check_checkpoint``, ``check_model``): one class everywhere, below the majority-class
  baseline (``verdicts.above_baseline``), trained on other images, non-finite weights, ``eval()`` forgotten.
* **broken setups** (``broken_setup``): the classic mistakes, made from the built-in data, for notebook 12
  and the tests.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from skimage import measure
from torch import nn
from torch.utils.data import Dataset

from . import metrics, runtime, train, verdicts
from .batches import load_batch
from .checkpoints import NonFiniteWeights, load_checkpoint, load_model
from .data import BUILT_IN_DATA, TileDataset, images_folder, load_dataset, no_such_data
from .images import (
    BLANK_ADVICE,
    COLOUR_ADVICE,
    PIXEL_SIZE_RATIO,
    UNREADABLE_ADVICE,
    Pairing,
    SegmentationData,
    colour_found,
    fingerprint,
    gray_values,
    image_files,
    interpret_mask,
    is_colour,
    load_folder,
    pair_files,
    read_array,
    read_pixel_size,
)
from .isbi2012 import DataUnavailable, data_dir, load_isbi2012
from .losses import class_balance_weights, weight_map, weighted_cross_entropy
from .model import UNetModel, unet_output_size, valid_input_sizes
from .synthetic import make_synthetic_em
from .tiling import predict_probability

SEVERITIES = ("ok", "warning", "problem")
"""From harmless to blocking: the doctor exits with status 2 when any finding is a problem."""


@dataclass(frozen=True)
class Finding:
    """One line of a diagnosis: how serious, about what, what was found and what to do about it."""

    severity: str
    subject: str
    found: str
    advice: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def line(self) -> str:
        """E.g. ``"[problem] labels: … → read masks with images.mask_to_label"``."""
        advice = f" → {self.advice}" if self.advice else ""
        return f"[{self.severity}] {self.subject}: {self.found}{advice}"

    def __str__(self) -> str:
        return self.line()


def ok(subject: str, found: str) -> Finding:
    """A finding that raises no alarm: the doctor says what it checked, not only what is wrong (notebook 12)."""
    return Finding("ok", subject, found)


def worst(findings: Iterable[Finding]) -> str:
    """The most serious severity among ``findings`` (``"ok"`` for none)."""
    return max((f.severity for f in findings), key=SEVERITIES.index, default="ok")


def exit_status(findings: Iterable[Finding]) -> int:
    """0 when nothing is a problem, 2 otherwise: the doctor's exit status."""
    return 2 if worst(findings) == "problem" else 0


def not_ok(findings: Iterable[Finding]) -> list[Finding]:
    """The findings worth a line in ``train``'s output: warnings and problems."""
    return [f for f in findings if f.severity != "ok"]


def about(findings: Iterable[Finding], subject: str) -> list[Finding]:
    """The findings on ``subject`` (e.g. ``"swapped folders"``)."""
    return [f for f in findings if f.subject == subject]


def summary(findings: Sequence[Finding]) -> str:
    """E.g. ``"doctor: 1 problem, 2 warnings, 9 ok"``."""
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    words = [runtime.plural(counts[s], s, "ok" if s == "ok" else None) for s in reversed(SEVERITIES)]
    return "doctor: " + ", ".join(words)


# -- the one table of data findings -----------------------------------------------------------------------------
DATA_FINDINGS: dict[str, tuple[str, str]] = {
    "pairing": ("problem", "every image has a mask of the same name and size, and every mask an image"),
    "files": ("problem", "every file in images/ and masks/ opens as an image"),
    "masks": ("problem", "how each mask will be read: binary (0/1, 0/255), instance labels, colours"),
    "labels": ("problem", "the labels hold the class indices 0 and 1 only"),
    "swapped folders": ("problem", "masks/ holds masks and images/ holds images, not the other way round"),
    "inverted labels": ("warning", "foreground (1) marks the objects, not the background around them"),
    "foreground share": ("warning", "both classes present, neither near 0% or 100% of the pixels"),
    "intensities": ("warning", "bit depth and range; no constant or nearly constant image"),
    "colour images": ("warning", "gray images; colour is read as the mean of the red, green and blue channels"),
    "duplicate images": ("warning", "no two images with the same pixels: a copy held out for validation flatters it"),
    "image sizes": ("warning", "images at least as large as what one training tile predicts"),
    "pixel sizes": ("warning", "the same pixel size in every image, where the files record one"),
}
"""``subject: (severity when it fails, what it checks)``: the data checks of ``doctor`` and ``train``, one table.
"colour images" needs the files (``check_folder``): ``train`` says the same words in ``load_folder``'s note; "pixel
sizes" reads only TIFF tags, and ``train`` checks it too (``check_recorded_pixel_sizes``)."""

RARE_SHARE = 0.02
"""A class below this share of all pixels is rare: "the other class everywhere" already scores above 98 %."""

EMPTY_SHARE = 0.005
"""An image whose foreground share is below this (or above 1 − this) is nearly all one class."""

FEW_GREY_LEVELS = 16
"""An image with fewer distinct values than this (but more than two) is nearly constant."""

CLASS_PIECES = 3
"""A mask whose every non-zero value lies in at least this many separate pieces numbers classes, not objects: an
instance label image gives each object one number, one piece (a 0/128/255 mask with six cells read as "2 objects",
because the many-pieces rule wants more than 4 pieces per value)."""


def found(subject: str, text: str, advice: str = "") -> Finding:
    """A failed data check, at the severity ``DATA_FINDINGS`` gives its subject."""
    return Finding(DATA_FINDINGS[subject][0], subject, text, advice)


def _count_does(count: int, noun: str, verb: str) -> str:
    """``"1 image holds"``, ``"3 images hold"``: a count, its noun and a regular verb that agree."""
    return f"{runtime.plural(count, noun)} {verb + 's' if count == 1 else verb}"


def _share(value: float) -> str:
    return f"{100 * value:.1f}%" if value < 0.1 or value > 0.9 else f"{100 * value:.0f}%"


# -- checks on loaded data (cheap: train runs them before its first step) ---------------------------------------
def check_data(
    data: SegmentationData,
    tile_size: int = train.CPU_DEFAULT.tile_size,
    depth: int = train.CPU_DEFAULT.depth,
    padding: str = "valid",
) -> list[Finding]:
    """The data checks that need no files: labels, foreground share, swapped, inverted, intensities, sizes."""
    if data.labels is None:
        return [found("labels", f"{data.description} has no labels", "training needs an image and a mask per item")]
    return [
        *check_labels(data),
        *check_foreground(data),
        *check_images_look_like_images(data),
        *check_inverted(data),
        *check_grey_levels(data),
        *check_duplicates(data),
        *check_sizes(data, tile_size, depth, padding),
    ]


def check_labels(data: SegmentationData) -> list[Finding]:
    """Class indices 0 and 1 only: a mask used as stored (0/255) makes the loss read 255 as a class index."""
    odd = [(n, label) for n, label in zip(data.names, data.labels) if label.min() < 0 or label.max() > 1]
    if odd:
        name, label = odd[0]
        values = ", ".join(f"{v:g}" for v in np.unique(label)[:4])
        return [
            found(
                "labels",
                f"{len(odd)} of {len(data)} labels hold other values than 0 and 1 ({name}: {values}); the loss "
                "reads each value as a class index, and a U-Net with 2 classes has only 0 and 1",
                "turn masks into labels with images.mask_to_label (0/255 → 0/1), or let load_folder read the folder",
            )
        ]
    return [ok("labels", f"{runtime.plural(len(data), 'label')}, class indices 0 and 1")]


def foreground_shares(data: SegmentationData) -> list[float]:
    """The share of foreground (label > 0) pixels in each label image."""
    return [float(np.count_nonzero(label)) / label.size for label in data.labels]


def check_foreground(data: SegmentationData) -> list[Finding]:
    """Foreground share per image and overall: a rare class lets "background everywhere" score high."""
    shares = foreground_shares(data)
    overall = sum(s * label.size for s, label in zip(shares, data.labels)) / sum(label.size for label in data.labels)
    findings = []
    if min(overall, 1 - overall) < RARE_SHARE:
        rare, other = ("foreground", "background") if overall < 0.5 else ("background", "foreground")
        findings.append(
            found(
                "foreground share",
                f"the {rare} is {_share(min(overall, 1 - overall))} of all pixels: a network that answers "
                f"{other} everywhere already scores {_share(max(overall, 1 - overall))}, and may learn just that",
                "keep the weight map (it balances the classes), add the Dice loss (losses.dice_loss), "
                "or crop the images around the objects",
            )
        )
    extreme = [n for n, s in zip(data.names, shares) if s < EMPTY_SHARE or s > 1 - EMPTY_SHARE]
    if extreme and not findings:
        findings.append(
            found(
                "foreground share",
                f"{len(extreme)} of {len(data)} images are nearly all one class ({runtime.name_list(extreme)})",
                "check those masks: an empty or full mask is often a wrong file or a wrong threshold",
            )
        )
    if not findings:
        findings.append(
            ok("foreground share", f"{_share(min(shares))}–{_share(max(shares))} per image, {_share(overall)} overall")
        )
    return findings


def _distinct(array: np.ndarray, most: int = 64) -> int:
    """How many distinct values ``array`` holds, counted up to ``most`` (a subsample first, for speed)."""
    values = np.unique(array[::4, ::4])
    if len(values) > most:
        return len(values)
    return len(np.unique(array))


def check_images_look_like_images(data: SegmentationData) -> list[Finding]:
    """An "image" with two values is a mask: images/ and masks/ were swapped (or masks were copied twice)."""
    two = [n for n, image in zip(data.names, data.images) if _distinct(image) <= 2]
    if len(two) > len(data) / 2:
        return [
            found(
                "swapped folders",
                f"{len(two)} of {len(data)} images hold only two values ({runtime.name_list(two)}): they look like "
                "masks",
                "put the pictures in images/ and the masks in masks/",
            )
        ]
    return [ok("swapped folders", "the images hold many grey levels, as images do")]


def largest_region(mask: np.ndarray) -> tuple[float, int]:
    """``(share, borders)``: the share of ``mask``'s pixels in its largest connected piece, and how many of the
    image's four sides that piece touches. Background is one piece around the objects; objects are many."""
    pieces, count = ndimage.label(mask)
    if count == 0:
        return 0.0, 0
    sizes = np.bincount(pieces.ravel())[1:]
    biggest = pieces == int(sizes.argmax()) + 1
    borders = sum(bool(side.any()) for side in (biggest[0], biggest[-1], biggest[:, 0], biggest[:, -1]))
    return float(sizes.max()) / float(sizes.sum()), borders


def looks_inverted(label: np.ndarray) -> bool:
    """Foreground shaped like background: most of it one piece that reaches three or more sides of the image,
    while the background falls apart into pieces (membranes labelled 1, cells 0)."""
    foreground = label > 0
    if foreground.all() or not foreground.any():
        return False
    fore_share, fore_sides = largest_region(foreground)
    back_share, _ = largest_region(~foreground)
    return fore_share > 0.5 and fore_sides >= 3 and back_share < 0.5


def check_inverted(data: SegmentationData) -> list[Finding]:
    """Labels the inverse of the convention (1 = object): the foreground surrounds the background."""
    inverted = [n for n, label in zip(data.names, data.labels) if looks_inverted(label)]
    if len(inverted) > len(data) / 2:
        return [
            found(
                "inverted labels",
                f"in {len(inverted)} of {len(data)} masks the foreground is one connected piece around the "
                f"background ({runtime.name_list(inverted)}): the objects seem to be labelled 0 and the space between "
                "them 1",
                "label the objects (cells, nuclei) 1 or 255 and the background 0, e.g. mask = 255 - mask",
            )
        ]
    return [ok("inverted labels", "the foreground comes in separate objects, as the convention has it")]


def check_grey_levels(data: SegmentationData) -> list[Finding]:
    """Nearly constant images: a handful of grey levels carries little to learn from (dark, overexposed, empty)."""
    few = [(n, k) for n, image in zip(data.names, data.images) if 2 < (k := _distinct(image)) < FEW_GREY_LEVELS]
    if few:
        return [
            found(
                "intensities",
                f"{_count_does(len(few), 'image', 'hold')} fewer than {FEW_GREY_LEVELS} grey levels "
                f"({few[0][0]}: {few[0][1]}): "
                "nearly constant, little to learn from",
                "check the exposure, or whether those files are images at all",
            )
        ]
    return [ok("intensities", "each image scaled to [0, 1] by its own minimum and maximum, many grey levels")]


def check_duplicates(data: SegmentationData) -> list[Finding]:
    """Images with the same pixels (``images.fingerprint``), under any names: a copy that lands among the held-out
    images is scored as unseen although the model trained on it, and a copy among the training images counts twice."""
    first: dict[str, str] = {}  # fingerprint → the first image with those pixels
    copies = []
    for name, image in zip(data.names, data.images):
        original = first.setdefault(fingerprint(image), name)
        if original != name:
            copies.append(f"{name} = {original}")
    if copies:
        return [
            found(
                "duplicate images",
                f"{len(copies)} of {len(data)} images repeat another's pixels ({runtime.name_list(copies)})",
                "remove the copies: a copy held out for validation scores what the model has already seen",
            )
        ]
    return [ok("duplicate images", f"the {len(data)} images all differ" if len(data) > 1 else "one image only")]


def check_sizes(data: SegmentationData, tile_size: int, depth: int = 4, padding: str = "valid") -> list[Finding]:
    """Images smaller than the window one training tile predicts are mostly mirrored copies of themselves."""
    out = unet_output_size(tile_size, depth, padding)
    shapes = [image.shape for image in data.images]
    smallest = min(min(s) for s in shapes)
    if out is not None and smallest < out:
        small = [n for n, s in zip(data.names, shapes) if min(s) < out]
        fitting = [
            n
            for n in valid_input_sizes(1, tile_size, depth, padding)
            if unet_output_size(n, depth, padding) <= smallest
        ]
        advice = f"train with --tile-size {fitting[-1]}" if fitting else "use larger images"
        return [
            found(
                "image sizes",
                f"{len(small)} of {len(data)} images ({runtime.name_list(small)}) {'is' if len(small) == 1 else 'are'} "
                f"smaller than the {out}-px window a {tile_size}-px training tile predicts "
                f"(smallest side {smallest} px): most of each tile is a mirrored copy",
                advice,
            )
        ]
    sides = sorted({f"{s[0]}×{s[1]}" for s in shapes})
    text = (
        f"{runtime.name_list(sides, 2)} px; a {tile_size}-px tile predicts {out} px"
        if out
        else f"{runtime.name_list(sides, 2)} px"
    )
    return [ok("image sizes", text)]


# -- checks on the files of a folder ----------------------------------------------------------------------------
@dataclass
class MaskReading:
    """How one mask file will be read and why (``mask_reading``)."""

    name: str
    kind: str  # "binary 0/255" (or 0/1 …), "anti-aliased", "instance labels", "classes", "grey levels", "colours",
    # "unreadable"
    why: str


def mask_reading(path: Path, image: np.ndarray | None = None) -> MaskReading:
    """How ``load_folder`` will read the mask at ``path`` (through ``images.interpret_mask``), and why.

    A mask with many values whose values each lie scattered in many pieces is no instance-label image but a
    picture ("grey levels"): instance labels give each number one object. With ``image`` (the raw image it
    belongs to) a many-valued mask that follows the image's intensities is called a picture too.
    """
    try:
        raw = read_array(path)
    except ValueError as error:
        return MaskReading(path.name, "unreadable", str(error))
    raw = np.squeeze(raw)
    if is_colour(raw):
        colours = len(np.unique(raw[..., :3].reshape(-1, 3), axis=0))
        return MaskReading(path.name, "colours", f"{colours} colours, one per object or class")
    if raw.ndim == 3 and raw.shape[-1] in (2, 3, 4):
        raw = raw[..., 0]
    if raw.ndim != 2:
        return MaskReading(path.name, "unreadable", f"shape {raw.shape}, not one 2-D mask")
    if raw.dtype == bool:
        return MaskReading(path.name, "binary 0/1", "True/False")
    values = np.unique(raw)
    if len(values) <= 2 and values.min() >= 0:
        top = values.max()
        return MaskReading(path.name, f"binary 0/{top:g}", f"two values: 0 = background, {top:g} = object")
    try:
        _, note = interpret_mask(raw, path.name, path.suffix.lower())
    except ValueError as error:
        return MaskReading(path.name, "unreadable", str(error))
    if note.startswith("binary with"):
        return MaskReading(path.name, "anti-aliased", note.split(":")[0])
    regions = int(measure.label(raw.astype(np.int64) + 1, background=0, connectivity=1).max())
    few = len(values) <= FEW_GREY_LEVELS
    if few and (regions > 4 * len(values) or all(_pieces(raw == v) >= CLASS_PIECES for v in values[values != 0])):
        return MaskReading(
            path.name, "classes", f"{len(values)} values, each in several pieces: class numbers rather than objects"
        )
    if regions > 4 * len(values):
        return MaskReading(
            path.name, "grey levels", f"{len(values)} values in {regions:,} separate pieces: a picture, not labels"
        )
    if image is not None and image.shape == raw.shape and abs(_correlation(raw, image)) > 0.9:
        return MaskReading(path.name, "grey levels", "its values follow its image's intensities")
    return MaskReading(path.name, "instance labels", f"{len(values) - 1} objects, one number each")


def _pieces(region: np.ndarray) -> int:
    """How many separate pieces (4-connected) a region of one mask value falls into."""
    return int(measure.label(region, connectivity=1).max())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def check_folder(
    path: str | Path, tile_size: int = train.CPU_DEFAULT.tile_size, depth: int = 4
) -> tuple[SegmentationData | None, list[Finding]]:
    """An own ``images/`` + ``masks/`` folder, file by file, then as ``load_folder`` reads it (``check_data``).

    Returns the data as ``train`` would read it (``None`` when it cannot be read) and the findings.
    """
    root = Path(path).expanduser()
    missing = [name for name in ("images", "masks") if not (root / name).is_dir()]
    if missing:
        return None, [
            found(
                "pairing",
                f"{root.name} has no {' and no '.join(m + '/' for m in missing)} folder",
                "put the pictures in images/ and the masks in masks/, with matching file names",
            )
        ]
    pairing = pair_files(root)
    images = pairing.images
    stems = sorted(images.keys() & pairing.masks.keys())
    raws, readings = _read_pairs(pairing)
    findings = [_pairing(pairing), _mask_summary(readings), *_swapped_files(readings, raws, images)]
    findings += [
        _intensities(raws, images, paired=bool(stems)),
        _colour_images(raws, images),
        _pixel_sizes([images[s] for s in stems]),
    ]
    if worst(findings) == "problem" and any(r.kind in ("colours", "unreadable") for r in readings):
        return None, findings
    try:
        data = load_folder(root)
    except (ValueError, FileNotFoundError) as error:
        subject, advice = LOAD_FAILURES.get(next((k for k in LOAD_FAILURES if k in str(error)), ""), ("masks", ""))
        if any(f.subject == subject and f.severity == "problem" for f in findings):
            return None, findings  # said above, file by file
        findings = [f for f in findings if f.subject != subject]  # an "ok" the reading has just disproved
        text = " ".join(str(error).split()).removesuffix(f"; {advice}")  # the advice goes after the arrow
        return None, [*findings, found(subject, text, advice)]
    return data, merge(findings, check_data(data, tile_size, depth))


def _read_pairs(pairing: Pairing) -> tuple[dict[str, np.ndarray], list[MaskReading]]:
    """The images of the pairs that open, as stored (by name without extension), and how each pair's mask will be
    read (``mask_reading``)."""
    stems = sorted(pairing.images.keys() & pairing.masks.keys())
    raws = {}
    for stem in stems:
        try:
            raws[stem] = read_array(pairing.images[stem])
        except ValueError:
            continue
    return raws, [mask_reading(pairing.masks[s], gray_values(raws[s]) if s in raws else None) for s in stems]


def check_mask_files(path: str | Path) -> list[Finding]:
    """``check_folder``'s findings on the mask files of a folder ``load_folder`` has read: how they will be read
    (class numbers read as instance labels, pictures rather than masks), which ``check_data`` cannot see in the
    labels as read. ``train`` prints them with ``check_data``'s (a 3-class mask would otherwise train unsaid)."""
    pairing = pair_files(Path(path).expanduser())
    raws, readings = _read_pairs(pairing)
    return [_mask_summary(readings), *_swapped_files(readings, raws, pairing.images)]


LOAD_FAILURES = {
    "same file names": ("pairing", "give each image and its mask the same name (extensions may differ)"),
    " but its mask ": ("pairing", "save each mask at the size of its image"),
    "cannot read": ("files", UNREADABLE_ADVICE),
    " in every pixel: there is nothing to segment": ("intensities", BLANK_ADVICE),
    "must be one 2-D image": ("files", "save it as a single gray image"),
    " is a stack of ": (
        "files",
        "predict reads stacks slice by slice, but for training save each slice as its own file",
    ),
}
"""What ``load_folder``'s refusals are about (a phrase of the message → subject, advice); any other is "masks". A
stack or a file of odd shape, in images/ or masks/, is "files": not a question of how a mask is read; an image with
one value everywhere is "intensities", which ``_intensities`` has already found."""


def merge(first: list[Finding], second: list[Finding]) -> list[Finding]:
    """``first`` and ``second`` with one verdict per subject: the more serious one (``first``'s on a tie)."""
    merged: dict[str, list[Finding]] = {}
    for finding in [*first, *second]:
        merged.setdefault(finding.subject, []).append(finding)
    return [next(f for f in group if f.severity == worst(group)) for group in merged.values()]


def _pairing(pairing: Pairing) -> Finding:
    if not pairing.images or not pairing.masks:
        empty = "images/" if not pairing.images else "masks/"
        return found("pairing", f"{empty} holds no image files", "PNG, TIFF, JPEG or BMP files")
    if pairing.problems():
        advice = "give each image and its mask the same name (extensions may differ)"
        return found("pairing", "; ".join(pairing.problems()), advice)
    return ok("pairing", f"{runtime.plural(len(pairing.images), 'image')}, each with a mask of the same name")


MASK_MEANING = {
    "binary 0/1": "0 = background, 1 = object",
    "binary 0/255": "0 = background, 255 = object, read as 1",
    "anti-aliased": "thresholded at half the maximum",
    "instance labels": "each object becomes foreground, with a background line where two touch",
}


def _mask_summary(readings: list[MaskReading]) -> Finding:
    kinds: dict[str, list[MaskReading]] = {}
    for reading in readings:
        kinds.setdefault(reading.kind, []).append(reading)
    if not readings:
        return found("masks", "no mask has an image to go with it")
    for bad, advice in (
        ("unreadable", "save the masks as PNG or TIFF, one 2-D mask per file"),
        (
            "colours",
            "turn colour-coded masks into instance labels with images.colour_mask_to_instances "
            "and save them as 16-bit TIFF (notebook 11)",
        ),
    ):
        if bad in kinds:
            first = kinds[bad][0]
            count = f"{len(kinds[bad])} masks are" if len(kinds[bad]) > 1 else "1 mask is"
            return found("masks", f"{count} {bad} ({first.name}: {first.why})", advice)
    if "classes" in kinds:
        first = kinds["classes"][0]
        return Finding(
            "warning",
            "masks",
            f"{_count_does(len(kinds['classes']), 'mask', 'hold')} a few values in many pieces "
            f"({first.name}: {first.why}); they are "
            "read as instance labels, so every nonzero value becomes foreground",
            "for two classes save 0 and 255; the course's U-Net segments one kind of object from background",
        )
    parts = []
    for kind, group in kinds.items():
        if kind == "grey levels":
            continue  # reported as swapped folders
        example = "" if kind.startswith("binary") else f"; e.g. {group[0].name}: {group[0].why}"
        parts.append(f"{len(group)} {kind} ({MASK_MEANING.get(kind, group[0].why)}{example})")
    return ok("masks", "; ".join(parts) if parts else "read as pictures, see below")


def _swapped_files(readings: list[MaskReading], raws: dict[str, np.ndarray], images: dict[str, Path]) -> list[Finding]:
    pictures = [r for r in readings if r.kind == "grey levels"]
    grays = {s: gray_values(raw) for s, raw in raws.items()}
    two_valued = [images[s].name for s, gray in grays.items() if gray is not None and len(np.unique(gray)) <= 2]
    if pictures and (len(pictures) > len(readings) / 2 or two_valued):
        also = (
            f"; and {_count_does(len(two_valued), 'image', 'hold')} only two values, as masks do" if two_valued else ""
        )
        return [
            found(
                "swapped folders",
                f"{len(pictures)} of {len(readings)} masks look like pictures ({pictures[0].name}: {pictures[0].why})"
                f"{also}",
                "put the pictures in images/ and the masks in masks/",
            )
        ]
    if pictures:
        return [
            found(
                "swapped folders",
                f"{_count_does(len(pictures), 'mask', 'look')} like pictures ({pictures[0].name}: {pictures[0].why})",
                "check those files: a mask marks objects with one number each",
            )
        ]
    return []


def _intensities(raws: dict[str, np.ndarray], images: dict[str, Path], paired: bool = True) -> Finding:
    """The images' values as stored (``raws``: those of the pairs that open); ``paired``: some image has a mask."""
    if not raws:
        return found("intensities", "no image could be read" if paired else "not checked: no image has a mask")
    constant = [images[s].name for s, raw in raws.items() if np.ptp(raw) == 0]
    if constant:
        return Finding(
            "problem",
            "intensities",
            f"{_count_does(len(constant), 'image', 'hold')} one value in every pixel ({runtime.name_list(constant)}): "
            "nothing to segment",
            "remove them or export them again",
        )
    dtypes = sorted({str(raw.dtype) for raw in raws.values()})
    low = min(float(raw.min()) for raw in raws.values())
    high = max(float(raw.max()) for raw in raws.values())
    text = f"{', '.join(dtypes)} files, values {low:g}–{high:g}"
    if all(raw.dtype == np.uint16 for raw in raws.values()) and high < 2**14:
        text += f" ({math.ceil(math.log2(high + 1))} of 16 bits used: camera counts in a 16-bit file)"
    return ok("intensities", text + "; each image is scaled by its own minimum and maximum")


def _colour_images(raws: dict[str, np.ndarray], images: dict[str, Path]) -> Finding:
    """Colour images, which every reader averages to gray: in the words of ``load_folder``'s note."""
    colour = [images[s].name for s, raw in raws.items() if is_colour(raw)]
    if colour:
        return found("colour images", colour_found(colour, len(raws)), COLOUR_ADVICE)
    return ok("colour images", "every image is gray")


def folder_pixel_sizes(files: Sequence[Path]) -> list[float]:
    """The pixel sizes (µm) the files record (``images.read_pixel_size``); files that record none are skipped."""
    sizes = []
    for file in files:
        try:
            size = read_pixel_size(file)
        except Exception:  # noqa: BLE001 — a damaged tag is reported by the readers, not here
            size = None
        if size is not None:
            sizes.append(size)
    return sizes


def pixel_size_of(data: str) -> float | None:
    """The median pixel size (µm) that the image files of the folder ``data`` record, or ``None``."""
    folder = images_folder(data)
    sizes = folder_pixel_sizes(image_files(folder)) if folder is not None else []
    return float(np.median(sizes)) if sizes else None


def _pixel_sizes(files: Sequence[Path]) -> Finding:
    sizes = folder_pixel_sizes(files)
    if not sizes:
        return ok("pixel sizes", "not recorded in the files (nothing to compare)")
    low, high = min(sizes), max(sizes)
    if high > PIXEL_SIZE_RATIO * low:
        return found(
            "pixel sizes",
            f"the files record pixel sizes from {low:g} to {high:g} µm: the same object is {high / low:.1f}× larger "
            "in pixels in some images",
            "rescale the images to one pixel size (images.rescale, notebook 11)",
        )
    return ok("pixel sizes", f"{low:g} µm per pixel in {len(sizes)} of {len(files)} files")


def check_recorded_pixel_sizes(data: str) -> list[Finding]:
    """The "pixel sizes" finding for a folder ``data`` (TIFF tags only, no pixels read), none for the built-in data:
    the one file check ``train`` adds to ``check_data``, so that it warns where the doctor does."""
    folder = images_folder(data)
    return [] if folder is None else [_pixel_sizes(image_files(folder))]


def check_dataset(
    name: str = "isbi2012",
    tile_size: int = train.CPU_DEFAULT.tile_size,
    depth: int = train.CPU_DEFAULT.depth,
) -> tuple[SegmentationData | None, list[Finding]]:
    """The data checks for ``--data``: ``"isbi2012"`` (the built-in data when it cannot be had), ``"synthetic"``
    or a folder. ``FileNotFoundError`` for a name that is neither."""
    if name in BUILT_IN_DATA:
        data = load_dataset(name, verbose=False)
        return data, [ok("data", data.description), *check_data(data, tile_size, depth)]
    if not Path(name).expanduser().is_dir():
        raise FileNotFoundError(no_such_data(name))
    data, findings = check_folder(name, tile_size, depth)
    return data, [ok("data", data.description if data else f"the folder {Path(name).name}"), *findings]


# -- the pipeline: one batch through the model and the loss -----------------------------------------------------
def expected_initial_loss(weights: torch.Tensor | None, classes: int = 2) -> float:
    """What an untrained network's loss should be: ln(classes) × the mean weight (its softmax is near uniform).

    On the ISBI training labels the paper's weight map has a mean of about 1.7, so about 1.2.
    """
    mean_weight = 1.0 if weights is None else float(weights.float().mean())
    return math.log(classes) * mean_weight


def training_tiles(
    data: SegmentationData, recipe: train.Recipe = train.CPU_DEFAULT, tiles: int = 8, images: int = 4, seed: int = 0
) -> TileDataset:
    """A few training tiles of ``data`` as ``train`` draws them, from its first ``images`` images (weight maps
    with the class balance of all of ``data``: computing every map would take longer than the check)."""
    part = data.subset(range(min(images, len(data))))
    weights, balance = None, None
    if recipe.weight_map:
        balance = class_balance_weights(np.concatenate([np.asarray(label).ravel() > 0 for label in data.labels]))
        weights = [weight_map(label, class_weights=balance) for label in part.labels]
    out = unet_output_size(recipe.tile_size, recipe.depth, recipe.padding)
    dataset = TileDataset(
        part,
        recipe.tile_size,
        out,
        tiles,
        augment=recipe.augment,
        weight_maps=weights,
        seed=seed,
        elastic=recipe.elastic,
    )
    dataset.class_weights = balance if recipe.weight_map else None  # what the maps used, for check_batch to say
    return dataset


def check_inputs(x: torch.Tensor) -> Finding:
    """Tiles normalised to zero mean and unit variance, as ``data.normalize`` makes them."""
    mean, std = float(x.float().mean()), float(x.float().std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        return Finding("problem", "inputs", "the tiles hold NaN or infinite values", "check how the images are read")
    if abs(mean) > 1.0 or not 0.2 < std < 5.0:
        return Finding(
            "problem",
            "inputs",
            f"the tiles have mean {mean:.3g} and standard deviation {std:.3g}: not normalised, so the first layer's "
            "outputs are far from the scale the initial weights expect",
            "normalise each image to mean 0 and standard deviation 1 (data.normalize), as TileDataset does",
        )
    return ok("inputs", f"tiles normalised (mean {mean:.2f}, standard deviation {std:.2f})")


def check_learning_rate(recipe: train.Recipe) -> Finding:
    """A learning rate far above the optimiser's usual one overshoots: the loss jumps, or turns NaN."""
    usual = train.OPTIMIZER_DEFAULTS[recipe.optimizer]["lr"]
    if recipe.lr > 10 * usual:
        return Finding(
            "warning",
            "learning rate",
            f"{recipe.lr:g} is {recipe.lr / usual:.0f}× the usual {usual:g} for {recipe.optimizer}: steps that large "
            "overshoot, and the loss jumps up or turns NaN",
            f"start from --lr {usual:g}; lower it further if the loss curve jumps",
        )
    return ok("learning rate", f"{recipe.lr:g} for {recipe.optimizer} (the usual rate is {usual:g})")


def check_batch(
    tiles: Dataset,
    model: nn.Module,
    loss_fn: train.LossFn = weighted_cross_entropy,
    device: torch.device | str = "cpu",
    batch_size: int = 2,
) -> list[Finding]:
    """One batch through ``model`` (a copy, in training mode as ``fit`` runs it) and ``loss_fn``: inputs, labels,
    weight map, and the initial loss against ``expected_initial_loss``. Bad labels or a bad weight map end the check:
    a loss computed from them says nothing more."""
    x, y, w = load_batch(tiles, range(min(batch_size, len(tiles))), torch.device(device))
    findings = [check_inputs(x)]
    classes = getattr(model, "num_classes", 2)
    if bad_labels := check_label_range(y, classes):
        return findings + bad_labels
    if w is not None:
        findings.append(check_weight_map(w, tiles))
        if findings[-1].severity == "problem":
            return findings
    loss = initial_loss(model, loss_fn, (x, y, w), device)
    return findings + [check_initial_loss(loss, expected_initial_loss(w, classes), classes)]


def check_label_range(y: torch.Tensor, classes: int) -> list[Finding]:
    """A ``classes``-class loss needs labels 0…classes − 1: 0/255 masks read as they are give labels of 255, which
    the loss rejects or, worse, indexes past its classes. Nothing when the labels fit (``check_labels`` names them)."""
    if 0 <= int(y.min()) and int(y.max()) < classes:
        return []
    values = ", ".join(str(v) for v in torch.unique(y)[:4].tolist())
    return [
        Finding(
            "problem",
            "labels",
            f"the batch's labels hold {values}; a {classes}-class loss needs 0…{classes - 1}",
            "turn masks into labels with images.mask_to_label (0/255 → 0/1)",
        )
    ]


def check_weight_map(w: torch.Tensor, tiles: Dataset) -> Finding:
    """The paper's weight map multiplies each pixel's loss: a NaN, infinite or negative weight turns the loss into
    nonsense. A sound one is described by its range, and by the class weights it balances with (notebook 07)."""
    if not bool(torch.isfinite(w).all()) or float(w.min()) < 0:
        return Finding(
            "problem",
            "weights",
            "the weight map holds NaN, infinite or negative values",
            "compute it with losses.weight_maps from 0/1 labels",
        )
    weights, labels = getattr(tiles, "class_weights", None), getattr(tiles, "labels", None)  # a TileDataset's
    if weights is None and labels:
        weights = class_balance_weights(np.concatenate([np.ravel(label) > 0 for label in labels]))
    balance = f"; class weights {weights[0]:.2f} (background), {weights[1]:.2f} (foreground)" if weights else ""
    return ok(
        "weights",
        f"weight map from {float(w.min()):.2f} to {float(w.max()):.2f}, mean {float(w.mean()):.2f}{balance}",
    )


def initial_loss(
    model: nn.Module,
    loss_fn: train.LossFn,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    device: torch.device | str = "cpu",
) -> float:
    """The loss of ``batch`` before any training step, on a copy of ``model`` in training mode (batch norm as ``fit``
    runs it), so that the model the caller holds keeps its mode and its running statistics."""
    x, y, w = batch
    probe = copy.deepcopy(model).to(device).train()
    with torch.no_grad():
        return float(loss_fn(probe(x).float(), y, w))


def check_initial_loss(loss: float, expected: float, classes: int) -> Finding:
    """An untrained network answers about 1/classes everywhere, so its first loss is about ``expected`` (ln classes ×
    the mean weight): far off means inputs of the wrong scale or a broken initialisation; NaN, broken numbers."""
    if not math.isfinite(loss):
        return Finding(
            "problem",
            "initial loss",
            f"{loss} before any training step",
            "look for NaN or infinite inputs or weights",
        )
    if not expected / 3 < loss < 3 * expected:
        return Finding(
            "warning",
            "initial loss",
            f"{loss:.3g}, but an untrained network gives about {expected:.2f} (ln {classes} × mean weight)",
            "check the inputs' scale and the initialisation",
        )
    return ok(
        "initial loss",
        f"{loss:.2f}, within ×3 of the {expected:.2f} that equal outputs give (ln {classes} × mean weight): "
        "the scale of an untrained network",
    )


def check_device(device: torch.device) -> Finding:
    """The CPU while a GPU sits unused is the commonest "training is stuck": a CPU-only PyTorch on a GPU machine."""
    if device.type == "cpu" and shutil.which("nvidia-smi") and torch.version.cuda is None:
        return Finding(
            "warning",
            "device",
            "this machine has an NVIDIA GPU, but this PyTorch is a CPU-only build",
            "install a CUDA build of PyTorch (pytorch.org → Get started)",
        )
    return ok("device", f"train would run on {device}")


def check_pipeline(
    tiles: Dataset,
    recipe: train.Recipe = train.CPU_DEFAULT,
    model: nn.Module | None = None,
    loss_fn: train.LossFn = weighted_cross_entropy,
    device: str | torch.device | None = None,
    precision: str = "auto",
    measure_seconds: float | None = 3.0,
) -> list[Finding]:
    """One batch through the model and the loss (``check_batch``), the learning rate, the device and precision
    ``train`` would use and, unless ``measure_seconds`` is ``None``, its measured speed here."""
    device = runtime.pick_device(None if device is None else str(device))
    runtime.seed_everything(0)
    model = recipe.model() if model is None else model
    findings = [*check_batch(tiles, model, loss_fn, device, recipe.batch_size), check_learning_rate(recipe)]
    findings.append(check_device(device))
    how = runtime.choose_precision(precision, device, training=True)
    findings.append(ok("precision", how.describe()))
    if measure_seconds is not None:
        step = train.measure_step_time(recipe, device, precision, seconds=measure_seconds)
        findings.append(
            ok("speed", f"{step.describe()}: about {step.steps_in(5):,} steps in train's default 5 minutes")
        )
    return findings


# -- overfit one tile -------------------------------------------------------------------------------------------
OVERFIT_IOU = 0.8
"""The bar of the overfit test: the mean IoU of the two classes on the one tile the network trained on."""

OVERFIT_SECONDS = 60.0
"""The overfit test's time budget (it stops as soon as the bar is reached)."""

OVERFIT_TILE = 284
"""The overfit test's tile (100-px output): any tile shows whether the network can learn, and this one holds 0.56 of
the input pixels of ``train``'s 380-px tile, so a step costs less and a minute holds more of them."""


@dataclass
class OverfitResult:
    """What ``overfit_one_tile`` measured: losses per step, the tile's mean IoU before and after, and the verdict."""

    losses: list[float]
    iou_before: float
    iou_after: float
    lr: float
    seconds: float
    bar: float = OVERFIT_IOU
    out_of_time: bool = False  # stopped by the time budget, not by the bar, the step count or a NaN

    @property
    def loss_fell(self) -> bool:
        """The last losses below half the first one, all finite."""
        tail = self.losses[-5:]
        return all(map(math.isfinite, self.losses)) and bool(tail) and max(tail) < 0.5 * self.losses[0]

    @property
    def passed(self) -> bool:
        return self.loss_fell and self.iou_after >= self.bar

    @property
    def undecided(self) -> bool:
        """Out of time while the loss was still falling: a slow (or busy) machine, not a failure."""
        finite = bool(self.losses) and all(map(math.isfinite, self.losses))
        return self.out_of_time and not self.passed and finite and self.losses[-1] < 0.9 * self.losses[0]

    def describe(self) -> str:
        loss = f"loss {self.losses[0]:.3g} → {self.losses[-1]:.3g}" if self.losses else "no step"
        return (
            f"{len(self.losses)} steps at lr {self.lr:g}: {loss}, tile IoU {self.iou_before:.2f} → "
            f"{self.iou_after:.2f} (bar {self.bar:g})"
        )


def mean_iou(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """The mean over the two classes of intersection over union (a class absent from both counts as 1)."""
    scores = []
    for c in (0, 1):
        p, t = prediction == c, target == c
        union = int((p | t).sum())
        scores.append(1.0 if union == 0 else int((p & t).sum()) / union)
    return float(np.mean(scores))


def pick_tile(tiles: Dataset, tries: int = 8) -> int:
    """The first tile that holds both classes in fair amounts (5–95 %), else tile 0."""
    for index in range(min(tries, len(tiles))):
        share = float((tiles[index][1] == 1).float().mean())
        if 0.05 < share < 0.95:
            return index
    return 0


def overfit_one_tile(
    tiles: Dataset,
    recipe: train.Recipe = train.CPU_DEFAULT,
    model: nn.Module | None = None,
    lr: float | None = None,
    seconds: float = OVERFIT_SECONDS,
    max_steps: int = 400,
    bar: float = OVERFIT_IOU,
    loss_fn: train.LossFn = weighted_cross_entropy,
    device: str | torch.device | None = None,
    tile: int | None = None,
    precision: str = "auto",
) -> OverfitResult:
    """Train on one tile again and again: a network that cannot learn one tile by heart cannot learn the data.

    Stops when the tile's mean IoU reaches ``bar`` with the loss below half its start, when the loss turns
    NaN, after ``max_steps`` or after ``seconds``. ``model`` is copied, so the caller's stays untouched. The steps
    compute in the precision ``train`` would use (``runtime.choose_precision``).
    """
    device = runtime.pick_device(None if device is None else str(device))
    how = runtime.choose_precision(precision, device, training=True)
    runtime.seed_everything(0)
    net = (recipe.model() if model is None else copy.deepcopy(model)).to(device)
    lr = recipe.lr if lr is None else lr
    optimizer = train.make_optimizer(net, recipe.optimizer, lr)
    x, y, w = load_batch(tiles, [pick_tile(tiles) if tile is None else tile], device)

    def tile_iou() -> float:
        with torch.no_grad():  # training mode: the tile's own statistics, as in the steps
            return mean_iou(net.train()(x).argmax(1), y)

    result = OverfitResult([], tile_iou(), 0.0, lr, 0.0, bar)
    start = time.perf_counter()
    while len(result.losses) < max_steps and time.perf_counter() - start < seconds:
        loss = train.train_step(net, optimizer, loss_fn, x, y, w, how)
        result.losses.append(loss)
        if not math.isfinite(loss):
            break
        if len(result.losses) % 10 == 0:
            result.iou_after = tile_iou()
            if result.passed:
                break
    result.seconds = time.perf_counter() - start
    result.iou_after = tile_iou() if all(map(math.isfinite, result.losses)) else 0.0
    result.out_of_time = result.seconds >= seconds and not result.passed and len(result.losses) < max_steps
    return result


def check_overfit(
    tiles: Dataset,
    recipe: train.Recipe = train.CPU_DEFAULT,
    model: nn.Module | None = None,
    seconds: float = OVERFIT_SECONDS,
    loss_fn: train.LossFn = weighted_cross_entropy,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> list[Finding]:
    """The overfit test as findings; when it fails, the likely causes ranked — each checked, found ones first:
    the learning rate (the test again at the usual rate), the labels, the normalisation. Out of time with the loss
    still falling, it is undecided (a warning): a slow or busy machine is no broken setup."""
    tile = pick_tile(tiles)
    result = overfit_one_tile(
        tiles, recipe, model, seconds=seconds, loss_fn=loss_fn, device=device, tile=tile, precision=precision
    )
    if result.passed:
        return [ok("overfit test", f"passed — {result.describe()}")]
    if result.undecided:
        per_step = result.seconds / len(result.losses)
        return [
            Finding(
                "warning",
                "overfit test",
                f"undecided — {result.describe()}: the {seconds:g} s ran out while the loss was still falling "
                f"({per_step:.2g} s per step here)",
                f"run it again with more time (--overfit-seconds {math.ceil(4 * seconds / 60) * 60}) or on a "
                "quieter machine",
            )
        ]
    findings = [
        Finding(
            "problem",
            "overfit test",
            f"failed — {result.describe()}: the network cannot learn even "
            "one tile, so training on all of them cannot work either",
            "the causes below are ranked, each checked",
        )
    ]
    causes = [_cause_learning_rate(tiles, recipe, model, seconds, loss_fn, device, tile, result, precision)]
    x, y, _ = tiles[tile]
    causes.append(_cause_labels(y))
    causes.append(check_inputs(x))
    causes = [replace(c, subject=f"cause: {c.subject}") for c in causes]
    return findings + sorted(causes, key=lambda c: -SEVERITIES.index(c.severity))


def _cause_learning_rate(
    tiles, recipe, model, seconds, loss_fn, device, tile, failed: OverfitResult, precision: str
) -> Finding:
    usual = train.OPTIMIZER_DEFAULTS[recipe.optimizer]["lr"]
    other = usual if recipe.lr > 3 * usual else recipe.lr / 10
    again = overfit_one_tile(
        tiles,
        recipe,
        model,
        lr=other,
        seconds=seconds / 2,
        loss_fn=loss_fn,
        device=device,
        tile=tile,
        precision=precision,
    )
    diverged = not all(map(math.isfinite, failed.losses)) or (failed.losses and failed.losses[-1] > failed.losses[0])
    if again.passed:
        return Finding(
            "problem",
            "learning rate",
            f"at lr {other:g} the same test passes ({again.describe()}): {recipe.lr:g} is too high",
            f"train with --lr {other:g}",
        )
    steady = bool(again.losses) and all(map(math.isfinite, again.losses)) and again.losses[-1] < 0.8 * again.losses[0]
    if diverged and steady:
        return Finding(
            "problem",
            "learning rate",
            f"at lr {recipe.lr:g} the loss rose or turned NaN, at lr {other:g} "
            f"it falls ({again.describe()}): {recipe.lr:g} is too high",
            f"train with --lr {other:g}",
        )
    if diverged:
        return Finding(
            "warning",
            "learning rate",
            f"the loss rose or turned NaN at lr {recipe.lr:g}, and lr {other:g} "
            f"did not pass either ({again.describe()})",
            "lower the rate further",
        )
    return ok("learning rate", f"checked: lr {other:g} does not pass either ({again.describe()})")


def _cause_labels(y: torch.Tensor) -> Finding:
    values = sorted(torch.unique(y).tolist())
    if values and (values[0] < 0 or values[-1] > 1):
        return Finding("problem", "labels", f"the tile's labels hold {values[:4]}", "labels must be 0 and 1")
    share = float((y == 1).float().mean())
    if share < 0.01 or share > 0.99:
        return Finding(
            "warning",
            "labels",
            f"the tile is {_share(max(share, 1 - share))} one class: its IoU says little",
            "check the masks' foreground share (doctor --data)",
        )
    return ok("labels", f"checked: 0 and 1, foreground {_share(share)} of the tile")


# -- a trained model ----------------------------------------------------------------------------------------------
def data_profile(data: SegmentationData, pixel_size: float | None = None) -> dict[str, Any]:
    """What a model was trained on, in a few plain numbers stored with it: the images' mean and spread after
    scaling to [0, 1], the foreground share, the pixel size when known. ``check_checkpoint`` compares them."""
    return {
        "mean": round(float(np.mean([image.mean() for image in data.images])), 4),
        "std": round(float(np.mean([image.std() for image in data.images])), 4),
        "foreground": round(float(np.mean(foreground_shares(data))), 4) if data.labels is not None else None,
        "pixel_size": pixel_size,
        "description": data.description,
    }


def compare_profiles(trained: dict[str, Any] | None, here: dict[str, Any]) -> Finding:
    """Was the model trained on images like these? Intensities after scaling, and the pixel size if recorded."""
    subject = "checkpoint data"
    if not trained:
        return ok(subject, "the checkpoint records nothing about its training images (made before doctor)")
    differences = []
    if abs(trained["mean"] - here["mean"]) > 0.15 or not 0.67 < here["std"] / max(trained["std"], 1e-6) < 1.5:
        differences.append(
            f"its training images had mean {trained['mean']:.2f} and spread {trained['std']:.2f} after scaling to "
            f"[0, 1], these {here['mean']:.2f} and {here['std']:.2f}: another kind of image or contrast"
        )
    if trained.get("pixel_size") and here.get("pixel_size"):
        ratio = here["pixel_size"] / trained["pixel_size"]
        if not 1 / PIXEL_SIZE_RATIO < ratio < PIXEL_SIZE_RATIO:
            differences.append(
                f"it was trained at {trained['pixel_size']:g} µm per pixel, these are "
                f"{here['pixel_size']:g}: objects span {1 / ratio:.2g}× the pixels it knows (rescale by {ratio:.2g})"
            )
    if differences:
        return Finding(
            "warning",
            subject,
            "; ".join(differences),
            "train on images like these, or rescale them to its pixel size (images.rescale)",
        )
    return ok(subject, f"trained on images like these ({trained.get('description', 'recorded')})")


def check_weights(state: dict[str, Any]) -> Finding:
    """Non-finite weights: a run whose loss turned NaN saved a model that predicts nothing."""
    tensors = [t for t in state["model_state"].values() if t.is_floating_point()]
    bad = sum(int((~torch.isfinite(t)).sum()) for t in tensors)
    total = sum(t.numel() for t in tensors)
    if bad:
        return Finding(
            "problem",
            "checkpoint weights",
            f"{bad:,} of {total:,} values are NaN or infinite: saved after the loss diverged",
            "train again with a lower learning rate",
        )
    return ok("checkpoint weights", f"{total:,} values, all finite")


def check_checkpoint(
    path: str | Path,
    data: SegmentationData,
    images: int = 3,
    precision: str = "auto",
    pixel_size: float | None = None,
) -> list[Finding]:
    """A trained model on labelled ``data`` (its last ``images`` images that did not train it, where the checkpoint
    knows them, ``images.fingerprint``): finite weights, trained on such images, not one class everywhere, above the
    majority-class baseline (``verdicts.above_baseline``); a score on images it trained on says that it flatters."""
    try:
        state = load_checkpoint(path)
    except NonFiniteWeights as error:
        return [Finding("problem", "checkpoint weights", str(error))]
    findings = [check_weights(state), compare_profiles(state.get("data_profile"), data_profile(data, pixel_size))]
    model = load_model(path)
    threshold = float(state.get("threshold", 0.5))
    part, where = scored_part(state, data, images)
    predictions = [predict_probability(model, image, precision=precision) >= threshold for image in part.images]
    truths = [np.asarray(label) > 0 for label in part.labels]
    return findings + [check_predicted_shares(predictions, truths), check_baseline(predictions, truths, where)]


def scored_part(state: dict[str, Any], data: SegmentationData, images: int = 3) -> tuple[SegmentationData, str]:
    """The last ``images`` images of ``data`` that did not train the checkpoint (``images.fingerprint``), or of all
    of them when every image trained it, and the note for the baseline line: a score on images a model trained on
    flatters it, so the line says which it is on. A checkpoint that knows none of these images (or records none)
    gets no note."""
    seen = set(state.get("training_images") or ())
    unseen = [i for i, image in enumerate(data.images) if fingerprint(image) not in seen]
    part = data.subset((unseen or list(range(len(data))))[-images:])
    if not (seen and len(unseen) < len(data)):  # the checkpoint knows none of these images
        return part, ""
    if unseen:
        return part, f"; on {runtime.the(len(part), 'image')} it did not train on"
    return part, "; on images it trained on (every image here did), so this flatters it"


def check_predicted_shares(predictions: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> Finding:
    """One class everywhere, in every image, is what a network that learned nothing answers (notebook 12's first
    symptom); otherwise the foreground shares it predicts, beside the masks' own."""
    shares = [float(p.mean()) for p in predictions]
    if all(s < EMPTY_SHARE for s in shares) or all(s > 1 - EMPTY_SHARE for s in shares):
        which = "background" if max(shares) < 0.5 else "object"
        scored = runtime.every(len(predictions), "image")
        return Finding(
            "problem",
            "checkpoint predictions",
            f"{which} everywhere in {scored} (foreground {_share(max(shares))} at most)",
            "overfit one tile (doctor --overfit), then check the foreground share and the learning rate",
        )
    truth = _share(float(np.mean([t.mean() for t in truths])))
    return ok(
        "checkpoint predictions",
        f"foreground {_share(min(shares))}–{_share(max(shares))} of the pixels (the masks: {truth})",
    )


def check_baseline(predictions: Sequence[np.ndarray], truths: Sequence[np.ndarray], where: str = "") -> Finding:
    """Pixel accuracy above "every pixel is the larger class" (notebook 09's majority-class baseline), image by image
    and beyond the spread (``verdicts.above_baseline``): below it, the model does not fit these images."""
    scores = [float((p == t).mean()) for p, t in zip(predictions, truths)]
    verdict = verdicts.above_baseline(scores, metrics.majority_baseline(truths))
    if verdict.outcome == "better":
        return ok("baseline", verdict.sentence() + where)
    return Finding(
        "problem",
        "baseline",
        verdict.sentence() + where,
        "this model does not fit these images: trained on others, or too briefly",
    )


def check_model(model: nn.Module) -> Finding:
    """A model left in training mode predicts with batch norm's batch statistics (and dropout): ``eval()`` forgotten."""
    layers = [m for m in model.modules() if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout2d, nn.Dropout))]
    if model.training and layers:
        kinds = sorted({"batch norm" if isinstance(m, nn.modules.batchnorm._BatchNorm) else "dropout" for m in layers})
        effect = (
            "each prediction normalises a tile by that tile's own statistics (and overwrites the running averages "
            "learnt in training)"
            if "batch norm" in kinds
            else "each prediction drops random features"
        )
        return Finding(
            "problem",
            "model mode",
            f"the model is in training mode and has {' and '.join(kinds)}: {effect}",
            "call model.eval() before predicting (checkpoints.load_model does)",
        )
    mode = "training" if model.training else "evaluation"
    return ok("model mode", f"{mode} mode{'' if layers else ', no batch norm or dropout'}")


# -- broken setups, made from the built-in data (notebook 12, the tests) ------------------------------------------
BROKEN_SETUPS: dict[str, str] = {
    "swapped folders": "the pictures were saved in masks/ and the masks in images/",
    "0/255 masks": "the masks were used as stored, 0 and 255, as class indices",
    "inverted labels": "the membranes were labelled 1 and the cells 0, the inverse of the convention",
    "diverging learning rate": "the paper's recipe (SGD, momentum 0.99, no batch norm) at learning rate 1, not 0.01",
    "forgotten normalisation": "the tiles hold raw grey values 0–255 instead of normalised ones",
    "eval forgotten": "predictions are made with the model still in training mode (batch norm)",
    "rare class": "only a few small objects are labelled: about 1% foreground, and no weight map",
}
"""``name: what was broken``: the setups ``broken_setup`` makes, each a classic reason why a U-Net does not work."""

SETUP_RECIPE = replace(train.CPU_DEFAULT, tile_size=284)
"""The recipe of the broken setups: the CPU default on 284-px tiles (100-px outputs; 0.56 of the input pixels of
``train``'s 380-px tiles), so that notebook 12's steps cost less."""


class RawTiles(TileDataset):
    """Training tiles *without* normalisation: each image's grey values as 0–255, as a forgotten
    ``normalize`` leaves them (``broken_setup("forgotten normalisation")``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.images = [np.round(255 * image).astype(np.float32) for image in self.data.images]


@dataclass
class BrokenSetup:
    """A training setup with one classic mistake (``broken``), everything else as the course does it.

    ``data`` is the data as the broken pipeline holds it, ``folder`` the files on disk (swapped folders only),
    ``tiles`` the training tiles it feeds, ``recipe`` how it trains, ``model`` a model in the state the setup
    leaves it (training mode for "eval forgotten"). ``diagnose`` runs the doctor's checks on it.
    """

    name: str
    broken: str
    data: SegmentationData
    tiles: TileDataset
    recipe: train.Recipe
    model: UNetModel
    folder: Path | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def diagnose(self, measure_seconds: float | None = None) -> list[Finding]:
        """The data checks (of the folder when there is one), the pipeline and the model mode."""
        if self.folder is not None:
            _, findings = check_folder(self.folder, self.recipe.tile_size, self.recipe.depth)
        else:
            findings = check_data(self.data, self.recipe.tile_size, self.recipe.depth)
        pipeline = check_pipeline(self.tiles, self.recipe, self.model, measure_seconds=measure_seconds, device="cpu")
        return [*merge(findings, pipeline), check_model(self.model)]


def _rare_labels(labels: Sequence[np.ndarray], keep: float = 0.01) -> list[np.ndarray]:
    """Only the smallest cells stay foreground, until about ``keep`` of the pixels are."""
    rare = []
    for label in labels:
        cells, count = ndimage.label(label > 0)
        sizes = np.bincount(cells.ravel())[1:]
        order = np.argsort(sizes)
        chosen = order[np.cumsum(sizes[order]) <= keep * label.size]
        rare.append(np.isin(cells, chosen + 1).astype(np.uint8))
    return rare


def write_folder(folder: Path, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], names: Sequence[str]) -> Path:
    """``images/`` and ``masks/`` as 8-bit PNGs (``images`` in [0, 1], ``masks`` as they should be stored)."""
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for image, mask, name in zip(images, masks, names):
        Image.fromarray(np.round(255 * np.asarray(image)).astype(np.uint8)).save(folder / "images" / f"{name}.png")
        Image.fromarray(np.asarray(mask).astype(np.uint8)).save(folder / "masks" / f"{name}.png")
    return folder


def broken_setup(
    name: str, folder: str | Path | None = None, n_images: int = 6, size: int = 256, seed: int = 0
) -> BrokenSetup:
    """One of ``BROKEN_SETUPS``, made from ``n_images`` built-in EM-like slices of ``size``² pixels (offline).

    "swapped folders" writes a folder (into ``folder``, else a new temporary one) and reads it as ``train`` would.
    """
    if name not in BROKEN_SETUPS:
        raise ValueError(f"unknown broken setup {name!r}; choose one of: {', '.join(BROKEN_SETUPS)}")
    runtime.seed_everything(seed)
    healthy = make_synthetic_em(n_images, size, seed)
    data, recipe, where, tiles_class = healthy, SETUP_RECIPE, None, TileDataset
    if name == "swapped folders":
        where = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="swapped_"))
        names = [f"slice_{i:02d}" for i in range(n_images)]
        write_folder(
            where,
            [label.astype(np.float32) for label in healthy.labels],
            [np.round(255 * image) for image in healthy.images],
            names,
        )
        data = load_folder(where)
        recipe = replace(SETUP_RECIPE, weight_map=False)  # maps of thousands of specks take long and change nothing
    elif name == "0/255 masks":
        data = replace(healthy, labels=[label * 255 for label in healthy.labels])
    elif name == "inverted labels":
        data = replace(healthy, labels=[1 - label for label in healthy.labels])
    elif name == "diverging learning rate":
        recipe = replace(SETUP_RECIPE, batch_norm=False, optimizer="sgd", lr=1.0)
    elif name == "forgotten normalisation":
        tiles_class = RawTiles
    elif name == "rare class":
        data = replace(healthy, labels=_rare_labels(healthy.labels), description="built-in slices, rare objects")
        recipe = replace(SETUP_RECIPE, weight_map=False)
    out = unet_output_size(recipe.tile_size, recipe.depth, recipe.padding)
    weights = None
    if recipe.weight_map:
        binary = [np.asarray(label) > 0 for label in data.labels]
        balance = class_balance_weights(np.concatenate([b.ravel() for b in binary]))
        weights = [weight_map(b, class_weights=balance) for b in binary]
    tiles = tiles_class(data, recipe.tile_size, out, 1000, augment=recipe.augment, weight_maps=weights, seed=seed)
    model = recipe.model()
    model.train(name == "eval forgotten")
    return BrokenSetup(name, BROKEN_SETUPS[name], data, tiles, recipe, model, where)


# -- train's pre-run lines: the data findings and the budget ---------------------------------------------------------
BAR = {"pixel_accuracy": 0.92, "rand_error": 0.05}
"""The course's bar for the 5-minute default (README, tests/test_real_data_facts.py)."""


def bar_words() -> str:
    """``BAR`` as the pre-run line says it, so that no one reads "the course's bar" without its numbers."""
    return f"pixel accuracy ≥ {BAR['pixel_accuracy']:g}, adapted Rand error ≤ {BAR['rand_error']:g}"


def stored_default_runs() -> list[dict[str, Any]]:
    """The course's stored runs of the 5-minute default (``docs/measured/train_default_5min_*.json``), each as
    ``{"name", "steps", "seconds", "pixel_accuracy", "rand_error", "precision", "rotations"}`` (``rotations`` 1: scored
    on single views, as ``train`` did before it averaged four); none outside a checkout."""
    root = runtime.checkout_root()
    runs = []
    for path in sorted((root / "docs" / "measured").glob("train_default_5min_*.json")) if root else []:
        try:
            record = json.loads(path.read_text())
            mean = record["validation"]["mean"]
            runs.append(
                {
                    "name": path.stem,
                    "steps": int(record["steps"]),
                    "seconds": float(record["training_seconds"]),
                    "pixel_accuracy": float(mean["pixel_accuracy"]),
                    "rand_error": float(mean["rand_error"]),
                    "precision": str(record.get("training_precision", "")).split(",")[0],
                    "rotations": int(record.get("rotations", 1)),  # runs from before the averaging record none
                }
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(runs, key=lambda run: run["steps"])


def budget_lines(
    recipe: train.Recipe, steps: int | None, minutes: float | None, default_run: bool, precision: str = "auto"
) -> list[str]:
    """What ``train`` prints before step 1 about its budget. With a time budget it measures the step here
    (``train.measure_step_time``, at most 3 s and 2 % of the budget; not for budgets under a minute) and forecasts
    (``forecast``); with ``--steps`` alone it measures nothing: the progress bar predicts the time from its first
    steps."""
    if minutes is None:
        steps_given = runtime.plural(steps, "step")
        return [f"budget: {steps_given} (--steps); the progress bar predicts their time from the first steps"]
    if minutes < 1:
        return []  # a quick run: measuring would take a noticeable share of it
    step = train.measure_step_time(recipe, precision=precision, seconds=min(3.0, 0.02 * 60 * minutes))
    return forecast(step, minutes, default_run)


def forecast(step: train.StepTime, minutes: float, default_run: bool) -> list[str]:
    """``train``'s line before step 1: the steps this budget holds here and, for the default command on the ISBI
    data, what the course's stored runs of that length reached; ``--minutes`` when this machine is slower."""
    expected = step.steps_in(minutes)
    lines = [f"this machine: {step.describe()} → about {expected:,} steps in {runtime.plural(minutes, 'minute')}"]
    if step.busy:
        lines[0] += f" ({step.caution()}, so something else is running; the run may make far fewer)"
    runs = stored_default_runs() if default_run else []
    if runs:
        nearest = min(runs, key=lambda run: abs(run["steps"] - expected))
        lines.append(
            f"the course's stored 5-minute runs: {nearest['steps']:,} steps reached pixel accuracy "
            f"{nearest['pixel_accuracy']:.3f}, adapted Rand error {nearest['rand_error']:.3f} ({nearest['name']}"
            f"{_single_views(nearest)}); the others (accuracy / Rand error): "
            + ", ".join(
                f"{r['steps']:,} steps {r['pixel_accuracy']:.3f} / {r['rand_error']:.3f}"
                + (" (single views)" if _single_views(r) else "")
                for r in runs
                if r is not nearest
            )
        )
        passing = [
            r for r in runs if r["pixel_accuracy"] >= BAR["pixel_accuracy"] and r["rand_error"] <= BAR["rand_error"]
        ]
        if passing and expected < passing[0]["steps"]:
            needed = math.ceil(passing[0]["steps"] * step.seconds / 60)
            # slower only if it misses their steps in their own time; else the budget is what falls short
            slower = step.steps_in(passing[0]["seconds"] / 60) < passing[0]["steps"]
            who = (
                "this machine is slower than"
                if slower
                else f"a budget of {runtime.plural(minutes, 'minute')} holds fewer steps than"
            )
            lines.append(
                f"{who} the stored runs that met the course's bar ({bar_words()}): "
                f"--minutes {needed} reaches their {passing[0]['steps']:,} steps"
            )
    return lines


def _single_views(run: dict[str, Any]) -> str:
    """What sets a stored run scored on single views apart: ``train`` now averages four rotated views per image."""
    return "; scored on single views, before train averaged 4 rotations" if run.get("rotations", 4) == 1 else ""


# -- the doctor command and the pre-class check -------------------------------------------------------------------
def doctor(
    data: str = "isbi2012",
    overfit: bool = False,
    checkpoint: str | Path | None = None,
    precision: str = "auto",
    recipe: train.Recipe = train.CPU_DEFAULT,
    overfit_seconds: float = OVERFIT_SECONDS,
    measure_seconds: float | None = 3.0,
    show: Any = print,
    threads: int | None = None,
) -> list[Finding]:
    """``python -m unet_lib doctor``: the threads, the data, the pipeline, optionally the overfit test and a
    checkpoint on the data; each finding is shown (``show``) as soon as it is known, and all are returned.
    ``threads`` caps the CPU threads as ``train --threads`` does, so that the step it times is the step of that run."""
    findings: list[Finding] = []

    def add(new: Iterable[Finding]) -> None:
        for finding in new:
            findings.append(finding)
            show(finding.line())

    add([ok("threads", runtime.use_granted_threads(threads).describe())])
    loaded, data_findings = check_dataset(data, recipe.tile_size, recipe.depth)
    add(data_findings)
    if loaded is None or loaded.labels is None or worst(findings) == "problem":
        return findings  # the pipeline on data that is wrong says nothing new: fix the data first
    tiles = training_tiles(loaded, recipe)
    add(check_pipeline(tiles, recipe, precision=precision, measure_seconds=measure_seconds))
    if overfit:
        small = replace(recipe, tile_size=min(recipe.tile_size, OVERFIT_TILE))
        add(check_overfit(training_tiles(loaded, small), small, seconds=overfit_seconds, precision=precision))
    if checkpoint is not None:
        add(check_checkpoint(checkpoint, loaded, precision=precision, pixel_size=pixel_size_of(data)))
    return findings


NOTEBOOK08_MINUTES = 2.5
"""Notebook 08's training cell: the CPU recipe for this many minutes (a test reads the notebook)."""

NOTEBOOK11_STEPS = 200
"""Notebook 11's training cell: the CPU recipe for this many steps (a test reads the notebook)..."""

NOTEBOOK11_MINUTES = 4.0
"""... or this many minutes, whichever comes first."""

BUSY_ADVICE = (
    "something else was running while the steps were timed, so the steps predicted below may be far too many: "
    "run it again when the machine is quiet (a second session at the same time is a test of its own)"
)
"""What the pre-class check advises when the timed steps spread widely (``train.StepTime.busy``)."""

NOTEBOOK08_FEW_STEPS = 100
"""Below this many steps notebook 08's run may end near the majority-class baseline, and the pre-class check warns:
the notebook prints, after its training cell, the validation accuracy along the run and its verdict against that
baseline (the instructor guide's "Sizing the hub" turns this count into cores per learner)."""


def peak_memory_bytes() -> int | None:
    """This process's peak resident memory (Linux ``VmHWM``; ``ru_maxrss`` elsewhere), or ``None``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)
    except (ImportError, OSError):
        return None


def check_widgets() -> Finding:
    """The interactive explorers need ipywidgets (and, in JupyterLab, its extension)."""
    try:
        import ipywidgets

        from . import widgets  # noqa: F401 — importing it is the check
    except Exception as error:  # noqa: BLE001 — any failure to import is the finding
        return Finding(
            "problem", "widgets", f"cannot be imported ({type(error).__name__}: {error})", runtime.widget_help()
        )
    return ok("widgets", f"ipywidgets {ipywidgets.__version__} and unet_lib.widgets import")


def check_class_data() -> Finding:
    """Will the class's notebooks have the real ISBI 2012 slices? Fetched now when they are missing and the network is
    there (the day before is the time for a download); else the notebooks fall back to the built-in EM-like data
    (``data.load_dataset``), and their pictures and numbers are not the stored ones that the guide describes."""
    folder = data_dir() / "isbi2012"
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the download's own line: the doctor prints one per finding
            load_isbi2012("train")
    except DataUnavailable as error:
        return Finding(
            "warning",
            "data",
            f"the real ISBI 2012 slices are not in {folder} and could not be had ({error.reason}): the notebooks will "
            "use the built-in EM-like data, so their pictures and numbers will differ from the stored ones",
            "run this check again where the machine reaches the internet (it downloads them, checked), or copy an "
            "isbi2012/ folder there or point UNET_DATA_DIR at one (data/README.md)",
        )
    return ok("data", f"the real ISBI 2012 slices, checksums verified, in {folder}")


def check_class_speed(step: train.StepTime, threads: int) -> list[Finding]:
    """The pre-class check's timed step and what it means for notebook 08's and 11's training cells (the instructor
    guide sizes a shared machine by the core-seconds per step)."""
    core_seconds = step.seconds * threads
    text = f"the CPU recipe's training step: {step.describe()}, {core_seconds:.1f} core-seconds per step"
    text += f" ({step.precision})"
    if step.busy:  # the counts below would promise steps a busy machine does not make
        findings = [Finding("warning", "speed", f"{text}; {step.caution()}", BUSY_ADVICE)]
    else:
        findings = [ok("speed", text)]
    steps08 = step.steps_in(NOTEBOOK08_MINUTES)
    text08 = f"its {NOTEBOOK08_MINUTES:g}-minute training cell reaches about {steps08:,} steps here"
    if steps08 < NOTEBOOK08_FEW_STEPS:
        few = f", fewer than {NOTEBOOK08_FEW_STEPS}: its accuracy may stay near the majority-class baseline"
        fallback = "fewer kernels per machine, or the shipped checkpoint (notebook 09 opens it) as the fallback"
        findings.append(Finding("warning", "notebook 08", text08 + few, fallback))
    else:
        findings.append(ok("notebook 08", text08))
    minutes11 = NOTEBOOK11_STEPS * step.seconds / 60
    if minutes11 > NOTEBOOK11_MINUTES:
        capped = f"stops at its cap of {NOTEBOOK11_MINUTES:g} minutes here, after about "
        text11 = f"its training cell {capped}{step.steps_in(NOTEBOOK11_MINUTES)} of its {NOTEBOOK11_STEPS} steps"
        shorter = "its scores will be those of a shorter run; a quieter machine or a GPU runs them all"
        findings.append(Finding("warning", "notebook 11", text11, shorter))
    else:
        text11 = f"its {NOTEBOOK11_STEPS}-step training cell takes about {minutes11:.1f} minutes here"
        findings.append(ok("notebook 11", text11))
    return findings


def check_class_memory(peak: float) -> Finding:
    """How many kernels of ``peak`` bytes this machine holds: by its cgroup memory limit where that is smaller (a hub
    pod sees the whole node's memory but may use only its limit), else by its physical memory."""
    text = f"a kernel needs about {peak / 1e9:.1f} GB (this process's peak after the training steps)"
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    limit = runtime.cgroup_memory_limit()
    if limit is not None and (total is None or limit < total):
        text += f"; this session's memory limit (cgroup) of {limit / 1e9:.1f} GB holds about {int(limit / peak)}"
        text += " such kernels" + (f" (the machine has {total / 1e9:.0f} GB)" if total else "")
    elif total is not None:
        text += f"; this machine's {total / 1e9:.0f} GB hold about {int(total / peak)} such kernels"
    return ok("memory", text)


def class_check(
    precision: str = "auto", seconds: float = 3.0, show: Any = print, threads: int | None = None
) -> list[Finding]:
    """``python -m unet_lib doctor --class``: what an instructor runs on the class's machines a day before —
    environment, widgets, the thread decision, the data, one timed step, notebook 08's and 11's predicted times, memory.
    ``threads`` caps the threads as ``--threads`` does: a hub that gives each kernel one thread checks with 1."""
    findings: list[Finding] = []

    def add(finding: Finding) -> None:
        findings.append(finding)
        show(finding.line())

    report = runtime.environment_report()
    add(ok("environment", ", ".join(f"{k} {v}" for k, v in report.items() if k not in ("device", "cpu threads"))))
    add(check_widgets())
    decision = runtime.use_granted_threads(threads)
    add(ok("threads", decision.describe()))
    device = runtime.pick_device()
    add(check_device(device))
    add(check_class_data())
    step = train.measure_step_time(train.CPU_DEFAULT, device, precision, seconds=seconds)
    for finding in check_class_speed(step, decision.threads):
        add(finding)
    peak = peak_memory_bytes()
    if peak is not None:
        add(check_class_memory(peak))
    return findings
