"""Checkpoints you can trust (notebook 08): written atomically, loaded without running code, validated.

* ``save_checkpoint`` writes the model's config and weights (and, to resume, the optimiser state,
  step, history and RNG state) through ``runtime.write_atomic``: a temporary file, then ``os.replace``,
  so a crash leaves the old file or the new one, never half of one.
* ``load_checkpoint`` reads with ``torch.load(..., weights_only=True)`` (no code runs from the file)
  and validates what it finds, with errors that say what to do; ``load_model`` rebuilds the U-Net.
* ``SHIPPED_CHECKPOINT`` is the trained model that ships with the course; ``course_checkpoint`` is the
  one notebook 09 opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import runtime
from .model import UNetModel

CHECKPOINT_FORMAT = "unet_lib.checkpoint/1"
"""Written into every checkpoint; a file without it was not written by ``save_checkpoint``."""

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "assets" / "isbi2012_unet.ckpt"
"""The checkpoint that ships with the course, made by ``python -m unet_lib train`` (see ``assets/README.md``)."""

NOTEBOOK08_RUN = "notebook08"
"""The folder under ``runs_dir()`` where notebook 08 keeps the model it trains (git-ignored)."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: damaged, not a checkpoint, or for another network."""


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    history: Any = None,
    **extra: Any,
) -> Path:
    """Write everything needed to resume (or just to predict) atomically: a crash never leaves half a file.

    The checkpoint holds only tensors and plain Python values, so it loads with
    ``torch.load(..., weights_only=True)``. Leave out ``optimizer`` for a small file to share.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "model_config": dict(model.config),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "optimizer_name": type(optimizer).__name__.lower() if optimizer is not None else None,
        "step": int(step),
        "history": history.to_dict() if history is not None else {},
        "torch_rng_state": torch.get_rng_state(),
        "cuda_rng_states": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        **extra,
    }
    return runtime.write_atomic(path, lambda temporary: torch.save(state, temporary))


_CONFIG_TYPES = {
    "in_channels": int,
    "num_classes": int,
    "base_channels": int,
    "depth": int,
    "padding": str,
    "batch_norm": bool,
    "up_mode": str,
    "dropout": (float, int),
}


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint written by ``save_checkpoint``; ``CheckpointError`` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train one with `python -m unet_lib train` or check the path")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"cannot read {path} as a checkpoint ({type(error).__name__}): the file is damaged or "
            "not a PyTorch checkpoint; train again or copy it again"
        ) from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        hint = (
            " It looks like a bare state_dict: it lacks the model config."
            if isinstance(state, dict) and state and all(isinstance(v, Tensor) for v in state.values())
            else ""
        )
        raise CheckpointError(
            f"{path} was not written by unet_lib.checkpoints.save_checkpoint.{hint} "
            "Save with save_checkpoint(path, model) so the model config travels with the weights."
        )
    config = state.get("model_config")
    if (
        not isinstance(config, dict)
        or set(config) != set(_CONFIG_TYPES)
        or not all(isinstance(config[k], t) for k, t in _CONFIG_TYPES.items())
    ):
        raise CheckpointError(f"{path} has a missing or malformed model config: {config!r}")
    return state


def load_model(path: str | Path, device: torch.device | str | None = None) -> UNetModel:
    """Rebuild the ``UNetModel`` a checkpoint describes and load its weights, ready for prediction."""
    state = load_checkpoint(path)
    try:
        model = UNetModel(**state["model_config"])
        model.load_state_dict(state["model_state"])
    except (RuntimeError, ValueError, TypeError) as error:
        raise CheckpointError(
            f"the weights in {path} do not fit the U-Net its config describes "
            f"({state['model_config']}): {str(error).splitlines()[0]}"
        ) from error
    return model.to(runtime.pick_device(None if device is None else str(device))).eval()


# -- where runs live -------------------------------------------------------------------------
def runs_dir() -> Path:
    """``runs/`` of the course checkout (git-ignored), or of the current folder when unet_lib is pip-installed."""
    root = runtime.checkout_root()
    return (root if root is not None else Path.cwd()) / "runs"


def course_checkpoint() -> Path:
    """The model notebook 09 opens: the one notebook 08 trained, when there is one, else the shipped one.

    Under ``UNET_FAST=1`` (the tests) always the shipped one, so results do not depend on your runs.
    """
    fresh = runs_dir() / NOTEBOOK08_RUN / "model.ckpt"
    return fresh if fresh.is_file() and not runtime.fast_mode() else SHIPPED_CHECKPOINT
