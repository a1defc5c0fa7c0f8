"""The channel problem: filtered-DNS windows, normalisation, grid and no-slip walls of the data."""

import numpy as np
import pytest
import torch

from sciflow.errors import SciflowError
from sciflow.problems.channel import TurbulentChannel

TINY = {"spinup": 0.1, "n_snapshots": 3, "snapshot_every": 80, "gap": 0, "nx": 16, "ny": 24, "nz": 16, "coarse": [8, 13, 8],
        "n_trajectories": 3, "threads": 1}


@pytest.fixture(scope="module")
def problem():
    return TurbulentChannel(params=TINY)


def test_windows_are_consecutive_normalised_snapshots(problem):
    ds = problem.reference(progress=False)
    train = problem.dataset("train")
    assert len(train) == 2  # one train trajectory, 3 snapshots → 2 one-step pairs
    x, y = train[1]
    assert x.shape == (1, 8, 13, 8, 3) and y.shape == (1, 8, 13, 8, 3)
    traj = int(np.flatnonzero(ds["split"].values.astype(str) == "train")[0])
    raw = np.stack([ds[v].values[traj, 2] for v in ("u", "v", "w")], axis=-1)
    assert np.allclose(train.denormalise(y)[0].numpy(), raw, atol=1e-5 * np.abs(raw).max())
    # the stored stats are the train-split mean/std: normalised train data has mean 0, std 1 per channel
    data = train.data.double()
    assert torch.allclose(data.mean(dim=(0, 1, 2, 3, 4)), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(data.std(dim=(0, 1, 2, 3, 4), unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-5)


def test_grid_and_no_slip_walls(problem):
    g = problem.grid()
    y = g["y"]
    assert float(y[0]) == pytest.approx(-1.0, abs=1e-12) and float(y[-1]) == pytest.approx(1.0, abs=1e-12)
    dy = torch.diff(y)
    assert float(dy[len(dy) // 2]) > 2 * float(dy[0])  # stretched towards the walls
    assert g["lx"] == pytest.approx(np.pi) and g["lz"] == pytest.approx(np.pi / 2)
    ds = problem.reference(progress=False)
    for v in ("u", "v", "w"):
        wall = np.abs(ds[v].values[..., [0, -1], :]).max()
        assert wall < 1e-5 * np.abs(ds[v].values).max() + 1e-6  # filtered fields keep u = 0 at y = ±1
    # the mean streamwise velocity is a positive, roughly symmetric channel profile
    u_mean = ds["u"].values.mean(axis=(0, 1, 2, 4))
    assert u_mean[len(u_mean) // 2] > 5.0
    assert np.max(np.abs(u_mean - u_mean[::-1])) < 0.2 * u_mean.max()


def test_bad_settings_are_reported():
    with pytest.raises(SciflowError, match="t_in"):
        TurbulentChannel(params=TINY, t_in=3)
    with pytest.raises(SciflowError, match="recipe"):
        TurbulentChannel(dataset="ns2d_nu1e-5_cpu")
