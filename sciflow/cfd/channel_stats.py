"""Running turbulence statistics of a channel solver, accumulated on its device.

Every sample adds, for each wall-normal centre ``yc`` (shape ``(Ny,)``), the x-z plane
averages of u, v, w, uu, vv, ww, uv (v interpolated from the faces to the centres), and the
1D energy spectra of the three components summed over the other homogeneous direction,
computed exactly from the retained Fourier modes by Parseval:

    <f g>_xz = Σ_{kx,kz} w_kz Re(f̂ ĝ*) / (Nx Nz)^2,   w_kz = 1 (kz = 0) or 2 (kz > 0).

``channel_statistics`` post-processes them to wall units, averaging over x, z, time and both
halves of the channel: the upper half is folded onto the lower one with ``y → -y``; U, rms
values and spectra are even, the mean v and the Reynolds shear stress ``<u'v'>`` are odd.
Wall units: ``u_τ = sqrt(ν dU/dy|_wall)`` from the folded mean profile (second-order
one-sided slope, ``sciflow.cfd.channel_operators.wall_slope``), ``Re_τ = u_τ h/ν``,
``y+ = (1 + y) Re_τ``, ``U+ = U/u_τ``, ``rms+ = sqrt(<u_i'u_i'>)/u_τ``,
``uv+ = <u'v'>/u_τ²``, ``C_f = τ_w / (½ U_b²) = 2/(U_b+)²``. The comparison with published
data is ``sciflow.evaluation.turbulence``.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from sciflow.cfd.channel_operators import wall_slope


class ChannelStatsAccumulator:
    """Sums over samples; ``result()`` returns time averages as numpy arrays."""

    names = ("u", "v", "w", "uu", "vv", "ww", "uv")

    def __init__(self, solver):
        s = solver
        self.ny, self.nkx, self.nkz = s.ny, s.nkx, s.nkz
        dev, rd = s.device, s.rdtype
        self.wkz = torch.ones(1, 1, s.nkz, device=dev, dtype=rd)
        self.wkz[..., 1:] = 2.0
        self.norm = float(s.nx * s.nz) ** 2
        self.sums = torch.zeros(len(self.names), s.ny, device=dev, dtype=torch.float64)
        self.spec_x = torch.zeros(3, s.ny, s.nkx, device=dev, dtype=torch.float64)
        self.spec_z = torch.zeros(3, s.ny, s.nkz, device=dev, dtype=torch.float64)
        self.forcing_sum = 0.0
        self.n = 0
        self.t_first = None
        self.t_last = None
        self.meta = {
            "yc": s.grid.yc.copy(),
            "yf": s.grid.yf.copy(),
            "kx": 2 * np.pi / s.cfg.lx * s.kx_int,
            "kz": 2 * np.pi / s.cfg.lz * s.kz_int,
            "nu": s.cfg.nu,
            "lx": s.cfg.lx,
            "lz": s.cfg.lz,
        }

    def add(self, s):
        """Add one sample from solver ``s`` (its current state)."""
        vf = s.v_full(s.vh)
        vc = 0.5 * (vf[1:] + vf[:-1])
        uh, wh = s.uh, s.wh
        mean = lambda a: a[:, 0, 0].real / (s.nx * s.nz)  # noqa: E731
        corr = lambda a, b: (self.wkz * (a * b.conj()).real).sum((1, 2)) / self.norm  # noqa: E731
        vals = [mean(uh), mean(vc), mean(wh), corr(uh, uh), corr(vc, vc), corr(wh, wh), corr(uh, vc)]
        self.sums += torch.stack(vals).to(torch.float64)
        for i, f in enumerate((uh, vc, wh)):
            # total energy per mode; the time-mean part of the (0,0) mode is removed in post-processing
            e = self.wkz * f.abs() ** 2 / self.norm
            self.spec_x[i] += e.sum(2).to(torch.float64)
            self.spec_z[i] += e.sum(1).to(torch.float64)
        self.forcing_sum += float(s.forcing)
        self.n += 1
        if self.t_first is None:
            self.t_first = s.t
        self.t_last = s.t

    def result(self) -> dict:
        """Time averages: dict of numpy arrays (Ny,) per name, spectra, and metadata."""
        if self.n == 0:
            raise ValueError("no statistics samples were accumulated")
        out = dict(self.meta)
        m = (self.sums / self.n).cpu().numpy()
        out.update({k: m[i] for i, k in enumerate(self.names)})
        out["spec_x"] = (self.spec_x / self.n).cpu().numpy()  # (3, Ny, nkx) over stored kx
        out["spec_z"] = (self.spec_z / self.n).cpu().numpy()  # (3, Ny, nkz)
        out["forcing"] = self.forcing_sum / self.n
        out["n_samples"] = self.n
        out["averaging_time"] = 0.0 if self.t_first is None else float(self.t_last - self.t_first)
        return out

    def state_dict(self) -> dict:
        return {
            "sums": self.sums.cpu(),
            "spec_x": self.spec_x.cpu(),
            "spec_z": self.spec_z.cpu(),
            "forcing_sum": self.forcing_sum,
            "n": self.n,
            "t_first": self.t_first,
            "t_last": self.t_last,
        }

    def load_state_dict(self, sd: dict):
        dev = self.sums.device
        self.sums = sd["sums"].to(dev)
        self.spec_x = sd["spec_x"].to(dev)
        self.spec_z = sd["spec_z"].to(dev)
        self.forcing_sum, self.n = sd["forcing_sum"], sd["n"]
        self.t_first, self.t_last = sd["t_first"], sd["t_last"]


def _fold(a: np.ndarray, odd: bool = False) -> np.ndarray:
    """Average lower half with the mirrored upper half along axis -1 of a (..., Ny) array."""
    ny = a.shape[-1]
    half = ny // 2
    lo, up = a[..., :half], a[..., ::-1][..., :half]
    return 0.5 * (lo - up) if odd else 0.5 * (lo + up)


def symmetry_defect(raw: dict) -> dict:
    """Relative differences between the lower and the mirrored upper half.

    Returns max |f_lo - (±) f_up| / max |f| for U, u_rms, v_rms, w_rms and uv (the sign
    is - for uv, whose upper-half value is the negative of the lower one).
    """
    out = {}
    prof = _central_moments(raw)
    for k, odd in (("U", False), ("u_rms", False), ("v_rms", False), ("w_rms", False), ("uv", True)):
        a = prof[k]
        half = len(a) // 2
        lo, up = a[:half], a[::-1][:half]
        diff = lo + up if odd else lo - up
        out[k] = float(np.max(np.abs(diff)) / max(np.max(np.abs(a)), 1e-300))
    return out


def _central_moments(raw: dict) -> dict:
    U, V, W = raw["u"], raw["v"], raw["w"]
    return {
        "U": U,
        "u_rms": np.sqrt(np.maximum(raw["uu"] - U**2, 0.0)),
        "v_rms": np.sqrt(np.maximum(raw["vv"] - V**2, 0.0)),
        "w_rms": np.sqrt(np.maximum(raw["ww"] - W**2, 0.0)),
        "uv": raw["uv"] - U * V,
    }


def channel_statistics(raw: dict) -> xr.Dataset:
    """Folded wall-unit statistics (coordinate ``y_plus`` over the lower half) as a Dataset.

    Variables: U_plus, u_rms_plus, v_rms_plus, w_rms_plus, uv_plus (y_plus,);
    spectra Euu/Evv/Eww_kx (y_plus, kx) and _kz (y_plus, kz): energy per 1D mode in wall
    units, summing over kx (or kz) to the variance. Attrs: re_tau, u_tau, cf, ub_plus,
    uc_plus, averaging_time, n_samples.
    """
    nu = float(raw["nu"])
    yc, yf = np.asarray(raw["yc"]), np.asarray(raw["yf"])
    m = _central_moments(raw)
    U = _fold(m["U"])
    y = yc[: len(U)]
    tau_w = nu * wall_slope(np.r_[y, -y[::-1]], np.r_[U, U[::-1]], -1.0)
    u_tau = float(np.sqrt(max(tau_w, 0.0)))
    re_tau = u_tau / nu
    yplus = (1.0 + y) * u_tau / nu
    ub = float(np.sum(m["U"] * np.diff(yf)) / 2.0)
    ds = xr.Dataset(
        {
            "U_plus": ("y_plus", U / u_tau),
            # fold the variances (not the rms values) of the two halves
            "u_rms_plus": ("y_plus", np.sqrt(_fold(m["u_rms"] ** 2)) / u_tau),
            "v_rms_plus": ("y_plus", np.sqrt(_fold(m["v_rms"] ** 2)) / u_tau),
            "w_rms_plus": ("y_plus", np.sqrt(_fold(m["w_rms"] ** 2)) / u_tau),
            "uv_plus": ("y_plus", _fold(m["uv"], odd=True) / u_tau**2),
        },
        coords={"y_plus": yplus, "y": ("y_plus", y)},
    )
    if "spec_x" in raw:
        kx = np.asarray(raw["kx"])
        kpos = np.sort(np.unique(np.abs(kx)))
        sx = np.asarray(raw["spec_x"])
        folded = np.zeros(sx.shape[:2] + (len(kpos),))
        for i, k in enumerate(kpos):
            folded[..., i] = sx[..., np.abs(np.abs(kx) - k) < 1e-12].sum(-1)
        sz = np.asarray(raw["spec_z"]).copy()
        # the (0,0) mode holds the squared plane mean: subtract the squared time mean so that
        # the spectra sum to the variances about the time mean
        for i, c in enumerate("uvw"):
            folded[i, :, 0] -= raw[c] ** 2
            sz[i, :, 0] -= raw[c] ** 2
        sx_f = _fold(np.moveaxis(folded, 1, -1))  # (3, nk, Ny/2)
        sz_f = _fold(np.moveaxis(sz, 1, -1))
        ds = ds.assign_coords(kx=kpos, kz=np.asarray(raw["kz"]))
        for i, c in enumerate("uvw"):
            ds[f"E{c}{c}_kx"] = (("y_plus", "kx"), sx_f[i].T / u_tau**2)
            ds[f"E{c}{c}_kz"] = (("y_plus", "kz"), sz_f[i].T / u_tau**2)
    ds.attrs.update(
        re_tau=float(re_tau),
        u_tau=u_tau,
        cf=float(2.0 * tau_w / ub**2),
        ub_plus=float(ub / u_tau),
        uc_plus=float(U[-1] / u_tau),
        averaging_time=float(raw.get("averaging_time", 0.0)),
        n_samples=int(raw.get("n_samples", 0)),
    )
    return ds
