"""Checkers of notebooks 08 and 09: each accepts the reference and names typical mistakes."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch

from unet_lib import checks, metrics, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def stub(*args, **kwargs):
    raise NotImplementedError("your turn")


# -- notebook 08 --------------------------------------------------------------------------
def test_check_train_step():
    assert checks.check_train_step(train.train_step)

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

    def returns_tensor(model, optimizer, loss_fn, x, y, w):
        train.train_step(model, optimizer, loss_fn, x, y, w)
        return torch.tensor(1.0)

    assert "zero_grad" in checks.check_train_step(without_zero_grad).message
    assert "model.train()" in checks.check_train_step(without_train_mode).message
    assert "optimizer.step()" in checks.check_train_step(without_step).message
    assert "loss.item()" in checks.check_train_step(returns_tensor).message
    assert "your turn" in checks.check_train_step(stub).message


def test_check_should_stop():
    def reference(step, steps, elapsed, minutes):
        return (steps is not None and step >= steps) or (minutes is not None and elapsed >= 60 * minutes)

    assert checks.check_should_stop(reference)
    assert (
        "× 60"
        in checks.check_should_stop(lambda s, n, e, m: (n is not None and s >= n) or (m is not None and e >= m)).message
    )
    assert (
        "≥"
        in checks.check_should_stop(
            lambda s, n, e, m: (n is not None and s > n) or (m is not None and e > 60 * m)
        ).message
    )
    assert "None" in checks.check_should_stop(lambda s, n, e, m: s >= (n or 0) or e >= 60 * (m or 0)).message
    assert not checks.check_should_stop(stub)


def test_check_save_atomically():
    def reference(obj, path):
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

    assert checks.check_save_atomically(reference)
    assert (
        "destroyed the previous checkpoint"
        in checks.check_save_atomically(lambda obj, path: torch.save(obj, path)).message
    )
    assert "left behind" in checks.check_save_atomically(leaves_temporary).message
    assert "your turn" in checks.check_save_atomically(stub).message
    assert torch.save.__module__.startswith("torch")  # the checker put the real torch.save back


# -- notebook 09 --------------------------------------------------------------------------
def test_check_count_tiles():
    assert checks.check_count_tiles(lambda h, w, s: -(-h // s) * -(-w // s))
    assert "round up" in checks.check_count_tiles(lambda h, w, s: (h // s) * (w // s)).message
    assert "separately" in checks.check_count_tiles(lambda h, w, s: -(-(h * w) // s**2)).message
    assert not checks.check_count_tiles(stub)


def test_check_foreground_iou():
    assert checks.check_foreground_iou(metrics.iou)
    assert "union" in checks.check_foreground_iou(lambda p, t: (p & t).sum() / (p.sum() + t.sum())).message
    assert "class 1" in checks.check_foreground_iou(lambda p, t: metrics.iou(1 - p, 1 - t)).message
    assert "Dice" in checks.check_foreground_iou(metrics.dice).message
    with np.errstate(invalid="ignore"):
        assert "1.0" in checks.check_foreground_iou(lambda p, t: (p & t).sum() / (p | t).sum()).message
    assert not checks.check_foreground_iou(stub)


def test_check_isbi_pixel_error():
    assert checks.check_isbi_pixel_error(metrics.isbi_pixel_error)
    assert "1 − accuracy" in checks.check_isbi_pixel_error(lambda p, t, th: metrics.pixel_error(p > 0.5, t)).message
    assert (
        "best F-score itself"
        in checks.check_isbi_pixel_error(lambda p, t, th: metrics.max_f_score(p, t, th)[0]).message
    )
    assert "worst" in checks.check_isbi_pixel_error(lambda p, t, th: 1 - metrics.f_scores(p, t, th).min()).message
    assert not checks.check_isbi_pixel_error(stub)
