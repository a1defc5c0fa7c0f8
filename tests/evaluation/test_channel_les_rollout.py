"""Profiles of channel states, and the LES on the surrogates' coarse grid (laminar checks)."""

import json
import math

import numpy as np
import pytest
import xarray as xr

from sciflow.cfd.filters import coarse_y_points
from sciflow.evaluation.channel_les_rollout import CoarseGridMap, les_one_step_error, les_rollout, les_solver_for
from sciflow.cfd.channel_profiles import ProfileAccumulator, profile_errors, profiles

RE_TAU = 178.12


def _coarse_dataset(nx=8, ny=13, nz=8, stretch=1.9, dt_snapshot=0.02):
    y = coarse_y_points(ny, stretch)
    ds = xr.Dataset(coords={"x": np.arange(nx) * math.pi / nx, "y": y, "z": np.arange(nz) * (math.pi / 2) / nz})
    ds.attrs.update(box=[math.pi, 2.0, math.pi / 2], dt_snapshot=dt_snapshot, re_tau_nominal=RE_TAU,
                    parameters=json.dumps({"stretch": stretch}))
    return ds


def _laminar_state(ds, amplitude=0.0, seed=0):
    """Poiseuille flow U = Re_τ (1 − y²)/2 (the steady solution for forcing 1, ν = 1/Re_τ), (X, Y, Z, 3)."""
    nx, ny, nz = ds.sizes["x"], ds.sizes["y"], ds.sizes["z"]
    y = np.asarray(ds["y"].values)
    st = np.zeros((nx, ny, nz, 3))
    st[..., 0] = (RE_TAU * (1 - y * y) / 2)[None, :, None]
    if amplitude:
        z = np.asarray(ds["z"].values)[None, None, :]
        env = (1 - y * y)[None, :, None]
        st[..., 0] += amplitude * env * np.cos(4 * z)  # streaks u(y, z): divergence-free
    return st


def test_profile_accumulator_matches_direct_mean_and_rms():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(6, 4, 5, 3, 3)) + np.linspace(0, 2, 5)[None, None, :, None, None]
    acc = ProfileAccumulator()
    for chunk in (f[:2], f[2:5], f[5:]):
        acc.add(chunk)
    m, r = acc.profiles()
    assert np.allclose(m, f.mean(axis=(0, 1, 3)).T, atol=1e-13)
    assert np.allclose(r, f.std(axis=(0, 1, 3)).T, atol=1e-12)
    m2, r2 = profiles(f)
    assert np.allclose(m2, m) and np.allclose(r2, r)
    e = profile_errors(acc, acc)
    assert e["U_plus_max_rel_err"] == 0.0 and e["rms_max_rel_err"] == 0.0


def test_les_grid_has_the_coarse_points_and_the_same_fourier_modes():
    ds = _coarse_dataset()
    s = les_solver_for(ds, "none", 1e-3)
    assert np.allclose(s.grid.yf, ds["y"].values, atol=1e-12)
    assert (s.nx, s.ny, s.nz) == (12, 12, 12)
    # retained modes |kx| <= 3, kz <= 3: those a sharp cut to 8 points keeps
    assert max(abs(s.kx_int)) == 3 and max(s.kz_int) == 3


def test_coarse_state_maps_into_the_les_and_back():
    """A divergence-free coarse state (u(y) plus a resolved spanwise mode of u) survives the map in and
    out: the Fourier part exactly, the y part to the linear interpolation error of faces ↔ centres."""
    ds = _coarse_dataset(ny=33)
    st = _laminar_state(ds, amplitude=5.0)
    s = les_solver_for(ds, "none", 1e-3)
    m = CoarseGridMap(s, ds.sizes["x"], ds.sizes["z"])
    m.set_state(st)
    back = m.state()
    assert np.abs(back[..., 1:]).max() < 1e-4  # v, w stay zero (the field is divergence-free)
    h = np.diff(ds["y"].values).max()
    assert np.abs(back[..., 0] - st[..., 0]).max() < RE_TAU * h * h  # |U''| h² / 2 bound, U'' = −Re_τ


def test_les_rollout_of_poiseuille_stays_laminar_and_costs_are_reported():
    ds = _coarse_dataset(ny=33, dt_snapshot=0.01)
    st = _laminar_state(ds)[None]
    out = les_rollout(ds, st, "none", snapshots=3, dt=2e-3)
    assert out["snapshots_stable"] == 3
    mean, rms = out["accumulator"].profiles()
    y = ds["y"].values
    assert np.abs(mean[0] - RE_TAU * (1 - y * y) / 2).max() < 0.01 * RE_TAU / 2
    assert rms.max() < 1e-3 and np.abs(mean[1:]).max() < 1e-3
    assert out["seconds_per_time_unit"] > 0
    err = les_one_step_error(ds, st, st, "none", dt=2e-3)
    assert err < 1e-2


def test_les_rollout_rejects_a_step_that_does_not_divide_the_snapshot_interval():
    ds = _coarse_dataset(dt_snapshot=0.01)
    from sciflow.errors import SciflowError

    with pytest.raises(SciflowError, match="does not divide"):
        les_rollout(ds, _laminar_state(ds)[None], "none", snapshots=1, dt=0.003)
