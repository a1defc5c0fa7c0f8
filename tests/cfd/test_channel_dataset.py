"""The channel_filtered_dns recipe on a tiny setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciflow.data.io import read_dataset
from sciflow.data.recipes import make_dataset
from sciflow.errors import SciflowError

RECIPE = Path(__file__).resolve().parents[2] / "datasets" / "channel_retau180_cpu.yaml"

TINY = {"spinup": 0.02, "n_snapshots": 3, "snapshot_every": 80, "gap": 0.0, "nx": 12, "ny": 16, "nz": 12, "n_trajectories": 3,
        "snapshot_every": 2, "stats_every": 1, "dtype": "float64", "threads": 1, "coarse": [8, 9, 8], "device": "cpu"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("chan") / "tiny.nc"
    make_dataset(RECIPE, TINY, out=out, progress=False)
    return read_dataset(out)


def test_layout_coordinates_and_attrs(tiny):
    ds = tiny
    for v in ("u", "v", "w"):
        assert ds[v].dims == ("trajectory", "t", "z", "y", "x")  # CF order
        assert ds[v].shape == (3, 3, 8, 9, 8)
    y = ds["y"].values
    assert y[0] == -1.0 and y[-1] == 1.0 and np.ptp(np.diff(y)) > 1e-3  # non-uniform, walls included
    assert np.allclose(np.diff(ds["t"].values), ds.attrs["dt_snapshot"])
    assert list(ds["split"].values) == ["train", "validation", "test"]
    for k in ("re_tau", "box", "grid", "averaging_time", "filter_width_x", "filter_width_z"):
        assert k in ds.attrs
    for k in ("U_plus", "u_rms_plus", "v_rms_plus", "w_rms_plus", "uv_plus"):
        assert ds[k].dims == ("y_plus",)


def test_no_slip_and_normalisation_statistics(tiny):
    ds = tiny
    for v in ("u", "v", "w"):
        wall = ds[v].isel(y=[0, -1]).values
        assert np.abs(wall).max() == 0.0
    train = ds.sel(trajectory=ds["split"] == "train")
    for i, v in enumerate(("u", "v", "w")):
        assert np.isclose(ds["norm_mean"].values[i], float(train[v].mean()), rtol=1e-5, atol=1e-6)
        assert np.isclose(ds["norm_std"].values[i], float(train[v].std()), rtol=1e-5)
    # snapshots are consecutive states of one flow: successive snapshots differ, but little
    du = np.abs(ds["u"].isel(trajectory=0, t=1) - ds["u"].isel(trajectory=0, t=0)).max()
    assert 0 < float(du) < 0.2 * float(np.abs(ds["u"]).max())
    # the DNS statistics start at the wall: U+ ≈ y+ at the first point (viscous sublayer)
    assert abs(float(ds["U_plus"][0]) / float(ds["y_plus"][0]) - 1.0) < 0.1


def test_unknown_param_is_one_clear_error(tmp_path):
    with pytest.raises(SciflowError, match="unknown param"):
        make_dataset(RECIPE, {"spinnup": 1}, out=tmp_path / "x.nc", progress=False)
