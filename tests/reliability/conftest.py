"""Fixtures of the reliability suite (issue 13): ``cli`` runs the command line in-process, ``own_data`` makes a
small own-data folder. The helpers they use are in ``reliability_helpers``."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import Result, make_own_data

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
