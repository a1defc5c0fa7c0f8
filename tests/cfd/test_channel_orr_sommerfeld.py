"""Linear stability of plane Poiseuille flow: the channel solver against Orr-Sommerfeld.

The Orr-Sommerfeld problem (Orszag 1971) for U = 1 - y², clamped φ(±1) = φ'(±1) = 0,

    (U - c)(D² - α²)φ - U''φ = (iαRe)^{-1} (D² - α²)² φ,

is solved here by Chebyshev collocation with the substitution φ = (1 - y²) g
(Trefethen 2000, Spectral Methods in MATLAB, program 40) and scipy.linalg.eig.
The solver is started from laminar flow plus a 1e-6 Tollmien-Schlichting wave built from
that eigenfunction; the measured growth rate of the wave's energy, ½ d ln E / dt, must
match α c_i and its error must fall as the wall-normal grid is refined.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.interpolate import BarycentricInterpolator

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver


def cheb(n: int):
    """Chebyshev differentiation matrix and points x_j = cos(πj/n), j = 0..n (Trefethen)."""
    x = np.cos(np.pi * np.arange(n + 1) / n)
    c = np.r_[2.0, np.ones(n - 1), 2.0] * (-1.0) ** np.arange(n + 1)
    X = np.tile(x, (n + 1, 1)).T
    dX = X - X.T
    D = np.outer(c, 1.0 / c) / (dX + np.eye(n + 1))
    D -= np.diag(D.sum(axis=1))
    return D, x


def orr_sommerfeld(re: float, alpha: float, n: int = 120):
    """Least-stable eigenvalue c and eigenfunction of plane Poiseuille flow.

    Returns (c, x, phi): c complex wave speed, x (n+1,) Chebyshev points, phi (n+1,)
    wall-normal velocity eigenfunction (zero at the walls), normalised to max |phi| = 1.
    """
    D, x = cheb(n)
    D2, D3, D4 = D @ D, D @ D @ D, D @ D @ D @ D
    S = np.diag(np.r_[0.0, 1.0 / (1.0 - x[1:-1] ** 2), 0.0])
    D4c = (np.diag(1.0 - x**2) @ D4 - 8.0 * np.diag(x) @ D3 - 12.0 * D2) @ S
    a2 = alpha**2
    I = np.eye(n - 1)
    D2i, D4i = D2[1:-1, 1:-1], D4c[1:-1, 1:-1]
    U = np.diag(1.0 - x[1:-1] ** 2)
    # λ φ-form: (D² - α²) ∂_t φ = [(D²-α²)²/Re - iα U (D²-α²) - 2iα] φ, ∂_t = λ = -iαc
    A = (D4i - 2 * a2 * D2i + a2**2 * I) / re - 1j * alpha * U @ (D2i - a2 * I) - 2j * alpha * I
    B = D2i - a2 * I
    lam, vec = scipy.linalg.eig(A, B)
    ok = np.isfinite(lam)
    lam, vec = lam[ok], vec[:, ok]
    i = np.argmax(lam.real)
    c = 1j * lam[i] / alpha
    phi = np.r_[0.0, vec[:, i], 0.0]
    phi = phi / phi[np.argmax(np.abs(phi))]
    return c, x, phi


def test_orr_sommerfeld_solver_reproduces_orszag_1971():
    c, _, _ = orr_sommerfeld(10000.0, 1.0, 100)
    assert abs(c - (0.23752649 + 0.00373967j)) < 1e-7


def ts_growth_rate(ny: int, re: float = 7500.0, alpha: float = 1.0, t_end: float = 20.0, dt: float = 0.02,
                   stretch: float = 1.5, eps: float = 1e-6):
    """Measured ½ d ln E/dt of the kx = α mode, E = ∫|û|² + |v̂|² dy (after a short transient)."""
    torch.set_num_threads(1)
    s = ChannelSolver(ChannelConfig(nx=8, ny=ny, nz=1, lx=2 * math.pi / alpha, lz=1.0, stretch=stretch,
                                    nu=1.0 / re, forcing=2.0 / re, dt=dt))
    c, xc, phi = orr_sommerfeld(re, alpha)
    g = s.grid
    interp_r = BarycentricInterpolator(xc, phi.real)
    interp_i = BarycentricInterpolator(xc, phi.imag)
    vf = interp_r(g.yf) + 1j * interp_i(g.yf)
    vf[0] = vf[-1] = 0.0
    uc = 1j * (vf[1:] - vf[:-1]) / (alpha * g.dy)  # discrete continuity: iα û + D v = 0
    x = s.x
    ex = np.exp(1j * alpha * x)[None, :, None]
    u = s.laminar_profile()[:, None, None] + eps * (uc[:, None, None] * ex).real
    v = eps * (vf[:, None, None] * ex).real
    s.set_state(u, v, np.zeros_like(u))
    ts, es = [], []
    n = int(round(t_end / dt))
    for i in range(n):
        s.step()
        if (i + 1) % 10 == 0:
            e = (s.uh[:, 1, 0].abs() ** 2 * s.dy_t[:, 0, 0]).sum() + (s.vh[:, 1, 0].abs() ** 2 * s.hint_t[:, 0, 0]).sum()
            ts.append(s.t)
            es.append(float(e))
    ts, es = np.array(ts), np.log(np.array(es))
    keep = ts > 0.25 * t_end
    slope = np.polyfit(ts[keep], es[keep], 1)[0]
    return 0.5 * slope, alpha * c.imag


def test_tollmien_schlichting_growth_rate_converges_second_order():
    """Re = 7500, α = 1 (c = 0.24989 + 0.00223i): error falls ~4x per doubling of Ny and
    the Richardson extrapolation of the two runs matches α c_i within 1 %."""
    s48, exact = ts_growth_rate(48, dt=0.05, t_end=20.0)
    s96, _ = ts_growth_rate(96, dt=0.05, t_end=20.0)
    e48, e96 = abs(s48 - exact), abs(s96 - exact)
    assert e96 < 0.15 * exact  # growing, at the right rate within 15 % at Ny = 96
    assert e48 / e96 > 3.0  # second-order convergence
    richardson = (4.0 * s96 - s48) / 3.0
    assert abs(richardson - exact) < 0.01 * exact


@pytest.mark.slow
def test_tollmien_schlichting_growth_rate_fine_grids():
    """Ny = 128, 256, dt = 0.02, t = 20: errors ≈ 5 % and 1.3 %."""
    s128, exact = ts_growth_rate(128)
    s256, _ = ts_growth_rate(256)
    assert abs(s256 - exact) < 0.02 * exact
    assert abs(s128 - exact) / abs(s256 - exact) > 3.5


if __name__ == "__main__":
    print(orr_sommerfeld(7500.0, 1.0)[0])
    for ny in (32, 64, 128, 256):
        print(ny, ts_growth_rate(ny))
