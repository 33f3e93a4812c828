"""Which tiles each training step uses, and how they reach the device (notebook 08).

``batch_indices`` decides the batch of every step from the step alone, so a resumed run draws exactly
the batches an uninterrupted one would have drawn. ``batch_stream`` turns those indices into batch
tensors on the device: loaded in the training process, or ahead of time by ``DataLoader`` workers beside
a GPU. Under ``torchrun`` every process takes its own share of each step's batch (notebook 10).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from . import distributed, runtime
from .distributed import World


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
    return to_device([torch.stack([torch.as_tensor(item[k]) for item in items]) for k in range(len(items[0]))], device)


def to_device(batch: Sequence[Tensor], device: torch.device) -> tuple[Tensor, Tensor, Tensor | None]:
    """``(x, y, w)`` on ``device`` (``w`` ``None`` if absent); from pinned memory the copy overlaps the compute."""
    x, y, *w = (t.to(device, non_blocking=t.is_pinned()) for t in batch)
    return x, y, (w[0] if w else None)


class StepBatches(Sampler):
    """The dataset indices of each step's batch for this rank, from step ``start`` on, without end.

    Each step's whole batch is ``batch_indices(step, batch_size × ranks)``; every rank takes its own share
    (``distributed.my_share``), so that the ranks together train on exactly one process's batch.
    """

    def __init__(self, start: int, batch_size: int, num_items: int, seed: int, world: World) -> None:
        self.start, self.batch_size, self.num_items, self.seed, self.world = start, batch_size, num_items, seed, world

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while True:
            indices = batch_indices(step, self.batch_size * self.world.size, self.num_items, self.seed)
            yield distributed.my_share(indices, self.world)
            step += 1


def default_workers(device: torch.device) -> int:
    """Data-loading processes: none on a CPU (its cores are busy training), a few beside a GPU, which would wait.

    Beside a GPU, one CPU drives the GPU and the others load: as many workers as the CPUs granted to this process
    (``runtime.decide_threads``: the cgroup quota of a hub or a pod, this rank's share under ``torchrun``) minus
    one, at most 4; never one per core of the node, which a container's ``os.cpu_count()`` would give.
    """
    return 0 if device.type == "cpu" else min(4, max(runtime.decide_threads().threads - 1, 0))


def batch_stream(
    dataset: Dataset, start: int, batch_size: int, seed: int, world: World, device: torch.device, workers: int = 0
) -> Iterator[tuple[Tensor, Tensor, Tensor | None]]:
    """This rank's batches from step ``start`` on: loaded here, or ahead of time by a ``DataLoader``'s ``workers``."""
    steps = StepBatches(start, batch_size, len(dataset), seed, world)
    if workers == 0:
        return (load_batch(dataset, indices, device) for indices in steps)
    pin = device.type == "cuda"
    loader = DataLoader(dataset, batch_sampler=steps, num_workers=workers, pin_memory=pin, persistent_workers=True)
    return (to_device(batch, device) for batch in loader)
