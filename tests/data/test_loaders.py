"""Trajectory window datasets: windows line up with the source frames, train-only normalisation
inverts to round-off, splits are disjoint, 2D and 3D layouts, clear errors."""

import numpy as np
import pytest
import torch
import xarray as xr

from sciflow.data.io import write_dataset
from sciflow.data.loaders import TrajectoryWindows, attach_normalisation, normalisation_stats
from sciflow.errors import SciflowError

LABELS = ["train", "test", "train", "validation", "train", "test", "train", "validation"]


def ns_like(n_t=9, nx=6, ny=5, labels=LABELS):
    """vorticity[s, t, i, j] = 1000 s + 10 t + 0.1 i + 0.01 j + noise: every frame identifiable."""
    rng = np.random.default_rng(0)
    s, t, i, j = np.meshgrid(np.arange(len(labels)), np.arange(n_t), np.arange(nx), np.arange(ny), indexing="ij")
    w = 1000.0 * s + 10.0 * t + 0.1 * i + 0.01 * j + 1e-4 * rng.standard_normal(s.shape)
    return xr.Dataset({"vorticity": (("sample", "t", "x", "y"), w), "split": (("sample",), np.array(labels))},
                      coords={"t": np.arange(n_t, dtype=float)})


def channel_like(n_traj=3, n_t=6, shape=(4, 3, 5)):
    rng = np.random.default_rng(1)
    dims = ("trajectory", "t", "x", "y", "z")
    full = (n_traj, n_t, *shape)
    return xr.Dataset({v: (dims, rng.standard_normal(full) + k) for k, v in enumerate(("u", "v", "w"))}
                      | {"split": (("trajectory",), np.array(["train", "train", "test"]))})


@pytest.fixture
def ns_file(tmp_path):
    return write_dataset(ns_like(), tmp_path / "ns.nc")


def test_fno_windows_match_source_frames(ns_file):
    """One window per trajectory: input = frames 0..t_in-1, target = frames t_in..t_in+t_out-1."""
    src = ns_like()
    assert TrajectoryWindows(ns_file, t_in=4, t_out=3).spatial_dims == ("y", "x")  # the file's CF order
    ds = TrajectoryWindows(ns_file, spatial_dims=("x", "y"), split="train", t_in=4, t_out=3, normalise=False, dtype=torch.float64)
    train = [k for k, lab in enumerate(LABELS) if lab == "train"]
    assert len(ds) == len(train)
    for item in range(len(ds)):
        s, start = ds.window(item)
        assert s == train[item] and start == 0
        x, y = ds[item]
        assert x.shape == (6, 5, 4) and y.shape == (6, 5, 3)
        raw = torch.from_numpy(src["vorticity"].values[s])  # (t, x, y)
        assert torch.equal(x, raw[0:4].permute(1, 2, 0))
        assert torch.equal(y, raw[4:7].permute(1, 2, 0))


def test_sliding_one_step_windows(ns_file):
    """t_out = 1, stride = 1: frames t−t_in+1..t → t+1 for every admissible t."""
    src = ns_like()["vorticity"].values
    ds = TrajectoryWindows(ns_file, spatial_dims=("x", "y"), split="validation", t_in=3, t_out=1, stride=1, layout="channel_first",
                           normalise=False, dtype=torch.float64)
    assert len(ds) == 2 * (9 - 3)
    starts = set()
    for item in range(len(ds)):
        s, start = ds.window(item)
        x, y = ds[item]
        assert x.shape == (3, 6, 5) and y.shape == (1, 6, 5)
        assert torch.equal(x, torch.from_numpy(src[s, start:start + 3]))
        assert torch.equal(y[0], torch.from_numpy(src[s, start + 3]))
        starts.add(start)
    assert starts == set(range(6))


def test_normalisation_uses_train_split_only_and_inverts(ns_file):
    src = ns_like()
    raw = src["vorticity"].values
    train = raw[[k for k, lab in enumerate(LABELS) if lab == "train"]]
    ds = TrajectoryWindows(ns_file, spatial_dims=("x", "y"), split="test", t_in=2, t_out=2, stride=2, dtype=torch.float64)
    mean, std = ds.stats["vorticity"]
    assert mean == pytest.approx(train.mean(), rel=1e-14) and std == pytest.approx(train.std(), rel=1e-12)
    assert abs(mean - raw.mean()) > 100  # all-sample stats would differ
    tr = TrajectoryWindows(ns_file, spatial_dims=("x", "y"), split="train", t_in=2, t_out=2, dtype=torch.float64)
    assert float(tr.data.mean()) == pytest.approx(0.0, abs=1e-12)
    assert float(tr.data.std(unbiased=False)) == pytest.approx(1.0, rel=1e-12)
    for layout in ("channel_last", "channel_first", "time_first"):
        d = TrajectoryWindows(ns_file, spatial_dims=("x", "y"), split="test", t_in=2, t_out=2, stride=2, layout=layout, dtype=torch.float64)
        x, y = d[3]
        s, start = d.window(3)
        phys = d.denormalise(torch.stack([x, x]))  # batched input
        ref = torch.from_numpy(raw[s, start:start + 2])
        ref = {"channel_last": ref.permute(1, 2, 0), "channel_first": ref, "time_first": ref.unsqueeze(-1)}[layout]
        assert float((phys[1] - ref).abs().max()) <= 1e-12 * float(ref.abs().max())
        assert float((d.normalise(d.denormalise(y)) - y).abs().max()) <= 1e-13


def test_stored_stats_are_used(tmp_path):
    src = attach_normalisation(ns_like(), ["vorticity"])
    stats = normalisation_stats(ns_like(), ["vorticity"])
    assert src["vorticity"].attrs["norm_mean"] == stats["vorticity"][0]
    src["vorticity"].attrs.update(norm_mean=5.0, norm_std=2.0)
    path = write_dataset(src, tmp_path / "stored.nc")
    ds = TrajectoryWindows(path, spatial_dims=("x", "y"), split="train", t_in=1, t_out=1, dtype=torch.float64)
    assert ds.stats["vorticity"] == (5.0, 2.0)
    x, _ = ds[0]
    s, _ = ds.window(0)
    assert torch.allclose(x[..., 0], (torch.from_numpy(src["vorticity"].values[s, 0]) - 5.0) / 2.0, rtol=0, atol=1e-13)


def test_splits_are_disjoint_and_cover_all(ns_file):
    seen = {}
    for split in ("train", "validation", "test"):
        ds = TrajectoryWindows(ns_file, spatial_dims=("x", "y"), split=split, t_in=2, t_out=1, stride=1, normalise=False)
        seen[split] = {ds.window(i)[0] for i in range(len(ds))}
    assert not (seen["train"] & seen["validation"]) and not (seen["train"] & seen["test"])
    assert not (seen["validation"] & seen["test"])
    assert set().union(*seen.values()) == set(range(len(LABELS)))


def test_channel_flow_3d_layouts():
    """(trajectory, t, x, y, z) with u, v, w: channel = frame·3 + variable."""
    src = channel_like()
    for layout, shape in (("channel_last", (4, 3, 5, 6)), ("channel_first", (6, 4, 3, 5)),
                          ("time_first", (2, 4, 3, 5, 3))):
        ds = TrajectoryWindows(src, variables=("u", "v", "w"), t_in=2, t_out=1, stride=1, layout=layout,
                               normalise=False, dtype=torch.float64)
        assert ds.sample_dim == "trajectory" and ds.spatial_dims == ("x", "y", "z")
        assert len(ds) == 2 * 4
        x, _ = ds[5]
        s, start = ds.window(5)
        assert x.shape == shape
        for frame in range(2):
            for k, var in enumerate(("u", "v", "w")):
                ref = torch.from_numpy(src[var].values[s, start + frame])
                if layout == "channel_last":
                    got = x[..., 3 * frame + k]
                elif layout == "channel_first":
                    got = x[3 * frame + k]
                else:
                    got = x[frame, ..., k]
                assert torch.equal(got, ref)
    norm = TrajectoryWindows(src, variables=("u", "v", "w"), t_in=2, t_out=1, split="test", dtype=torch.float64)
    for k, var in enumerate(("u", "v", "w")):
        tr = src[var].values[:2]
        assert norm.stats[var] == pytest.approx((tr.mean(), tr.std()), rel=1e-12)


def test_clear_errors(tmp_path, ns_file):
    with pytest.raises(SciflowError, match=r"lacks required variable.*'pressure'"):
        TrajectoryWindows(ns_file, spatial_dims=("x", "y"), variables=("vorticity", "pressure"))
    with pytest.raises(SciflowError, match="split 'validation' is empty"):
        TrajectoryWindows(ns_like(labels=["train", "test"]), split="validation")
    with pytest.raises(SciflowError, match="exceeds the 9 frames"):
        TrajectoryWindows(ns_file, spatial_dims=("x", "y"), t_in=5, t_out=5)
    no_split = ns_like().drop_vars("split")
    with pytest.raises(SciflowError, match="no 'split' variable"):
        TrajectoryWindows(no_split, split="train")
    with pytest.raises(SciflowError, match="no 'split' variable"):  # stats need a train split
        TrajectoryWindows(no_split, split="all", t_in=1, t_out=1)
    assert len(TrajectoryWindows(no_split, split="all", t_in=1, t_out=1, normalise=False)) == len(LABELS)
    with pytest.raises(SciflowError, match=r"must have dims \(sample, t"):
        TrajectoryWindows(ns_like().transpose("t", "sample", "x", "y"))
    with pytest.raises(SciflowError, match="not found"):
        TrajectoryWindows(tmp_path / "missing.nc")
    with pytest.raises(SciflowError, match="layout"):
        TrajectoryWindows(ns_file, spatial_dims=("x", "y"), layout="nchw")
