"""Which of the U-Net's choices matter? Short training runs of the variants, one table (notebook 10, issue 10).

    python tools/ablation.py                      # 8 variants × 3 seeds, 150 steps: unet_lib/assets/ablation.json
    python tools/ablation.py --seeds 5            # two more seeds per variant: the runs already in the JSON are kept
    python tools/ablation.py --tiny --json X.json # 2 steps of a tiny network each: checks that everything runs
    python tools/ablation.py --only baseline,bilinear-up-sampling --steps 50 --json X.json

Every row is one ``python -m unet_lib train`` command, run as a subprocess exactly as the table records it
(the CPU recipe of notebook 08, changed by the row's options, with a fixed seed and a ``--steps`` budget so
that a busy machine makes runs slower, not different). The table copies, from the ``metrics.json`` each
command writes, the measures on the ISBI validation slices 25–29: pixel accuracy, the adapted Rand error,
V_Rand and V_Info (at the thresholds ``train`` chose on training slices), and the challenge's scoring (each
score at its best threshold). Notebook 10 displays the stored table; it never re-trains.

Every variant runs with ``--seeds`` seeds (0, 1, …; at least 3): a difference between two variants means
something only when it is larger than the spread of one variant over seeds (``unet_lib.verdicts``). The tool is
resumable: a run whose variant, seed and command are already in the JSON is skipped, and the JSON is rewritten
after every run, so an interrupted sweep (24 runs are about two hours on 2 cores) goes on where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unet_lib import runtime  # noqa: E402
from unet_lib.model import UNetModel, count_parameters  # noqa: E402

STEPS = 150
"""Training steps per run of the full ablation (2 tiles of 380² each): one run takes 1.5–13 minutes on 2 CPU
cores, depending on the variant and on what else the machine is doing."""

SEEDS = 3
"""Seeds per variant: the fewest that give a spread (``verdicts.spread``) that is more than one difference."""

TABLE = ROOT / "unet_lib" / "assets" / "ablation.json"
"""Where the table lives: beside the shipped checkpoint, so that notebook 10 finds it on Colab too (package data)."""
RUNS = ROOT / "runs" / "ablation"


@dataclass(frozen=True)
class Variant:
    """One row: a name, what it changes (for the table), and the ``train`` options that change it."""

    name: str
    what: str
    options: tuple[str, ...] = ()
    tiny_tile: int = 188  # the tile of the --tiny run (the smallest that fits the variant's depth and padding)


VARIANTS = (
    Variant("baseline", "the CPU recipe: valid padding, batch norm, transposed up-convolution, depth 4, weight map"),
    Variant(
        "same padding",
        "padded convolutions (output = input, 384² tiles) with batch norm, as most U-Nets today",
        ("--padding", "same", "--tile-size", "384"),
        tiny_tile=192,
    ),
    Variant(
        "bilinear up-sampling",
        "bilinear up-sampling + 1×1 convolution instead of the learned 2×2 up-convolution",
        ("--up-mode", "bilinear"),
    ),
    Variant("depth 3", "three poolings instead of four (output 292² from 380²)", ("--depth", "3"), tiny_tile=188),
    Variant("no batch norm", "no batch norm, as the paper's network", ("--no-batch-norm",)),
    Variant("no weight map", "plain cross-entropy instead of the paper's weight map", ("--no-weight-map",)),
    Variant(
        "augmentation",
        "the paper's augmentation: flips, quarter turns, elastic deformation, gray values",
        ("--augment",),
    ),
    Variant(
        "augmentation, no elastic",
        "the same augmentation without the elastic deformation",
        ("--augment", "--no-elastic"),
    ),
)

TINY = ("--base-channels", "2", "--val-tiles", "1", "--val-every", "1", "--checkpoint-every", "1")
"""What ``--tiny`` adds to every command: a network of 2 base channels, one validation tile."""

MEASURES = ("pixel_accuracy", "rand_error", "v_rand", "v_info")
"""The means over the validation slices copied into the table (``train``'s own thresholds)."""

CHALLENGE = ("v_rand", "v_rand_threshold", "v_info", "v_info_threshold")
"""The challenge's scoring of the validation slices (each score at its best threshold) copied into the table."""


def slug(name: str) -> str:
    """The folder name of a variant: ``"same padding"`` → ``same-padding``."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def run_folder(runs: Path, variant: Variant, seed: int) -> Path:
    """``runs/<variant>`` for seed 0 and ``runs/<variant>-seed-<k>`` for the others (the stored commands' folders)."""
    return runs / (slug(variant.name) if seed == 0 else f"{slug(variant.name)}-seed-{seed}")


def train_arguments(variant: Variant, steps: int, data: str, out: Path, tiny: bool, seed: int = 0) -> list[str]:
    """The arguments of ``python -m unet_lib train`` for one run (fp32, so that every processor computes alike)."""
    arguments = ["train", "--data", data, "--steps", str(steps), "--precision", "fp32", "--out", shown_path(out)]
    arguments += list(variant.options)
    if tiny:  # the variant's own tile size gives way to the smallest one that fits
        if "--tile-size" in arguments:
            at = arguments.index("--tile-size")
            del arguments[at : at + 2]
        arguments += [*TINY, "--tile-size", str(variant.tiny_tile)]
    return arguments + ["--seed", str(seed)]


def command_text(arguments: list[str]) -> str:
    """The command as ``train`` records it in its metrics.json (``python -m unet_lib`` + the quoted arguments)."""
    return "python -m unet_lib " + " ".join(shlex.quote(a) for a in arguments)


def shown_path(path: Path) -> str:
    """A run folder as the table stores it: relative to the checkout when inside it (no home paths in the docs)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(
    variant: Variant, seed: int, steps: int, data: str, runs: Path, tiny: bool, threads: int | None
) -> dict[str, Any]:
    """Train one variant with one seed as a subprocess, then read back what the command itself wrote."""
    out = run_folder(runs, variant, seed)
    arguments = train_arguments(variant, steps, data, out, tiny, seed)
    print(f"[{variant.name}, seed {seed}] {command_text(arguments)}", flush=True)
    started = time.perf_counter()
    environment = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    command = [sys.executable, "-m", "unet_lib", *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        raise SystemExit(f"{variant.name}, seed {seed}: the command failed ({done.returncode}):\n{done.stderr[-3000:]}")
    record = json.loads((out / "metrics.json").read_text())
    validation = record["validation"]
    row = {
        "name": variant.name,
        "seed": seed,
        "what": variant.what,
        "command": record["command"],
        "out": shown_path(out),
        "steps": record["steps"],
        "training_seconds": record["training_seconds"],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "parameters": count_parameters(UNetModel(**record["model_config"])),
        "training_precision": record["training_precision"],
        "torch_threads": record["torch_threads"],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "processor": runtime.processor_name(),
        "thresholds": {key: validation[key] for key in ("threshold", "segmentation_threshold")},
        "mean": {key: validation["mean"][key] for key in MEASURES},
        "challenge": {key: validation["challenge"][key] for key in CHALLENGE},
    }
    print(f"[{variant.name}, seed {seed}] {row['steps']} steps in {row['training_seconds']} s: {row['mean']}")
    return row


def default_steps(tiny: bool) -> int:
    return 2 if tiny else STEPS


def machine() -> dict[str, Any]:
    """The machine of this call (``tools/recipe_sweep.py``'s table; this tool's rows each name their own)."""
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "device": str(runtime.pick_device()),
        "load_average_before": round(os.getloadavg()[0], 1),
    }


def done_runs(path: Path) -> list[dict[str, Any]]:
    """The runs a previous (possibly interrupted) sweep stored at ``path``; none when there is no table yet."""
    if not path.is_file():
        return []
    return list(json.loads(path.read_text())["runs"])


def is_done(rows: list[dict[str, Any]], variant: Variant, seed: int, command: str) -> bool:
    """Whether this variant and seed already ran with exactly this command (same steps, data, options)."""
    return any(r["name"] == variant.name and r.get("seed", 0) == seed and r["command"] == command for r in rows)


def in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped by variant, in the order of ``VARIANTS``, seeds ascending."""
    rank = {v.name: k for k, v in enumerate(VARIANTS)}
    return sorted(rows, key=lambda r: (rank.get(r["name"], len(rank)), r.get("seed", 0)))


ABOUT = (
    "tools/ablation.py: short `python -m unet_lib train` runs of U-Net variants (notebook 10). The tool is resumable: "
    "each call adds the runs the file lacks and keeps the stored ones, so the runs can come from several calls, "
    "machines and thread counts; each run records its own command, processor, instruction set and threads"
)
"""The table's own description: how it is made. Nothing at its top describes one call of the tool, since a resumed
sweep is several (notebook 10 reads where each run ran from the run)."""


def table_of(rows: list[dict[str, Any]], stored: dict[str, Any] | None = None) -> dict:
    """The JSON the tool writes: what it is, the budget and data of its runs, the runs."""
    first = _data_of(rows, stored or {})
    return {
        "about": ABOUT,
        "budget": budget_of(rows),
        "data": first.get("data"),
        "validation_images": first.get("validation_images"),
        "total_seconds": round(sum(r["wall_seconds"] for r in rows), 1),
        **({"note": stored["note"]} if stored and "note" in stored else {}),
        "runs": in_order(rows),
    }


def budget_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The budget read from the runs themselves, not from the last call: a call with other ``--steps`` or
    ``--seeds`` (with ``--only``) changes the runs it makes and leaves the others as they were."""
    steps = sorted({r["steps"] for r in rows})
    seeds = Counter(r["name"] for r in rows)
    return {
        "steps": steps[0] if len(steps) == 1 else steps,
        "tiny": all(" ".join(TINY) in r["command"] for r in rows),
        "tiles per step": 2,
        "fewest seeds per variant": min(seeds.values()),
    }


def _data_of(rows: list[dict[str, Any]], stored: dict[str, Any]) -> dict[str, Any]:
    """The data and validation images of the runs: from a run folder still on this disk, else from the stored table
    (a sweep resumed on another machine has the earlier rows but not their folders)."""
    for row in rows:
        metrics = ROOT / row["out"] / "metrics.json"
        if metrics.is_file():
            return json.loads(metrics.read_text())
    return stored


def machines_of(rows: list[dict[str, Any]]) -> list[str]:
    """Every processor the rows ran on (``tools/recipe_sweep.py``'s table: a resumed sweep can span machines)."""
    names = [f"{r.get('processor', 'unrecorded processor')} ({r['cpu_capability']})" for r in rows]
    return sorted(set(names), key=names.index)


def ablation(
    variants: list[Variant],
    steps: int,
    data: str,
    runs: Path,
    path: Path,
    seeds: int = SEEDS,
    tiny: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run every variant with every seed that the table at ``path`` does not hold yet, rewriting it after each run."""
    rows = done_runs(path)
    stored = json.loads(path.read_text()) if rows else {}
    table = table_of(rows, stored) if rows else {}
    for variant in variants:
        for seed in range(seeds):
            command = command_text(train_arguments(variant, steps, data, run_folder(runs, variant, seed), tiny, seed))
            if is_done(rows, variant, seed, command):
                print(f"[{variant.name}, seed {seed}] already in {shown_path(path)}: skipped")
                continue
            rows = [r for r in rows if not (r["name"] == variant.name and r.get("seed", 0) == seed)]
            rows.append(run(variant, seed, steps, data, runs, tiny, threads))
            table = table_of(rows, stored)
            write_table(path, table)
    return table


def write_table(path: Path, table: dict[str, Any]) -> None:
    runtime.write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, help=f"training steps per run (default {STEPS}; --tiny: 2)")
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds per variant, 0, 1, … (default {SEEDS})")
    parser.add_argument("--tiny", action="store_true", help="a network of 2 base channels, smallest tiles (tests)")
    parser.add_argument("--only", help="comma-separated variants, e.g. baseline,depth-3 (default: all)")
    parser.add_argument("--data", default="isbi2012", help="isbi2012 (default), synthetic, or a folder DIR")
    parser.add_argument("--runs", default=str(RUNS), help="folder for the runs (default runs/ablation)")
    parser.add_argument("--threads", type=int, help="torch threads per run (OMP_NUM_THREADS; default: torch's)")
    parser.add_argument("--json", default=None, help=f"where to write the table (default {shown_path(TABLE)})")
    args = parser.parse_args(argv)
    if args.seeds < (1 if args.tiny else 3):
        parser.error(f"--seeds {args.seeds}: a spread needs at least 3 seeds per variant (--tiny: at least 1)")
    variants = list(VARIANTS)
    if args.only:
        wanted = [name.strip() for name in args.only.split(",")]
        unknown = sorted(set(wanted) - {slug(v.name) for v in VARIANTS})
        if unknown:
            names = ", ".join(slug(v.name) for v in VARIANTS)
            parser.error(f"no such variant: {', '.join(unknown)}; the variants are {names}")
        variants = [v for v in VARIANTS if slug(v.name) in wanted]
    steps = args.steps or default_steps(args.tiny)
    path = Path(args.json) if args.json else TABLE
    table = ablation(variants, steps, args.data, Path(args.runs), path, args.seeds, args.tiny, args.threads)
    if not table:
        parser.error("nothing to run and no table to write")
    print(f"{shown_path(path)}: {len(table['runs'])} runs, {table['total_seconds'] / 60:.1f} min of runs in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
