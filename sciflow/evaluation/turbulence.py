"""Turbulent channel statistics in wall units: comparison with MKM (1999), plots.

The statistics themselves (``channel_statistics``, ``symmetry_defect``) are computed in
:mod:`sciflow.cfd.channel_stats`, where the solver also uses them. Input there is the time-averaged dictionary of ``ChannelStatsAccumulator.result()`` (plane
averages at the wall-normal centres ``yc`` of shape ``(Ny,)``, spectra
``spec_x (3, Ny, nkx)`` / ``spec_z (3, Ny, nkz)``). Statistics are averaged over x, z,
time and both halves of the channel: the upper half is folded onto the lower one with
``y → -y``; U, rms values and spectra are even, the mean v and the Reynolds shear stress
``<u'v'>`` are odd (their upper-half values change sign).

Wall units: ``u_τ = sqrt(ν dU/dy|_wall)`` from the folded mean profile (second-order
one-sided slope, ``sciflow.cfd.channel_operators.wall_slope``), ``Re_τ = u_τ h/ν``,
``y+ = (1 + y) Re_τ``, ``U+ = U/u_τ``, ``rms+ = sqrt(<u_i'u_i'>)/u_τ``,
``uv+ = <u'v'>/u_τ²``, ``C_f = τ_w / (½ U_b²) = 2/(U_b+)²``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from sciflow.resources import reference_table

MKM_TABLE = "mkm1999_channel_retau180_profiles"  # bundled datasets/reference/<name>.csv
MKM_RE_TAU = 178.12


def load_mkm(path=None) -> dict:
    """MKM (1999) Re_τ = 178.12 profiles: dict of arrays (y_over_h, y_plus, U_plus, *_rms_plus, uv_plus)."""
    path = Path(path) if path else reference_table(MKM_TABLE)
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    names = lines[0].strip().split(",")
    data = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:] if ln.strip()])
    return {n: data[:, i] for i, n in enumerate(names)}


def compare_with_mkm(stats: xr.Dataset, mkm: dict | None = None, y_plus_min: float = 1.0) -> dict:
    """Max relative errors of the statistics against MKM (1999) at the simulation's y+ points.

    MKM is linearly interpolated in y+ onto the simulation's points with
    ``y_plus_min ≤ y+ ≤ 178.12`` (the MKM centreline). Error norms:

    * ``U_plus``: ``max |U+ - U+_MKM| / U+_MKM`` — relative to the local value, over the
      points with ``y+ ≥ y_plus_min`` (default 1, i.e. away from the wall where U+ → 0);
    * ``u_rms_plus``, ``v_rms_plus``, ``w_rms_plus``, ``uv_plus``:
      ``max |f - f_MKM| / max |f_MKM|`` — relative to the MKM peak value of that profile.

    Also returns the relative errors of Re_τ, U_c+ and U_b+ (MKM 178.12, 18.30, 15.68).
    """
    mkm = mkm or load_mkm()
    yp = stats["y_plus"].values
    sel = (yp >= y_plus_min) & (yp <= mkm["y_plus"].max())
    out = {}
    for k in ("U_plus", "u_rms_plus", "v_rms_plus", "w_rms_plus", "uv_plus"):
        ref = np.interp(yp[sel], mkm["y_plus"], mkm[k])
        val = stats[k].values[sel]
        if k == "U_plus":
            out[k] = float(np.max(np.abs(val - ref) / np.abs(ref)))
        else:
            out[k] = float(np.max(np.abs(val - ref)) / np.max(np.abs(mkm[k])))
    out["re_tau"] = float(stats.attrs["re_tau"] / MKM_RE_TAU - 1.0)
    out["uc_plus"] = float(stats.attrs["uc_plus"] / 18.30 - 1.0)
    out["ub_plus"] = float(stats.attrs["ub_plus"] / 15.68 - 1.0)
    return out


def plot_profiles(stats_by_label: dict, path, mkm: dict | None = None):
    """U+(y+) (log axis) and rms/uv profiles for several runs, overlaid with MKM (1999)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mkm = mkm or load_mkm()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    ax[0].semilogx(mkm["y_plus"][1:], mkm["U_plus"][1:], "k-", lw=2, label="MKM 1999")
    for i, (k, c) in enumerate((("u_rms_plus", "C0"), ("v_rms_plus", "C1"), ("w_rms_plus", "C2"), ("uv_plus", "C3"))):
        ax[1].plot(mkm["y_plus"], mkm[k], "-", color=c, lw=2, alpha=0.5, label=f"{k} MKM")
    styles = ["o", "s", "^", "v", "d", "x"]
    for n, (label, st) in enumerate(stats_by_label.items()):
        yp = st["y_plus"].values
        mk = styles[n % len(styles)]
        ax[0].semilogx(yp, st["U_plus"].values, mk, ms=3, mfc="none", label=f"{label} (Re_τ={st.attrs['re_tau']:.1f})")
        for k, c in (("u_rms_plus", "C0"), ("v_rms_plus", "C1"), ("w_rms_plus", "C2"), ("uv_plus", "C3")):
            ax[1].plot(yp, st[k].values, mk, color=c, ms=3, mfc="none")
    ax[0].set_xlabel("y+")
    ax[0].set_ylabel("U+")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("y+")
    ax[1].set_ylabel("rms+, uv+")
    ax[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_spectra(stats: xr.Dataset, path, y_plus_levels=(5.0, 30.0, 150.0)):
    """Streamwise and spanwise 1D spectra E_ii+ (per mode) at the nearest y+ levels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    u_tau, nu = stats.attrs["u_tau"], stats.attrs["u_tau"] / stats.attrs["re_tau"]
    for yl in y_plus_levels:
        st = stats.sel(y_plus=yl, method="nearest")
        for c, ls in zip("uvw", ("-", "--", ":")):
            kx, kz = st["kx"].values[1:], st["kz"].values[1:]
            ax[0].loglog(kx * nu / u_tau, st[f"E{c}{c}_kx"].values[1:], ls, label=f"E{c}{c} y+={float(st.y_plus):.0f}")
            ax[1].loglog(kz * nu / u_tau, st[f"E{c}{c}_kz"].values[1:], ls, label=f"E{c}{c} y+={float(st.y_plus):.0f}")
    ax[0].set_xlabel("k_x+")
    ax[1].set_xlabel("k_z+")
    for a in ax:
        a.set_ylabel("E+ per mode")
        a.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
