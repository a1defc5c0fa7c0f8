"""Running turbulence statistics of a channel solver, accumulated on its device.

Every sample adds, for each wall-normal centre ``yc`` (shape ``(Ny,)``), the x-z plane
averages of u, v, w, uu, vv, ww, uv (v interpolated from the faces to the centres), and the
1D energy spectra of the three components summed over the other homogeneous direction,
computed exactly from the retained Fourier modes by Parseval:

    <f g>_xz = Σ_{kx,kz} w_kz Re(f̂ ĝ*) / (Nx Nz)^2,   w_kz = 1 (kz = 0) or 2 (kz > 0).

Post-processing to wall units, folding of the two halves and comparison with published
data is ``sciflow.evaluation.turbulence``.
"""

from __future__ import annotations

import numpy as np
import torch


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
