"""Test-wide settings for tests/ and notebooks/ alike (also when one notebook runs alone under nbval):
fast mode (UNET_FAST=1), and the shared real data when it lies beside the checkout."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Notebooks executed by nbval inherit this environment from the pytest process.
os.environ.setdefault("UNET_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
_shared = ROOT.parent / "shared" / "data"
if "UNET_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["UNET_DATA_DIR"] = str(_shared)
