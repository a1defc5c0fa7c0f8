"""Initial conditions for turbulent channel runs: Reichardt mean profile + random fluctuations."""

from __future__ import annotations

import numpy as np

from sciflow.cfd.channel_dns import ChannelSolver


def reichardt_profile(y_plus: np.ndarray, kappa: float = 0.41) -> np.ndarray:
    """Reichardt (1951) mean-velocity law U+(y+), used only to start turbulent runs."""
    return np.log1p(kappa * y_plus) / kappa + 7.8 * (1.0 - np.exp(-y_plus / 11.0) - y_plus / 11.0 * np.exp(-y_plus / 3.0))


def turbulent_initial_condition(solver: ChannelSolver, amplitude: float = 1.0, seed: int = 0, u_tau: float = 1.0):
    """Set a Reichardt mean profile plus random low-wavenumber, divergence-free fluctuations.

    Fluctuations: random Fourier coefficients for |kx| ≤ 4, kz ≤ 4 (integer mode numbers)
    with a (1 - y²) envelope and rms ``amplitude·u_tau``; the solver's projection then makes
    them discretely divergence-free. Mean: U = u_tau·U+((1-|y|) u_tau/ν).
    """
    s = solver
    g = s.grid
    rng = np.random.default_rng(seed)
    yp = (1.0 - np.abs(g.yc)) * u_tau / s.cfg.nu
    U = u_tau * reichardt_profile(yp)
    env_c = (1.0 - g.yc**2)[:, None, None]
    env_f = (1.0 - g.yf**2)[:, None, None]
    xx, zz = np.meshgrid(s.x / s.cfg.lx, s.z / s.cfg.lz, indexing="ij")

    def rand_field(env, ny):
        f = np.zeros((ny, s.nx, s.nz))
        for kx in range(-4, 5):
            for kz in range(0, 5):
                if kx == 0 and kz == 0:
                    continue
                a = rng.standard_normal(ny) + 1j * rng.standard_normal(ny)
                # smooth in y: low-pass the random profile by a running mean
                a = np.convolve(a, np.ones(5) / 5.0, mode="same")
                f += (a[:, None, None] * np.exp(2j * np.pi * (kx * xx + kz * zz))[None]).real
        f *= env
        return f / max(f.std(), 1e-30)

    u = U[:, None, None] + amplitude * u_tau * rand_field(env_c, s.ny)
    v = amplitude * u_tau * rand_field(env_f, s.ny + 1)
    w = amplitude * u_tau * rand_field(env_c, s.ny)
    s.set_state(u, v, w)
    return s
