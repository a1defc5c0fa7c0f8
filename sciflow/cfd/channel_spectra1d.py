"""One-dimensional spectra and two-point correlations of channel states at wall-normal levels.

States u_i(x, y, z), array (N, X, Y, Z, 3) (i = u, v, w), on a grid periodic in x (length L_x, X points)
and z (L_z, Z points).  At a level y_j the streamwise spectrum of the fluctuation u'_i = u_i − U_i(y_j),
U_i(y_j) = ⟨u_i⟩_{x,z,samples}, is

    E_ii(k_x,m) = c_m ⟨|û_i(m; y_j, z)|²⟩_{z, samples},   û(m) = (1/X) Σ_x u'_i(x) e^{−i k_x,m x},
    k_x,m = 2π m / L_x,  m = 0 … X/2,   c_m = 2 for 0 < m < X/2 (±m folded), 1 for m = 0 and m = X/2,

so that Σ_m E_ii(k_x,m) = ⟨u'_i²⟩ (Parseval); E_ii(k_z) likewise along z.  The m = 0 bin holds the
variance of the line means (e.g. of ⟨u⟩_x over z); it is accumulated from the raw field and corrected
by −U_i² once U_i is known, so a rollout need not be stored.  The two-point correlations follow from
the spectra (Wiener-Khinchin):

    R_ii(Δx) = ⟨u'_i(x) u'_i(x + Δx)⟩ / ⟨u'_i²⟩ = Σ_m E_ii(k_x,m) cos(k_x,m Δx) / Σ_m E_ii(k_x,m),
    Δx = 0, L_x/X, …, L_x/2  (R_ii(0) = 1),  and R_ii(Δz) likewise.

Levels are given in wall units y⁺ = (1 − |y|) Re_τ (the nearest grid point of the lower half and its
mirror in the upper half, averaged: spectra are even in y) or as the centreline (the point nearest
y = 0).  The issue's levels: y⁺ ≈ 15 (buffer layer, the near-wall streaks) and the centreline.
"""

from __future__ import annotations

import numpy as np

DEFAULT_LEVELS = {"y15": 15.0, "center": None}  # name → y⁺ (None: the centreline)


def level_indices(y: np.ndarray, re_tau: float, levels: dict | None = None) -> dict[str, tuple[int, int, float]]:
    """{name: (lower index, mirror index, y⁺ of the point)} for wall-normal points y (Y,) in [−1, 1]."""
    y = np.asarray(y, dtype=np.float64)
    out = {}
    for name, yp in (levels or DEFAULT_LEVELS).items():
        if yp is None:
            j = int(np.argmin(np.abs(y)))
        else:
            lower = np.flatnonzero(y <= 0)
            j = int(lower[np.argmin(np.abs((1 + y[lower]) * re_tau - yp))])
        mirror = int(np.argmin(np.abs(y + y[j])))
        out[name] = (j, mirror, float((1 - abs(y[j])) * re_tau))
    return out


class LevelSpectraAccumulator:
    """Running sums for E_ii(k_x), E_ii(k_z) at wall-normal levels (module docstring); states (N, X, Y, Z, 3).

    Args:
        y: wall-normal coordinates (Y,).  re_tau: Re_τ of the wall units.  lengths: (L_x, L_z).
        levels: {name: y⁺ or None (centreline)}, default y⁺ ≈ 15 and the centreline."""

    def __init__(self, y, re_tau: float, lengths: tuple[float, float], levels: dict | None = None):
        self.levels = level_indices(y, re_tau, levels)
        self.lx, self.lz = float(lengths[0]), float(lengths[1])
        self.n_y = len(y)
        self.n = 0
        self.sx = self.sz = self.s1 = None  # (L, 2, 3, X//2+1), (L, 2, 3, Z//2+1), (L, 2, 3)

    def add(self, states: np.ndarray):
        f = np.asarray(states, dtype=np.float64)
        if f.ndim != 5 or f.shape[-1] != 3 or f.shape[2] != self.n_y:
            raise ValueError(f"LevelSpectraAccumulator: states must be (N, X, {self.n_y}, Z, 3), got {f.shape}")
        idx = np.array([[lo, mi] for lo, mi, _ in self.levels.values()])  # (L, 2)
        g = np.moveaxis(f[:, :, idx], -1, 4)  # (N, X, L, 2, 3, Z)
        nx, nz = g.shape[1], g.shape[-1]
        px = np.abs(np.fft.rfft(g, axis=1) / nx) ** 2  # (N, X//2+1, L, 2, 3, Z)
        pz = np.abs(np.fft.rfft(g, axis=-1) / nz) ** 2  # (N, X, L, 2, 3, Z//2+1)
        sx = np.moveaxis(px.sum(axis=(0, 5)), 0, -1)  # (L, 2, 3, X//2+1)
        sz = pz.sum(axis=(0, 1))  # (L, 2, 3, Z//2+1)
        s1 = g.sum(axis=(0, 1, 5))  # (L, 2, 3)
        if self.sx is None:
            self.sx, self.sz, self.s1, self.shape = sx, sz, s1, (nx, nz)
        else:
            if (nx, nz) != self.shape:
                raise ValueError(f"LevelSpectraAccumulator: grid {(nx, nz)} differs from the first states' {self.shape}")
            self.sx, self.sz, self.s1 = self.sx + sx, self.sz + sz, self.s1 + s1
        self.n += f.shape[0]

    def result(self) -> dict:
        """Spectra and correlations, both walls averaged: {"levels": {name: y⁺}, "kx" (X//2+1,), "kz",
        "dx" (X//2+1,), "dz", "E_kx" (L, 3, X//2+1), "E_kz" (L, 3, Z//2+1), "R_dx" (L, 3, X//2+1), "R_dz",
        "variance" (L, 3)} as numpy arrays."""
        if not self.n:
            raise ValueError("LevelSpectraAccumulator: no states added")
        nx, nz = self.shape
        mean = self.s1 / (self.n * nx * nz)  # (L, 2, 3): U_i at each level and mirror
        ex = self.sx / (self.n * nz)
        ez = self.sz / (self.n * nx)
        ex[..., 0] -= mean ** 2
        ez[..., 0] -= mean ** 2
        ex, ez = _fold_modes(ex.mean(axis=1), nx), _fold_modes(ez.mean(axis=1), nz)  # walls averaged
        kx, kz = 2 * np.pi / self.lx * np.arange(nx // 2 + 1), 2 * np.pi / self.lz * np.arange(nz // 2 + 1)
        dx, dz = self.lx / nx * np.arange(nx // 2 + 1), self.lz / nz * np.arange(nz // 2 + 1)
        return {"levels": {k: v[2] for k, v in self.levels.items()}, "kx": kx, "kz": kz, "dx": dx, "dz": dz,
                "E_kx": ex, "E_kz": ez, "R_dx": correlation_from_spectrum(ex, kx, dx),
                "R_dz": correlation_from_spectrum(ez, kz, dz), "variance": ex.sum(-1)}


def _fold_modes(e: np.ndarray, n: int) -> np.ndarray:
    """|û(m)|² for m = 0 … n/2 → one-sided spectrum: ×2 for 0 < m < n/2 (n even; odd n: every m > 0)."""
    c = np.full(e.shape[-1], 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    return e * c


def correlation_from_spectrum(e: np.ndarray, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """R(Δ) = Σ_m E(k_m) cos(k_m Δ) / Σ_m E(k_m) for one-sided spectra e (..., K), shape (..., len(d))."""
    var = e.sum(-1, keepdims=True)
    return (e @ np.cos(np.outer(k, d))) / np.where(var > 0, var, 1.0)


def spectra_errors(pred: dict, ref: dict) -> dict:
    """Errors of a rollout's spectra and correlations (``LevelSpectraAccumulator.result()``) against the reference's.

    For every level ℓ and direction d ∈ {x, z}:
      ``E_k<d>_log_err_<ℓ>`` = mean over i = u, v, w and modes m = 1 … K − 2 of |log10 Ê_ii / E_ii| (without the
      mean and the last mode: the Nyquist mode of an even grid, which the spectral filter of the data empties);
      ``R_uu_d<d>_max_err_<ℓ>`` = max_Δ |R̂_uu(Δ) − R_uu(Δ)| (R is normalised: R(0) = 1);
    and the spectra/correlations themselves as lists (``*_pred``, ``*_ref``) for figures."""
    out = {"spectra_levels_y_plus": ref["levels"], "spectra_kx": ref["kx"].tolist(), "spectra_kz": ref["kz"].tolist(),
           "correlation_dx": ref["dx"].tolist(), "correlation_dz": ref["dz"].tolist()}
    for li, name in enumerate(ref["levels"]):
        for d in ("x", "z"):
            ep, er = pred[f"E_k{d}"][li][:, 1:-1], ref[f"E_k{d}"][li][:, 1:-1]
            floor = 1e-300
            out[f"E_k{d}_log_err_{name}"] = float(np.mean(np.abs(np.log10(np.maximum(ep, floor) / np.maximum(er, floor)))))
            out[f"R_uu_d{d}_max_err_{name}"] = float(np.max(np.abs(pred[f"R_d{d}"][li, 0] - ref[f"R_d{d}"][li, 0])))
            for tag, res in (("pred", pred), ("ref", ref)):
                out[f"E_k{d}_{name}_{tag}"] = res[f"E_k{d}"][li].tolist()
                out[f"R_d{d}_{name}_{tag}"] = res[f"R_d{d}"][li].tolist()
    return out
