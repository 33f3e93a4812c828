"""Checkers of notebooks 08–09: the training step, its budget and checkpoints; tiles and the paper's metrics."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import metrics
from ..losses import weighted_cross_entropy
from ..model import UNetModel
from ..train import train_step as reference_step
from .core import Feedback, Mistake, attempt, case, check_cases, close, name_of, one_number, whole_number, your_turn

# -- notebook 08: training ---------------------------------------------------------------------


def _step_model(seed: int = 0) -> nn.Module:
    """A tiny U-Net with batch norm (so that forgetting ``model.train()`` shows)."""
    torch.manual_seed(seed)
    return UNetModel(base_channels=2, depth=1, batch_norm=True)


def _step_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 1, 36, 36, generator=generator)
    y = torch.randint(0, 2, (2, 20, 20), generator=generator)
    return x, y, torch.rand(2, 20, 20, generator=generator) + 0.5


def _step_problem(
    result: Any, expected: float, step: int, changed: bool, same_weights: bool, training: bool, gradients: bool
) -> str | None:
    """What one training step got wrong, judged by its return value, the mode of its forward pass, and the
    weights and gradients it left behind."""
    if isinstance(result, torch.Tensor):
        return (
            "return the loss as a Python number with `loss.item()`: a tensor would keep the whole graph alive in "
            "your history."
        )
    if not isinstance(result, float):
        return f"return the loss as a float (`loss.item()`), got {type(result).__name__}."
    if not changed and not gradients:
        return (
            "the weights did not change, and no gradient was left for optimizer.step(): call loss.backward() "
            "before optimizer.step(), and optimizer.zero_grad() before loss.backward() — a zero_grad between "
            "backward and step wipes the gradients."
        )
    if not changed:
        return "the weights did not change: call `optimizer.step()` after `loss.backward()`."
    if not training:
        return (
            "call `model.train()` first, before the forward pass — in eval mode batch norm uses its running "
            "statistics, not the batch's."
        )
    if step == 0 and abs(result - expected) > 1e-5:
        return f"the loss is {result:.5f}, expected {expected:.5f}: return loss_fn(model(x), y, w) of this batch."
    if same_weights:
        return None
    if step == 1:
        return (
            "the first step is right, the second is not: call `optimizer.zero_grad()` before `loss.backward()`, "
            "or the gradients of both steps add up."
        )
    return "the weights after one step differ from unet_lib's: forward, loss, `loss.backward()`, `optimizer.step()`."


def _record_modes(model: nn.Module) -> tuple[list[bool], Any]:
    """A list that gets ``model.training`` at each forward pass, and the hook's handle (``.remove()`` it)."""
    modes: list[bool] = []
    return modes, model.register_forward_pre_hook(lambda module, inputs: modes.append(module.training))


def check_train_step(train_step: Callable[..., float]) -> Feedback:
    """Notebook 08, exercise 1: ``train_step(model, optimizer, loss_fn, x, y, w)``, one step of gradient descent.

    Bespoke (what matters is the state the step leaves behind). Runs two steps against
    ``unet_lib.train.train_step`` from the same weights, with the library's weighted loss; named
    slips: no ``optimizer.step()``, no ``zero_grad`` (gradients pile up over steps) or one between
    backward and step (no gradient left), no ``model.train()`` before the forward pass, and returning a
    tensor instead of ``loss.item()``.
    """
    name = name_of(train_step, "train_step")
    mine, ref = _step_model(), _step_model()
    mine.eval()  # the learner's step must switch to training mode itself
    opt_mine = torch.optim.SGD(mine.parameters(), lr=0.1)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    for step in range(2):
        x, y, w = _step_batch(step)
        before = [p.detach().clone() for p in mine.parameters()]
        modes, hook = _record_modes(mine)  # the model's mode at each forward pass of this step
        try:
            result, failed = attempt(name, train_step, mine, opt_mine, weighted_cross_entropy, x, y, w)
        finally:
            hook.remove()
        if failed is not None:
            return failed
        expected = reference_step(ref, opt_ref, weighted_cross_entropy, x, y, w)
        changed = not all(torch.equal(a, p) for a, p in zip(before, mine.parameters()))
        same_weights = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mine.parameters(), ref.parameters()))
        gradients = any(p.grad is not None and bool(p.grad.any()) for p in mine.parameters())
        training = all(modes) if modes else mine.training
        problem = _step_problem(result, expected, step, changed, same_weights, training, gradients)
        if problem:
            return Feedback(False, problem)
    return Feedback(
        True, "two steps give exactly unet_lib's weights: zero the gradients, forward, loss, backward, step."
    )


_STOP_MISTAKES = [
    Mistake(
        gives=lambda step, steps, elapsed, minutes: (
            (steps is not None and step >= steps) or (minutes is not None and elapsed >= minutes)
        ),
        says="`minutes` is in minutes, the clock in seconds: compare elapsed_seconds with 60 · minutes.",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: (
            (steps is not None and step > steps) or (minutes is not None and elapsed > 60 * minutes)
        ),
        says="stop when a budget is *reached*: ≥, not >.",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: step >= (steps or 0) or elapsed >= 60 * (minutes or 0),
        says="a budget of None means no limit, not zero: test `steps is not None` (and `minutes is not None`) first.",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: steps is not None and step >= steps,
        says="the time budget is ignored: stop also when elapsed_seconds ≥ 60 · minutes.",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: minutes is not None and elapsed >= 60 * minutes,
        says="the step budget is ignored: stop also when step ≥ steps.",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: (
            (steps is None or step >= steps) and (minutes is None or elapsed >= 60 * minutes)
        ),
        says="stop when *either* budget is used up (or, not and).",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: (
            (steps is not None and step + 1 >= steps) or (minutes is not None and elapsed >= 60 * minutes)
        ),
        says="one step early: `step` counts the steps already done, so stop when step ≥ steps, not step + 1 ≥ steps.",
    ),
    Mistake(
        gives=lambda step, steps, elapsed, minutes: (
            (steps is not None and step >= steps) or (minutes is not None and elapsed // 60 >= minutes)
        ),
        says="whole minutes drop the seconds (and a budget may be 1.5 minutes): compare seconds, "
        "elapsed_seconds ≥ 60 · minutes.",
    ),
]


def check_should_stop(should_stop: Callable[[int, int | None, float, float | None], bool]) -> Feedback:
    """Notebook 08, exercise 2: ``should_stop(step, steps, elapsed_seconds, minutes)``, the training budget.

    Named slips: seconds compared with minutes, ``>`` instead of ``>=``, a ``None`` budget
    treated as zero, one of the two budgets ignored, both required at once, stopping one step
    early, and the clock rounded down to whole minutes.
    """
    table = [  # in this order each slip is the only one that fails first where it does
        ((5, 10, 0.0, None), False, "5 of 10 steps done: keep going."),
        ((9, 10, 0.0, None), False, "9 of 10 steps done: one to go."),
        ((12, 10, 0.0, None), True, "12 ≥ 10 steps: stop."),
        ((12, 10, 1.0, 5.0), True, "12 ≥ 10 steps: stop, even though time is left."),
        ((3, 10, 1000.0, 5.0), True, "1000 s is more than 5 minutes: stop, even though steps are left."),
        ((10, 10, 0.0, None), True, "stop when the step count *reaches* `steps` (≥, not >)."),
        ((0, None, 59.0, 1.0), False, "59 s of a 1-minute budget: keep going — the clock is in seconds (× 60)."),
        ((0, None, 60.0, 1.0), True, "60 s is the whole 1-minute budget: stop (≥, and minutes × 60 = seconds)."),
        ((0, None, 95.0, 1.5), True, "95 s is more than 1.5 minutes (90 s): stop."),
        ((3, None, 1000.0, None), False, "with no budget given (`None`) that budget never stops the run."),
    ]
    return check_cases(
        "should_stop",
        should_stop,
        [case(*args, expected=expected, note=note) for args, expected, note in table],
        _STOP_MISTAKES,
        success="stops at the step count or the time budget, whichever comes first, and ignores a budget of None.",
        rule="stop when step ≥ steps or elapsed_seconds ≥ 60 · minutes, skipping a budget that is None.",
        same=lambda got, expected: bool(got) == expected,
    )


def _crash_while_saving(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    """Stands in for ``torch.save``: writes half a file, then fails, as a full disk or a power cut would."""
    Path(f).write_bytes(b"half a checkpoint")
    raise OSError("simulated crash while writing")


def _loads_as(path: Path, obj: Any) -> bool:
    try:
        return torch.load(path, weights_only=True) == obj
    except Exception:  # a damaged file is the finding
        return False


def _written_to(f: Any) -> Path | None:
    """The file ``torch.save`` was asked to write: a path, or an open file's name (None for a buffer)."""
    name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", None)
    return Path(name).resolve() if isinstance(name, (str, os.PathLike)) else None


def _as_path(f: Any) -> Path | None:
    return Path(f).resolve() if isinstance(f, (str, os.PathLike)) else None


def _watched_save(save_atomically: Callable[[Any, Any], Any], obj: Any, path: Path) -> tuple[Path | None, list[bool]]:
    """Call ``save_atomically`` with ``torch.save``, ``os.replace`` and ``os.rename`` watched.

    Returns the folder of a file it wrote outside ``path``'s own folder, if any (``os.replace`` is atomic
    only within one file system, and a folder is the safe bet), and for each rename onto ``path`` whether
    ``path`` still existed just before it (a checkpoint deleted before the rename leaves a gap).
    """
    real_save, real_replace, real_rename = torch.save, os.replace, os.rename
    written: list[Path | None] = []
    onto: list[bool] = []

    def watched_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        written.append(_written_to(f))
        real_save(obj, f, *args, **kwargs)

    def watched(real: Callable[..., None]) -> Callable[..., None]:
        def rename(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
            if _as_path(target) == path.resolve():
                onto.append(path.exists())
            real(source, target, *args, **kwargs)

        return rename

    torch.save, os.replace, os.rename = watched_save, watched(real_replace), watched(real_rename)
    try:
        save_atomically(obj, path)
    finally:
        torch.save, os.replace, os.rename = real_save, real_replace, real_rename
    folder = path.parent.resolve()
    elsewhere = next((target.parent for target in written if target is not None and target.parent != folder), None)
    return elsewhere, onto


def _atomic_save_problem(name: str, save_atomically: Callable[[Any, Any], Any], folder: Path) -> Feedback | None:
    """The first slip of ``save_atomically``: a save into an empty folder, then a crash over that checkpoint."""
    path = folder / "last.ckpt"
    problem = _fresh_save_problem(name, save_atomically, path)
    return problem if problem is not None else _crashed_save_problem(name, save_atomically, path)


def _fresh_save_problem(name: str, save_atomically: Callable[[Any, Any], Any], path: Path) -> Feedback | None:
    """A save into an empty folder: written beside the target, loadable, nothing left behind."""
    folder = path.parent
    watched, failed = attempt(name, _watched_save, save_atomically, {"step": 1}, path)
    if failed is not None:
        return failed
    elsewhere, _ = watched
    if elsewhere is not None:
        return Feedback(
            False,
            f"the temporary file went to another folder ({elsewhere.name or elsewhere}), not beside the checkpoint: "
            "os.replace is atomic only within one file system, and a copy is not atomic at all. Write it in the "
            "checkpoint's own folder, e.g. path.with_name(path.name + '.tmp').",
        )
    if not path.is_file() or not _loads_as(path, {"step": 1}):
        return Feedback(False, f"after {name}(obj, path) the file must exist and torch.load it must give obj back.")
    if sorted(p.name for p in folder.iterdir()) != ["last.ckpt"]:
        return Feedback(
            False, "a temporary file was left beside the checkpoint: rename it with os.replace(temporary, path)."
        )
    return None


def _crashed_save_problem(name: str, save_atomically: Callable[[Any, Any], Any], path: Path) -> Feedback | None:
    """A save over an old checkpoint, then one whose torch.save crashes: the old file intact, nothing left behind,
    the error raised, the new file renamed into place without deleting the old one first."""
    folder = path.parent
    watched, failed = attempt(name, _watched_save, save_atomically, {"step": 1}, path)  # over an old checkpoint
    if failed is not None:
        return failed
    _, onto = watched
    real_save, torch.save = torch.save, _crash_while_saving
    raised = False
    try:
        save_atomically({"step": 2}, path)
    except OSError:
        raised = True
    except NotImplementedError:
        return your_turn(name)
    finally:
        torch.save = real_save
    if not _loads_as(path, {"step": 1}):
        return Feedback(
            False,
            "a crash while saving destroyed the previous checkpoint: write to a temporary file in the same folder "
            "first, then os.replace it onto the target.",
        )
    if sorted(p.name for p in folder.iterdir()) != ["last.ckpt"]:
        return Feedback(
            False,
            "the old checkpoint survived the crash, but the half-written temporary file was left behind: remove it "
            "in a `finally:` (or `except`).",
        )
    if not raised:
        return Feedback(
            False,
            f"a crash inside torch.save was swallowed: {name} returned as if the checkpoint were saved. Clean up in "
            "`finally:` (or `except …:` followed by `raise`), so that the error still reaches the caller.",
        )
    if not onto:
        return Feedback(
            False,
            "the new checkpoint was not renamed into place: write the temporary file, then os.replace(temporary, "
            "path), one step that happens entirely or not at all — a copy (or torch.save straight onto path) can "
            "leave half a file there.",
        )
    if not all(onto):
        return Feedback(
            False,
            "the old checkpoint was deleted before the new one was renamed into place: a crash in between leaves no "
            "checkpoint at all. os.replace(temporary, path) overwrites the target in one step — no os.remove needed.",
        )
    return None


def check_save_atomically(save_atomically: Callable[[Any, Any], Any]) -> Feedback:
    """Notebook 08, exercise 3: ``save_atomically(obj, path)``, a checkpoint that a crash cannot damage.

    Bespoke (the answer is judged by the files it leaves, and the renames it makes). Simulates a
    crash inside ``torch.save``; named slips: writing straight to the target (the old checkpoint is
    destroyed), leaving the temporary file behind, swallowing the crash, copying instead of renaming,
    and deleting the old checkpoint before the rename.
    """
    with tempfile.TemporaryDirectory() as folder:
        problem = _atomic_save_problem(name_of(save_atomically, "save_atomically"), save_atomically, Path(folder))
    if problem is not None:  # a Feedback is falsy when it fails, so test for None
        return problem
    return Feedback(
        True, "the old checkpoint survives a crash in the middle of saving, and no temporary file is left behind."
    )


# -- notebook 09: inference and evaluation -------------------------------------------------------


_TILE_MISTAKES = [
    Mistake(
        gives=lambda height, width, stride: math.ceil(height / stride) ** 2,
        says="you used `height` for both the rows and the columns: columns of tiles = ⌈width / stride⌉.",
    ),
    Mistake(
        gives=lambda height, width, stride: math.ceil(width / stride) ** 2,
        says="you used `width` for both the rows and the columns: rows of tiles = ⌈height / stride⌉.",
    ),
    Mistake(
        gives=lambda height, width, stride: (height // stride) * (width // stride),
        says="rounding down leaves a strip at the bottom/right unpredicted: a partial tile is still a tile (round up).",
    ),
    Mistake(
        gives=lambda height, width, stride: math.ceil(height * width / stride**2),
        says="count rows of tiles and columns of tiles separately, each rounded up, then multiply.",
    ),
    Mistake(
        gives=lambda height, width, stride: (height // stride + 1) * (width // stride + 1),
        says="one tile too many where a side is an exact multiple of the stride: round up (−(−height // stride)) "
        "instead of adding 1.",
    ),
    Mistake(
        gives=lambda height, width, stride: math.ceil(height / stride) + math.ceil(width / stride),
        says="you added the rows and the columns of tiles; a grid of tiles has rows × columns of them.",
    ),
    Mistake(
        gives=lambda height, width, stride: math.ceil((height - 1) / stride) * math.ceil((width - 1) / stride),
        says="a side one pixel longer than a multiple of the stride needs a tile for that last pixel too: "
        "⌈height / stride⌉, not ⌈(height − 1) / stride⌉.",
    ),
]


def check_count_tiles(count_tiles: Callable[[int, int, int], int]) -> Feedback:
    """Notebook 09, exercise 1: ``count_tiles(height, width, stride)``, output tiles needed to cover an image.

    Named slips: rounding down (the border strip is left out), dividing areas, adding
    one tile per side instead of rounding up, ⌈(side − 1) / stride⌉ (a last row of one pixel left out), and
    rows + columns instead of rows × columns.
    """
    sizes = [(512, 512, 384), (512, 512, 256), (520, 696, 192), (100, 30, 200), (384, 768, 384), (385, 769, 384)]
    cases = [case(h, w, s, expected=math.ceil(h / s) * math.ceil(w / s)) for h, w, s in sizes]
    return check_cases(
        "count_tiles",
        count_tiles,
        cases,
        _TILE_MISTAKES,
        success="a 512 × 512 slice with 388-px output tiles placed 384 px apart takes 2 × 2 = 4 tiles.",
        rule="tiles per row = ⌈width / stride⌉, rows = ⌈height / stride⌉.",
        returns=whole_number,
    )


def _masks(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(pred).astype(bool), np.asarray(true).astype(bool)


_IOU_MISTAKES = [
    Mistake(
        gives=lambda pred, true: (lambda p, t: (p & t).sum() / (p.sum() + t.sum()) if p.any() or t.any() else None)(
            *_masks(pred, true)
        ),
        says="divide by the union |P ∪ T| (pixels in either), not |P| + |T| (that counts the overlap twice).",
    ),
    Mistake(
        gives=lambda pred, true: (lambda p, t: metrics.iou(~p, ~t))(*_masks(pred, true)),
        says="that is the IoU of the membrane (class 0): the foreground is class 1, the cells.",
    ),
    Mistake(
        gives=lambda pred, true: (lambda p, t: (p & t).sum() / p.sum() if p.any() else None)(*_masks(pred, true)),
        says="that divides the intersection by the *predicted* area |P| (that is the precision); IoU divides by "
        "the union |P ∪ T|.",
    ),
    Mistake(
        gives=lambda pred, true: (lambda p, t: (p & t).sum() / t.sum() if t.any() else None)(*_masks(pred, true)),
        says="that divides the intersection by the *true* area |T| (that is the recall); IoU divides by the union "
        "|P ∪ T|.",
    ),
    Mistake(
        gives=lambda pred, true: 1 - metrics.iou(pred, true),
        says="that is 1 − IoU, a distance (0 for a perfect match); the IoU itself is |P ∩ T| / |P ∪ T|.",
    ),
    Mistake(
        gives=metrics.dice,
        says="that is the Dice coefficient 2|P ∩ T| / (|P| + |T|); IoU is |P ∩ T| / |P ∪ T|.",
    ),
    Mistake(
        gives=lambda pred, true: float(np.mean(np.asarray(pred) == np.asarray(true))),
        says="that is the pixel accuracy, the share of pixels that agree — background pixels count there too; IoU "
        "counts only the foreground: |P ∩ T| / |P ∪ T|.",
    ),
    Mistake(
        when=lambda got, pred, true: not np.isfinite(float(got)),
        says="two empty masks agree perfectly: return 1.0 instead of dividing by an empty union.",
    ),
]


def check_foreground_iou(iou: Callable[[np.ndarray, np.ndarray], float]) -> Feedback:
    """Notebook 09, exercise 2: ``iou(pred, true)``, intersection over union of the foreground (class 1).

    Named slips: the sum of the areas instead of the union, the membrane class instead of the
    cell class, the Dice coefficient, the pixel accuracy, 1 − IoU, and an error (or NaN) for two empty masks.
    """
    rng = np.random.default_rng(0)
    true = rng.random((20, 20)) < 0.7
    pred = true ^ (rng.random((20, 20)) < 0.15)
    empty = np.zeros((4, 4), np.uint8)
    expected = metrics.iou(pred, true)
    cases = [
        case(pred.astype(np.uint8), true.astype(np.uint8), expected=expected, label="two 20×20 masks"),
        case(
            empty,
            empty,
            expected=1.0,
            label="two empty 4×4 masks",
            note="two empty masks agree perfectly: return 1.0 instead of dividing by an empty union",
        ),
    ]
    return check_cases(
        "iou",
        iou,
        cases,
        _IOU_MISTAKES,
        success=f"{expected:.3f} on the test masks, and 1.0 for two empty masks.",
        rule="IoU = |P ∩ T| / |P ∪ T| with P, T the pixels labelled 1.",
        returns=one_number,
        same=close(1e-6),
    )


def _accuracies(probability: np.ndarray, true: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Pixel accuracy at each threshold (a model of the slip "pixel error = 1 − accuracy")."""
    return np.array([metrics.pixel_accuracy(probability > t, true) for t in thresholds])


def _threshold_where(values: np.ndarray, got: Any, thresholds: np.ndarray) -> float | None:
    """The threshold at which ``values`` equals the learner's answer, if any."""
    hits = np.flatnonzero(np.isclose(values, float(got), rtol=0, atol=1e-6))
    return float(thresholds[hits[0]]) if len(hits) else None


def _accuracy_threshold(got: Any, probability: np.ndarray, true: np.ndarray, thresholds: np.ndarray) -> float | None:
    """The threshold at which 1 − accuracy is the learner's answer, if one is."""
    return _threshold_where(1 - _accuracies(probability, true, thresholds), got, thresholds)


def _f_score_threshold(got: Any, probability: np.ndarray, true: np.ndarray, thresholds: np.ndarray) -> float | None:
    """The threshold at which 1 − F is the learner's answer, if one is."""
    return _threshold_where(1 - metrics.f_scores(probability, true, thresholds), got, thresholds)


def _soft_f_score(probability: np.ndarray, true: np.ndarray) -> float:
    """The F-score of the probabilities themselves, no threshold: 2 Σ p·t / (Σ p + Σ t)."""
    true = np.asarray(true, dtype=float)
    return float(2 * (probability * true).sum() / (probability.sum() + true.sum()))


_NO_THRESHOLD = (
    "the mask must be `probability > t`, once for each t in `thresholds`; you scored the probabilities without "
    'a threshold (they are not 0/1, and a nonzero probability is not a "yes").'
)

_GRID = np.linspace(0.1, 0.9, 9)
"""The thresholds of most of ``check_isbi_pixel_error``'s cases, which a learner may write in instead of using
the argument."""

_PIXEL_ERROR_MISTAKES = [
    Mistake(
        gives=lambda probability, true, thresholds: (
            1 - math.floor(metrics.f_scores(probability, true, thresholds).max())
        ),
        says="you used `//` where a fraction is due: 2·TP // (2·TP + FP + FN) rounds every F-score below 1 down to 0 "
        "— divide with `/`.",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - metrics.f_scores(probability, true, thresholds[:-1]).max(),
        says=lambda got, probability, true, thresholds: (
            f"the best threshold here is the last one, {thresholds[-1]:g}, and your loop skipped it: take every t in "
            "`thresholds` (`range(len(thresholds) - 1)` stops one short)."
        ),
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - metrics.f_scores(probability, true, _GRID).max(),
        says="you used thresholds of your own (0.1, 0.2, …, 0.9): take the ones passed in `thresholds`.",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - metrics.f_scores(probability, true, thresholds[1:]).max(),
        says=lambda got, probability, true, thresholds: (
            f"the best threshold here is the first one, {thresholds[0]:g}, and your loop skipped it: take every t in "
            "`thresholds`, from index 0."
        ),
    ),
    Mistake(gives=lambda probability, true, thresholds: 1 - _soft_f_score(probability, true), says=_NO_THRESHOLD),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - metrics.f_scores(probability, true, [0.0]).max(),
        says=_NO_THRESHOLD,
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - _accuracies(probability, true, thresholds).max(),
        says="that is 1 − accuracy (the share of wrong pixels) at the best threshold. The challenge's pixel error is "
        "1 − the *F-score* of class 1, 2·TP / (2·TP + FP + FN), which leaves out the many easy true negatives.",
    ),
    Mistake(
        when=lambda got, *inputs: _accuracy_threshold(got, *inputs) is not None,
        says=lambda got, *inputs: (
            f"that is 1 − accuracy at threshold {_accuracy_threshold(got, *inputs):g}; the "
            "challenge takes 1 − the *F-score*, at the best threshold."
        ),
    ),
    Mistake(
        gives=lambda probability, true, thresholds: metrics.f_scores(probability, true, thresholds).max(),
        says="that is the best F-score itself; the pixel error is 1 − it.",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - float(np.mean(metrics.f_scores(probability, true, thresholds))),
        says="that is 1 − the mean F-score over the thresholds; the challenge takes the best threshold: 1 − the "
        "largest F-score.",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - metrics.f_scores(probability, true, thresholds).min(),
        says="that is the *worst* threshold: take the maximum F-score over thresholds.",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: (
            1 - metrics.f_scores(probability, true, thresholds)[_accuracies(probability, true, thresholds).argmax()]
        ),
        says="that is 1 − F at the threshold with the best *accuracy*; the challenge takes the threshold with the "
        "best F-score itself.",
    ),
    Mistake(
        when=lambda got, *inputs: _f_score_threshold(got, *inputs) is not None,
        says=lambda got, *inputs: (
            f"that is 1 − the F-score at the single threshold {_f_score_threshold(got, *inputs):g}:"
            " take the best F-score over all `thresholds`."
        ),
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - metrics.f_scores(1 - probability, true == 0, thresholds).max(),
        says="that is the F-score of the membrane (class 0): score the cells, class 1.",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - max(metrics.iou(probability > t, true) for t in thresholds),
        says="that is 1 − the best IoU, |P ∩ T| / |P ∪ T| (exercise 2); the F-score is 2·TP / (|P| + |T|).",
    ),
    Mistake(
        gives=lambda probability, true, thresholds: 1 - max(metrics.dice(probability < t, true) for t in thresholds),
        says="your mask is `probability < t`, the wrong side of the threshold: the cells are where probability > t.",
    ),
]


def _threshold_at_an_end(seed: int, sure_cells: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """A probability map whose best threshold is the last of 0.1, …, 0.9 (cells all above 0.9) or the first
    (background all below 0.1), its labels, and how a message describes it."""
    rng = np.random.default_rng(seed)
    true = rng.random((30, 30)) < 0.6
    if sure_cells:
        probability = np.where(true, rng.uniform(0.9, 1, true.shape), rng.uniform(0, 0.95, true.shape))
        return probability, true, "whose cells are all above 0.9"
    probability = np.where(true, rng.uniform(0.05, 1, true.shape), rng.uniform(0, 0.1, true.shape))
    return probability, true, "whose background is all below 0.1"


def check_isbi_pixel_error(isbi_pixel_error: Callable[..., float]) -> Feedback:
    """Notebook 09, exercise 3: ``isbi_pixel_error(probability, true, thresholds)``, the challenge's pixel error.

    The expected value is ``unet_lib.metrics.isbi_pixel_error``. Named slips: 1 − accuracy (at
    the best or at one threshold), the best F-score itself (not 1 − it), the worst threshold,
    the F-score at the best-accuracy threshold or at one threshold only, the mean over thresholds, the
    membrane class, F-scores divided with ``//`` (all 0, so the error is 1), a loop that skips the first or
    the last threshold (two maps whose best threshold is there), the IoU instead of the F-score, the mask
    ``probability < t``, and thresholds written in instead of the argument (a case with other thresholds).
    """
    rng = np.random.default_rng(1)
    true = rng.random((30, 30)) < 0.75
    probability = np.clip(true * 0.5 + rng.normal(0.25, 0.2, true.shape), 0, 1)
    thresholds = _GRID
    expected = metrics.isbi_pixel_error(probability, true, thresholds)
    label = "a 30×30 probability map, its 0/1 labels, thresholds 0.1, 0.2, …, 0.9"
    rng = np.random.default_rng(2)  # rare cells: the best-accuracy threshold (0.6) is not the best-F one (0.5)
    rare = rng.random((30, 30)) < 0.3
    rare_probability = np.clip(rare * 0.35 + rng.normal(0.3, 0.2, rare.shape), 0, 1)
    rare_expected = metrics.isbi_pixel_error(rare_probability, rare, thresholds)
    rare_label = "a 30×30 map where cells are rare (30%), its labels, the same thresholds"
    cases = [
        case(probability, true.astype(np.uint8), thresholds, expected=expected, label=label),
        case(rare_probability, rare.astype(np.uint8), thresholds, expected=rare_expected, label=rare_label),
    ]
    for seed, sure_cells in ((3, True), (4, False)):  # the best threshold is the last, then the first
        end, end_true, about = _threshold_at_an_end(seed, sure_cells)
        end_expected = metrics.isbi_pixel_error(end, end_true, thresholds)
        end_label = f"a 30×30 map {about}, its labels, the same thresholds"
        cases.append(case(end, end_true.astype(np.uint8), thresholds, expected=end_expected, label=end_label))
    others = np.array([0.2, 0.45, 0.7])  # other thresholds: an answer must use the ones it is given
    others_expected = metrics.isbi_pixel_error(probability, true, others)
    others_label = "the first map and labels, thresholds 0.2, 0.45, 0.7"
    cases.append(case(probability, true.astype(np.uint8), others, expected=others_expected, label=others_label))
    return check_cases(
        "isbi_pixel_error",
        isbi_pixel_error,
        cases,
        _PIXEL_ERROR_MISTAKES,
        success=f"1 − max F = {expected:.3f} here, while 1 − accuracy at 0.5 is "
        f"{metrics.pixel_error(probability > 0.5, true):.3f}: not the same measure.",
        rule="for each threshold t: F-score of (probability > t) against true, then 1 − the largest.",
        returns=one_number,
        same=close(1e-6),
    )
