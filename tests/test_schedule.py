"""Warm-up and batch-norm momentum, the two schedule settings ``tools/recipe_sweep.py`` screens (issue 21): the
rate each step really uses, the momentum each layer really has, and the ``train`` options that set them."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch
from test_train import ToyTiles  # bright squares on noise, 36² tiles with 20² labels (tests/test_train.py)

from unet_lib import cli, commands, train
from unet_lib.model import UNetModel

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

TINY = ["--base-channels", "2", "--depth", "2", "--tile-size", "92", "--batch-size", "1", "--val-tiles", "1"]


def rates_of_each_step(monkeypatch, **options) -> list[float]:
    """The learning rate of every step ``fit`` takes: the optimiser's, read when the loss is computed."""
    made: list[torch.optim.Optimizer] = []
    make = train.make_optimizer
    monkeypatch.setattr(train, "make_optimizer", lambda *a, **k: made.append(make(*a, **k)) or made[-1])
    rates: list[float] = []

    def loss(logits, y, w):
        rates.append(made[0].param_groups[0]["lr"])
        return torch.nn.functional.cross_entropy(logits, y)

    torch.manual_seed(0)
    train.fit(UNetModel(base_channels=2, depth=1), ToyTiles(), loss_fn=loss, batch_size=2, device="cpu", **options)
    return rates


def test_warm_up_rises_linearly_to_the_full_rate_then_the_cosine_takes_over(monkeypatch):
    assert [train.warmed_up_lr(0.4, step, 4) for step in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    assert train.warmed_up_lr(0.4, 0, 0) == 0.4  # no warm-up: the full rate from the first step
    plain = rates_of_each_step(monkeypatch, steps=6, lr=0.4, warmup_steps=4)
    assert plain == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    annealed = rates_of_each_step(monkeypatch, steps=6, lr=0.4, warmup_steps=4, anneal=True)
    cosine = [train.annealed_lr(0.4, step / 6) for step in range(6)]
    assert annealed == pytest.approx([rate * min(1, (step + 1) / 4) for step, rate in enumerate(cosine)])
    assert rates_of_each_step(monkeypatch, steps=3, lr=0.4) == pytest.approx([0.4] * 3)  # the default: unchanged


def test_batch_norm_momentum_reaches_every_layer_and_moves_the_running_statistics_by_that_much():
    def trained(momentum: float | None) -> UNetModel:
        torch.manual_seed(0)
        model = UNetModel(base_channels=2, depth=1, batch_norm=True)
        train.fit(model, ToyTiles(), steps=1, batch_size=2, device="cpu", bn_momentum=momentum)
        return model

    layers = layers_of(trained(0.01))
    assert layers and all(layer.momentum == 0.01 for layer in layers)
    assert all(layer.momentum == 0.1 for layer in layers_of(trained(None)))
    # one step from running mean 0: the first layer's new running mean is momentum × its batch's mean (the same
    # batch and weights in both runs), so a tenth of the momentum moves it a tenth as far
    slow, usual = (next(iter(layers_of(trained(m)))).running_mean for m in (0.01, 0.1))
    assert usual.abs().max() > 0 and torch.allclose(slow * 10, usual, rtol=1e-4, atol=1e-7)


def layers_of(model: UNetModel) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"warmup_steps": -1}, "warmup_steps must be a whole number ≥ 0"),
        ({"warmup_steps": 2.5}, "warmup_steps must be a whole number ≥ 0"),
        ({"bn_momentum": 0}, "bn_momentum must be a number above 0 and at most 1"),
        ({"bn_momentum": 1.5}, "bn_momentum must be a number above 0 and at most 1"),
    ],
)
def test_fit_refuses_a_schedule_that_cannot_work(options, message):
    with pytest.raises(ValueError, match=message):
        train.fit(UNetModel(base_channels=2, depth=1), ToyTiles(), steps=1, device="cpu", **options)


def recipe(*options: str) -> train.Recipe:
    return cli.new_recipe(cli.build_parser().parse_args(["train", *options]))


def test_the_options_set_the_recipe_and_the_first_line_says_so():
    assert (train.CPU_DEFAULT.warmup_steps, train.CPU_DEFAULT.bn_momentum) == (0, 0.1)  # no warm-up; PyTorch's
    assert recipe("--warmup-steps", "70").warmup_steps == 70
    assert recipe("--bn-momentum", "0.01").bn_momentum == 0.01
    assert commands.variants(train.CPU_DEFAULT) == ""
    said = commands.variants(recipe("--warmup-steps", "70", "--bn-momentum", "0.01"))
    assert said == ", warm-up 70 steps, batch-norm momentum 0.01"
    stored_before = {k: v for k, v in asdict(train.CPU_DEFAULT).items() if k not in ("warmup_steps", "bn_momentum")}
    assert train.Recipe(**stored_before) == train.CPU_DEFAULT  # a checkpoint of an earlier version resumes as it was


def test_a_momentum_without_batch_norm_or_out_of_range_is_one_line_and_status_2(tmp_path, capsys):
    def error_of(*argv: str) -> str:
        assert cli.main(["train", "--steps", "1", "--out", str(tmp_path / "never"), *argv]) == 2
        return capsys.readouterr().err

    assert "this recipe has none: leave it out" in error_of("--no-batch-norm", "--bn-momentum", "0.01")
    assert "this recipe has none" in error_of("--paper", "--bn-momentum", "0.01")
    assert "must be above 0 and at most 1, got 0" in error_of("--bn-momentum", "0")
    assert "must be at least 0, got -5" in error_of("--warmup-steps", "-5")
    assert not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="bn_momentum must be a number"):  # True is an int to Python, not a momentum
        train.fit(UNetModel(base_channels=2, depth=1), ToyTiles(), steps=1, device="cpu", bn_momentum=True)


def test_train_trains_with_the_schedule_records_it_and_resume_continues_it(
    two_image_folder, tmp_path, capsys, monkeypatch
):
    seen = {"rates": [], "momenta": set()}
    make, step = train.make_optimizer, train.train_step

    def recording_optimizer(model, *args, **kwargs):
        seen["momenta"] |= {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
        seen["optimizer"] = make(model, *args, **kwargs)
        return seen["optimizer"]

    def recording_step(*args, **kwargs):
        seen["rates"].append(seen["optimizer"].param_groups[0]["lr"])
        return step(*args, **kwargs)

    monkeypatch.setattr(train, "make_optimizer", recording_optimizer)
    monkeypatch.setattr(train, "train_step", recording_step)
    first = tmp_path / "first"
    options = ["--data", str(two_image_folder), *TINY, "--lr", "0.4", "--warmup-steps", "4", "--bn-momentum", "0.5"]
    assert cli.main(["train", *options, "--steps", "2", "--out", str(first)]) == 0
    assert "warm-up 4 steps, batch-norm momentum 0.5" in capsys.readouterr().out
    recipe_stored = json.loads((first / "metrics.json").read_text())["recipe"]
    assert (recipe_stored["warmup_steps"], recipe_stored["bn_momentum"]) == (4, 0.5)
    resume = ["train", "--resume", str(first / "last.ckpt"), "--steps", "6"]
    assert cli.main([*resume, "--warmup-steps", "5", "--out", str(tmp_path / "clash")]) == 2
    assert "--warmup-steps 5 (the checkpoint has warmup_steps 4)" in capsys.readouterr().err
    assert cli.main([*resume, "--bn-momentum", "0.5", "--out", str(tmp_path / "same")]) == 0  # as stored: no clash
    assert json.loads((tmp_path / "same" / "metrics.json").read_text())["recipe"]["bn_momentum"] == 0.5
    # the rates the six steps used, two before the resume and four after: the warm-up goes on where it stopped
    cosine = [train.annealed_lr(0.4, k / total) for total, ks in ((2, range(2)), (6, range(2, 6))) for k in ks]
    assert seen["rates"] == pytest.approx([rate * min(1, (k + 1) / 4) for k, rate in enumerate(cosine)])
    assert seen["momenta"] == {0.5}  # the model of the first run and the resumed one


def test_a_momentum_for_a_resumed_run_without_batch_norm_is_refused(two_image_folder, tmp_path, capsys):
    first = tmp_path / "plain"
    options = ["--data", str(two_image_folder), *TINY, "--no-batch-norm", "--steps", "1", "--out", str(first)]
    assert cli.main(["train", *options]) == 0
    resume = ["train", "--resume", str(first / "last.ckpt"), "--steps", "2", "--out", str(tmp_path / "never")]
    assert cli.main([*resume, "--bn-momentum", "0.1"]) == 2
    assert "has none: leave it out" in capsys.readouterr().err and not (tmp_path / "never").exists()
