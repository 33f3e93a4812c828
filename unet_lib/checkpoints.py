"""Checkpoints you can trust (notebook 08): written atomically, loaded without running code, validated.

* ``save_checkpoint`` writes the model's config and weights (and, to resume, the optimiser state,
  step, history and RNG state) through ``runtime.write_atomic``: a temporary file, then ``os.replace``,
  so a crash leaves the old file or the new one, never half of one.
* ``load_checkpoint`` reads with ``torch.load(..., weights_only=True)`` (no code runs from the file)
  and validates what it finds — the model config within ``unet_lib.model.check_config``'s bounds
  *before* anything is built, the weights, the step, the stored thresholds — with errors that say
  what to do; ``load_model`` rebuilds the U-Net.
* ``SHIPPED_CHECKPOINT`` is the trained model that ships with the course; ``course_checkpoint`` is the
  one notebook 09 opens.
"""

from __future__ import annotations

import math
import os
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import runtime
from .model import UNetModel, check_config
from .tiling import ROTATIONS

CHECKPOINT_FORMAT = "unet_lib.checkpoint/1"
"""Written into every checkpoint; a file without it was not written by ``save_checkpoint``."""

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "assets" / "isbi2012_unet.ckpt"
"""The checkpoint that ships with the course, made by ``python -m unet_lib train`` (see ``assets/README.md``)."""

NOTEBOOK08_RUN = "notebook08"
"""The folder under ``runs_dir()`` where notebook 08 keeps the model it trains (git-ignored)."""


MAX_SEED = 2**32 - 1
"""The largest seed NumPy accepts (``runtime.seed_everything`` seeds NumPy too)."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: damaged, not a checkpoint, or for another network."""


class NonFiniteWeights(CheckpointError):
    """A checkpoint whose weights hold NaN or infinity: saved by a run that diverged (``doctor`` names it)."""


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
    return runtime.write_atomic(path, lambda temporary: _save(state, temporary))


def _save(state: dict[str, Any], temporary: str) -> None:
    """``torch.save`` through a file we opened, so that a full disk is an ``OSError`` that says so.

    torch's writer reports a failed write as a ``RuntimeError`` about an "unexpected pos"; the
    ``OSError`` behind it (e.g. ``ENOSPC``) is what ``runtime.write_atomic`` turns into one clear line.
    """
    with open(temporary, "wb") as handle:
        try:
            torch.save(state, handle)
        except RuntimeError as error:
            cause = error.__context__
            while cause is not None and not isinstance(cause, OSError):
                cause = cause.__context__
            if cause is None:
                raise
            raise OSError(cause.errno, cause.strerror) from error


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
"""The model config's keys and types (``check_config`` then checks their values)."""


_WRITTEN_KEYS = ("model_state", "optimizer_state", "optimizer_name", "step", "history", "torch_rng_state")
"""Keys ``save_checkpoint`` always writes and ``load_model`` / ``train.resume_from`` read."""

THRESHOLD_KEYS = ("threshold", "segmentation_threshold")
"""Thresholds ``train`` stores beside the weights; each must be a probability strictly between 0 and 1."""


def pickle_imports(path: str | Path) -> str | None:
    """The first thing outside torch that the pickle in ``path`` would import, read without running it, or ``None``.

    ``torch.load(weights_only=True)`` names such an import only for the pickle protocol torch writes; a file
    made with Python's own ``pickle.dump`` fails earlier, as if damaged. ``pickletools`` lists its opcodes.
    """
    try:
        if zipfile.is_zipfile(path):  # torch.save's format: the pickle is data.pkl inside the archive
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(name) if name else b""
        else:
            data = Path(path).read_bytes()
        strings: list[str] = []
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL":
                module = str(argument).split()[0]
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                module = f"{strings[-2]}.{strings[-1]}"
            else:
                if isinstance(argument, str):
                    strings.append(argument)
                continue
            if module.split(".")[0] not in ("torch", "collections", "builtins", "_codecs"):
                return module.replace(" ", ".")
    except Exception:  # not a pickle at all: damaged
        return None
    return None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint written by ``save_checkpoint``; ``CheckpointError`` says what is wrong."""
    path = Path(path)
    if path.is_dir() and (path / "model.ckpt").is_file():  # the run folder `train` wrote, given for its model
        raise FileNotFoundError(
            f"{path} is a folder: give a file in it, {path / 'model.ckpt'} (or {path / 'last.ckpt'} to --resume)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train one with `python -m unet_lib train` or check the path")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before it refuses a file
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        code = re.search(r"GLOBAL ([\w.]+)", str(error))
        code_name = code.group(1) if code else pickle_imports(path)
        if code_name:
            raise CheckpointError(
                f"{path} was NOT loaded: it asks to import {code_name}, Python code or objects that a checkpoint "
                "never needs (loading it the unsafe way could run code from the file); use checkpoints written by "
                "unet_lib.checkpoints.save_checkpoint, from people you trust"
            ) from error
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
    _check_contents(path, state)
    return state


def _check_contents(path: Path, state: dict[str, Any]) -> None:
    """Everything ``load_model``, ``train.resume_from`` and the commands read, checked before any of it is used."""
    config = state.get("model_config")
    if (
        not isinstance(config, dict)
        or set(config) != set(_CONFIG_TYPES)
        or not all(isinstance(config[k], t) for k, t in _CONFIG_TYPES.items())
    ):
        raise CheckpointError(f"{path} has a missing or malformed model config: {config!r}")
    try:
        check_config(**config)  # bounded sizes: a hostile config cannot ask for all the memory
    except ValueError as error:
        raise CheckpointError(f"{path} describes a U-Net that cannot be built: {error}") from error
    weights = state.get("model_state")
    if not isinstance(weights, dict) or not weights or not all(isinstance(v, Tensor) for v in weights.values()):
        raise CheckpointError(f"{path} holds no model weights (model_state); train again or copy it again")
    broken = [name for name, value in weights.items() if value.is_floating_point() and not bool(value.isfinite().all())]
    if broken:
        raise NonFiniteWeights(
            f"{path} holds NaN or infinite weights ({runtime.name_list(broken, most=2)}): the run that wrote it "
            "diverged; train again with a lower --lr, batch norm or --precision fp32"
        )
    missing = sorted(set(_WRITTEN_KEYS) - set(state))
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: it is incomplete; train again or copy it again")
    step = state["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{path} has a malformed step count {step!r}; train again or copy it again")
    for key in THRESHOLD_KEYS:
        if key in state and not _is_probability(state[key]):
            raise CheckpointError(
                f"{path} stores {key} {state[key]!r}, which is not a probability between 0 and 1: the file was "
                "changed or damaged; train again or copy it again"
            )
    rotations = state.get("rotations", 1)
    if isinstance(rotations, bool) or not isinstance(rotations, int) or rotations not in ROTATIONS:
        raise CheckpointError(
            f"{path} stores rotations {state['rotations']!r}, not one of {', '.join(map(str, ROTATIONS))}: the file "
            "was changed or damaged; train again or copy it again"
        )
    for key, kind in (("optimizer_state", dict), ("optimizer_name", str), ("history", dict), ("recipe", dict)):
        if state.get(key) is not None and not isinstance(state[key], kind):
            raise CheckpointError(f"{path} has a malformed {key} ({type(state[key]).__name__}); train again")
    seed = state.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise CheckpointError(
            f"{path} stores seed {seed!r}, not a whole number from 0 to {MAX_SEED}: the file was changed or "
            "damaged; train again or copy it again"
        )
    recipe = state.get("recipe") or {}
    shared = [key for key in sorted(set(recipe) & set(config)) if type(recipe[key]) is type(config[key])]
    differ = [key for key in shared if recipe[key] != config[key]]  # a malformed recipe: ``cli.stored_recipe``
    if differ:
        shown = "; ".join(
            f"{key} {config[key]!r} in its model config but {recipe[key]!r} in its recipe" for key in differ
        )
        raise CheckpointError(f"{path} says {shown}: the file was changed or damaged; train again or copy it again")
    rng = state["torch_rng_state"]
    if not isinstance(rng, Tensor) or rng.dtype != torch.uint8:
        raise CheckpointError(f"{path} has a malformed random-number state; train again or copy it again")


def _is_probability(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value < 1


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
RUNS_ENV = "UNET_RUNS_DIR"
"""Where runs live instead, when set: ``tools/nbtools.py execute`` points it at a temporary folder, so that a stored
notebook neither reads your runs (notebook 09 then opens the shipped model) nor overwrites them (notebook 08)."""


def model_origin(path: str | Path, state: dict[str, Any]) -> str:
    """What model a file holds, in one line (``predict`` prints it): the shipped one is an electron-microscopy
    model, and predicting one's own images with it by forgetting ``--checkpoint`` must not pass without a word."""
    if Path(path).resolve() == SHIPPED_CHECKPOINT:
        return (
            "the shipped checkpoint, trained on ISBI 2012 electron microscopy (cells and membranes); for other "
            "images pass --checkpoint with a model.ckpt that `train --data <your folder>` wrote"
        )
    record = state.get("record") or {}
    trained_on = f", trained on {record['data']}" if record.get("data") else ""
    steps = state.get("step", 0)
    return f"{path} ({runtime.plural(steps, 'step')}{trained_on})"


def runs_dir() -> Path:
    """``runs/`` of the course checkout (git-ignored), or of the current folder when unet_lib is pip-installed."""
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV])
    root = runtime.checkout_root()
    return (root if root is not None else Path.cwd()) / "runs"


def course_checkpoint() -> Path:
    """The model notebook 09 opens: the one notebook 08 trained, when there is one, else the shipped one.

    Under ``UNET_FAST=1`` (the tests) always the shipped one, so results do not depend on your runs.
    """
    fresh = runs_dir() / NOTEBOOK08_RUN / "model.ckpt"
    return fresh if fresh.is_file() and not runtime.fast_mode() else SHIPPED_CHECKPOINT
