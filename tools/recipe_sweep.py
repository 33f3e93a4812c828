"""What decides quality in a 5-minute run on a CPU without fast bf16? One factor at a time, then seeds (issue 21).

    python tools/recipe_sweep.py                      # screening, every row once: docs/measured/recipe_sweep.json
    python tools/recipe_sweep.py --seeds 3 --only default,lr-2e-3   # three seeds of the rows worth a closer look
    python tools/recipe_sweep.py --tiny --json X.json # 2 steps of a tiny network per row: checks that it runs

Each row is the default ``python -m unet_lib train`` recipe (notebook 08) with one thing changed, trained in fp32
for a fixed budget of **input pixels** rather than of minutes: ``STEPS`` steps of 2 tiles of 380², the steps the
default makes in 5 minutes on an AMD EPYC with AVX2 only (0.41 s per step measured there), or as many steps of
another tile or batch size as take the same pixels in. A fixed budget makes the runs independent of the machine
and of what else it is doing, so that the sweep can run anywhere in fp32 and still speaks of that CPU; the
wall time a chosen recipe really takes is then checked with ``train --minutes 5``.

The later rows look for what would reach the aim (``TARGET``) where no single change does: longer runs (three
and six budgets), the best changes together in one budget, a wider network (more arithmetic per step: more than
five minutes), so that the README can say what would reach it. The very last is no recipe but a measurement: the
default's training, seed for seed, scored on single views instead of four rotations averaged.

The table copies each run's scores on the validation slices 25–29 from the ``metrics.json`` the command wrote,
like ``tools/ablation.py`` (whose runner it uses), and the tool prints every row against the default with
``unet_lib.verdicts`` once the default has several seeds. Resumable: a row and seed already stored with the
same command is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import ablation  # noqa: E402

from unet_lib import verdicts  # noqa: E402

STEPS = 700
"""Steps of the default recipe (2 tiles of 380²) per run: about 5 minutes at 0.41 s per step, the AVX2 EPYC's."""

DEFAULT_TILE, DEFAULT_BATCH = 380, 2

TABLE = ROOT / "docs" / "measured" / "recipe_sweep.json"
RUNS = ROOT / "runs" / "recipe_sweep"

NOT_SCREENED = (
    "widths other than twice the default's: a wider network costs more time per step than its input pixels say "
    "(twice the channels, about four times the arithmetic), so such a row speaks of more than five minutes; a "
    "narrower one (more steps in five minutes, fewer filters) is not tried"
)

TINY_TILE = 188
"""The tile of a ``--tiny`` row (2 steps of a 2-channel network): the smallest the default's depth fits."""


@dataclass(frozen=True)
class Row:
    """What a row changes from the default recipe (one thing, or the best ones together), and the tile and batch
    that fix its share of the pixel budget."""

    name: str
    what: str
    options: tuple[str, ...] = ()
    tile: int = DEFAULT_TILE
    batch: int = DEFAULT_BATCH
    budgets: int = 1  # how many default budgets the row gets (3: what 15 minutes buy on the AVX2 EPYC)
    arithmetic: int = 1  # the default's arithmetic per budget, times (4 for twice the channels: not 5 minutes)
    tiny_tile: int = TINY_TILE  # the tile of its --tiny run: the smallest that fits its depth and padding
    measurement_only: bool = False  # the default's training scored another way: not a recipe to choose

    def steps(self, default_steps: int) -> int:
        """As many steps as take ``default_steps`` default steps' input pixels, per budget (a larger tile or batch:
        fewer steps)."""
        return round(self.budgets * default_steps * DEFAULT_BATCH * DEFAULT_TILE**2 / (self.batch * self.tile**2))

    @property
    def in_five_minutes(self) -> bool:
        """A recipe for one budget at the default's arithmetic: what five minutes buy on the AVX2 EPYC (a larger
        tile, padding or width does more arithmetic per input pixel; ``tests/test_recipe_sweep.py`` counts it). A
        measurement-only row is no recipe."""
        return self.budgets == 1 and self.arithmetic == 1 and not self.measurement_only


ROWS = (
    Row("default", "the CPU recipe: Adam at 1e-3, cosine-annealed, 2 tiles of 380², no augmentation"),
    Row("lr 5e-4", "half the learning rate", ("--lr", "5e-4")),
    Row("lr 2e-3", "twice the learning rate", ("--lr", "2e-3")),
    Row(
        "augmentation",
        "the paper's augmentation: flips, quarter turns, elastic deformation, gray values",
        ("--augment",),
    ),
    Row("batch 1", "one tile per step, twice the steps", ("--batch-size", "1"), batch=1),
    Row("batch 4", "four tiles per step, half the steps", ("--batch-size", "4"), batch=4),
    Row("tile 476", "2 tiles of 476² (output 292²), fewer steps", ("--tile-size", "476"), tile=476),
    Row("lr 4e-3", "four times the learning rate", ("--lr", "4e-3")),
    Row("tile 284", "2 tiles of 284² (output 100²), more steps", ("--tile-size", "284"), tile=284),
    Row(
        "warm-up 70",
        "the first 70 steps (a tenth of the budget) scale the cosine's rate by a factor rising linearly to 1",
        ("--warmup-steps", "70"),
    ),
    Row(
        "bn momentum 0.01",
        "batch norm's running statistics follow training ten times slower (about the last 100 steps)",
        ("--bn-momentum", "0.01"),
    ),
    Row(
        "bn momentum 0.3",
        "batch norm's running statistics follow training three times faster (about the last 3 steps)",
        ("--bn-momentum", "0.3"),
    ),
    Row(
        "same padding",
        "padded convolutions (not the paper's): outputs as large as the 2 tiles of 384², about 2 times the arithmetic",
        ("--padding", "same", "--tile-size", "384"),
        tile=384,
        arithmetic=2,
        tiny_tile=192,
    ),
    Row(
        "no weight map",
        "plain cross-entropy: no extra weight on the thin borders between touching cells (the paper's w0 = 10)",
        ("--no-weight-map",),
    ),
    Row(
        "sgd",
        "the paper's optimiser: SGD with momentum 0.99 at 0.01, cosine-annealed",
        ("--optimizer", "sgd"),
    ),
    Row(
        "depth 3",
        "three poolings instead of four: output 292² from the same tiles, a smaller receptive field",
        ("--depth", "3"),
    ),
    Row(
        "depth 5",
        "five poolings: 2 tiles of 572² for the default's output of 196², fewer steps",
        ("--depth", "5", "--tile-size", "572"),
        tile=572,
        tiny_tile=476,
    ),
    # What would reach the aim, if five minutes do not: longer runs, the best changes together, twice the channels.
    Row("3× the steps", "the default recipe for three budgets (about 15 minutes on the AVX2 EPYC)", budgets=3),
    Row(
        "lr 2e-3, tile 284",
        "twice the learning rate and the smaller tile together",
        ("--lr", "2e-3", "--tile-size", "284"),
        tile=284,
    ),
    Row(
        "lr 2e-3, bn momentum 0.01",
        "twice the learning rate and the slower batch-norm statistics together",
        ("--lr", "2e-3", "--bn-momentum", "0.01"),
    ),
    Row(
        "lr 2e-3, bn momentum 0.01, no weight map",
        "twice the learning rate, the slower batch-norm statistics and plain cross-entropy together",
        ("--lr", "2e-3", "--bn-momentum", "0.01", "--no-weight-map"),
    ),
    Row(
        "lr 2e-3, 3× the steps",
        "twice the learning rate for three budgets (about 15 minutes on the AVX2 EPYC)",
        ("--lr", "2e-3"),
        budgets=3,
    ),
    Row(
        "lr 2e-3, bn momentum 0.01, 3× the steps",
        "the best five-minute pair for three budgets (about 15 minutes on the AVX2 EPYC)",
        ("--lr", "2e-3", "--bn-momentum", "0.01"),
        budgets=3,
    ),
    Row(
        "base channels 32",
        "twice the channels at every level (the paper has 64): the default's steps, about 4 times the arithmetic",
        ("--base-channels", "32"),
        arithmetic=4,
    ),
    Row(
        "lr 2e-3, bn momentum 0.01, no weight map, base channels 32",
        "the best five-minute recipe with twice the channels (about 4 times the arithmetic of the default's steps)",
        ("--lr", "2e-3", "--bn-momentum", "0.01", "--no-weight-map", "--base-channels", "32"),
        arithmetic=4,
    ),
    Row("6× the steps", "the default recipe for six budgets (about 30 minutes on the AVX2 EPYC)", budgets=6),
    Row(
        "augmentation, 3× the steps",
        "the paper's augmentation for three budgets: more steps to learn from varied tiles",
        ("--augment",),
        budgets=3,
    ),
    # Not a recipe: the default's training measured on single views (notebook 09 compares both on the shipped model).
    Row(
        "one view",
        "the default's training, measured on single views: thresholds chosen and scores taken without averaging four "
        "rotations (train --rotations 1)",
        ("--rotations", "1"),
        measurement_only=True,
    ),
)


def as_variant(row: Row, tiny: bool) -> ablation.Variant:
    """The row in the ablation runner's terms (the runner adds data, steps, fp32, the folder and the seed)."""
    options = row.options
    if tiny and "--tile-size" in options:
        at = options.index("--tile-size")
        options = options[:at] + options[at + 2 :]
    return ablation.Variant(row.name, row.what, options, tiny_tile=row.tiny_tile)


def rows_in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored runs in the order of ``ROWS`` (a row's seeds ascending), whatever order they ran or were merged in."""
    rank = {r.name: k for k, r in enumerate(ROWS)}
    return sorted(rows, key=lambda r: (rank.get(r["name"], len(rank)), r["seed"]))


MEASURES = {
    "pixel accuracy": ("mean", "pixel_accuracy", True),
    "adapted Rand error": ("mean", "rand_error", False),
    "V_Rand*": ("challenge", "v_rand", True),
}
"""What the sweep compares: ``train``'s means over slices 25–29 at its thresholds, and the challenge's V_Rand."""
SHORT = {"pixel accuracy": "accuracy", "adapted Rand error": "Rand error", "V_Rand*": "V_Rand*"}


def grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The runs of each row, in the order of ``ROWS``, seeds ascending."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows_in_order(rows):
        groups.setdefault(row["name"], []).append(row)
    return groups


def against_default(groups: dict[str, list[dict[str, Any]]], name: str, label: str) -> verdicts.Verdict | None:
    """Row ``name`` against the default on one measure, under the larger of the two seed spreads; ``None`` until
    the default has two seeds (a spread needs them)."""
    base = groups.get("default", [])
    if len(base) < 2 or name == "default":
        return None
    part, key, higher = MEASURES[label]
    mine, ref = [g[part][key] for g in groups[name]], [g[part][key] for g in base]
    return verdicts.compare(
        sum(mine) / len(mine),
        sum(ref) / len(ref),
        spread=max(verdicts.spread(ref), verdicts.spread(mine)),
        measure=label,
        candidate_name=f"{name} ({len(mine)} seed{'s' * (len(mine) > 1)})",
        reference_name=f"default ({len(ref)} seeds)",
        higher_is_better=higher,
        digits=4,
    )


def _cell(values: list[float]) -> str:
    mean = f"{sum(values) / len(values):.4f}"
    return mean + (f" [{min(values):.4f}, {max(values):.4f}]" if len(values) > 1 else "")


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Each row's mean scores (the interval of its seeds), then every row against the default, computed."""
    groups = grouped(rows)
    width = max(len("row"), *map(len, groups)) + 1
    lines = [f"{'row':<{width}}{'seeds':>6}{'steps':>7}" + "".join(f"{m:>26}" for m in MEASURES)]
    for name, group in groups.items():
        cells = [_cell([g[part][key] for g in group]) for part, key, _ in MEASURES.values()]
        lines.append(f"{name:<{width}}{len(group):>6}{group[0]['steps']:>7}" + "".join(f"{c:>26}" for c in cells))
    if len(groups.get("default", [])) < 2:
        return lines + ["(verdicts once the default has at least 2 seeds: the spread comes from them)"]
    return lines + [
        verdict.sentence()
        for name in groups
        for label in MEASURES
        if (verdict := against_default(groups, name, label)) is not None
    ]


README_MARKERS = ("<!-- recipe-sweep -->", "<!-- /recipe-sweep -->")


def readme_block(table: dict[str, Any]) -> str:
    """The README's table of the sweep, written from the stored JSON (``tests/test_recipe_sweep.py`` compares)."""
    groups = grouped(table["runs"])
    budget = table["budget"]
    lines = [
        f"`{'`, `'.join(table['commands'])}` — fp32, {budget['default steps']} steps of {budget['tiles per step']} "
        f"tiles of {budget['tile']}² for the default ({budget['rule']}), on {', '.join(table['machines'])}; "
        f"[the runs](docs/measured/recipe_sweep.json). Means over the seeds, [lowest, highest] where there are "
        "several; each verdict against the default is computed by `unet_lib.verdicts` under the larger seed spread. "
        "A row with one seed is a screening (the default's spread stands in for its own, unknown); two seeds give a "
        "thin spread; only a row with three seeds could change the default.",
        "",
        "| row | what it changes | steps | seeds | " + " | ".join(MEASURES) + " | against the default |",
        "|---|---|---:|---:|" + "---|" * len(MEASURES) + "---|",
    ]
    for name, group in groups.items():
        cells = [_cell([g[part][key] for g in group]) for part, key, _ in MEASURES.values()]
        outcomes = [
            f"{SHORT[label]} {verdict.outcome}"
            for label in MEASURES
            if (verdict := against_default(groups, name, label)) is not None
        ]
        said = "; ".join(outcomes) if outcomes else ("—" if name == "default" else "(the default needs 2 seeds)")
        lines.append(
            f"| {name} | {group[0]['what']} | {group[0]['steps']} | {len(group)} | "
            + " | ".join(cells)
            + f" | {said} |"
        )
    lines += ["", *target_lines(groups), "", f"Not screened: {table['not screened']}."]
    return "\n".join(lines)


TARGET = {"pixel accuracy": 0.925, "adapted Rand error": 0.03, "V_Rand*": 0.97}
"""Issue 21's aim for every seed of the default 5-minute run on an fp32 CPU (the course's bar is 0.92 / 0.05)."""


def worst(group: list[dict[str, Any]], label: str) -> float:
    """A row's worst seed on one measure (the lowest accuracy, the highest Rand error): what an aim for every seed
    must clear."""
    part, key, higher = MEASURES[label]
    values = [g[part][key] for g in group]
    return min(values) if higher else max(values)


def reaches(value: float, label: str) -> bool:
    """Whether one score meets ``TARGET`` on its measure (at least, or at most for an error)."""
    higher = MEASURES[label][2]
    return value >= TARGET[label] if higher else value <= TARGET[label]


def target_lines(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Which recipes reach ``TARGET`` on every seed, computed from the runs (the README says it from these lines);
    a measurement-only row is no recipe and is left out."""
    recipes = {row.name for row in ROWS if not row.measurement_only}
    reached, missed = [], []
    for name, group in groups.items():
        if name not in recipes:
            continue
        short = [f"{label} {worst(group, label):.4f}" for label in MEASURES if not reaches(worst(group, label), label)]
        (missed if short else reached).append(f"{name} ({', '.join(short)})" if short else name)
    aim = ", ".join(f"{label} {'≥' if higher else '≤'} {TARGET[label]}" for label, (_, _, higher) in MEASURES.items())
    return [
        f"Recipes whose every seed reaches {aim}: {', '.join(reached) if reached else 'none'}. "
        f"Recipes that miss it, with their worst seed on the measure missed: {'; '.join(missed) if missed else 'none'}."
    ]


def write_readme(table: dict[str, Any], readme: Path = ROOT / "README.md") -> None:
    """Rewrite the block between ``README_MARKERS`` in README.md from the stored table."""
    text = readme.read_text()
    start, end = (text.index(marker) for marker in README_MARKERS)
    readme.write_text(text[: start + len(README_MARKERS[0])] + "\n" + readme_block(table) + "\n" + text[end:])


def sweep(
    rows: list[Row],
    budget: int,
    seeds: int,
    data: str,
    runs: Path,
    path: Path,
    tiny: bool,
    threads: int | None,
    command: str,
) -> dict[str, Any]:
    """Train each row for each seed not stored yet with the same command, and rewrite the table at ``path`` after
    every run, so that a sweep stopped halfway keeps what it finished and resumes from there."""
    done = ablation.done_runs(path)
    stored = json.loads(path.read_text()) if done else {}
    commands = [c for c in stored.get("commands", []) if c != command] + [command]
    table: dict[str, Any] = {}
    for row in rows:
        variant, steps = as_variant(row, tiny), (2 if tiny else row.steps(budget))
        for seed in range(seeds):
            out = ablation.run_folder(runs, variant, seed)
            arguments = ablation.train_arguments(variant, steps, data, out, tiny, seed)
            if ablation.is_done(done, variant, seed, ablation.command_text(arguments)):
                print(f"[{row.name}, seed {seed}] already in {ablation.shown_path(path)}: skipped")
                continue
            done = [r for r in done if not (r["name"] == row.name and r["seed"] == seed)]
            done.append(ablation.run(variant, seed, steps, data, runs, tiny, threads))
            table = {
                "about": "tools/recipe_sweep.py: the default train recipe with one thing changed, fp32, a fixed "
                "budget of input pixels (issue 21)",
                "commands": commands,
                "budget": {
                    "default steps": budget,
                    "tiles per step": DEFAULT_BATCH,
                    "tile": DEFAULT_TILE,
                    "rule": "each row takes as many steps as the default's input pixels",
                    "tiny": tiny,
                },
                "not screened": NOT_SCREENED,
                "machine": ablation.machine(),
                "machines": ablation.machines_of(done),
                "total_seconds": round(sum(r["wall_seconds"] for r in done), 1),
                "runs": rows_in_order(done),
            }
            ablation.write_table(path, table)
    return table or (json.loads(path.read_text()) if path.is_file() else {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=STEPS, help=f"default steps per run (default {STEPS})")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per row, 0, 1, … (default 1: screening)")
    parser.add_argument("--only", help="comma-separated rows, e.g. default,lr-2e-3 (default: all)")
    parser.add_argument("--tiny", action="store_true", help="2 steps of a tiny network per row (tests)")
    parser.add_argument("--data", default="isbi2012", help="isbi2012 (default), synthetic, or a folder DIR")
    parser.add_argument("--runs", default=str(RUNS), help="folder for the runs (default runs/recipe_sweep)")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: torch's)")
    parser.add_argument("--json", default=None, help=f"where to write the table (default {ablation.shown_path(TABLE)})")
    parser.add_argument("--readme", action="store_true", help="only rewrite README's table from the stored JSON")
    args = parser.parse_args(argv)
    if args.readme:
        write_readme(json.loads(TABLE.read_text()))
        return 0
    rows = list(ROWS)
    if args.only:
        wanted = [name.strip() for name in args.only.split(",")]
        unknown = sorted(set(wanted) - {ablation.slug(r.name) for r in ROWS})
        if unknown:
            names = ", ".join(ablation.slug(r.name) for r in ROWS)
            parser.error(f"no such row: {', '.join(unknown)}; the rows are {names}")
        rows = [r for r in ROWS if ablation.slug(r.name) in wanted]
    path = Path(args.json) if args.json else TABLE
    command = (
        "python tools/recipe_sweep.py"
        + "".join(
            f" {flag} {value}"
            for flag, value in (
                ("--steps", args.steps if args.steps != STEPS else None),
                ("--seeds", args.seeds if args.seeds != 1 else None),
                ("--only", args.only),
                ("--threads", args.threads),
            )
            if value
        )
        + (" --tiny" if args.tiny else "")
    )
    table = sweep(rows, args.steps, args.seeds, args.data, Path(args.runs), path, args.tiny, args.threads, command)
    if not table:
        parser.error("nothing to run and no table to write")
    print("\n".join(summary(table["runs"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
