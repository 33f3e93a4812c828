"""Checkers of notebooks 08–09 (``unet_lib.checks.training``): answers written here, independently of unet_lib.

Each checker passes a known-right answer and names every typical mistake it claims to name. None of
the answers below calls ``unet_lib.train`` or ``unet_lib.metrics``: a checker whose expected value comes
from the library must be shown to accept an answer that does not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from checker_answers import assert_passed, assert_rejected

from unet_lib import checks

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

# -- notebook 08 --------------------------------------------------------------------------------------


def my_train_step(model, optimizer, loss_fn, x, y, w) -> float:
    model.train()
    for parameter in model.parameters():
        parameter.grad = None
    loss = loss_fn(model(x), y, w)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def without_zero_grad(model, optimizer, loss_fn, x, y, w):
    model.train()
    loss = loss_fn(model(x), y, w)
    loss.backward()
    optimizer.step()
    return loss.item()


def without_train_mode(model, optimizer, loss_fn, x, y, w):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y, w)
    loss.backward()
    optimizer.step()
    return loss.item()


def without_step(model, optimizer, loss_fn, x, y, w):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y, w)
    loss.backward()
    return loss.item()


def returns_the_tensor(model, optimizer, loss_fn, x, y, w):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y, w)
    loss.backward()
    optimizer.step()
    return loss


def unweighted(model, optimizer, loss_fn, x, y, w):
    return my_train_step(model, optimizer, loss_fn, x, y, None)


def test_train_step_accepts_a_step_written_by_hand():
    assert_passed(checks.check_train_step(my_train_step), "two steps give exactly unet_lib's weights")


@pytest.mark.parametrize(
    "answer, words",
    [
        (without_zero_grad, ["the second is not", "optimizer.zero_grad()"]),
        (without_train_mode, ["model.train()", "running statistics"]),
        (without_step, ["did not change", "optimizer.step()"]),
        (returns_the_tensor, ["loss.item()", "graph"]),
        (lambda *step: my_train_step(*step) and "loss", ["as a float", "str"]),
        (unweighted, ["expected 0.77527", "loss_fn(model(x), y, w)"]),
    ],
    ids=["no zero_grad", "no train()", "no step", "tensor", "text", "weights ignored"],
)
def test_train_step_names_the_mistake(answer, words):
    assert_rejected(checks.check_train_step(answer), *words)


def test_train_step_stub_names_the_learners_function():
    """Issue 12: notebook 08's function is `my_train_step`, and the message must say so."""

    def my_train_step(model, optimizer, loss_fn, x, y, w) -> float:
        raise NotImplementedError("Your turn: complete `my_train_step` (Exercise 1), then run the check cell below.")

    assert checks.check_train_step(my_train_step).message.startswith("your turn — fill in `my_train_step` where")


def should_stop(step, steps, elapsed_seconds, minutes) -> bool:
    if steps is not None and step >= steps:
        return True
    return minutes is not None and elapsed_seconds >= minutes * 60


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda s, n, e, m: (n is not None and s >= n) or (m is not None and e >= m), ["(0, None, 59, 1)", "60 ·"]),
        (lambda s, n, e, m: (n is not None and s > n) or (m is not None and e > 60 * m), ["≥, not >"]),
        (lambda s, n, e, m: s >= (n or 0) or e >= 60 * (m or 0), ["None means no limit"]),
        (lambda s, n, e, m: n is not None and s >= n, ["(3, 10, 1000, 5) returned False", "time budget is ignored"]),
        (lambda s, n, e, m: m is not None and e >= 60 * m, ["step budget is ignored"]),
        (lambda s, n, e, m: (n is None or s >= n) and (m is None or e >= 60 * m), ["(or, not and)"]),
        (lambda s, n, e, m: should_stop(s, n, e, m) or s == 3, ["(3, None, 1000, None) returned True", "never stops"]),
        (  # a learner's walk-through: one step early passed when no case had step == steps - 1
            lambda s, n, e, m: (n is not None and s + 1 >= n) or (m is not None and e >= 60 * m),
            ["(9, 10, 0, None) returned True", "one step early"],
        ),
        (  # and whole minutes passed when every budget was a whole number of minutes
            lambda s, n, e, m: (n is not None and s >= n) or (m is not None and int(e) // 60 >= m),
            ["(0, None, 95, 1.5) returned False", "whole minutes"],
        ),
    ],
    ids=["minutes", "strict", "None as 0", "steps only", "time only", "and", "other", "one early", "whole minutes"],
)
def test_should_stop(answer, words):
    assert_passed(checks.check_should_stop(should_stop), "whichever comes first")
    assert_rejected(checks.check_should_stop(answer), *words)


def save_by_rename(obj, path) -> None:
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path))
    os.close(handle)
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def leaves_temporary(obj, path):
    torch.save(obj, str(path) + ".tmp")
    os.replace(str(path) + ".tmp", path)


def leaves_a_temporary_file_after_a_crash(obj, path):
    temporary = Path(str(path) + ".tmp")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def via_the_temporary_folder(obj, path):
    handle, temporary = tempfile.mkstemp()  # the system's temporary folder, not the checkpoint's
    os.close(handle)
    try:
        torch.save(obj, temporary)
        shutil.copyfile(temporary, path)
    finally:
        os.remove(temporary)


def renamed_from_the_temporary_folder(obj, path):
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        torch.save(obj, handle)
    os.replace(handle.name, path)


def test_save_atomically_accepts_write_then_rename():
    assert_passed(checks.check_save_atomically(save_by_rename), "survives a crash")
    assert torch.save.__module__.startswith("torch")  # the checker put the real torch.save back


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda obj, path: torch.save(obj, path), ["destroyed the previous checkpoint"]),
        (leaves_a_temporary_file_after_a_crash, ["half-written temporary file", "finally"]),
        (lambda obj, path: torch.save(obj, str(path) + ".new"), ["the file must exist"]),
        (lambda obj, path: (torch.save(obj, path), Path(str(path) + ".bak").write_text("x")), ["was left beside"]),
        (via_the_temporary_folder, ["another folder", "not atomic", "checkpoint's own folder"]),  # passed before
        (renamed_from_the_temporary_folder, ["another folder", "one file system"]),
    ],
    ids=["in place", "crash leftovers", "wrong file", "extra file", "copied from /tmp", "renamed from /tmp"],
)
def test_save_atomically_names_the_mistake(answer, words):
    assert_rejected(checks.check_save_atomically(answer), *words)
    assert torch.save.__module__.startswith("torch")


def test_save_atomically_stub_after_the_first_save():
    """A stub that only raises on the second call still gets "your turn", and torch.save is put back."""
    calls = []

    def save_atomically(obj, path):
        calls.append(path)
        if len(calls) > 1:
            raise NotImplementedError
        save_by_rename(obj, path)

    assert_rejected(checks.check_save_atomically(save_atomically), "your turn", "`save_atomically`")
    assert torch.save.__module__.startswith("torch")


# -- notebook 09 --------------------------------------------------------------------------------------


def count_tiles(height: int, width: int, stride: int) -> int:
    rows = (height + stride - 1) // stride
    cols = (width + stride - 1) // stride
    return rows * cols


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda h, w, s: (h // s) * (w // s), ["round up"]),
        (lambda h, w, s: -(-(h * w) // s**2), ["separately"]),
        (
            lambda h, w, s: (h // s + 1) * (w // s + 1),
            ["count_tiles(512, 512, 256) returned 9, expected 4", "adding 1"],
        ),
        (lambda h, w, s: float(count_tiles(h, w, s)), ["a float"]),
        (lambda h, w, s: count_tiles(h, h, s), ["returned 9, expected 12", "`height` for both"]),  # issue 17
        (lambda h, w, s: count_tiles(w, w, s), ["`width` for both"]),
        (
            lambda h, w, s: -(-(h - 1) // s) * -(-(w - 1) // s),
            ["count_tiles(385, 769, 384) returned 2, expected 6", "one pixel longer"],
        ),
        (lambda h, w, s: -(-h // s) + -(-w // s), ["returned 7, expected 12", "rows × columns"]),
    ],
    ids=["floor", "areas", "plus one", "float", "height twice", "width twice", "one pixel short", "rows + columns"],
)
def test_count_tiles(answer, words):
    assert_passed(checks.check_count_tiles(count_tiles), "2 × 2 = 4 tiles")
    assert_rejected(checks.check_count_tiles(answer), *words)


def iou(pred: np.ndarray, true: np.ndarray) -> float:
    both = either = 0
    for p, t in zip(pred.astype(bool).flat, true.astype(bool).flat):
        both += p and t
        either += p or t
    return 1.0 if either == 0 else both / either


def python_division(pred, true):
    return int((pred & true).sum()) / int((pred | true).sum())


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda p, t: (p & t).sum() / (p.sum() + t.sum()), ["not |P| + |T|"]),
        (lambda p, t: iou(1 - p, 1 - t), ["membrane (class 0)"]),
        (lambda p, t: 2 * (p & t).sum() / (p.sum() + t.sum()), ["Dice coefficient"]),
        (python_division, ["ZeroDivisionError", "two empty 4×4 masks", "return 1.0"]),
        (lambda p, t: (p & t).sum() / max(p.sum(), 1), ["*predicted* area |P|", "precision"]),  # issue 17
        (lambda p, t: (p & t).sum() / max(t.sum(), 1), ["*true* area |T|", "recall"]),
        (lambda p, t: [iou(p, t)], ["one number"]),
        (lambda p, t: (p == t).mean(), ["pixel accuracy", "background pixels count"]),
        (lambda p, t: 1 - iou(p, t), ["returned 0.1758, expected 0.8242", "1 − IoU, a distance"]),
    ],
    ids=["areas", "membrane", "Dice", "empty", "over predicted", "over true", "list", "accuracy", "one minus"],
)
def test_foreground_iou(answer, words):
    assert_passed(checks.check_foreground_iou(iou), "0.824 on the test masks")
    assert_rejected(checks.check_foreground_iou(answer), *words)


def test_foreground_iou_names_nan_for_empty_masks():
    def nan_for_empty(p, t):  # the learner's 0 / 0, without a warning: the checker must add none of its own
        return (p & t).sum() / (p | t).sum() if (p | t).any() else float("nan")

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        feedback = checks.check_foreground_iou(nan_for_empty)
    assert_rejected(feedback, "two empty 4×4 masks", "returned nan, expected 1", "return 1.0")


def f_score(pred: np.ndarray, true: np.ndarray) -> float:
    tp = np.count_nonzero(pred & true)
    total = np.count_nonzero(pred) + np.count_nonzero(true)
    return 1.0 if total == 0 else 2 * tp / total


def isbi_pixel_error(probability, true, thresholds) -> float:
    true = true.astype(bool)
    return 1 - max(f_score(probability > t, true) for t in thresholds)


def accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean(pred == true.astype(bool)))


@pytest.mark.parametrize(
    "answer, words",
    [
        (  # issue 12: "got 0.0856, expected 0.0573" said nothing about what was computed
            lambda p, t, th: 1 - max(accuracy(p > x, t) for x in th),
            ["returned 0.0856, expected 0.0573", "1 − accuracy", "best threshold", "*F-score*"],
        ),
        (lambda p, t, th: 1 - accuracy(p > 0.5, t), ["1 − accuracy at threshold 0.5"]),
        (lambda p, t, th: 1 - accuracy(p > 0.3, t), ["1 − accuracy at threshold 0.3"]),
        (lambda p, t, th: 1 - f_score(p > 0.5, t.astype(bool)), ["F-score at the single threshold 0.5"]),
        (lambda p, t, th: max(f_score(p > x, t.astype(bool)) for x in th), ["best F-score itself"]),
        (lambda p, t, th: 1 - min(f_score(p > x, t.astype(bool)) for x in th), ["*worst* threshold"]),
        (lambda p, t, th: 1 - max(f_score(1 - p > x, t == 0) for x in th), ["membrane (class 0)"]),
        (lambda p, t, th: np.array([isbi_pixel_error(p, t, th)] * 2), ["one number"]),
        (  # issue 17: the probabilities scored as they are
            lambda p, t, th: 1 - 2 * (p * t).sum() / (p.sum() + t.sum()),
            ["`probability > t`", "without a threshold"],
        ),
        (lambda p, t, th: 1 - f_score(p.astype(bool), t.astype(bool)), ["without a threshold"]),
        (  # a learner's walk-through: passed while the test map's best-accuracy threshold was also the best-F one
            lambda p, t, th: 1 - f_score(p > th[np.argmax([accuracy(p > x, t) for x in th])], t.astype(bool)),
            ["cells are rare", "best *accuracy*"],
        ),
    ],
    ids=[
        "1 − best accuracy",
        "1 − accuracy at 0.5",
        "at 0.3",
        "F at 0.5",
        "F",
        "worst",
        "membrane",
        "array",
        "soft, no threshold",
        "bool, no threshold",
        "F at the best-accuracy threshold",
    ],  # fmt: skip
)
def test_isbi_pixel_error(answer, words):
    assert_passed(checks.check_isbi_pixel_error(isbi_pixel_error), "1 − max F = 0.057", "0.102")
    assert_rejected(checks.check_isbi_pixel_error(answer), *words)


def train_mode_after_the_forward(model, optimizer, loss_fn, x, y, w):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y, w)  # still in eval mode here
    loss.backward()
    optimizer.step()
    model.train()
    return loss.item()


def zero_grad_between_backward_and_step(model, optimizer, loss_fn, x, y, w):
    model.train()
    loss = loss_fn(model(x), y, w)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


@pytest.mark.parametrize(
    "answer, words",
    [
        (train_mode_after_the_forward, ["model.train()", "before the forward"]),
        (zero_grad_between_backward_and_step, ["no gradient", "between backward and step"]),
    ],
    ids=["train() too late", "zero_grad too late"],
)
def test_train_step_names_the_order_of_calls(answer, words):
    assert_rejected(checks.check_train_step(answer), *words)


def copied_into_place(obj, path):
    temporary = Path(str(path) + ".tmp")
    try:
        torch.save(obj, temporary)
        shutil.copyfile(temporary, path)  # a crash during the copy leaves half a checkpoint
    finally:
        temporary.unlink(missing_ok=True)


def removed_then_renamed(obj, path):
    temporary = Path(str(path) + ".tmp")
    try:
        torch.save(obj, temporary)
        if os.path.exists(path):
            os.remove(path)  # a crash here leaves no checkpoint at all
        os.rename(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def swallows_the_crash(obj, path):
    temporary = Path(str(path) + ".tmp")
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)  # and the caller believes the checkpoint is saved


def test_save_atomically_accepts_a_named_temporary_file_beside_the_checkpoint():
    def named_temporary(obj, path):
        with tempfile.NamedTemporaryFile(dir=Path(path).parent, delete=False) as handle:
            name = handle.name
        try:
            torch.save(obj, name)
            Path(name).replace(path)
        finally:
            Path(name).unlink(missing_ok=True)

    assert_passed(checks.check_save_atomically(named_temporary))


@pytest.mark.parametrize(
    "answer, words",
    [
        (copied_into_place, ["renamed into place", "os.replace", "copy"]),
        (removed_then_renamed, ["deleted", "before", "os.replace"]),
        (swallows_the_crash, ["swallowed", "raise"]),
    ],
    ids=["copied", "removed, then renamed", "crash swallowed"],
)
def test_save_atomically_names_a_copy_a_delete_and_a_swallowed_crash(answer, words):
    assert_rejected(checks.check_save_atomically(answer), *words)
    assert torch.save.__module__.startswith("torch") and os.replace.__module__ == "posix"


def f_score_floored(pred: np.ndarray, true: np.ndarray) -> int:
    tp = np.count_nonzero(pred & true)
    return 2 * tp // (np.count_nonzero(pred) + np.count_nonzero(true))  # 0 unless the mask is perfect


@pytest.mark.parametrize("as_float", [False, True], ids=["int", "float"])
def test_isbi_pixel_error_names_floor_division(as_float):
    def floored(p, t, th):
        error = 1 - max(f_score_floored(p > x, t.astype(bool)) for x in th)
        return float(error) if as_float else error

    assert_rejected(checks.check_isbi_pixel_error(floored), "returned 1, expected 0.0573", "`//`", "fraction")


@pytest.mark.parametrize(
    "answer, words",
    [
        (
            lambda p, t, th: 1 - max(f_score(p > th[i], t.astype(bool)) for i in range(len(th) - 1)),
            ["cells are all above 0.9", "returned 0.0442, expected 0.0161", "last one, 0.9", "skipped"],
        ),
        (
            lambda p, t, th: 1 - max(f_score(p > th[i], t.astype(bool)) for i in range(1, len(th))),
            ["background is all below 0.1", "first one, 0.1", "skipped"],
        ),
    ],
    ids=["last threshold skipped", "first threshold skipped"],
)
def test_isbi_pixel_error_names_a_threshold_left_out(answer, words):
    assert_rejected(checks.check_isbi_pixel_error(answer), *words)


@pytest.mark.parametrize(
    "answer, words",
    [
        (
            lambda p, t, th: 1 - max(iou(p > x, t) for x in th),  # exercise 2's function, reused
            ["returned 0.1085, expected 0.0573", "best IoU", "2·TP / (|P| + |T|)"],
        ),
        (lambda p, t, th: 1 - max(f_score(p < x, t.astype(bool)) for x in th), ["`probability < t`", "wrong side"]),
    ],
    ids=["IoU", "below the threshold"],
)
def test_isbi_pixel_error_names_the_iou_and_the_wrong_side(answer, words):
    assert_rejected(checks.check_isbi_pixel_error(answer), *words)


def test_isbi_pixel_error_uses_the_thresholds_it_is_given():
    def own_thresholds(p, t, th):
        return 1 - max(f_score(p > x, t.astype(bool)) for x in np.arange(1, 10) / 10)

    feedback = checks.check_isbi_pixel_error(own_thresholds)
    assert_rejected(feedback, "thresholds 0.2, 0.45, 0.7) returned 0.0573, expected 0.0538", "thresholds of your own")
    assert_passed(checks.check_isbi_pixel_error(lambda p, t, th: isbi_pixel_error(p, t, list(th))))


def test_isbi_pixel_error_names_the_mean_over_thresholds():
    def mean_over_thresholds(p, t, th):
        return 1 - float(np.mean([f_score(p > x, t.astype(bool)) for x in th]))

    assert_rejected(checks.check_isbi_pixel_error(mean_over_thresholds), "mean F-score over the thresholds", "best")
