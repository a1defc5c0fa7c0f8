"""Kinetic-energy spectrum of a 2D periodic incompressible flow from its vorticity.

On the unit torus [0, 1)², with ω̂_k the discrete Fourier coefficients (normalised by n²) and
|û_k|² = |ω̂_k|² / |2πk|² (u = ∇⊥ψ, −Δψ = ω), the shell-summed spectrum is

    E(k) = Σ_{|k'| rounds to k} ½ |ω̂_k'|² / |2πk'|²,   k = 1 … n/2 − 1,

so Σ_k E(k) = ½ ⟨|u|²⟩ over the retained shells (Parseval).
"""

from __future__ import annotations

import numpy as np


def energy_spectrum(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shell-summed kinetic-energy spectrum of vorticity w (..., n, n) on [0,1)²: (k (K,), E (..., K)).

    Shells are integer |k| rounded; k = 1 … n/2 − 1.  Σ_k E(k) = ½⟨|u|²⟩ for the retained shells.
    """
    n = w.shape[-1]
    wf = np.fft.fft2(w, axes=(-2, -1)) / (n * n)
    k1 = np.fft.fftfreq(n, 1.0 / n)
    kx, ky = np.meshgrid(k1, k1, indexing="ij")
    kmag = np.sqrt(kx ** 2 + ky ** 2)
    k2 = (2 * np.pi) ** 2 * np.where(kmag > 0, kmag ** 2, 1.0)
    dens = 0.5 * np.abs(wf) ** 2 / k2
    shells = np.rint(kmag).astype(int)
    ks = np.arange(1, n // 2)
    e = np.stack([dens[..., shells == k].sum(-1) for k in ks], axis=-1)
    return ks, e
