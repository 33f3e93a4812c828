"""Fixtures shared by the unit tests (the environment itself is set in the root conftest.py)."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny networks train fastest on one thread, above all on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
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
