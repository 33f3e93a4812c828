"""Where results go (notebook 08): checked before any work, never replaced without consent, always whole.

The three commands of ``python -m unet_lib`` write through these pieces:

* ``check_writable`` and ``choose_folder`` — the output folder is created and proved writable (and roomy)
  before any work; a folder that holds an earlier run is refused, or for the default folder a fresh
  numbered one is used (``runs/train-2``), and the command says which;
* ``write_json``, ``save_png``, ``save_figure`` — every file through ``runtime.write_atomic``, JSON
  always valid (an undefined measure is ``null``);
* ``StopSignals`` — Ctrl-C, SIGTERM and SIGHUP all stop a command the same way (training after a whole step);
* ``UsageError`` — a problem the user can fix, printed by ``unet_lib.cli`` as one line.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import runtime


class UsageError(Exception):
    """A problem the user can fix (a path, a file, an option); printed as one line, without a traceback."""


# -- stopping on a signal ---------------------------------------------------------------------------
class StopSignals:
    """Ctrl-C (SIGINT), SIGTERM (a batch scheduler, ``kill``) and SIGHUP (a closed terminal) all stop a
    command the same way: as a ``KeyboardInterrupt``, after which the command says what was saved.

    ``unet_lib.cli`` installs ``handle`` for the whole command. During the training loop
    ``train.fit`` puts its own handlers in place (``train.StopRequests``): there the first
    signal finishes the step in progress and saves a checkpoint, a second stops at once.
    """

    NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"} | (
        {signal.SIGHUP: "SIGHUP"} if hasattr(signal, "SIGHUP") else {}
    )

    def __init__(self) -> None:
        self.received: int | None = None

    def handle(self, signum: int, frame: Any) -> None:
        self.received = self.received or signum
        raise KeyboardInterrupt

    @property
    def name(self) -> str:
        return self.NAMES.get(self.received or signal.SIGINT, f"signal {self.received}")

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as shells report a command stopped by a signal (130 for Ctrl-C)."""
        return 128 + int(self.received or signal.SIGINT)


def finite_or_null(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None``: JSON has no NaN; strict readers refuse it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(item) for item in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Valid JSON always: an undefined measure (e.g. the Rand error of an image without cells) is ``null``."""
    text = json.dumps(finite_or_null(data), indent=2, allow_nan=False) + "\n"
    runtime.write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


PNG_COMPRESS_LEVEL = 1
"""zlib level of the PNGs ``predict`` writes: measured on 512² probability maps, level 1 encodes 5× faster than
Pillow's default 6 for files about 20 % larger; at the default, encoding took half of ``predict``'s time."""


def save_png(path: Path, array: np.ndarray) -> None:
    """Save a uint8 gray (H, W) or RGB (H, W, 3) array as PNG (lossless; fast compression)."""
    image = Image.fromarray(array)
    runtime.write_atomic(path, lambda tmp: image.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL))


def save_figure(path: Path, figure: Any) -> None:
    runtime.write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=80))


def occupied(folder: Path) -> list[str]:
    """The visible entries of ``folder`` (after removing the writer's stale temporary files), or ``[]``."""
    if not folder.is_dir():
        return []
    runtime.remove_stale_temporaries(folder)
    return sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith("."))


def next_free(folder: Path, taken: Callable[[Path], bool]) -> Path:
    """``runs/train`` → ``runs/train-2``, ``-3`` … the first that ``taken`` does not refuse."""
    number = 2
    while taken(folder.with_name(f"{folder.name}-{number}")):
        number += 1
    return folder.with_name(f"{folder.name}-{number}")


def check_writable(folder: Path, needed_bytes: int = 0) -> Path:
    """Create ``folder`` and prove it takes a file, and (optionally) that its disk has ``needed_bytes`` free.

    Done before any work, so a read-only folder, a file in the way or a full disk is found
    in the first second, not after an hour of training.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file, not a folder: choose another --out")
    runtime.make_folder(folder)
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        raise UsageError(runtime.write_error_message(folder, error)) from error
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise UsageError(
            f"only {free / 1e6:.1f} MB are free on the disk of {folder}, and this run writes about "
            f"{needed_bytes / 1e6:.1f} MB: free some space or choose another --out"
        )
    return folder


def choose_folder(folder: Path, given: bool, overwrite: bool, clash: Callable[[Path], list[str]]) -> Path:
    """Where to write: ``folder``, unless ``clash(folder)`` names files an earlier run left there.

    Then a given ``--out`` is refused (``--overwrite`` gives consent), and the default folder
    moves to the next free numbered one (and says so).
    """
    found = clash(folder)
    if not found or overwrite:
        return folder
    if given:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise UsageError(
            f"--out {folder} already holds {shown} from an earlier run: choose another --out, "
            "or add --overwrite to replace them"
        )
    fresh = next_free(folder, lambda candidate: bool(clash(candidate)) or candidate.is_file())
    print(f"{folder} holds an earlier run, so this one writes into {fresh}")
    return fresh
