"""tools/ablation.py: the table it writes is what its commands wrote, and the stored table is one it would write.

The tiny run trains every variant for 2 steps of a 2-channel network on a small own-data folder, each as a real
``python -m unet_lib train`` subprocess; the table must hold exactly the command each run recorded and the
measures from that run's own metrics.json; a second call with more seeds runs only the missing ones. The stored
``unet_lib/assets/ablation.json`` (which notebook 10 displays) must list the variants the tool runs today, with
the commands the tool builds today.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import ablation  # noqa: E402

pytestmark = pytest.mark.slow

ONE_CALL = {"command", "machine", "machines"}
"""Fields an earlier version stored at the table's top from the last call only, though its runs came from several."""


@pytest.fixture(scope="module")
def folder(two_image_folder) -> Path:
    """Two small labelled images: one to train on, one to validate on (tests/conftest.py)."""
    return two_image_folder


@pytest.fixture(scope="module")
def tiny_table(folder, tmp_path_factory) -> tuple[dict, Path]:
    if os.environ.get("UNET_CI_LATER"):
        pytest.skip("CI runs the tiny ablation beside the offline tests (.ci/offline)")
    out = tmp_path_factory.mktemp("ablation_runs")
    table = out / "table.json"
    argv = ["--tiny", "--seeds", "1", "--data", str(folder), "--runs", str(out / "runs"), "--json", str(table)]
    assert ablation.main([*argv, "--threads", "1"]) == 0
    return json.loads(table.read_text()), out


def test_every_variant_ran_and_the_table_holds_what_each_command_wrote(tiny_table):
    table, _ = tiny_table
    assert [(row["name"], row["seed"]) for row in table["runs"]] == [(v.name, 0) for v in ablation.VARIANTS]
    for row in table["runs"]:
        record = json.loads((Path(row["out"]) / "metrics.json").read_text())
        assert row["command"] == record["command"] and row["command"].endswith("--seed 0")
        assert row["steps"] == record["steps"] == 2 and f"--steps {row['steps']}" in row["command"]
        assert row["mean"] == {key: record["validation"]["mean"][key] for key in ablation.MEASURES}
        assert row["challenge"] == {key: record["validation"]["challenge"][key] for key in ablation.CHALLENGE}
        assert row["training_seconds"] == record["training_seconds"] and row["torch_threads"] == 1
    assert table["about"] == ablation.ABOUT and not set(table) & ONE_CALL
    assert table["budget"] == {"steps": 2, "tiny": True, "tiles per step": 2, "fewest seeds per variant": 1}


def test_each_variant_changed_what_it_says_it_changed(tiny_table):
    table, _ = tiny_table
    records = {row["name"]: json.loads((Path(row["out"]) / "metrics.json").read_text()) for row in table["runs"]}
    base = records["baseline"]
    assert base["model_config"]["padding"] == "valid" and base["recipe"]["weight_map"] is True
    assert records["same padding"]["model_config"]["padding"] == "same"
    assert records["bilinear up-sampling"]["model_config"]["up_mode"] == "bilinear"
    assert records["depth 3"]["model_config"]["depth"] == 3
    assert records["no batch norm"]["model_config"]["batch_norm"] is False
    assert records["no weight map"]["recipe"]["weight_map"] is False
    assert records["augmentation"]["recipe"]["augment"] is True and records["augmentation"]["recipe"]["elastic"]
    assert records["augmentation, no elastic"]["recipe"]["elastic"] is False


def test_a_second_call_with_more_seeds_runs_only_the_missing_ones(tiny_table, folder, capsys):
    """Resumable: the runs already in the JSON are skipped; only seed 1 of the baseline is new."""
    table, out = tiny_table
    path = out / "table.json"
    argv = ["--tiny", "--seeds", "2", "--only", "baseline", "--data", str(folder), "--runs", str(out / "runs")]
    assert ablation.main([*argv, "--json", str(path), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "[baseline, seed 0] already in" in printed and printed.count("python -m unet_lib train") == 1
    again = json.loads(path.read_text())
    assert [(r["name"], r["seed"]) for r in again["runs"]][:3] == [
        ("baseline", 0),
        ("baseline", 1),
        ("same padding", 0),
    ]
    assert again["runs"][0] == table["runs"][0] and len(again["runs"]) == len(table["runs"]) + 1
    assert again["runs"][1]["command"].endswith("--seed 1") and again["runs"][1]["out"].endswith("baseline-seed-1")
    assert again["budget"]["fewest seeds per variant"] == 1, "the budget is the runs', not the last call's --seeds 2"


def test_fewer_than_three_seeds_are_refused_for_a_real_sweep(capsys):
    with pytest.raises(SystemExit) as stop:
        ablation.main(["--seeds", "2", "--json", "unused.json"])
    assert stop.value.code == 2 and "at least 3 seeds" in capsys.readouterr().err


def test_the_stored_table_is_the_tools_full_run():
    """unet_lib/assets/ablation.json: the tool's variants, each run with the command the tool builds for it today."""
    table = json.loads(ablation.TABLE.read_text())
    assert not table["budget"]["tiny"] and table["budget"]["steps"] == ablation.STEPS
    variants = {v.name: v for v in ablation.VARIANTS}
    assert list(dict.fromkeys(row["name"] for row in table["runs"])) == list(variants)
    for row in table["runs"]:
        out = ablation.run_folder(ablation.RUNS, variants[row["name"]], row["seed"])
        arguments = ablation.train_arguments(variants[row["name"]], ablation.STEPS, "isbi2012", out, False, row["seed"])
        assert row["command"] == ablation.command_text(arguments)
        assert (
            shlex.split(row["command"])[:4] == ["python", "-m", "unet_lib", "train"] and row["steps"] == ablation.STEPS
        )
        assert set(row["mean"]) == set(ablation.MEASURES) and set(row["challenge"]) == set(ablation.CHALLENGE)
    assert table["data"].startswith("ISBI 2012") and table["validation_images"][0].endswith("25.png")


def test_the_stored_table_has_at_least_three_seeds_per_variant():
    table = json.loads(ablation.TABLE.read_text())
    for variant in ablation.VARIANTS:
        seeds = {row["seed"] for row in table["runs"] if row["name"] == variant.name}
        assert len(seeds) >= 3, f"{variant.name}: seeds {sorted(seeds)}"


def test_the_stored_table_says_nothing_of_one_call_and_every_run_says_where_it_ran():
    """A resumed sweep is several calls on several machines: the top of the table is what the tool writes from its
    runs, with no field of one call (its command, its machine), and every run names its processor, instruction set
    and threads (notebook 10 groups the runs' step times by them, since only like runs compare)."""
    table = json.loads(ablation.TABLE.read_text())
    assert not set(table) & ONE_CALL, f"{sorted(set(table) & ONE_CALL)}: true of one call, not of the whole table"
    assert table == ablation.table_of(table["runs"], table), "not what tools/ablation.py writes from these runs"
    assert all(row["processor"] and row["cpu_capability"] and row["torch_threads"] >= 1 for row in table["runs"])
