"""Training on several processes at once (notebook 10): data parallelism with ``torch.distributed``.

``torchrun --standalone --nproc_per_node=N -m unet_lib train …`` starts N copies of the command, one per
process ("rank"), and tells each its rank and the world size through environment variables. Every rank
holds the whole model; each step, every rank trains on its own share of the batch, and
``DistributedDataParallel`` averages the gradients across ranks before the optimiser steps, so all ranks
keep identical weights — the same weights one process would reach with the whole batch. Only rank 0
validates, prints and writes checkpoints. Processes talk through gloo on the CPU and NCCL on CUDA GPUs.

Batch norm under DDP: each rank normalises with the statistics of its own share of the batch (on the CPU;
rank 0's running statistics are broadcast to the others at every step). On CUDA the model's batch norms
become ``SyncBatchNorm``, which computes the statistics over the whole batch across GPUs.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

TIMEOUT = datetime.timedelta(minutes=10)
"""How long a rank waits for the others at a synchronisation point before it gives up."""


class PeerLost(RuntimeError):
    """Another training process stopped (it crashed or was killed), so this one cannot go on."""


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: ``rank`` of ``size`` (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 validates, prints and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """The world ``torchrun`` describes in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; one process without them."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def device_for(world: World, device: torch.device) -> torch.device:
    """Under ``torchrun`` with CUDA, each rank takes the GPU of its local rank; otherwise ``device`` as it is."""
    if world.active and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def start(world: World, device: torch.device) -> None:
    """Join the other ranks (gloo on the CPU, NCCL on CUDA); nothing to do for a single process."""
    if world.active and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, rank=world.rank, world_size=world.size, timeout=TIMEOUT)


def finish(world: World) -> None:
    """Leave the group at the end of training, so that rank 0 can go on alone (evaluation) and others exit.

    All ranks meet at a barrier first: a rank that tore down its group while a peer's last collective was still in
    flight aborted now and then ("terminate called without an active exception", SIGABRT, in 1 of 6 runs of
    notebook 10's two-process cell), and torchrun then killed rank 0 before it wrote ``model.ckpt``.
    """
    if world.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def leave(code: int) -> NoReturn:
    """A rank other than 0 exits here once its work is done and its group is gone, skipping the interpreter's
    teardown: there, now and then, a thread of the communication library was destroyed while still joinable
    ("terminate called without an active exception", SIGABRT), and torchrun then killed rank 0 before it wrote
    ``model.ckpt`` (issue 17). Rank 0 has nothing left to wait for from this rank; output is flushed first."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The model as every step should call it: wrapped in ``DistributedDataParallel`` when there are several ranks.

    The wrapper averages gradients across ranks during ``backward``; the weights stay those of ``model``, so
    checkpoints and validation use ``model`` itself. On CUDA, batch norms become ``SyncBatchNorm``.
    """
    if not world.active:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def my_share(indices: Sequence[int], world: World) -> list[int]:
    """This rank's part of the whole step's batch: consecutive equal shares, rank 0 first."""
    share = len(indices) // world.size
    return list(indices[world.rank * share : (world.rank + 1) * share])


def same_precision(world: World, how: Any) -> Any:
    """Every rank takes rank 0's precision (``runtime.Precision``).

    ``"auto"`` is measured in each process, and on a busy machine two ranks can time it differently and choose
    different memory layouts; DDP then refuses the model ("params[0] … appears not to match strides of the same
    param in process 0"), which notebook 10's two-process run met once in six (issue 17).
    """
    if not world.active:
        return how
    chosen = [how]
    dist.broadcast_object_list(chosen, src=0)
    return chosen[0]


def agree(world: World, stop: str, used: float) -> tuple[str, float]:
    """Every rank takes rank 0's decision to stop and its share of the budget used (which sets the learning rate).

    Each rank reads its own clock; without this, a time budget could end the loop on one rank a step
    earlier than on another (which then waits forever), and annealed rates would differ between ranks.
    """
    if not world.active:
        return stop, used
    reasons = ["", "steps", "time", "interrupted"]
    message = torch.tensor([float(reasons.index(stop)), used], dtype=torch.float64)
    dist.broadcast(message, src=0)
    return reasons[int(message[0])], float(message[1])


def peer_lost(error: BaseException, world: World) -> bool:
    """True when ``error`` means that another rank went away (as opposed to a bug in this rank's own step)."""
    return world.active and isinstance(error, (dist.DistError, RuntimeError)) and _looks_like_a_lost_peer(error)


def _looks_like_a_lost_peer(error: BaseException) -> bool:
    if isinstance(error, dist.DistError):
        return True
    text = str(error).lower()
    return any(words in text for words in ("connection closed", "connection reset", "broken pipe", "timed out"))
