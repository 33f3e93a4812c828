"""Fixtures shared by the unit tests (the environment itself is set in the root conftest.py)."""

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture
def one_thread(monkeypatch):
    """Tiny networks train fastest on one thread, above all on a busy 2-core machine (``UNET_THREADS=1`` so that
    the commands, which decide their own threads, keep to it as well)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("UNET_THREADS", "1")
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def isbi():
    """The 30 labelled ISBI 2012 training slices from $UNET_DATA_DIR, never downloaded: skipped where absent."""
    from unet_lib.isbi2012 import DataUnavailable, load_isbi2012

    try:
        return load_isbi2012("train", download=False)
    except DataUnavailable:
        pytest.skip("the ISBI 2012 slices are not in $UNET_DATA_DIR (conftest.py points it at ../shared/data)")


@pytest.fixture(scope="module")
def two_image_folder(tmp_path_factory):
    """Two small labelled images (``images/``, ``masks/``): one to train on, one to validate on — the own-data
    folder of the tiny ablation and the tiny recipe sweep."""
    root = tmp_path_factory.mktemp("two_images")
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:96, :96]
    for sub in ("images", "masks"):
        (root / sub).mkdir()
    for k in range(2):
        mask = ((rows - 35) ** 2 + (cols - 30 - 15 * k) ** 2 < 400) | ((rows - 75) ** 2 + (cols - 70) ** 2 < 200)
        image = (mask * 150 + rng.normal(40, 15, mask.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"{k}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{k}.png")
    return root
