import os

import pytest
import torch

# one thread: robust on a shared 2-core machine (two threads stall when the other core is busy)
torch.set_num_threads(1)
torch.set_flush_denormal(True)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory, monkeypatch):
    """Each test session writes generated data under one temporary data directory."""
    if "SCIFLOW_DATA" not in os.environ:
        monkeypatch.setenv("SCIFLOW_DATA", str(tmp_path_factory.getbasetemp() / "data"))


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test starts on one torch thread (a solver that sets its own count is undone after)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
