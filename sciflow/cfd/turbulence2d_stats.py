"""Statistics of 2D periodic turbulence from vorticity snapshots on the unit torus [0, 1)².

With ω̂_k = (1/n²) Σ_x ω(x) e^{−2πi k·x} (k ∈ ℤ², u = ∇⊥ψ, −Δψ = ω, so |û_k|² = |ω̂_k|² / |2πk|²):

    kinetic energy  E = ½ ⟨|u|²⟩ = Σ_{k ≠ 0} ½ |ω̂_k|² / |2πk|²,      enstrophy  Z = ½ ⟨ω²⟩ = Σ_k ½ |ω̂_k|²,

(⟨·⟩ the box mean, equal to the integral on the unit box).  The flow's temporal autocorrelation at lag
τ = l Δt over trajectories ω_s(t_f), f = 0 … F − 1 (spatial means removed),

    R(τ) = mean over s and f of  ⟨ω'_s(t_f) ω'_s(t_f + τ)⟩ / (⟨ω'_s(t_f)²⟩ ⟨ω'_s(t_f + τ)²⟩)^{1/2},

and its decorrelation time τ_c, the first lag at which R falls below 1/e (linear interpolation between
lags).  The shell spectrum E(k) is :func:`sciflow.cfd.energy_spectrum2d.energy_spectrum`.
"""

from __future__ import annotations

import math

import numpy as np


def _coefficients(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = w.shape[-1]
    wf = np.fft.fft2(w, axes=(-2, -1)) / (n * n)
    k1 = np.fft.fftfreq(n, 1.0 / n)
    k2 = (2 * np.pi) ** 2 * (k1[:, None] ** 2 + k1[None, :] ** 2)
    return wf, k2


def kinetic_energy(w: np.ndarray) -> np.ndarray:
    """E = ½⟨|u|²⟩ of vorticity w (..., n, n) on [0, 1)², shape (...)."""
    wf, k2 = _coefficients(np.asarray(w, dtype=np.float64))
    return 0.5 * (np.abs(wf) ** 2 / np.where(k2 > 0, k2, np.inf)).sum(axis=(-2, -1))


def enstrophy(w: np.ndarray) -> np.ndarray:
    """Z = ½⟨ω²⟩ of vorticity w (..., n, n), shape (...)."""
    w = np.asarray(w, dtype=np.float64)
    return 0.5 * (w * w).mean(axis=(-2, -1))


def autocorrelation(w: np.ndarray) -> np.ndarray:
    """R(l Δt) for l = 0 … F − 1 of trajectories w (S, F, n, n) (module docstring), shape (F,)."""
    w = np.asarray(w, dtype=np.float64)
    s, f = w.shape[:2]
    p = w.reshape(s, f, -1)
    p = p - p.mean(-1, keepdims=True)
    norm = np.sqrt((p * p).sum(-1))  # (S, F)
    out = np.empty(f)
    for lag in range(f):
        num = (p[:, : f - lag] * p[:, lag:]).sum(-1)
        den = norm[:, : f - lag] * norm[:, lag:]
        out[lag] = float(np.mean(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)))
    return out


def decorrelation_time(r: np.ndarray, dt: float, level: float = math.exp(-1.0)) -> float | None:
    """First lag at which r (F,) (r[l] at lag l·dt) falls below ``level``, linearly interpolated; None if never."""
    below = np.flatnonzero(np.asarray(r) < level)
    if not below.size:
        return None
    j = int(below[0])
    if j == 0:
        return 0.0
    return float(dt * (j - 1 + (r[j - 1] - level) / (r[j - 1] - r[j])))
