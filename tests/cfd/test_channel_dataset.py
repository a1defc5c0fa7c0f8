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


AUGMENT = ["reflect_y", "reflect_z", "reflect_y+shift_z:3"]


@pytest.fixture(scope="module")
def tiny_augmented(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("chan_aug") / "tiny_aug.nc"
    make_dataset(RECIPE, {**TINY, "n_trajectories": 4, "augment": AUGMENT}, out=out, progress=False)
    return read_dataset(out)


def test_augmented_copies_are_the_transformed_sources_and_valid_schema(tiny_augmented):
    from sciflow.data.schema import cf_violations, check_dataset

    ds = tiny_augmented
    assert ds.sizes["trajectory"] == 16 and ds.attrs["n_sources"] == 4
    assert list(ds["transform"].values[:4]) == ["identity", *AUGMENT]
    assert list(ds["source_trajectory"].values) == [0] * 4 + [4] * 4 + [8] * 4 + [12] * 4
    assert check_dataset(ds, ("u", "v", "w"), "tiny_aug.nc", trajectories=True, spatial=3).sample_dim == "trajectory"
    assert cf_violations(ds) == []
    for i in (0, 12):  # CF order (trajectory, t, z, y, x): y is axis 2, z axis 1 after isel
        u, v, w = (ds[c].isel(trajectory=i).values for c in ("u", "v", "w"))
        ry = [ds[c].isel(trajectory=i + 1).values for c in ("u", "v", "w")]
        assert np.array_equal(ry[0], u[:, :, ::-1]) and np.array_equal(ry[1], -v[:, :, ::-1])
        assert np.array_equal(ry[2], w[:, :, ::-1])
        rz = [ds[c].isel(trajectory=i + 2).values for c in ("u", "v", "w")]
        zr = lambda f: np.roll(f[:, ::-1], 1, 1)  # noqa: E731
        assert np.array_equal(rz[0], zr(u)) and np.array_equal(rz[1], zr(v)) and np.array_equal(rz[2], -zr(w))
        rs = ds["u"].isel(trajectory=i + 3).values
        assert np.array_equal(rs, np.roll(u[:, :, ::-1], 3, 1))
    # normalisation over all training rows, copies included: reflect_y makes <v> vanish
    train = ds.sel(trajectory=ds["split"] == "train")
    assert np.isclose(ds["norm_mean"].values[1], float(train["v"].mean()), atol=1e-6)


def test_copies_stay_in_the_split_of_their_source(tiny_augmented):
    ds = tiny_augmented
    split, src = ds["split"].values.astype(str), ds["source_trajectory"].values
    for s in np.unique(src):
        assert len(set(split[src == s])) == 1, (s, split[src == s])
    sources = {sp: set(src[split == sp]) for sp in ("train", "validation", "test")}
    assert all(sources[sp] for sp in sources)
    assert not (sources["train"] & sources["test"]) and not (sources["train"] & sources["validation"])
    assert not (sources["validation"] & sources["test"])


def test_asymmetric_coarse_grid_refuses_reflect_y(tmp_path, monkeypatch):
    import sciflow.cfd.filters as filters

    asym = lambda ny, stretch: np.r_[-1.0, np.linspace(-0.9, 1.0, ny - 1)]  # noqa: E731
    monkeypatch.setattr(filters, "coarse_y_points", asym)
    with pytest.raises(SciflowError, match="not mirror-symmetric"):
        make_dataset(RECIPE, {**TINY, "augment": ["reflect_y"]}, out=tmp_path / "x.nc", progress=False)
    with pytest.raises(SciflowError, match="whole period"):
        make_dataset(RECIPE, {**TINY, "augment": ["shift_z:8"]}, out=tmp_path / "x.nc", progress=False)
