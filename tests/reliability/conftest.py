"""Fixtures of the reliability suite (issue 13): ``cli`` runs the command line in-process, ``own_data`` makes a
small own-data folder. The helpers they use are in ``reliability_helpers``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reliability_helpers import TINY, Result, make_own_data

from unet_lib.cli import main


@pytest.fixture
def cli(capsys):
    """``cli("train", "--steps", 0)`` → ``Result(code, out, err)``; options may be paths or numbers."""

    def run(*argv) -> Result:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def own_data(tmp_path) -> Path:
    return make_own_data(tmp_path / "own")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished two-step run of a tiny network on its own data, one thread, ``last.ckpt`` written at every step:
    ``(its folder, its data)``, for the resume, predict and writer tests of a module."""
    root = tmp_path_factory.mktemp("run")
    data = make_own_data(root / "data")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        argv = ["train", "--data", data, "--steps", 2, "--out", root / "out", "--checkpoint-every", 1]
        assert main([str(a) for a in [*argv, "--threads", 1, *TINY]]) == 0
    finally:
        torch.set_num_threads(threads)
    return root / "out", data
