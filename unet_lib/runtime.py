"""Where the code runs: device, threads, seeds, the test-mode knob and atomic writes (notebook 00).

Every notebook starts with ``runtime.setup_notebook()`` so that results are
reproducible and a GPU (CUDA or Apple MPS) is used when there is one.
"""

from __future__ import annotations

import errno
import os
import platform
import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import torch

FAST_ENV = "UNET_FAST"
"""Set ``UNET_FAST=1`` to shorten training and silence progress bars (the test suite does)."""


def checkout_root() -> Path | None:
    """The course checkout that unet_lib runs from, or ``None`` when it is pip-installed (Colab, site-packages).

    A checkout has ``pyproject.toml`` and ``data/README.md`` beside the ``unet_lib`` folder; its
    ``data/`` holds downloads and its ``runs/`` training runs, both git-ignored.
    """
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "data" / "README.md").is_file() else None


def fast_mode() -> bool:
    """True under test (``UNET_FAST=1``): notebooks then train for seconds, not minutes."""
    return os.environ.get(FAST_ENV, "") not in ("", "0")


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple MPS, else the CPU; ``prefer`` (e.g. ``"cpu"``) overrides."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so that every run gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def environment_report() -> dict[str, str]:
    """Versions and hardware, for notebook 00's environment check."""
    import matplotlib

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "device": str(pick_device()),
        "cpu threads": str(torch.get_num_threads()),
    }


def setup_notebook(seed: int = 0) -> torch.device:
    """Seed everything, use colour-blind-safe plot defaults, and return the device to use."""
    import matplotlib as mpl

    seed_everything(seed)
    mpl.rcParams.update({"image.cmap": "gray", "figure.dpi": 80, "axes.prop_cycle": mpl.cycler(color=OKABE_ITO)})
    return pick_device()


OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
"""The Okabe–Ito palette: eight colours that colour-blind readers can tell apart."""


class OutputError(OSError):
    """A file could not be written; the one-line message says which file, why (disk full, no permission), what to do."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code


def write_atomic(path: str | Path, write: Callable[[str], object]) -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename: never half a file.

    ``write`` receives the temporary file's name. Checkpoints (notebook 08) and the main
    command's outputs all go through here, so an interrupted run leaves the old file or the new one.
    The data is flushed to the disk (``fsync``) before the rename, so a power cut cannot leave
    an empty file either. Temporary files that a killed writer left beside ``path`` are removed
    first. A failed write raises ``OutputError`` and leaves no temporary file behind.
    """
    path = Path(path)
    make_folder(path.parent)
    remove_stale_temporaries(path.parent, path.name)
    with atomic_output(path) as temporary:
        write(temporary)
    return path


@contextmanager
def atomic_output(path: str | Path) -> Iterator[str]:
    """``with atomic_output(path) as temporary:`` write the file ``temporary``; on success it becomes ``path``.

    The long-hand form of ``write_atomic``, for files written bit by bit (``predict`` writes a
    TIFF stack slice by slice). On any error, or Ctrl-C, the temporary file is removed and
    ``path`` keeps what it held before.
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(write_error_message(path, error), error.errno) from error
    os.close(handle)
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these are ordinary files
        yield temporary
        _flush_to_disk(temporary)
        os.replace(temporary, path)
        _flush_to_disk(path.parent)
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(write_error_message(path, error), error.errno) from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def make_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed; ``OutputError`` in one line if it cannot be."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:  # the folder's name is taken by a file
        raise OutputError(
            f"cannot create the folder {folder}: a file of that name is in the way", error.errno
        ) from error
    except OSError as error:
        raise OutputError(write_error_message(folder, error), error.errno) from error
    return folder


def write_error_message(path: Path, error: OSError) -> str:
    """What went wrong when writing ``path``, in one line that says what to do."""
    code = error.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk is full: could not write {path}; free some space or write somewhere else"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {path} (read-only folder or disk); choose a folder you can write to"
    if code == errno.ENOTDIR:
        blocker = next((p for p in [path, *path.parents] if p.is_file()), path.parent)
        return f"cannot write {path}: {blocker} is a file, not a folder; choose another folder"
    if code == errno.EISDIR:
        return f"cannot write {path}: a folder of that name is in the way; remove it or write somewhere else"
    reason = error.strerror or str(error) or type(error).__name__
    return f"could not write {path} ({reason})"


def stale_temporaries(folder: str | Path, name: str = "*") -> list[Path]:
    """Temporary files of ``write_atomic`` beside ``folder/name`` whose writer is gone (killed, crashed).

    A temporary file is called ``<name>.<process id>.<random>.tmp``; it is stale when no
    process with that id runs any more. Files of running writers (say, a second ``predict``
    into the same folder) are left alone.
    """
    stale = []
    for file in Path(folder).glob(f"{name}.*.tmp"):
        parts = file.name[: -len(".tmp")].rsplit(".", 2)
        if len(parts) == 3 and parts[1].isdigit() and not _process_alive(int(parts[1])):
            stale.append(file)
    return stale


def remove_stale_temporaries(folder: str | Path, name: str = "*") -> list[Path]:
    """Delete ``stale_temporaries(folder, name)``; returns what was removed."""
    removed = []
    for file in stale_temporaries(folder, name):
        with suppress(FileNotFoundError):
            file.unlink()
            removed.append(file)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there; never call a file stale on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _flush_to_disk(path: str | Path) -> None:
    """``fsync`` a file (or, best effort, a folder) so that a rename never points at data still in memory."""
    if Path(path).is_dir():
        if os.name == "nt":
            return
        with suppress(OSError):
            handle = os.open(path, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        return
    handle = os.open(path, os.O_RDWR)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
