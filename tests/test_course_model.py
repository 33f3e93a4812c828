"""Notebook 09 never measures a weak model silently (issue 17): notebook 08's run only when it beats the constant
answer beyond noise on the validation images, else the shipped model, with a sentence that says why."""

from __future__ import annotations

import numpy as np
import torch

from unet_lib import checkpoints, evaluation, verdicts
from unet_lib.model import UNetModel


def images_and_labels() -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    labels = [(rng.random((60, 60)) < 0.8).astype(np.uint8) for _ in range(3)]  # mostly cell, as on ISBI
    images = [rng.random((60, 60)).astype(np.float32) for _ in range(3)]
    return images, labels


def test_a_model_not_above_the_constant_answer_gives_way_to_the_shipped_one(tmp_path, monkeypatch):
    torch.manual_seed(0)
    weak = UNetModel(base_channels=2, depth=2, padding="same", batch_norm=True)
    with torch.no_grad():  # a model that answers "membrane" everywhere: far below "cell everywhere"
        weak.head.bias.copy_(torch.tensor([5.0, -5.0]))
    checkpoints.save_checkpoint(tmp_path / "model.ckpt", weak, step=3)
    images, labels = images_and_labels()
    chosen, why = evaluation.choose_course_model(images, labels, candidate=tmp_path / "model.ckpt")
    assert chosen == checkpoints.SHIPPED_CHECKPOINT
    assert "not above the constant answer" in why and "(3 steps)" in why and "worse" in why
    # the advice is code the learner can paste into notebook 09's cell, and it names notebook 08's model
    code = why.split("`")[1]
    assert code == "checkpoint = checkpoints.course_checkpoint()"
    monkeypatch.setenv(checkpoints.RUNS_ENV, str(tmp_path.parent))
    monkeypatch.setattr(checkpoints, "NOTEBOOK08_RUN", tmp_path.name)
    monkeypatch.delenv("UNET_FAST", raising=False)
    namespace = {"checkpoints": checkpoints}
    exec(code, namespace)
    assert namespace["checkpoint"] == tmp_path / "model.ckpt"


def test_without_a_run_of_notebook_08_the_shipped_model_is_used():
    images, labels = images_and_labels()
    chosen, why = evaluation.choose_course_model(images, labels, candidate=checkpoints.SHIPPED_CHECKPOINT)
    assert chosen == checkpoints.SHIPPED_CHECKPOINT and why.startswith("the shipped checkpoint")


def test_a_model_above_the_constant_answer_is_used(tmp_path, monkeypatch):
    images, labels = images_and_labels()
    torch.manual_seed(0)
    net = UNetModel(base_channels=2, depth=2, padding="same", batch_norm=True)
    checkpoints.save_checkpoint(tmp_path / "model.ckpt", net, step=7)

    def perfect(model, imgs, labs, threshold=0.5):  # a model that knows the labels: only the rule is tested here
        return verdicts.above_baseline([1.0] * len(labs), [float(y.mean()) for y in labs])

    monkeypatch.setattr(evaluation, "above_constant_answer", perfect)
    chosen, why = evaluation.choose_course_model(images, labels, candidate=tmp_path / "model.ckpt")
    assert chosen == tmp_path / "model.ckpt" and "(7 steps)" in why and "better" in why
