"""tools/recipe_sweep.py (issue 21): one factor at a time against the default, a fixed budget of input pixels,
resumable, verdicts from the seeds; README's table is the stored JSON's.

The tiny sweep trains a 2-channel network for 2 steps on a small own-data folder (seconds); the real sweep
(``docs/measured/recipe_sweep.json``, about 7 minutes a run on 2 cores) runs outside CI, with its commands stored.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from unet_lib import cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import recipe_sweep  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(two_image_folder) -> Path:
    """Two small labelled images: one to train on, one to validate on (tests/conftest.py)."""
    return two_image_folder


def test_each_row_takes_the_defaults_input_pixels():
    rows = {row.name: row for row in recipe_sweep.ROWS}
    assert rows["default"].steps(700) == 700 and rows["lr 2e-3"].steps(700) == 700
    assert rows["batch 4"].steps(700) == 350 and rows["batch 1"].steps(700) == 1400
    assert rows["tile 476"].steps(700) == round(700 * 380**2 / 476**2) == 446
    assert rows["3× the steps"].steps(700) == 2100
    assert all(row.name == "default" or row.options or row.budgets != 1 for row in recipe_sweep.ROWS)


def test_each_rows_arithmetic_is_counted():
    """``Row.arithmetic`` (which keeps a row out of "five minutes") and its words, from a count of the operations:
    one forward pass of each row's network and batch, times its steps, against the default's (on the meta device,
    no arithmetic done; the backward pass scales alike)."""

    def operations(row: recipe_sweep.Row) -> int:
        recipe = cli.new_recipe(cli.build_parser().parse_args(["train", *row.options]))
        with torch.device("meta"), FlopCounterMode(display=False) as counter:
            recipe.model()(torch.zeros(recipe.batch_size, 1, recipe.tile_size, recipe.tile_size))
        return counter.get_total_flops() * row.steps(recipe_sweep.STEPS) // row.budgets

    default = operations(recipe_sweep.ROWS[0])
    for row in recipe_sweep.ROWS:
        assert round(operations(row) / default) == row.arithmetic, row.name
        assert (f"about {row.arithmetic} times the arithmetic" in row.what) == (row.arithmetic > 1), row.name
    wide = {row.name: row.arithmetic for row in recipe_sweep.ROWS if "--base-channels" in row.options}
    assert wide and set(wide.values()) == {4}  # twice the channels: about four times the arithmetic


def test_a_tiny_sweep_runs_resumes_and_judges_against_the_defaults_seeds(folder, tmp_path, capsys):
    table, runs = tmp_path / "sweep.json", tmp_path / "runs"
    argv = ["--tiny", "--data", str(folder), "--runs", str(runs), "--json", str(table), "--threads", "1"]
    assert recipe_sweep.main([*argv, "--only", "default,lr-2e-3"]) == 0
    first = json.loads(table.read_text())
    assert [(r["name"], r["seed"]) for r in first["runs"]] == [("default", 0), ("lr 2e-3", 0)]
    assert "--lr 2e-3" in first["runs"][1]["command"] and "--precision fp32" in first["runs"][1]["command"]
    assert "(verdicts once the default has at least 2 seeds" in capsys.readouterr().out
    assert recipe_sweep.main([*argv, "--only", "default", "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "[default, seed 0] already in" in printed and printed.count("python -m unet_lib train") == 1
    again = json.loads(table.read_text())
    assert [(r["name"], r["seed"]) for r in again["runs"]] == [("default", 0), ("default", 1), ("lr 2e-3", 0)]
    assert again["runs"][0] == first["runs"][0]
    assert again["commands"][-1].endswith("--seeds 2 --only default --threads 1 --tiny")
    verdict = recipe_sweep.against_default(recipe_sweep.grouped(again["runs"]), "lr 2e-3", "pixel accuracy")
    assert verdict is not None
    assert verdict.sentence() in printed  # the printed line is the computed one
    record = json.loads((Path(again["runs"][2]["out"]) / "metrics.json").read_text())
    assert again["runs"][2]["mean"]["pixel_accuracy"] == record["validation"]["mean"]["pixel_accuracy"]


def test_readmes_table_is_the_stored_sweep():
    """README's block between the recipe-sweep markers is what ``--readme`` writes from the stored JSON."""
    table = json.loads(recipe_sweep.TABLE.read_text())
    readme = (ROOT / "README.md").read_text()
    start, end = (readme.index(marker) for marker in recipe_sweep.README_MARKERS)
    assert readme[start + len(recipe_sweep.README_MARKERS[0]) : end].strip() == recipe_sweep.readme_block(table)
    assert not table["budget"]["tiny"] and table["budget"]["default steps"] == recipe_sweep.STEPS
    names = {row.name for row in recipe_sweep.ROWS}
    assert {r["name"] for r in table["runs"]} <= names and any(r["name"] == "default" for r in table["runs"])


@pytest.fixture(scope="module")
def groups() -> dict[str, list[dict]]:
    """The stored runs, by row (the README paragraphs below speak of them)."""
    return recipe_sweep.grouped(json.loads(recipe_sweep.TABLE.read_text())["runs"])


def accuracies(groups: dict[str, list[dict]]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Each row's pixel accuracy per seed, and its mean over the seeds."""
    accuracy = {name: [g["mean"]["pixel_accuracy"] for g in group] for name, group in groups.items()}
    return accuracy, {name: sum(values) / len(values) for name, values in accuracy.items()}


def outcome(groups: dict[str, list[dict]], name: str, label: str) -> str:
    """The row against the default's seeds on one measure: better, worse or within noise (``unet_lib.verdicts``)."""
    return recipe_sweep.against_default(groups, name, label).outcome


def test_readmes_what_would_reach_the_aim_is_the_stored_sweep(groups):
    """Each claim of README's 'What would reach the aim?' paragraph, from the stored runs."""
    accuracy, mean = accuracies(groups)

    def spread(*names: str) -> float:
        return max(recipe_sweep.verdicts.spread(accuracy[name]) for name in names)

    # the best recipe in five minutes' steps: lr 2e-3, momentum 0.01 and plain cross-entropy, three seeds, 0.9236,
    # within noise of the pair alone (0.9232, itself above either change alone); Rand-type within noise of the
    # default's; below 0.925 on every seed
    best, pair = "lr 2e-3, bn momentum 0.01, no weight map", "lr 2e-3, bn momentum 0.01"
    in_five_minutes = [row.name for row in recipe_sweep.ROWS if row.in_five_minutes and row.name in groups]
    assert len(groups[best]) == len(groups[pair]) == 3 and max(in_five_minutes, key=mean.get) == best
    assert f"{mean[best]:.4f}" == "0.9236" and f"{mean[pair]:.4f}" == "0.9232"
    assert abs(mean[best] - mean[pair]) <= spread(best, pair)  # within noise
    assert mean[pair] > max(mean["lr 2e-3"], mean["bn momentum 0.01"])
    rand_type = ("adapted Rand error", "V_Rand*")
    assert {outcome(groups, best, label) for label in rand_type} == {"within noise"}
    assert max(accuracy[best]) < recipe_sweep.TARGET["pixel accuracy"]
    # plain cross-entropy alone: 0.9224 over three seeds, better, Rand-type within noise; padded convolutions and
    # SGD worse on both Rand-type scores (one seed each)
    assert len(groups["no weight map"]) == 3 and f"{mean['no weight map']:.4f}" == "0.9224"
    assert outcome(groups, "no weight map", "pixel accuracy") == "better"
    assert {outcome(groups, "no weight map", label) for label in rand_type} == {"within noise"}
    for name in ("same padding", "sgd"):
        assert len(groups[name]) == 1 and {outcome(groups, name, label) for label in rand_type} == {"worse"}, name
    # three or five poolings raise the adapted Rand error (one seed each), three cost pixel accuracy as well
    for name in ("depth 3", "depth 5"):
        assert len(groups[name]) == 1 and outcome(groups, name, "adapted Rand error") == "worse", name
    assert outcome(groups, "depth 3", "pixel accuracy") == "worse"
    # twice the channels: 0.9225 over two seeds; with the best recipe, within noise of it at the default's width
    wide, best_wide = "base channels 32", "lr 2e-3, bn momentum 0.01, no weight map, base channels 32"
    assert len(groups[wide]) == 2 and f"{mean[wide]:.4f}" == "0.9225"
    assert abs(mean[best_wide] - mean[best]) <= spread(best, best_wide)
    assert all(not row.in_five_minutes for row in recipe_sweep.ROWS if row.name in (wide, best_wide))
    # the pair for three budgets: 0.9227 over two seeds, below its five-minute runs, Rand error worse
    longer = "lr 2e-3, bn momentum 0.01, 3× the steps"
    assert len(groups[longer]) == 2 and f"{mean[longer]:.4f}" == "0.9227"
    assert mean[pair] - mean[longer] > spread(pair, longer)  # below beyond the seeds' spread, not within noise
    assert outcome(groups, longer, "adapted Rand error") == "worse"
    # lr 2e-3 with the smaller tile is no better on pixel accuracy than either alone
    assert mean["lr 2e-3, tile 284"] <= min(mean["lr 2e-3"], mean["tile 284"])
    # three budgets of the default (three seeds) and six (two seeds): within noise of the default on all three scores
    for name, seeds in (("3× the steps", 3), ("6× the steps", 2)):
        assert len(groups[name]) == seeds, name
        outcomes = {label: outcome(groups, name, label) for label in recipe_sweep.MEASURES}
        assert set(outcomes.values()) == {"within noise"}, (name, outcomes)
    # three budgets with lr 2e-3 or augmented: below 0.925 (one seed each)
    for name in ("lr 2e-3, 3× the steps", "augmentation, 3× the steps"):
        assert len(groups[name]) == 1 and max(accuracy[name]) < recipe_sweep.TARGET["pixel accuracy"], name
    # every seed of the default meets the Rand-type aims; no row's every seed reaches the accuracy aim
    assert all(g["mean"]["rand_error"] <= recipe_sweep.TARGET["adapted Rand error"] for g in groups["default"])
    assert all(g["challenge"]["v_rand"] >= recipe_sweep.TARGET["V_Rand*"] for g in groups["default"])
    recipes = {row.name for row in recipe_sweep.ROWS if not row.measurement_only}
    assert all(min(values) < recipe_sweep.TARGET["pixel accuracy"] for values in accuracy.values())
    best_seed = max(max(values) for name, values in accuracy.items() if name in recipes)
    assert best_seed < recipe_sweep.TARGET["pixel accuracy"]
    # the default's training measured on single views (the same weights seed for seed): pixel accuracy 0.9233 over
    # three seeds, better, below 0.925 on every seed; the adapted Rand error higher on every seed, above 0.03 on two
    one_view, default = groups["one view"], groups["default"]
    assert [g["seed"] for g in one_view] == [g["seed"] for g in default] == [0, 1, 2]
    assert f"{mean['one view']:.4f}" == "0.9233" and outcome(groups, "one view", "pixel accuracy") == "better"
    assert max(accuracy["one view"]) < recipe_sweep.TARGET["pixel accuracy"]
    rand = [(v["mean"]["rand_error"], d["mean"]["rand_error"]) for v, d in zip(one_view, default, strict=True)]
    assert all(one > averaged for one, averaged in rand)
    assert sum(one > recipe_sweep.TARGET["adapted Rand error"] for one, _ in rand) == 2
    assert f"{sum(one for one, _ in rand) / 3:.4f}" == "0.0365"
    assert outcome(groups, "one view", "adapted Rand error") == "within noise"  # as the paragraph explains
    readme = " ".join((ROOT / "README.md").read_text().split())
    said = readme[readme.index("**What would reach the aim?**") :]
    said = said[: said.index("against the stored runs.)")]
    # the paragraph's numbers are the stored runs' (not only the literals above)
    seeds = {1: "one seed", 2: "two seeds", 3: "three seeds"}
    lowest, highest = min(one for one, _ in rand), max(one for one, _ in rand)
    for phrase in (
        f"the best seed of all the recipes' runs reaches {best_seed:.4f}.",
        f"pixel accuracy {mean[best]:.4f} over {seeds[len(groups[best])]}",
        f"({mean[pair]:.4f}, itself above either change alone)",
        f"({mean['no weight map']:.4f}, {seeds[len(groups['no weight map'])]})",
        f"gives {mean[wide]:.4f} ({seeds[len(groups[wide])]})",
        f"the best recipe with twice the channels {mean[best_wide]:.4f} ({seeds[len(groups[best_wide])]})",
        f"give {mean['3× the steps']:.4f} over three seeds and six budgets (about 30 minutes) "
        f"{mean['6× the steps']:.4f} over two",
        f"gives {mean[longer]:.4f} ({seeds[len(groups[longer])]})",
        f"gains pixel accuracy, {mean['one view']:.4f} over {seeds[len(one_view)]}",
        f"({lowest:.4f} to {highest:.4f})",
    ):
        assert phrase in said, phrase


def test_readmes_the_default_stays_paragraph_is_the_stored_sweep(groups):
    """The rows that beat the default with three seeds do so on pixel accuracy only (Rand-type within noise), and
    the options README names are the best row's."""

    recipes = {row.name for row in recipe_sweep.ROWS if not row.measurement_only}
    three_seeds = [name for name, group in groups.items() if name in recipes - {"default"} and len(group) >= 3]
    beat = [n for n in three_seeds if any(outcome(groups, n, label) == "better" for label in recipe_sweep.MEASURES)]
    assert beat  # the paragraph speaks of something
    for name in beat:
        assert outcome(groups, name, "pixel accuracy") == "better", name
        assert outcome(groups, name, "adapted Rand error") == outcome(groups, name, "V_Rand*") == "within noise", name
    best = max(beat, key=accuracies(groups)[1].get)
    options = next(" ".join(row.options) for row in recipe_sweep.ROWS if row.name == best)
    assert options == "--lr 2e-3 --bn-momentum 0.01 --no-weight-map"
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert (
        "The default recipe stays as it is: the recipes that beat it with three seeds do so on pixel accuracy only"
        in readme
    )
    assert f"`{options}`" in readme
