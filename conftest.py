"""Test-wide settings: fast mode for notebooks, the shared real data when it is beside the checkout."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Notebooks executed by nbval inherit this environment from the pytest process.
os.environ.setdefault("UNET_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
_shared = ROOT.parent / "shared" / "data"
if "UNET_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["UNET_DATA_DIR"] = str(_shared)
