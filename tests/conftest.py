"""Fixtures shared by the unit tests (the environment itself is set in the root conftest.py)."""

import pytest
import torch


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
