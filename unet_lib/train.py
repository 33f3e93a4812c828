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
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from . import distributed, runtime
from .batches import batch_stream, default_workers, load_batch
from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .distributed import World
from .losses import weighted_cross_entropy
from .model import UNetModel
from .viz import LiveCurves

LossFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]

OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {
    "adam": {"lr": 1e-3},
    "sgd": {"lr": 0.01, "momentum": 0.99},
}
"""Learning rates per optimiser. The paper states SGD with momentum 0.99 but no learning rate; 0.01 is ours."""


@dataclass(frozen=True)
class Recipe:
    """How to train: the network's size, the tiles and the optimiser (notebook 08 compares the two below).

    ``padding`` to ``elastic`` are the variants notebook 10 compares (``tools/ablation.py``); their defaults are
    the paper's choices: unpadded convolutions, learned up-convolutions, the weight map, elastic deformation
    (when ``augment`` is on). The last two shape the schedule, and ``tools/recipe_sweep.py`` measures them:
    ``warmup_steps`` (0: none; ``warmed_up_lr``) and batch norm's ``bn_momentum`` (PyTorch's 0.1;
    ``set_bn_momentum``).
    """

    base_channels: int
    depth: int
    batch_norm: bool
    tile_size: int
    batch_size: int
    optimizer: str
    lr: float
    augment: bool
    anneal: bool
    padding: str = "valid"
    up_mode: str = "transpose"
    weight_map: bool = True
    elastic: bool = True
    warmup_steps: int = 0
    bn_momentum: float = 0.1

    def model_config(self) -> dict[str, Any]:
        """The ``UNetModel`` arguments this recipe trains (what checkpoints store as ``model_config``)."""
        return dict(
            base_channels=self.base_channels,
            depth=self.depth,
            batch_norm=self.batch_norm,
            padding=self.padding,
            up_mode=self.up_mode,
        )

    def model(self) -> UNetModel:
        """A fresh network of this recipe: ``train``, ``doctor`` and the step-time measurement all start here."""
        return UNetModel(**self.model_config())


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
    stopped: str = ""  # "steps", "time", "interrupted" or "diverged"
    precision: str = ""  # how the steps were computed, e.g. "fp32, NCHW, on cpu (…)"
    world_size: int = 1  # how many processes trained together (notebook 10)
    stop_signal: int = 0  # the signal that stopped an interrupted run (SIGINT, SIGTERM, SIGHUP), 0 if none
    diverged_at: int = 0  # the step whose loss or gradient was not a number (NaN, infinite), 0 if none
    divergence: str = ""  # what was not finite at that step, e.g. "the loss was nan"

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


def default_loss() -> LossFn:
    """The paper's loss: pixel-wise softmax cross-entropy weighted by the weight map (notebook 07)."""
    return weighted_cross_entropy


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    w: Tensor | None,
    precision: runtime.Precision = runtime.FP32,
    scaler: torch.amp.GradScaler | None = None,
) -> float:
    """One step of gradient descent on one batch; returns the loss before the step.

    ``precision`` (notebook 05) may run the forward pass in bf16 or fp16 where that is fast; the loss is always
    computed in fp32. ``scaler`` scales an fp16 loss so that small gradients survive; for fp32 and bf16 it is off.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        logits = model(x)
    loss = loss_fn(logits.float(), y, w)
    scaler = scaler or precision.grad_scaler()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


@torch.inference_mode()
def validate(
    model: nn.Module,
    dataset: Dataset,
    loss_fn: LossFn,
    device: torch.device,
    batch_size: int = 4,
    precision: runtime.Precision = runtime.FP32,
) -> tuple[float, float]:
    """Mean loss and pixel accuracy on every item of ``dataset`` (fixed tiles, no augmentation)."""
    model.eval()
    losses, correct, total = [], 0, 0
    for start in range(0, len(dataset), batch_size):
        x, y, w = load_batch(dataset, range(start, min(start + batch_size, len(dataset))), device)
        with precision.autocast():
            logits = model(x.contiguous(memory_format=precision.memory_format)).float()
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
    try:
        optimizer.load_state_dict(state["optimizer_state"])
        check_optimizer_state(optimizer)
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        raise CheckpointError(
            f"the optimiser state in {path} does not fit this U-Net ({str(error).splitlines()[0]}): the file was "
            "changed or damaged; resume from another last.ckpt, or start a new run without --resume"
        ) from error
    torch.set_rng_state(state["torch_rng_state"])
    if state.get("cuda_rng_states") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng_states"])
    return state["step"], History.from_dict(state["history"])


def check_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """``ValueError`` when a loaded optimiser state holds a tensor (a momentum, Adam's moments) whose shape differs
    from its weight's: ``load_state_dict`` does not look, and the first step would fail deep inside torch."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for key, value in optimizer.state.get(parameter, {}).items():
                if isinstance(value, Tensor) and value.dim() > 0 and value.shape != parameter.shape:
                    raise ValueError(f"{key} of shape {tuple(value.shape)} for a weight of {tuple(parameter.shape)}")


# -- divergence: a loss or gradient that is no longer a number ------------------------------
class Diverged(ArithmeticError):
    """A step's loss or gradients (or the weights after it) are NaN or infinite: training cannot recover from that.

    Too high a learning rate is the usual cause (notebook 08), above all without batch norm or in fp16.
    """


def stop_on_divergence(optimizer: torch.optim.Optimizer) -> None:
    """Make ``optimizer`` refuse to step with non-finite gradients (the weights stay the last finite ones) and
    raise ``Diverged`` when a step made a weight non-finite.

    An fp16 ``GradScaler`` skips steps with infinite gradients before the optimiser sees them, so a skipped
    fp16 step is not a divergence. Under DDP every rank holds the same averaged gradients, so all stop together.
    """

    def parameters() -> list[Tensor]:
        return [p for group in optimizer.param_groups for p in group["params"]]

    def before(*_: object) -> None:
        grads = [p.grad for p in parameters() if p.grad is not None]
        if grads and not all_finite(grads):
            raise Diverged("a gradient was NaN or infinite")

    def after(*_: object) -> None:
        if not all_finite(parameters()):
            raise Diverged("a weight became NaN or infinite")

    optimizer.register_step_pre_hook(before)
    optimizer.register_step_post_hook(after)


def all_finite(tensors: list[Tensor]) -> bool:
    """True when no element of ``tensors`` is NaN or infinite (one synchronisation on a GPU)."""
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def check_loss(loss: float) -> float:
    """``loss``, or ``Diverged`` when it is NaN or infinite."""
    if not math.isfinite(loss):
        raise Diverged(f"the loss was {loss}")
    return loss


# -- how long one step takes here ------------------------------------------------------------
@dataclass(frozen=True)
class StepTime:
    """Seconds per training step measured on this machine (``measure_step_time``), with their spread.

    ``seconds`` is the median of the timed steps, ``spread`` their range (largest minus smallest,
    ``verdicts.spread``), so a busy machine shows as a wide spread rather than as a wrong number.
    """

    seconds: float
    spread: float
    steps: int
    precision: str
    device: str

    @property
    def per_minute(self) -> float:
        """Steps per minute at the median step time."""
        return 60.0 / self.seconds

    def steps_in(self, minutes: float) -> int:
        """About how many steps a budget of ``minutes`` holds at this speed."""
        return int(60 * minutes / self.seconds)

    @property
    def busy(self) -> bool:
        """The timed steps spread by more than half their median: something else ran while they were timed, and a
        run may get far fewer steps than this speed promises (a walk on a busy machine: 387 forecast, 108 made)."""
        return self.spread > self.seconds / 2

    def caution(self) -> str:
        """What every count from this speed adds when the machine was ``busy`` ("" when not): one sentence for
        ``train``'s forecast, the pre-class check and notebook 08."""
        if not self.busy:
            return ""
        return f"a rough count: the timed steps spread by {self.spread:.2f} s, more than half their median"

    def describe(self) -> str:
        """E.g. ``"0.62 s per step (spread 0.05 s over 5 steps), about 97 steps per minute"``."""
        return (
            f"{self.seconds:.2f} s per step (spread {self.spread:.2f} s over {self.steps} steps), "
            f"about {self.per_minute:.0f} steps per minute"
        )


def measure_step_time(
    recipe: Recipe = CPU_DEFAULT,
    device: str | torch.device | None = None,
    precision: str = "auto",
    seconds: float = 3.0,
    warmup: int = 1,
    max_steps: int = 50,
) -> StepTime:
    """Time training steps of ``recipe`` on this machine: the one step time of ``train``, ``doctor`` and the
    pre-class check (notebook 08 explains why a step's time decides what a budget buys).

    The model, optimiser and a batch of random tiles are made as ``fit`` makes them (same precision and layout,
    ``runtime.choose_precision``); ``warmup`` steps pick the kernels, then steps are timed until ``seconds`` have
    passed (at least two, at most ``max_steps``). Random weights and tiles take as long as real ones.
    """
    device = distributed.device_for(
        distributed.world_from_env(), runtime.pick_device(None if device is None else str(device))
    )
    how = runtime.choose_precision(precision, device, training=True)
    generator = torch.Generator().manual_seed(0)
    model = recipe.model().to(device, memory_format=how.memory_format)
    out = model.output_size(recipe.tile_size)
    x = torch.randn(recipe.batch_size, 1, recipe.tile_size, recipe.tile_size, generator=generator)
    y = torch.randint(0, 2, (recipe.batch_size, out, out), generator=generator)
    x, y = x.to(device).contiguous(memory_format=how.memory_format), y.to(device)
    w = torch.ones(y.shape, device=device)
    optimizer, scaler = make_optimizer(model, recipe.optimizer, recipe.lr), how.grad_scaler()

    def one_step() -> float:
        start = time.perf_counter()
        train_step(model, optimizer, weighted_cross_entropy, x, y, w, how, scaler)  # .item() waits for the device
        return time.perf_counter() - start

    for _ in range(warmup):
        one_step()
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < 2 or (time.perf_counter() - began < seconds and len(times) < max_steps):
        times.append(one_step())
    return StepTime(float(np.median(times)), max(times) - min(times), len(times), how.describe(), str(device))


# -- the loop -----------------------------------------------------------------------------
def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


class StopRequests:
    """While training, Ctrl-C, SIGTERM (a batch scheduler, ``torchrun``) and SIGHUP (a closed terminal) ask the
    loop to stop after the step it is in, so the checkpoint it then writes is whole; a second Ctrl-C stops at once.

    A ``with StopRequests() as stops:`` block installs the handlers (in the main thread only, where Python
    delivers signals) and puts the previous ones back at its end. ``stops.reason`` is ``"interrupted"`` once asked.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, quiet: bool = False) -> None:
        self.reason, self.quiet, self._previous, self.number = "", quiet, {}, 0

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._ask) for number in self.SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _ask(self, number: int, _frame: object) -> None:
        if self.reason:
            raise KeyboardInterrupt
        self.reason, self.number = "interrupted", number
        if not self.quiet:
            print(f"{signal.Signals(number).name}: stopping after this step (press Ctrl-C again to stop at once)")


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


def warmed_up_lr(lr: float, step: int, warmup_steps: int) -> float:
    """Linear warm-up: ``lr / warmup_steps`` for the first step, rising to the full ``lr`` at step ``warmup_steps``.

    Adam's first steps rest on moment estimates from a handful of gradients, and batch norm's statistics are
    still settling; small steps at first keep one unlucky batch from throwing the weights far away. Whether that
    pays off in a 5-minute run is measured, not assumed (``tools/recipe_sweep.py``). With annealing, ``lr`` is
    that step's annealed rate: the warm-up scales the cosine's first steps rather than delaying the cosine.
    """
    return lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else lr


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    """How far each batch-norm layer's running statistics move towards every new batch's (PyTorch's default 0.1).

    Training normalises with each batch's own statistics; inference uses the running ones. The momentum is a
    training setting, not part of the weights: it is set afresh on every ``fit``, a resumed one included.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


def check_fit_arguments(
    steps: int | None,
    minutes: float | None,
    batch_size: int,
    val_every: int,
    checkpoint_every: int,
    warmup_steps: int = 0,
    bn_momentum: float | None = None,
) -> None:
    """Refuse a budget or schedule that cannot work, before any work is done, with a message that says why."""
    if steps is None and minutes is None:
        raise ValueError("give a budget: steps=…, minutes=… or both")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a whole number ≥ 1, got {steps!r}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a number > 0, got {minutes!r}")
    for name, value in (("batch_size", batch_size), ("val_every", val_every), ("checkpoint_every", checkpoint_every)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
    if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be a whole number ≥ 0, got {warmup_steps!r}")
    is_number = isinstance(bn_momentum, (int, float)) and not isinstance(bn_momentum, bool)
    if bn_momentum is not None and not (is_number and 0 < bn_momentum <= 1):
        raise ValueError(f"bn_momentum must be a number above 0 and at most 1, got {bn_momentum!r}")


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
    precision: str = "auto",
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    val_every: int = 50,
    resume: str | Path | None = None,
    live_plot: bool | None = None,
    progress: bool | None = None,
    anneal: bool = False,
    warmup_steps: int = 0,
    bn_momentum: float | None = None,
    workers: int | None = None,
    notes: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` on ``train_data`` items ``(x, y, w)`` until ``steps`` steps or ``minutes`` minutes.

    ``steps`` counts from the very start of training, so resuming a 200-step checkpoint
    with ``steps=500`` does 300 more. ``minutes`` limits this call's wall time. Every
    ``val_every`` steps the loss and pixel accuracy on ``val_data`` are recorded (and
    drawn, in a notebook). With ``anneal`` the learning rate follows a cosine from
    ``lr`` down to nearly 0 over the budget (``annealed_lr``); the first ``warmup_steps``
    scale it by a factor rising linearly to 1 (``warmed_up_lr``); ``bn_momentum`` sets
    batch norm's momentum (``set_bn_momentum``). A checkpoint is written every
    ``checkpoint_every`` steps, at the end and on Ctrl-C, if ``checkpoint`` names a
    file; ``notes`` (plain values, e.g. the recipe) go into it too. ``precision`` is
    ``runtime.choose_precision``'s (``"auto"``: measured on this machine). Started by
    ``torchrun``, every process trains its share of each batch (``unet_lib.distributed``,
    notebook 10); ``batch_size`` is then per process. Returns the ``History``.
    """
    check_fit_arguments(steps, minutes, batch_size, val_every, checkpoint_every, warmup_steps, bn_momentum)
    # set up: which process, device and precision; seeds, optimiser; when resuming, the saved state
    world = distributed.world_from_env()
    device = distributed.device_for(world, runtime.pick_device(None if device is None else str(device)))
    how = runtime.choose_precision(precision, device, training=True)
    distributed.start(world, device)
    how = distributed.same_precision(world, how)  # one decision for all ranks, or DDP refuses differing layouts
    loss_fn = loss_fn or default_loss()
    runtime.seed_everything(seed)
    model.to(device, memory_format=how.memory_format)
    if bn_momentum is not None:
        set_bn_momentum(model, bn_momentum)
    opt = make_optimizer(model, optimizer, lr)
    step, history = resume_from(resume, model, opt) if resume else (0, History())
    stop_on_divergence(opt)  # a NaN or infinite gradient ends the run: nothing non-finite is ever saved
    history.precision, history.world_size = how.describe(), world.size
    net, scaler = distributed.wrap(model, world, device), how.grad_scaler()
    workers = default_workers(device) if workers is None else workers
    batches = batch_stream(train_data, step, batch_size, seed, world, device, workers)
    curves = live_curves(live_plot) if world.is_main else None
    bar = progress_bar(steps, step, progress if world.is_main else False)
    start, seconds_before = time.perf_counter(), history.seconds

    def save() -> None:
        history.seconds = seconds_before + time.perf_counter() - start
        if checkpoint is not None and world.is_main:
            save_checkpoint(checkpoint, model, opt, step, history, seed=seed, **(notes or {}))

    with StopRequests(quiet=not world.is_main) as stops:  # Ctrl-C, SIGTERM, SIGHUP: stop after this step
        try:  # the loop: one batch, one step, until the budget is spent (`:=` keeps the reason to stop)
            while not (reason := agreed_stop(world, stops, step, steps, start, minutes, anneal, opt, warmup_steps)):
                x, y, w = next(batches)
                loss = train_step(net, opt, loss_fn, x.contiguous(memory_format=how.memory_format), y, w, how, scaler)
                check_loss(loss)
                step += 1
                history.step.append(step)
                history.loss.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
                if val_data is not None and step % val_every == 0 and world.is_main:
                    val_loss, val_accuracy = validate(model, val_data, loss_fn, device, batch_size, how)
                    history.val_step.append(step)
                    history.val_loss.append(val_loss)
                    history.val_accuracy.append(val_accuracy)
                    if curves is not None:
                        curves.update(history)
                if step % checkpoint_every == 0:
                    save()
        except Diverged as error:  # recorded, not raised, so a notebook can still draw the loss curve
            reason, history.diverged_at, history.divergence = "diverged", step + 1, str(error)
            if world.is_main and curves is not None:
                print(f"training diverged at step {step + 1} ({error}): stopped; try a lower lr or batch norm")
        except KeyboardInterrupt:  # a second Ctrl-C in a terminal or ■ (interrupt the kernel) in Jupyter
            reason = "interrupted"
            if world.is_main:
                print(f"Interrupted at step {step}: saving a checkpoint and stopping.")
        except Exception as error:  # another process of a torchrun job died: keep the last good checkpoint
            bar.close()  # any error's message then starts on a line of its own
            if not distributed.peer_lost(error, world):
                raise
            raise distributed.PeerLost(peer_lost_message(world, step, error, checkpoint)) from error
    bar.close()
    history.stopped, history.stop_signal = reason, stops.number if reason == "interrupted" else 0
    if reason != "diverged":  # last.ckpt keeps the last finite step
        save()
    distributed.finish(world)
    if curves is not None:
        curves.update(history)
    return history


def peer_lost_message(world: World, step: int, error: BaseException, checkpoint: str | Path | None) -> str:
    """One line for this rank when another rank went away: where it stopped and the last good checkpoint."""
    cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
    kept = "no checkpoint had been written yet: start the run again"
    if checkpoint is not None and Path(checkpoint).is_file():
        try:
            kept = (
                f"the last good checkpoint, {checkpoint} (step {load_checkpoint(checkpoint)['step']}), is intact: "
                f"resume from it with --resume {checkpoint}"
            )
        except (CheckpointError, OSError):
            kept = f"{checkpoint} cannot be read: start the run again"
    return f"rank {world.rank}: another training process stopped at step {step} ({cause}); {kept}"


def agreed_stop(
    world: World,
    stops: StopRequests,
    step: int,
    steps: int | None,
    start: float,
    minutes: float | None,
    anneal: bool,
    optimizer: torch.optim.Optimizer,
    warmup_steps: int = 0,
) -> str:
    """Why to stop now (an interrupt, else ``stop_reason``), as every process sees it; sets the scheduled rate
    (annealed, warmed up) for the next step.

    With several processes, rank 0's clock and signals decide for all (``distributed.agree``), so they stop
    at the same step and step with the same learning rate.
    """
    reason = stops.reason or stop_reason(step, steps, start, minutes)
    reason, used = distributed.agree(world, reason, budget_used(step, steps, start, minutes))
    if anneal or warmup_steps:
        rate = annealed_lr(optimizer.defaults["lr"], used) if anneal else optimizer.defaults["lr"]
        for group in optimizer.param_groups:
            group["lr"] = warmed_up_lr(rate, step, warmup_steps)
    return reason


def progress_bar(steps: int | None, initial: int, enabled: bool | None = None) -> tqdm:
    """A ``tqdm.auto`` bar: a widget in JupyterLab, text in a terminal, silent under ``UNET_FAST=1``."""
    enabled = not runtime.fast_mode() if enabled is None else enabled
    return tqdm(total=steps, initial=initial, disable=not enabled, unit="step", desc="training", dynamic_ncols=True)


def live_curves(enabled: bool | None = None) -> LiveCurves | None:
    """The in-place loss/validation figure (``viz.LiveCurves``), by default only when running in a notebook."""
    if enabled is None:
        enabled = _in_notebook()
    if not enabled:
        return None
    return LiveCurves()
