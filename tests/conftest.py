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


def _relative_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(batch,) ‖pred − target‖ / ‖target‖ per sample."""
    return (pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)


@pytest.fixture
def fit_operator():
    """Train an operator (Adam 1e-2, cosine, batches of 16) on (x_train → y_train) for ``steps``;
    return (mean relative L2 on the test pair, that of the identity map) as floats."""

    def fit(model, x_train, y_train, x_test, y_test, steps: int, generator: torch.Generator):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            idx = torch.randint(0, x_train.shape[0], (16,), generator=generator)
            opt.zero_grad()
            _relative_l2(model(x_train[idx]), y_train[idx]).mean().backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            learned = _relative_l2(model(x_test), y_test).mean()
        return float(learned), float(_relative_l2(x_test, y_test).mean())

    return fit
