"""Training throughput with one process and with two data-parallel processes, on this machine (notebook 10).

    python tools/bench_ddp.py                   # the CPU recipe, 3 rounds: unet_lib/assets/ddp_throughput.json
    python tools/bench_ddp.py --quick --json X  # a tiny network, 1 round (tests)

Every side trains the same thing: the CPU recipe of notebook 08 (16 base channels, depth 4, batch norm,
Adam, the weighted loss) on 380² tiles of the built-in data, with the same global batch of 2 tiles per step:

* ``1x2`` — one process with 2 threads and the whole batch (what ``python -m unet_lib train`` does here);
* ``2x1`` — ``torchrun --standalone --nproc_per_node=2``: two processes with 1 thread and 1 tile each, whose
  gradients DDP averages over gloo;
* ``1x1`` — one process with 1 thread: the yardstick for how well two processes use two cores.

Each side runs ``train.fit`` (the loop of ``python -m unet_lib train``), and its own clock measures the loop
only, not the start-up. The rounds rotate the order of the sides, so a busy moment on a shared machine hurts
all alike; ratios of the medians are the numbers to trust, absolute rates depend on what else the machine did.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unet_lib import distributed, runtime, train  # noqa: E402
from unet_lib.data import TileDataset  # noqa: E402
from unet_lib.losses import weight_maps  # noqa: E402
from unet_lib.model import UNetModel  # noqa: E402
from unet_lib.synthetic import make_synthetic_em  # noqa: E402

TABLE = ROOT / "unet_lib" / "assets" / "ddp_throughput.json"
"""Beside the shipped checkpoint, so that notebook 10 finds it on Colab too (package data)."""
FULL = {"base_channels": 16, "depth": 4, "tile_size": 380, "steps": 30, "rounds": 3, "global_batch": 2}
QUICK = {"base_channels": 2, "depth": 2, "tile_size": 92, "steps": 3, "rounds": 1, "global_batch": 2}


# -- one side: a worker process (or one of two under torchrun) ------------------------------------------------
def worker(settings: dict[str, Any], result: Path) -> None:
    """Train ``steps`` steps with this process's share of the global batch; rank 0 writes the rate."""
    world = distributed.world_from_env()
    runtime.seed_everything(0)
    data = make_synthetic_em(n_slices=4)
    model = UNetModel(base_channels=settings["base_channels"], depth=settings["depth"], batch_norm=True)
    out = model.output_size(settings["tile_size"])
    tiles = TileDataset(data, settings["tile_size"], out, 10_000, augment=False, weight_maps=weight_maps(data.labels))
    history = train.fit(
        model,
        tiles,
        steps=settings["steps"],
        batch_size=settings["global_batch"] // world.size,
        precision="fp32",
        progress=False,
        live_plot=False,
        val_every=10**6,
        checkpoint_every=10**6,
    )
    if world.is_main:
        rate = settings["steps"] * settings["global_batch"] / history.seconds
        record = {"world_size": history.world_size, "threads": torch.get_num_threads(), "tiles_per_second": rate}
        result.write_text(json.dumps({**record, "seconds": history.seconds, "precision": history.precision}))


# -- the comparison --------------------------------------------------------------------------------------------
SIDES = {"1x2": (1, 2), "2x1": (2, 1), "1x1": (1, 1)}
"""``processes × threads`` of each side; processes × threads never exceeds the 2 cores of this machine."""


def side(processes: int, threads: int, settings: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Start one side as its own process(es) and read what rank 0 measured."""
    result = folder / f"{processes}x{threads}.json"
    script = [str(Path(__file__).resolve()), "--worker", json.dumps(settings), str(result)]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    environment.update(OMP_NUM_THREADS=str(threads), UNET_FAST="1")
    done = subprocess.run([*launcher, *script], capture_output=True, text=True, env=environment, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{processes} process(es) failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(result.read_text())


def compare(settings: dict[str, Any]) -> dict[str, Any]:
    """Every side once per round, in a rotating order, for ``rounds`` rounds; medians and their ratios."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SIDES}
    started, load = time.perf_counter(), round(os.getloadavg()[0], 1)
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(settings["rounds"]):
            names = list(SIDES)[round_ % len(SIDES) :] + list(SIDES)[: round_ % len(SIDES)]
            for name in names:
                runs[name].append(side(*SIDES[name], settings, Path(tmp)))
    median = {k: statistics.median(r["tiles_per_second"] for r in v) for k, v in runs.items()}
    return {
        "about": "tools/bench_ddp.py: training throughput of processes × threads on this machine (notebook 10)",
        "command": "python tools/bench_ddp.py" + (" --quick" if settings is QUICK else ""),
        "settings": settings,
        "machine": {
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "load_average_before": load,
            "load_average_after": round(os.getloadavg()[0], 1),
        },
        "runs": runs,
        "median_tiles_per_second": median,
        "speedup_2x1_vs_1x2": median["2x1"] / median["1x2"],
        "scaling_2x1_vs_1x1": median["2x1"] / median["1x1"],
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:  # one side, started by ``side``
        worker(json.loads(argv[1]), Path(argv[2]))
        # A worker's work is done and written: leave without the interpreter's teardown, where a rank of a gloo
        # group now and then aborted ("terminate called without an active exception"), failing a finished side.
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny network, 3 steps, one round (tests)")
    parser.add_argument("--json", help=f"where to write the result (default {TABLE.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    result = compare(QUICK if args.quick else FULL)
    path = Path(args.json) if args.json else TABLE
    runtime.write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
    rates = result["median_tiles_per_second"]
    print(", ".join(f"{name}: {rate:.2f} tiles/s" for name, rate in rates.items()), f"; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
