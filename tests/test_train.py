"""unet_lib.train: the loop learns, checkpoints are atomic and validated, resume is exact."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from unet_lib import batches, checkpoints, train
from unet_lib.model import UNetModel

IN, OUT = 36, 20  # a depth-1 U-Net maps 36×36 tiles to 20×20


class ToyTiles(Dataset):
    """Bright squares on noise; the label is the square (class 1). Deterministic per index."""

    def __init__(self, n: int = 16, weights: bool = True, interrupt_at: int | None = None) -> None:
        self.n, self.weights, self.interrupt_at = n, weights, interrupt_at

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if self.interrupt_at is not None and i == self.interrupt_at:
            raise KeyboardInterrupt
        rng = np.random.default_rng(i)
        image = rng.normal(0, 0.5, (IN, IN)).astype(np.float32)
        top, left = rng.integers(8, 20, 2)
        image[top : top + 8, left : left + 8] += 2.0
        label = (image[8:-8, 8:-8] > 1.0).astype(np.int64)
        item = (torch.from_numpy(image[None]), torch.from_numpy(label))
        return item + (torch.ones(OUT, OUT),) if self.weights else item


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_model(seed: int = 0, **kwargs) -> UNetModel:
    torch.manual_seed(seed)
    return UNetModel(base_channels=4, depth=1, **kwargs)


def plain_ce(logits, y, w):
    return torch.nn.functional.cross_entropy(logits, y)


def test_fit_lowers_the_loss_on_a_tiny_problem():
    model = tiny_model()
    data = ToyTiles()
    before, _ = train.validate(model, data, plain_ce, torch.device("cpu"))
    history = train.fit(
        model, data, data, steps=20, batch_size=4, lr=0.01, loss_fn=plain_ce, val_every=10, device="cpu"
    )
    assert history.stopped == "steps" and history.step[-1] == 20
    assert history.val_step == [10, 20]
    assert history.val_loss[-1] < 0.5 * before
    assert np.mean(history.loss[-5:]) < 0.7 * np.mean(history.loss[:5])


def test_fit_with_the_default_weighted_loss_and_items_without_weights():
    model = tiny_model()
    history = train.fit(model, ToyTiles(weights=False), steps=3, batch_size=2, device="cpu")
    assert len(history.loss) == 3 and all(np.isfinite(history.loss))


def test_fit_needs_a_budget_and_stops_on_time():
    with pytest.raises(ValueError, match="budget"):
        train.fit(tiny_model(), ToyTiles(), device="cpu")
    history = train.fit(tiny_model(), ToyTiles(), minutes=1e-9, device="cpu")
    assert history.stopped == "time" and history.step == []


def test_batch_indices_shuffle_each_pass_and_depend_only_on_the_step():
    first_pass = [i for step in range(4) for i in batches.batch_indices(step, 4, 16, seed=3)]
    assert sorted(first_pass) == list(range(16))
    second_pass = [i for step in range(4, 8) for i in batches.batch_indices(step, 4, 16, seed=3)]
    assert sorted(second_pass) == list(range(16)) and second_pass != first_pass
    assert batches.batch_indices(5, 4, 16, seed=3) == batches.batch_indices(5, 4, 16, seed=3)
    assert batches.batch_indices(5, 4, 16, seed=4) != batches.batch_indices(5, 4, 16, seed=3)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, optimizer):
    options = dict(batch_size=2, loss_fn=plain_ce, optimizer=optimizer, lr=0.01, device="cpu", seed=7, val_every=2)
    kwargs = dict(batch_norm=True, dropout=0.3)  # batch-norm buffers and drop-out's RNG must resume too
    straight = tiny_model(**kwargs)
    train.fit(straight, ToyTiles(), ToyTiles(4), steps=6, **options)

    first = tiny_model(**kwargs)
    train.fit(first, ToyTiles(), ToyTiles(4), steps=3, checkpoint=tmp_path / "last.ckpt", **options)
    resumed = tiny_model(seed=99, **kwargs)  # different initial weights: all must come from the checkpoint
    history = train.fit(resumed, ToyTiles(), ToyTiles(4), steps=6, resume=tmp_path / "last.ckpt", **options)

    assert history.step == list(range(1, 7)) and history.val_step == [2, 4, 6]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_checkpoint_round_trip_and_weights_only_loading(tmp_path):
    model = tiny_model(batch_norm=True).eval()
    path = checkpoints.save_checkpoint(tmp_path / "m.ckpt", model, step=5, threshold=0.4)
    raw = torch.load(path, weights_only=True)  # no pickled code: plain tensors and values
    assert raw["step"] == 5 and raw["threshold"] == 0.4 and raw["model_config"] == model.config
    loaded = checkpoints.load_model(path, device="cpu")
    x = torch.randn(1, 1, IN, IN)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.ckpt"]  # no temporary file left behind


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = checkpoints.save_checkpoint(tmp_path / "m.ckpt", tiny_model(), step=1)

    def broken_save(obj, f):
        f.write(b"half a file")  # save_checkpoint hands torch.save an open file (so a full disk says so)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoints.save_checkpoint(path, tiny_model(), step=2)
    assert checkpoints.load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.ckpt"]


def test_keyboard_interrupt_saves_a_checkpoint_and_resume_continues(tmp_path, capsys):
    data = ToyTiles(interrupt_at=int(batches.batch_indices(3, 2, 16)[0]))  # the first item of step 4
    history = train.fit(
        tiny_model(), data, steps=10, batch_size=2, loss_fn=plain_ce, device="cpu", checkpoint=tmp_path / "last.ckpt"
    )
    assert history.stopped == "interrupted" and history.step[-1] == 3
    assert "Interrupted at step 3" in capsys.readouterr().out
    assert checkpoints.load_checkpoint(tmp_path / "last.ckpt")["step"] == 3
    history = train.fit(
        tiny_model(), ToyTiles(), steps=5, batch_size=2, loss_fn=plain_ce, device="cpu", resume=tmp_path / "last.ckpt"
    )
    assert history.step == [1, 2, 3, 4, 5] and history.stopped == "steps"


def test_checkpoint_every_n_steps(tmp_path, monkeypatch):
    saved = []
    original = checkpoints.save_checkpoint
    monkeypatch.setattr(
        train,
        "save_checkpoint",
        lambda path, model, opt, step, *a, **k: saved.append(step) or original(path, model, opt, step, *a, **k),
    )
    train.fit(
        tiny_model(),
        ToyTiles(),
        steps=7,
        batch_size=2,
        loss_fn=plain_ce,
        device="cpu",
        checkpoint=tmp_path / "last.ckpt",
        checkpoint_every=3,
    )
    assert saved == [3, 6, 7]


def test_clear_errors_for_missing_damaged_foreign_and_mismatched_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoints.load_model(tmp_path / "nothing.ckpt")
    (tmp_path / "damaged.ckpt").write_bytes(os.urandom(256))
    with pytest.raises(checkpoints.CheckpointError, match="damaged"):
        checkpoints.load_model(tmp_path / "damaged.ckpt")
    torch.save(tiny_model().state_dict(), tmp_path / "bare.pt")
    with pytest.raises(checkpoints.CheckpointError, match="bare state_dict"):
        checkpoints.load_model(tmp_path / "bare.pt")
    state = torch.load(checkpoints.save_checkpoint(tmp_path / "m.ckpt", tiny_model()), weights_only=True)
    state["model_config"]["depth"] = 2  # the weights are a depth-1 network's
    torch.save(state, tmp_path / "other.ckpt")
    with pytest.raises(checkpoints.CheckpointError, match="do not fit"):
        checkpoints.load_model(tmp_path / "other.ckpt")
    del state["model_config"]["up_mode"]
    torch.save(state, tmp_path / "malformed.ckpt")
    with pytest.raises(checkpoints.CheckpointError, match="model config"):
        checkpoints.load_model(tmp_path / "malformed.ckpt")
    with pytest.raises(checkpoints.CheckpointError, match="different U-Net"):
        train.fit(UNetModel(base_channels=8, depth=1), ToyTiles(), steps=1, device="cpu", resume=tmp_path / "m.ckpt")
    with pytest.raises(checkpoints.CheckpointError, match="no Adam state"):
        train.fit(tiny_model(), ToyTiles(), steps=1, device="cpu", resume=tmp_path / "m.ckpt")


def test_make_optimizer_offers_the_papers_sgd():
    sgd = train.make_optimizer(tiny_model(), "sgd")
    assert sgd.defaults["momentum"] == 0.99
    assert train.make_optimizer(tiny_model(), "adam", lr=0.5).defaults["lr"] == 0.5
    with pytest.raises(ValueError, match="optimizer must be"):
        train.make_optimizer(tiny_model(), "rmsprop")


def test_history_round_trip_and_smoothing():
    history = train.History(step=[1, 2, 3], loss=[3.0, 1.0, 2.0], seconds=1.5, stopped="steps")
    assert train.History.from_dict(history.to_dict()) == history
    assert history.smoothed_loss(window=2) == [3.0, 2.0, 1.5]


def test_annealing_runs_from_the_full_rate_to_nearly_zero():
    assert train.annealed_lr(0.1, 0.0) == pytest.approx(0.1)
    assert train.annealed_lr(0.1, 0.5) == pytest.approx(0.1 * (0.02 + 0.98 * 0.5))
    assert train.annealed_lr(0.1, 1.0) == pytest.approx(0.002)
    assert train.budget_used(5, 10, 0.0, None) == 0.5
    assert train.budget_used(5, None, 0.0, 1e-9) == 1.0  # the time share wins
    model = tiny_model()
    train.fit(model, ToyTiles(), steps=4, batch_size=2, lr=0.1, anneal=True, loss_fn=plain_ce, device="cpu")
    # the last step ran at the rate for 3/4 of the budget
    assert train.annealed_lr(0.1, 0.75) < 0.02


def test_a_step_time_says_once_when_its_count_is_rough():
    """train's forecast, the pre-class check and notebook 08 add the same caution when the timed steps spread by
    more than half their median, and none when they do not."""
    quiet = train.StepTime(seconds=1.0, spread=0.1, steps=9, precision="fp32", device="cpu")
    assert not quiet.busy and quiet.caution() == ""
    busy = train.StepTime(seconds=1.0, spread=0.6, steps=2, precision="fp32", device="cpu")
    assert (
        busy.busy and busy.caution() == "a rough count: the timed steps spread by 0.60 s, more than half their median"
    )
