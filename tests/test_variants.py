"""The variants notebook 10 compares, as `python -m unet_lib train` options: padding, up-sampling, the weight
map, elastic deformation. Each option must reach the recipe, the model, the tiles and the loss."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from unet_lib import cli, commands, train
from unet_lib.data import TileDataset
from unet_lib.images import SegmentationData

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

TINY = ["--base-channels", "2", "--depth", "2", "--batch-size", "1", "--val-tiles", "1", "--precision", "fp32"]


def recipe(*options: str) -> train.Recipe:
    args = cli.build_parser().parse_args(["train", *options])
    return cli.new_recipe(args)


def test_the_defaults_are_the_papers_choices_and_each_option_changes_one_field():
    default = recipe()
    assert (default.padding, default.up_mode, default.weight_map, default.elastic) == ("valid", "transpose", True, True)
    assert default == train.CPU_DEFAULT
    assert recipe("--padding", "same").padding == "same"
    assert recipe("--up-mode", "bilinear").up_mode == "bilinear"
    assert recipe("--no-weight-map").weight_map is False
    changed = recipe("--augment", "--no-elastic")
    assert changed.augment is True and changed.elastic is False
    stored_before = {k: v for k, v in asdict(train.CPU_DEFAULT).items() if k not in ("padding", "up_mode")}
    stored_before = {k: v for k, v in stored_before.items() if k not in ("weight_map", "elastic")}
    assert train.Recipe(**stored_before) == train.CPU_DEFAULT  # a checkpoint of an earlier version resumes


def labelled_image(seed: int = 0) -> SegmentationData:
    rng = np.random.default_rng(seed)
    label = (rng.random((64, 64)) > 0.3).astype(np.uint8)
    return SegmentationData([rng.random((64, 64)).astype(np.float32)], [label], ["a"], "folder", "test image")


def eight_moves(array: np.ndarray) -> list[np.ndarray]:
    """The array under every quarter turn, with and without a left–right mirror."""
    turns = [np.rot90(array, k) for k in range(4)]
    return turns + [t[:, ::-1] for t in turns]


def test_augmented_tiles_without_elastic_deformation_are_flips_and_turns_of_the_plain_tile():
    data = labelled_image()
    plain = TileDataset(data, 36, 20, num_tiles=8, augment=False, seed=3)
    rigid = TileDataset(data, 36, 20, num_tiles=8, augment=True, seed=3, elastic=False)
    elastic = TileDataset(data, 36, 20, num_tiles=8, augment=True, seed=3)
    deformed = 0
    for i in range(8):
        y_plain, y_rigid, y_elastic = plain[i][1].numpy(), rigid[i][1].numpy(), elastic[i][1].numpy()
        assert any(np.array_equal(y_rigid, moved) for moved in eight_moves(y_plain))
        deformed += not any(np.array_equal(y_elastic, moved) for moved in eight_moves(y_plain))
    assert deformed >= 6  # the elastic deformation moves pixels by several px: it shows on nearly every tile


@pytest.fixture(scope="module")
def folder(two_image_folder) -> Path:
    """Two small labelled images, one to train on and one to validate on (tests/conftest.py)."""
    return two_image_folder


def test_same_padding_and_bilinear_up_sampling_reach_the_model(folder, tmp_path):
    options = ["--padding", "same", "--up-mode", "bilinear", "--tile-size", "96", "--steps", "1"]
    assert cli.main(["train", "--data", str(folder), "--out", str(tmp_path), *TINY, *options]) == 0
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["model_config"]["padding"] == "same" and record["model_config"]["up_mode"] == "bilinear"
    assert record["recipe"]["padding"] == "same"


def test_a_same_padding_tile_size_that_does_not_fit_is_refused_with_the_rule(folder, tmp_path, capsys):
    options = ["--padding", "same", "--tile-size", "90", "--steps", "1"]
    assert cli.main(["train", "--data", str(folder), "--out", str(tmp_path), *TINY, *options]) == 2
    assert "multiples of 4" in capsys.readouterr().err


def test_no_weight_map_trains_without_computing_weight_maps(folder, tmp_path, monkeypatch):
    def refuse(labels):
        raise AssertionError("weight maps computed")

    monkeypatch.setattr(commands, "weight_maps", refuse)
    options = ["--tile-size", "92", "--steps", "1", "--no-weight-map"]
    assert cli.main(["train", "--data", str(folder), "--out", str(tmp_path / "plain"), *TINY, *options]) == 0
    assert json.loads((tmp_path / "plain" / "metrics.json").read_text())["recipe"]["weight_map"] is False
    with pytest.raises(AssertionError, match="weight maps computed"):
        cli.main(["train", "--data", str(folder), "--out", str(tmp_path / "weighted"), *TINY, *options[:-1]])
