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
