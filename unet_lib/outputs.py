"""Where results go (notebook 08): checked before any work, never replaced without consent, always whole.

The three commands of ``python -m unet_lib`` write through these pieces:

* ``check_writable`` — the output folder is created and proved writable (and roomy) before any work; a
  folder that holds an earlier run is refused, or for the default folder a fresh numbered one is used
  (``runs/train-2``, ``next_free``), and the command says which once its inputs are read (``claim_folder``);
* ``write_json``, ``save_png``, ``save_figure`` — every file through ``runtime.write_atomic``, JSON
  always valid (an undefined measure is ``null``);
* ``claim_folder`` — one writer per output folder: ``train``, ``predict`` and ``evaluate`` hold an advisory lock
  on their folder for as long as they write into it, so a second command into the same folder is refused
  (naming the process that holds it) instead of mixing two runs' files; a folder the refused or failed
  command created is removed again if it stayed empty;
* ``StopSignals`` — Ctrl-C, SIGTERM and SIGHUP all stop a command the same way (training after a whole step);
* ``UsageError`` — a problem the user can fix, printed by ``unet_lib.cli`` as one line.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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
    """A matplotlib figure as a PNG, atomically (``runtime.write_atomic``): a stopped run leaves no half image."""
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


def earlier_run_message(folder: Path, found: list[str]) -> str:
    """The refusal of an ``--out`` that holds an earlier run's files: which ones, and the two ways on."""
    return (
        f"--out {folder} already holds {runtime.name_list(found)} from an earlier run: choose another --out, "
        "or add --overwrite to replace them"
    )


# -- one writer per folder --------------------------------------------------------------------------
LOCK_NAME = ".unet_lib.lock"
"""The lock file inside an output folder (hidden, so ``occupied`` does not count it as an earlier run's file)."""

try:
    import fcntl
except ImportError:  # Windows: no advisory locks of this kind; commands there run unlocked
    fcntl = None  # type: ignore[assignment]


class FolderLock:
    """An advisory lock (``fcntl.flock``) on ``folder/.unet_lib.lock`` that names its holder.

    The kernel drops the lock when its process ends, however it ends (SIGKILL included), so a lock file left
    by a killed command never blocks the next one: only a living holder does. The file holds the holder's
    process id and command line, for the refusal to name. ``created``: this command made the folder, so a
    folder still empty at ``release`` is removed (a refused run leaves nothing behind), and so are the folders
    above it that it made (``runs/`` of the default ``runs/train``, ``a/`` of ``--out a/b``) when empty.
    """

    def __init__(self, folder: Path, created: bool) -> None:
        self.folder, self.created, self.handle = folder, created, None
        self.made_above = [above for above in folder.parents if not above.exists()] if created else []
        self.moved: list[str] = []  # "runs/train holds an earlier run, so this one writes into runs/train-2"

    def announce(self) -> None:
        """Print why the command writes into another folder than the default, once, when its work begins: a
        mistake found before then (a wrong path, a missing mask) is then the one line the user sees."""
        for line in self.moved:
            print(line)
        self.moved = []

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it: ``"process 1234 (python -m unet_lib train …)"``."""
        for _ in range(20):  # the holder writes its name right after it takes the lock: give it a moment
            try:
                pid, _, command = self.path.read_text(encoding="utf-8").partition("\n")
            except (OSError, UnicodeDecodeError):
                return "another process"
            if pid.strip():
                break
            time.sleep(0.05)
        command = " ".join(command.split())
        return f"process {pid.strip() or '?'}" + (f" ({command})" if command else "")

    def acquire(self) -> bool:
        """Take the lock; ``False`` when a living process holds it. Without ``fcntl`` (Windows) always ``True``."""
        if fcntl is None:
            return True
        while True:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                return False
            except OSError:  # a file system without locks: go on unlocked rather than refuse to work
                os.close(handle)
                return True
            try:
                same = os.fstat(handle).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the holder removed the file between our open and our lock: take the new one
                break
            os.close(handle)
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n{command_line()}\n".encode())
        self.handle = handle
        return True

    def release(self) -> None:
        """Remove the lock file (while still holding it), unlock, and remove the folder if this run made it and
        left nothing in it."""
        if self.handle is not None:
            with suppress(OSError):
                self.path.unlink()
            os.close(self.handle)
            self.handle = None
        if self.created:
            for folder in (self.folder, *self.made_above):  # the deepest first; one that holds anything stays
                with suppress(OSError):
                    if folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()


def command_line() -> str:
    """This process's command, as a user typed it (``python -m unet_lib train …``, ``unet predict …``)."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    program = "python -m unet_lib" if program == "__main__.py" else program
    return " ".join([program, *sys.argv[1:]])


@contextmanager
def claim_folder(
    folder: Path, given: bool, overwrite: bool, clash: Callable[[Path], list[str]], needed_bytes: int = 0
) -> Iterator[FolderLock]:
    """``with claim_folder(...) as lock:`` write into ``lock.folder``, which no other command writes into meanwhile.

    A folder that holds an earlier run (``clash``) is refused, or the default one moves on (``next_free``), but
    only *after* its lock is taken, so two commands started at the same moment cannot both find it empty: the
    second is refused with one line naming the first (a default folder moves on to the next numbered one instead,
    and says so when the command calls ``lock.announce()``, once its inputs are checked). The folder is checked writable
    (``check_writable``) before any work; at the end, however it ends, the lock is released and a folder
    this command created and left empty is removed.
    """
    candidate, moved = folder, []
    while True:
        created = not candidate.exists()
        lock = FolderLock(candidate, created)
        try:
            check_writable(candidate, needed_bytes)
        except (UsageError, OSError):
            lock.release()  # removes the folder again if it was made for nothing
            raise
        if not lock.acquire():
            lock.release()
            if given:
                raise UsageError(
                    f"--out {candidate} is being written by {lock.holder()}: wait for it to finish, "
                    "or choose another --out"
                )
            why = "is being written by another command"
        else:
            found = clash(candidate)
            if not found or overwrite:
                break
            lock.release()
            if given:
                raise UsageError(earlier_run_message(candidate, found))
            why = "holds an earlier run"
        fresh = next_free(folder, lambda other: bool(clash(other)) or other.is_file() or locked(other))
        moved = [*moved, f"{candidate} {why}, so this one writes into {fresh}"]
        candidate = fresh
    lock.moved = moved
    try:
        yield lock
    finally:
        lock.release()


def locked(folder: Path) -> bool:
    """True when a living command holds ``folder``'s lock."""
    if fcntl is None or not (folder / LOCK_NAME).is_file():
        return False
    lock = FolderLock(folder, False)
    if lock.acquire():
        lock.release()
        return False
    return True
