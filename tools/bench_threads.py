"""Two training processes sharing this machine, as two kernels share a hub: per-step times with PyTorch's default
threads and with the thread cap (``runtime.decide_threads``; issue 22, the instructor guide's "Shared hubs").

    python tools/bench_threads.py                   # the CPU recipe: docs/measured/bench_threads.json and a table
    python tools/bench_threads.py --quick --json X  # a tiny network, 3 steps (tests)

Each side starts ``--processes`` (default 2) training processes at once, each training the CPU recipe of
notebook 08 (16 base channels, depth 4, batch norm, Adam, 2 tiles of 380² with the weight map, fp32) on the
built-in data:

* ``default`` — every process keeps PyTorch's own thread count, one per core it sees (2 each on a 2-core
  machine): what every kernel on a shared hub or Binder pod does without the cap;
* ``capped`` — every process takes ``runtime.decide_threads`` with the cgroup quota a hub would grant it, its
  share of this machine's cores (1 each on 2 cores): what the course's setup cell and commands do there.

The processes wait for each other before the first timed step (a file barrier), and keep training after their
last timed step until every process has timed its own, so every timed step ran beside the others. A step's wall
time and its CPU time (all threads of the process) are recorded; the rounds alternate which side goes first.
Absolute times depend on the processor and on whatever else the machine runs (the load average before and after
is recorded); the ratio of the two sides is the number to quote.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unet_lib import runtime  # noqa: E402

RESULT = ROOT / "docs" / "measured" / "bench_threads.json"
FULL = {"base_channels": 16, "depth": 4, "tile_size": 380, "batch_size": 2, "slices": 4, "warmup": 2, "steps": 10}
FULL["rounds"] = 2
QUICK = {"base_channels": 2, "depth": 2, "tile_size": 92, "batch_size": 2, "slices": 1, "warmup": 1, "steps": 3}
QUICK["rounds"] = 1
SIDES = ("default", "capped")
WAIT_S = 900
"""The longest a side may take before it is stopped (a stuck barrier must not hang the tool)."""


# -- one training process -------------------------------------------------------------------------------------
def worker(settings: dict[str, Any], side: str, index: int, folder: Path) -> None:
    """Train with this side's threads; time ``steps`` steps that all run beside the other processes."""
    import torch

    from unet_lib import train
    from unet_lib.batches import batch_indices, load_batch
    from unet_lib.data import TileDataset
    from unet_lib.losses import weight_maps
    from unet_lib.model import UNetModel
    from unet_lib.synthetic import make_synthetic_em

    processes = settings["processes"]
    if side == "capped":  # the quota a hub that splits this machine among the kernels would grant each
        decision = runtime.decide_threads(quota=(os.cpu_count() or 1) / processes)
        torch.set_num_threads(decision.threads)
        why = decision.describe()
    else:
        why = f"{torch.get_num_threads()} (PyTorch's default: one per core seen)"
    runtime.seed_everything(index)
    data = make_synthetic_em(n_slices=settings["slices"])
    model = UNetModel(base_channels=settings["base_channels"], depth=settings["depth"], batch_norm=True)
    tiles = TileDataset(
        data, settings["tile_size"], model.output_size(settings["tile_size"]), 10_000, augment=False,
        weight_maps=weight_maps(data.labels), seed=index,
    )  # fmt: skip
    optimizer = train.make_optimizer(model, "adam")
    loss_fn = train.default_loss()

    def step(number: int) -> None:
        x, y, w = load_batch(
            tiles, batch_indices(number, settings["batch_size"], len(tiles), index), torch.device("cpu")
        )
        train.train_step(model, optimizer, loss_fn, x, y, w)

    for number in range(settings["warmup"]):
        step(number)
    (folder / f"ready-{index}").touch()
    wait_for(folder, "go", 1)
    wall, cpu, timed_from = [], [], time.time()
    for number in range(settings["warmup"], settings["warmup"] + settings["steps"]):
        started, started_cpu = time.perf_counter(), time.process_time()
        step(number)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    timed_until = time.time()
    (folder / f"done-{index}").touch()
    extra = settings["warmup"] + settings["steps"]
    while len(list(folder.glob("done-*"))) < processes:  # keep the machine as busy for the others
        step(extra)
        extra += 1
    record = {"threads": torch.get_num_threads(), "why": why, "wall_s": wall, "cpu_s": cpu}
    record |= {"timed_from": timed_from, "timed_until": timed_until, "busy_until": time.time()}
    (folder / f"result-{index}.json").write_text(json.dumps(record))


def wait_for(folder: Path, name: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(list(folder.glob(name))) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {name} in {folder}")
        time.sleep(0.01)


# -- a side: N processes at once ----------------------------------------------------------------------------------
def run_side(side: str, settings: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """Start the side's processes, release them together once all are ready, and read what each measured."""
    folder.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    environment = {k: v for k, v in environment.items() if k not in ("LOCAL_WORLD_SIZE", runtime.THREADS_ENV)}
    script = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(settings), side]
    logs = [folder / f"stderr-{i}.txt" for i in range(settings["processes"])]
    workers = [
        subprocess.Popen([*script, str(i), str(folder)], env=environment, cwd=ROOT, stderr=log.open("w"))
        for i, log in enumerate(logs)
    ]
    try:
        deadline = time.monotonic() + WAIT_S
        while len(list(folder.glob("ready-*"))) < len(workers):
            failed = [i for i, w in enumerate(workers) if w.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                message = logs[failed[0]].read_text()[-3000:] if failed else "timed out before the first step"
                raise SystemExit(f"the {side} side failed: {message}")
            time.sleep(0.05)
        (folder / "go").touch()
        for w, log in zip(workers, logs):
            if w.wait(timeout=WAIT_S) != 0:
                raise SystemExit(f"the {side} side failed: {log.read_text()[-3000:]}")
    finally:
        for w in workers:  # only this tool's own workers, by their handles
            if w.poll() is None:
                w.kill()
                w.wait()
    return [json.loads((folder / f"result-{i}.json").read_text()) for i in range(len(workers))]


def compare(settings: dict[str, Any], command: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(settings["rounds"]):
            for side in SIDES if round_ % 2 == 0 else SIDES[::-1]:
                runs[side] += run_side(side, settings, Path(tmp) / f"{side}-{round_}")
    summary = {}
    for side, records in runs.items():
        wall = [t for r in records for t in r["wall_s"]]
        cpu = [t for r in records for t in r["cpu_s"]]
        summary[side] = {
            "threads_each": sorted({r["threads"] for r in records}),
            "why": records[0]["why"],
            "median_s_per_step": round(statistics.median(wall), 3),
            "median_cpu_s_per_step": round(statistics.median(cpu), 3),
            "steps_timed": len(wall),
        }
    return {
        "about": "tools/bench_threads.py: per-step times of concurrent training processes, default threads vs capped",
        "command": command,
        "settings": settings,
        "machine": {
            "processor": runtime.processor(),
            "cores_seen": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": round(os.getloadavg()[0], 2),
        },
        "summary": summary,
        "capped_speedup": round(summary["default"]["median_s_per_step"] / summary["capped"]["median_s_per_step"], 2),
        "runs": runs,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def table(result: dict[str, Any]) -> str:
    """The short table the tool prints (and the guide quotes)."""
    machine, settings = result["machine"], result["settings"]
    lines = [
        f"{settings['processes']} training processes at once on {machine['processor']}, {machine['cores_seen']} cores "
        f"seen; load average {machine['load_average_before']} before, {machine['load_average_after']} after",
        f"{'side':<9} {'threads each':>12} {'s/step':>8} {'CPU s/step':>11}",
    ]
    for side, row in result["summary"].items():
        threads = "/".join(str(t) for t in row["threads_each"])
        lines.append(f"{side:<9} {threads:>12} {row['median_s_per_step']:>8.3f} {row['median_cpu_s_per_step']:>11.3f}")
    lines.append(f"capped steps are {result['capped_speedup']:.2f}× as fast as default ones (medians)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:  # one training process, started by ``run_side``
        worker(json.loads(argv[1]), argv[2], int(argv[3]), Path(argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny network, 3 steps, one round (tests)")
    parser.add_argument("--processes", type=int, default=2, help="training processes at once (default 2)")
    parser.add_argument("--json", help=f"where to write the result (default {RESULT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    settings = {**(QUICK if args.quick else FULL), "processes": args.processes}
    command = "python tools/bench_threads.py" + (" --quick" if args.quick else "")
    command += f" --processes {args.processes}" if args.processes != 2 else ""
    command += f" --json {args.json}" if args.json else ""  # the command that writes this very file
    result = compare(settings, command)
    path = Path(args.json) if args.json else RESULT
    runtime.write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
    print(table(result))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
