"""Channel statistics: wall units, folding of the halves, MKM comparison, Parseval spectra."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
from sciflow.cfd.channel_operators import tanh_faces
from sciflow.cfd.channel_stats import channel_statistics
from sciflow.evaluation.turbulence import compare_with_mkm, load_mkm, plot_profiles, plot_spectra


def _raw_laminar(nu=0.01, ny=64):
    yf = tanh_faces(ny, 1.5)
    yc = 0.5 * (yf[1:] + yf[:-1])
    U = (1 - yc**2) / (2 * nu)  # Poiseuille at -dP/dx = 1: u_tau = 1 exactly
    uv = yc * (1 - yc**2)  # odd in y, negative in the lower half
    z = np.zeros(ny)
    return {"yc": yc, "yf": yf, "nu": nu, "u": U, "v": z, "w": z, "uu": U**2 + 4.0, "vv": z + 1.0, "ww": z + 2.25, "uv": uv}


def test_wall_units_of_poiseuille_flow_and_fold_signs():
    st = channel_statistics(_raw_laminar())
    assert abs(st.attrs["re_tau"] - 100.0) < 1e-9  # u_tau = sqrt(nu dU/dy) = 1
    yp = st["y_plus"].values
    assert np.allclose(st["U_plus"].values, yp - yp**2 / 200.0, rtol=1e-12)  # U+ = y+ - y+^2/(2 Re_tau)
    assert np.allclose(st["u_rms_plus"], 2.0) and np.allclose(st["w_rms_plus"], 1.5)
    y = st["y"].values
    assert np.allclose(st["uv_plus"].values, y * (1 - y**2))  # odd part kept, sign of the lower half
    ub = (2 / 3) / (2 * 0.01)
    assert abs(st.attrs["cf"] - 2.0 / (ub**2)) / st.attrs["cf"] < 2e-3  # C_f = 2/Ub+^2 (discrete bulk)


def test_mkm_comparison_norms():
    mkm = load_mkm()
    assert mkm["y_plus"][-1] == pytest.approx(178.12, rel=1e-3)
    import xarray as xr

    sel = slice(1, None)
    st = xr.Dataset({k: ("y_plus", mkm[k][sel]) for k in ("U_plus", "u_rms_plus", "v_rms_plus", "w_rms_plus", "uv_plus")},
                    coords={"y_plus": mkm["y_plus"][sel]})
    st.attrs.update(re_tau=178.12, uc_plus=18.30, ub_plus=15.68)
    e = compare_with_mkm(st)
    assert max(abs(v) for v in e.values()) < 2e-3
    st2 = st.copy()
    st2["U_plus"] = st["U_plus"] * 1.03
    st2["u_rms_plus"] = st["u_rms_plus"] + 0.1 * float(np.max(mkm["u_rms_plus"]))
    e2 = compare_with_mkm(st2)
    assert e2["U_plus"] == pytest.approx(0.03, rel=1e-6)
    assert e2["u_rms_plus"] == pytest.approx(0.1, rel=1e-6)


def test_spectra_sum_to_the_variance_and_plots(tmp_path):
    torch.set_num_threads(1)
    s = ChannelSolver(ChannelConfig(nx=16, ny=24, nz=12, lx=math.pi, lz=1.0, nu=1 / 180, dt=1e-3))
    rng = np.random.default_rng(2)
    U = s.laminar_profile() * 0.2
    s.set_state(U[:, None, None] + rng.standard_normal((24, 16, 12)), rng.standard_normal((25, 16, 12)),
                rng.standard_normal((24, 16, 12)))
    s.run(4, progress=False, stats_every=2)
    st = channel_statistics(s.stats.result())
    var_u = (st["u_rms_plus"] ** 2).values
    assert np.allclose(st["Euu_kx"].sum("kx").values, var_u, rtol=1e-10)
    assert np.allclose(st["Euu_kz"].sum("kz").values, var_u, rtol=1e-10)
    # a direct physical-space average agrees with the Parseval sums (last sample only)
    u, v, w = s.fields()
    s.stats = None
    s.run(1, progress=False, stats_every=1)
    u, v, w = s.fields()
    direct = ((u - u.mean((1, 2), keepdim=True)) ** 2).mean((1, 2)).numpy()
    r = s.stats.result()
    assert np.allclose(r["uu"] - r["u"] ** 2, direct, rtol=1e-10)
    assert plot_profiles({"run": st}, tmp_path / "p.png").exists()
    assert plot_spectra(st, tmp_path / "s.png").exists()
