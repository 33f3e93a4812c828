"""Training the U-Net: one loop you can read in one sitting (notebook 08).

``fit`` repeats the paper's recipe — draw tiles, compute the weighted cross-entropy,
step the optimiser — until a step count or a time budget is reached. Around that loop:

* a progress bar (``tqdm.auto``: a widget in JupyterLab, text in a terminal; silent
  under ``UNET_FAST=1``) and, in a notebook, loss and validation curves that update
  one figure in place;
* two recipes: ``PAPER`` (the full U-Net, one 572² tile per step, SGD with momentum
  0.99) and ``CPU_DEFAULT`` (a quarter of the width, batch norm, Adam with a cosine-annealed
  rate, no augmentation), which learns in minutes on a laptop (notebook 08 explains why);
* reproducibility: the batch of step ``s`` depends only on ``(seed, s)``, and the RNG
  state travels in the checkpoint, so a resumed run ends with the same weights as an
  uninterrupted one (the tests check it);
* checkpoints (``unet_lib.checkpoints``: atomic, validated) every ``checkpoint_every`` steps,
  at the end, and when you press Ctrl-C / interrupt the kernel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from . import runtime
from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .losses import weighted_cross_entropy
from .viz import LiveCurves

LossFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]

OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {
    "adam": {"lr": 1e-3},
    "sgd": {"lr": 0.01, "momentum": 0.99},
}
"""Learning rates per optimiser. The paper states SGD with momentum 0.99 but no learning rate; 0.01 is ours."""


@dataclass(frozen=True)
class Recipe:
    """How to train: the network's size, the tiles and the optimiser (notebook 08 compares the two below)."""

    base_channels: int
    depth: int
    batch_norm: bool
    tile_size: int
    batch_size: int
    optimizer: str
    lr: float
    augment: bool
    anneal: bool


PAPER = Recipe(
    base_channels=64,
    depth=4,
    batch_norm=False,
    tile_size=572,
    batch_size=1,
    optimizer="sgd",
    lr=0.01,
    augment=True,
    anneal=False,
)
"""The paper's setting: the full U-Net, one 572×572 augmented tile per step, SGD with momentum 0.99 (rate ours)."""

CPU_DEFAULT = Recipe(
    base_channels=16,
    depth=4,
    batch_norm=True,
    tile_size=380,
    batch_size=2,
    optimizer="adam",
    lr=1e-3,
    augment=False,
    anneal=True,
)
"""The course default for minutes on a laptop CPU: a quarter of the width, batch norm, Adam with a cosine-annealed
rate, and plain random tiles (augmentation pays off in long runs, not in short ones; notebook 08)."""


# -- the record of a run ------------------------------------------------------------------
@dataclass
class History:
    """What ``fit`` measured: training loss per step, validation loss/accuracy every few steps."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = ""  # "steps", "time" or "interrupted"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def smoothed_loss(self, window: int = 20) -> list[float]:
        """Running mean of the training loss over ``window`` steps (single steps are noisy)."""
        losses = np.asarray(self.loss, dtype=float)
        return [float(losses[max(0, i - window + 1) : i + 1].mean()) for i in range(len(losses))]


# -- the pieces of one step ---------------------------------------------------------------
def make_optimizer(model: nn.Module, name: str = "adam", lr: float | None = None) -> torch.optim.Optimizer:
    """``"adam"`` (the CPU default) or ``"sgd"`` (the paper: momentum 0.99), at ``lr`` or the default rate."""
    if name not in OPTIMIZER_DEFAULTS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_DEFAULTS)}, got {name!r}")
    settings = dict(OPTIMIZER_DEFAULTS[name], **({} if lr is None else {"lr": lr}))
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), **settings)
    return torch.optim.Adam(model.parameters(), **settings)


def batch_indices(step: int, batch_size: int, num_items: int, seed: int = 0) -> list[int]:
    """Which dataset items form the batch of ``step``: a fresh shuffle per pass, seeded by ``(seed, pass)``.

    Computed from the step alone, so a resumed run draws exactly the batches it would have drawn.
    """
    if num_items < 1:
        raise ValueError("the training dataset is empty")
    indices = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, num_items)
        indices.append(int(np.random.default_rng([seed, epoch]).permutation(num_items)[offset]))
    return indices


def load_batch(dataset: Dataset, indices: Sequence[int], device: torch.device) -> tuple[Tensor, Tensor, Tensor | None]:
    """Stack the items ``(x, y[, w])`` into batch tensors on ``device``; ``w`` is ``None`` when items have none."""
    items = [dataset[i] for i in indices]
    x, y = (torch.stack([torch.as_tensor(item[k]) for item in items]).to(device) for k in (0, 1))
    w = torch.stack([torch.as_tensor(item[2]) for item in items]).to(device) if len(items[0]) > 2 else None
    return x, y, w


def default_loss() -> LossFn:
    """The paper's loss: pixel-wise softmax cross-entropy weighted by the weight map (notebook 07)."""
    return weighted_cross_entropy


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: LossFn, x: Tensor, y: Tensor, w: Tensor | None
) -> float:
    """One step of gradient descent on one batch; returns the loss before the step."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y, w)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def validate(
    model: nn.Module, dataset: Dataset, loss_fn: LossFn, device: torch.device, batch_size: int = 4
) -> tuple[float, float]:
    """Mean loss and pixel accuracy on every item of ``dataset`` (fixed tiles, no augmentation)."""
    model.eval()
    losses, correct, total = [], 0, 0
    for start in range(0, len(dataset), batch_size):
        x, y, w = load_batch(dataset, range(start, min(start + batch_size, len(dataset))), device)
        logits = model(x)
        losses.append(loss_fn(logits, y, w).item() * len(x))
        correct += int((logits.argmax(1) == y).sum())
        total += y.numel()
    return float(np.sum(losses) / len(dataset)), correct / total


def resume_from(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, History]:
    """Put a checkpoint's weights, optimiser state and RNG state back, to continue where it stopped."""
    state = load_checkpoint(path)
    if state["model_config"] != model.config:
        raise CheckpointError(
            f"{path} is for a different U-Net ({state['model_config']}) than the one being "
            f"trained ({model.config}); build the model with the checkpoint's config"
        )
    if state["optimizer_state"] is None or state["optimizer_name"] != type(optimizer).__name__.lower():
        raise CheckpointError(
            f"{path} holds no {type(optimizer).__name__} state to resume from "
            f"(it has {state['optimizer_name']}); resume with the optimiser it was trained with"
        )
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    torch.set_rng_state(state["torch_rng_state"])
    if state.get("cuda_rng_states") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng_states"])
    return state["step"], History.from_dict(state["history"])


# -- the loop -----------------------------------------------------------------------------
def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


def stop_reason(step: int, steps: int | None, start: float, minutes: float | None) -> str:
    """Why training should stop now — ``"steps"`` or ``"time"`` — or ``""`` to go on (``None`` = no such budget)."""
    if steps is not None and step >= steps:
        return "steps"
    if minutes is not None and time.perf_counter() - start >= 60 * minutes:
        return "time"
    return ""


def budget_used(step: int, steps: int | None, start: float, minutes: float | None) -> float:
    """How much of the budget is spent, from 0 to 1: the larger of the step share and the time share."""
    shares = [step / steps if steps else 0.0]
    if minutes:
        shares.append((time.perf_counter() - start) / (60 * minutes))
    return min(1.0, max(shares))


def annealed_lr(lr: float, used: float, floor: float = 0.02) -> float:
    """Cosine annealing: the full rate at the start, falling smoothly to ``floor × lr`` when the budget is spent.

    Big steps early cover ground; small steps late settle into a good minimum instead
    of bouncing around it, which matters most in a short run.
    """
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * used)))


def fit(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    batch_size: int = 4,
    optimizer: str = "adam",
    lr: float | None = None,
    loss_fn: LossFn | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    val_every: int = 50,
    resume: str | Path | None = None,
    live_plot: bool | None = None,
    progress: bool | None = None,
    anneal: bool = False,
    notes: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` on ``train_data`` items ``(x, y, w)`` until ``steps`` steps or ``minutes`` minutes.

    ``steps`` counts from the very start of training, so resuming a 200-step checkpoint
    with ``steps=500`` does 300 more. ``minutes`` limits this call's wall time. Every
    ``val_every`` steps the loss and pixel accuracy on ``val_data`` are recorded (and
    drawn, in a notebook). With ``anneal`` the learning rate follows a cosine from
    ``lr`` down to nearly 0 over the budget (``annealed_lr``). A checkpoint is written
    every ``checkpoint_every`` steps, at the end and on Ctrl-C, if ``checkpoint`` names a
    file; ``notes`` (plain values, e.g. the recipe) go into it too. Returns the ``History``.
    """
    if steps is None and minutes is None:
        raise ValueError("give a budget: steps=…, minutes=… or both")
    # set up: device, seeds, optimiser; when resuming, the saved weights, optimiser state and RNG
    device = runtime.pick_device(None if device is None else str(device))
    loss_fn = loss_fn or default_loss()
    runtime.seed_everything(seed)
    model.to(device)
    opt = make_optimizer(model, optimizer, lr)
    step, history = resume_from(resume, model, opt) if resume else (0, History())
    curves = live_curves(live_plot)
    bar = progress_bar(steps, step, progress)
    start, seconds_before = time.perf_counter(), history.seconds

    def save() -> None:
        history.seconds = seconds_before + time.perf_counter() - start
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, opt, step, history, seed=seed, **(notes or {}))

    try:  # the loop: one batch, one step, until the budget is spent (`:=` keeps the reason to stop)
        while not (reason := stop_reason(step, steps, start, minutes)):
            if anneal:
                for group in opt.param_groups:
                    group["lr"] = annealed_lr(opt.defaults["lr"], budget_used(step, steps, start, minutes))
            x, y, w = load_batch(train_data, batch_indices(step, batch_size, len(train_data), seed), device)
            loss = train_step(model, opt, loss_fn, x, y, w)
            step += 1
            history.step.append(step)
            history.loss.append(loss)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if val_data is not None and step % val_every == 0:
                val_loss, val_accuracy = validate(model, val_data, loss_fn, device, batch_size)
                history.val_step.append(step)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_accuracy)
                if curves is not None:
                    curves.update(history)
            if step % checkpoint_every == 0:
                save()
    except KeyboardInterrupt:  # Ctrl-C in a terminal, ■ (interrupt the kernel) in Jupyter
        reason = "interrupted"
        print(f"Interrupted at step {step}: saving a checkpoint and stopping.")
    bar.close()
    history.stopped = reason
    save()
    if curves is not None:
        curves.update(history)
    return history


def progress_bar(steps: int | None, initial: int, enabled: bool | None = None):
    """A ``tqdm.auto`` bar: a widget in JupyterLab, text in a terminal, silent under ``UNET_FAST=1``."""
    enabled = not runtime.fast_mode() if enabled is None else enabled
    return tqdm(total=steps, initial=initial, disable=not enabled, unit="step", desc="training", dynamic_ncols=True)


def live_curves(enabled: bool | None = None):
    """The in-place loss/validation figure (``viz.LiveCurves``), by default only when running in a notebook."""
    if enabled is None:
        enabled = _in_notebook()
    if not enabled:
        return None
    return LiveCurves()
