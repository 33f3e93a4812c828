"""Predict on files (notebook 09): images, folders of images, multi-page TIFF stacks, the ISBI 2012 test set.

``command_predict`` is ``python -m unet_lib predict``: every input is read and checked before any work
(one reader and one suffix policy with ``train``: ``unet_lib.images``), output names never collide, and a
stack is read slice by slice and written back as two TIFF stacks (probabilities, masks) beside the PNGs.
For the ISBI 2012 test slices the probability stack is the challenge's submission file.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from skimage.segmentation import find_boundaries
from torch import nn

from . import runtime, tiling
from .checkpoints import load_checkpoint, load_model, model_origin
from .evaluation import PIXEL_DEFAULT_SOURCE, predict_all, stored_thresholds, threshold_source
from .images import (
    IMAGE_SUFFIXES,
    READABLE_ADVICE,
    BlankImage,
    SegmentationData,
    colour_note,
    count_slices,
    hyperstack_note,
    image_files,
    pixel_size_note,
    read_image_with_colour,
    read_pixel_size,
)
from .isbi2012 import DataUnavailable, isbi2012_checksums, load_isbi2012
from .metrics import cell_segments
from .outputs import UsageError, claim_folder, occupied, save_png

ISBI_TEST_STEM = "isbi2012_test"
"""``predict --isbi2012-test`` writes ``isbi2012_test_probability.tif``: the challenge's submission file."""


# -- predict ------------------------------------------------------------------------------------------
@dataclass
class Source:
    """One input of ``predict``: a single image, or a stack of slices (a multi-page TIFF, the ISBI test set).

    ``read(k)`` gives slice ``k`` and whether it held colour, averaged to gray; ``read_checked`` keeps that in
    ``colour``, so that ``predict`` says it once for all its inputs (``images.colour_note``), not per slice.
    """

    label: str
    stem: str
    slices: int
    read: Callable[[int], tuple[np.ndarray, bool]]
    path: Path | None = None  # the file it is read from (none for the ISBI test set)
    colour: bool = False

    @property
    def is_stack(self) -> bool:
        return self.slices > 1

    def slice_stems(self) -> list[str]:
        if not self.is_stack:
            return [self.stem]
        width = max(3, len(str(self.slices - 1)))
        return [f"{self.stem}_{k:0{width}d}" for k in range(self.slices)]

    def output_names(self) -> list[str]:
        names = [f"{stem}_{kind}.png" for stem in self.slice_stems() for kind in ("probability", "mask", "overlay")]
        return names + ([f"{self.stem}_probability.tif", f"{self.stem}_mask.tif"] if self.is_stack else [])


def file_source(path: Path) -> Source:
    """One image file (a TIFF stack: its slices) to predict, or a ``UsageError`` naming what is wrong with it, before
    any output is written (notebooks 09, 11)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such image or folder; give image files ({', '.join(IMAGE_SUFFIXES)}) or folders")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"{path} is not one of the image types the course reads ({', '.join(IMAGE_SUFFIXES)})")
    try:
        slices = count_slices(path)
    except ValueError as error:
        raise UsageError(f"{error}; {READABLE_ADVICE}") from error
    return Source(str(path), path.stem, slices, lambda k: read_image_with_colour(path, k if slices > 1 else None), path)


def isbi_test_source() -> Source:
    """The 30 ISBI 2012 test slices, loaded (and if need be downloaded) at the first read, after the folder checks."""
    loaded: list[SegmentationData] = []

    def read(k: int) -> tuple[np.ndarray, bool]:
        if not loaded:
            try:
                loaded.append(load_isbi2012("test"))
            except DataUnavailable as error:
                raise UsageError(f"the ISBI 2012 test slices could not be had ({error.reason}): {error}") from error
        return loaded[0].images[k], False

    slices = sum(name.startswith("test_images/") for name in isbi2012_checksums())
    return Source("the ISBI 2012 test slices", ISBI_TEST_STEM, slices, read)


def gather_sources(inputs: list[str], isbi_test: bool) -> list[Source]:
    """Files, the images of folders (``images.image_files``: one suffix policy with ``train``), the ISBI test set."""
    sources = [isbi_test_source()] if isbi_test else []
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = image_files(item)
            if not found:
                inside = (
                    f"; its images are in {item / 'images'}: give that folder" if (item / "images").is_dir() else ""
                )
                raise UsageError(f"{item} holds no images ({', '.join(IMAGE_SUFFIXES)}){inside}")
            files.extend(found)
        else:
            files.append(item)
    unique = {real_path(path): path for path in reversed(files)}  # the same file named twice is predicted once
    sources += [file_source(path) for path in files if unique.get(real_path(path)) is path]
    if not sources:
        raise UsageError("give images, folders of images, or --isbi2012-test")
    owners: dict[str, str] = {}
    for source in sources:
        for name in source.output_names():
            if name in owners and owners[name] != source.label:
                raise UsageError(
                    f"{owners[name]} and {source.label} would both be written as {name}: rename one of them, "
                    "or predict them into different --out folders"
                )
            owners[name] = source.label
    return sources


def real_path(path: Path) -> Path:
    """``path`` with every symbolic link followed; a link that leads back to itself is refused in one line."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as error:  # "Symlink loop" (Python ≤ 3.12) or ELOOP
        raise UsageError(
            f"{path} is a symbolic link that leads back to itself (a loop): point it at an image, or give the "
            "image itself"
        ) from error


def check_inputs_untouched(sources: list[Source], out: Path) -> None:
    """Refuse an ``--out`` that holds an input, or where an output would take an input's name: ``predict`` writes
    ``a_probability.png`` for ``a.png``, so an earlier export called that, predicted again, would be replaced
    (even ``--overwrite`` never consents to losing an input)."""
    folder = real_path(out)
    for source in sources:
        if source.path is None:
            continue
        where = real_path(source.path)
        outputs = {real_path(out / name) for name in source.output_names()}
        if where.parent == folder or where in outputs:
            raise UsageError(
                f"--out {out} holds the input {source.path.name}; predict never writes beside its inputs "
                "(an output could replace one): choose another --out"
            )


def read_checked(source: Source, k: int) -> np.ndarray:
    """Slice ``k`` of ``source`` (a bad file is a ``UsageError``); a slice in colour marks ``source.colour``."""
    try:
        image, colour = source.read(k)
    except ValueError as error:
        hint = f"; {READABLE_ADVICE}" if str(error).startswith("cannot read") else ""
        hint = "; leave it out of the images to predict" if isinstance(error, BlankImage) else hint
        raise UsageError(f"{error}{hint}") from error
    source.colour |= colour
    return image


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image in gray with the outlines of the predicted cells/objects drawn in orange (Okabe–Ito)."""
    gray = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    rgb[find_boundaries(cell_segments(mask), mode="inner")] = (230, 159, 0)
    return rgb


def command_predict(
    inputs: list[str],
    checkpoint: str,
    out: Path,
    out_given: bool = False,
    overwrite: bool = False,
    threshold: float | None = None,
    isbi_test: bool = False,
    precision: str = "auto",
    rotations: int = 1,
    threads: int | None = None,
) -> int:
    """Probability map, mask and overlay PNGs for each input image; for a stack also two TIFF stacks.

    ``rotations`` 4 or 8 averages that many views of each image (``tiling.predict_probability``), as the paper's
    ISBI entry did; it takes that many times as long. ``threads`` caps the CPU threads (``runtime.decide_threads``).
    """
    decision = runtime.use_granted_threads(threads)
    sources = gather_sources(inputs, isbi_test)
    check_inputs_untouched(sources, out)
    wanted = {name for source in sources for name in source.output_names()}
    with claim_folder(out, out_given, overwrite, lambda folder: sorted(wanted & set(occupied(folder)))) as lock:
        return predict_into(sources, checkpoint, lock.folder, threshold, precision, rotations, decision, lock.announce)


def predict_into(
    sources: list[Source],
    checkpoint: str,
    out: Path,
    threshold: float | None,
    precision: str,
    rotations: int,
    decision: runtime.ThreadDecision,
    announce: Callable[[], None] = lambda: None,
) -> int:
    """``command_predict`` once its folder is claimed: every input and the model checked, then (``announce``: which
    folder) the predictions."""
    model, state = load_model(checkpoint), load_checkpoint(checkpoint)
    chosen_by = threshold_source(state, "threshold", threshold, PIXEL_DEFAULT_SOURCE)
    threshold = stored_thresholds(state, threshold)["threshold"]
    shapes = [[slice_shape(source, k) for k in range(source.slices)] for source in sources]  # checked first
    how = tiling.inference_precision(model, shapes[0][0][-2:], precision)  # layout measured at the first tile
    views = f", each in {rotations} views averaged" if rotations > 1 else ""
    announce()
    print(f"model: {model_origin(checkpoint, state)}")
    print(f"using {decision.describe()}")
    count = sum(source.slices for source in sources)
    print(f"predicting {runtime.plural(count, 'image')} in {how.describe()}{views}")
    print(f"threshold used: pixel {threshold:g} ({chosen_by})")  # the masks: a last.ckpt stores none, a model.ckpt one
    for source in sources:
        note = hyperstack_note(source.path) if source.path is not None else ""
        if note:
            print(note)
    files = [source.path for source in sources if source.path is not None]
    colour = colour_note([source.path.name for source in sources if source.colour and source.path], len(files))
    if colour:  # every slice was read above (slice_shape): one line for all of them
        print(f"note: {colour}")
    trained = (state.get("data_profile") or {}).get("pixel_size")
    sizes = pixel_size_note([file.name for file in files], [read_pixel_size(file) for file in files], trained)
    if sizes:  # a model knows objects at the size in pixels it trained on
        print(f"note: {sizes}")
    for source, sizes in zip(sources, shapes):
        predict_source(model, source, out, threshold, one_size=len(set(sizes)) == 1, precision=how, rotations=rotations)
    return 0


def slice_shape(source: Source, k: int) -> tuple[int, ...]:
    """The shape of slice ``k``, read and checked; a blank slice of a stack is allowed (``predict_source`` writes
    it as background), a blank single image is refused (nothing to segment)."""
    try:
        return read_checked(source, k).shape
    except UsageError as error:
        if source.is_stack and isinstance(error.__cause__, BlankImage):
            return error.__cause__.shape
        raise


def predict_source(
    model: nn.Module,
    source: Source,
    out: Path,
    threshold: float,
    one_size: bool = True,
    precision: runtime.Precision = runtime.FP32,
    rotations: int = 1,
) -> None:
    """Predict one source slice by slice; a stack's probabilities and masks also go into one TIFF stack each
    (one 3-D series when its slices have ``one_size``, else one page per slice).

    The probability stack is 32-bit float, one page per slice, each pixel the probability of *cell* (not
    membrane): for the ISBI 2012 test slices that is the challenge's results format, "a 32-bit TIFF 3D image,
    which values between 0 (100% membrane certainty) and 1 (100% non-membrane certainty)"
    (https://imagej.net/events/isbi-2012-segmentation-challenge, "Results format").
    """
    shares, sizes, blank = [], [], []
    with ExitStack() as stack:
        writers = []
        if source.is_stack:
            for kind in ("probability", "mask"):
                temporary = stack.enter_context(runtime.atomic_output(out / f"{source.stem}_{kind}.tif"))
                writers.append(stack.enter_context(tifffile.TiffWriter(temporary)))
        for k, stem in enumerate(source.slice_stems()):
            try:
                image = read_checked(source, k)
                probability = predict_all(model, [image], precision, rotations)[0]
            except UsageError as error:  # a blank slice of a stack (a single blank image was refused before)
                if not isinstance(error.__cause__, BlankImage):
                    raise
                image = np.zeros(error.__cause__.shape[-2:], np.float32)
                probability = image.copy()
                blank.append(k)
            mask = probability > threshold
            save_png(out / f"{stem}_probability.png", (probability * 255).round().astype(np.uint8))
            save_png(out / f"{stem}_mask.png", mask.astype(np.uint8) * 255)
            save_png(out / f"{stem}_overlay.png", overlay(image, mask))
            if writers:
                writers[0].write(probability.astype(np.float32), contiguous=one_size, photometric="minisblack")
                writers[1].write(mask.astype(np.uint8) * 255, contiguous=one_size, photometric="minisblack")
            shares.append(float(mask.mean()))
            sizes.append(f"{image.shape[0]}×{image.shape[1]}")
    distinct = list(dict.fromkeys(sizes))  # a stack's pages may differ in size: name them all (up to three)
    size = (
        distinct[0] if len(distinct) == 1 else "sizes " + ", ".join(distinct[:3]) + (" …" if len(distinct) > 3 else "")
    )
    if blank:
        shown = runtime.name_list(blank, most=5)
        which = f"slice {shown} is" if len(blank) == 1 else f"slices {shown} are"
        print(f"note: {source.label} {which} blank (one value everywhere): written as background")
    if source.is_stack:
        print(
            f"{source.label} ({source.slices} slices of {size}): {np.mean(shares):.1%} foreground → "
            f"{out}/{source.stem}_probability.tif (float32 stack), {source.stem}_mask.tif, {source.stem}_*_*.png"
        )
    else:
        print(f"{source.label} ({size}): {shares[0]:.1%} foreground → {out}/{source.stem}_*.png")
