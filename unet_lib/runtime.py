"""Where the code runs: device, threads, seeds and the test-mode knob (notebook 00).

Every notebook starts with ``runtime.setup_notebook()`` so that results are
reproducible and a GPU (CUDA or Apple MPS) is used when there is one.
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
from collections.abc import Callable
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


def fast_mode_note(shortened: str) -> str:
    """The one warning every notebook prints when fast mode shortened its work; ``""`` outside fast mode.

    ``shortened`` says what was cut, e.g. ``"training ran 4 steps instead of 2½ minutes"``.
    Under test the notebooks run in seconds, so numbers and pictures that depend on a long
    run mean nothing there; this sentence says so, the same way in every notebook.
    """
    if not fast_mode():
        return ""
    return (
        f"⚠ Fast mode ({FAST_ENV}=1, as in the tests): {shortened}, so the numbers and pictures that "
        f"follow say nothing about the real run. Unset {FAST_ENV} and run the notebook again to see it."
    )


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


def write_atomic(path: str | Path, write: Callable[[str], object]) -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename: never half a file.

    ``write`` receives the temporary file's name. Checkpoints (notebook 08) and the main
    command's outputs all go through here, so an interrupted run leaves the old file or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(handle)
    os.chmod(temporary, 0o644)  # mkstemp makes it private; these are ordinary files
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
