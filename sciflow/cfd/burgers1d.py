"""1D periodic reference solutions on x ∈ [0, 2π): convection-diffusion and viscous Burgers.

* :func:`convection_diffusion_fourier` — the exact solution of u_t + c u_x = ν u_xx for any
  periodic initial data given on a uniform grid: each Fourier mode evolves as
  û_k(t) = û_k(0) exp(−(i c k + ν k²) t).
* :func:`solve_burgers` — viscous Burgers u_t + (u²/2)_x = ν u_xx by a Fourier
  pseudo-spectral method (2/3-rule dealiasing) with ETDRK4 time stepping
  (Cox & Matthews 2002; coefficients by the contour integrals of Kassam &
  Trefethen 2005), exact for the stiff linear part.
* :func:`burgers_cole_hopf` — the exact solution for u0 = a + A sin x by the Cole-Hopf
  transform u = −2ν ∂_x log φ with φ the heat-kernel convolution of
  φ0 = exp(−(1/2ν) ∫ u0). After the Galilean shift u(x, t) = a + v(x − a t, t) and the
  substitution y = x − √(4νt) η:

      v(x, t) = ∫ A sin(y) w(η) dη / ∫ w(η) dη,   w = exp(A cos(y)/(2ν) − η²)        (Cole 1951)

  evaluated by the trapezoid rule in η (exponentially accurate for this smooth, rapidly
  decaying integrand) with a log-sum-exp shift so that ν = 10⁻³ does not overflow.

No torch in here: numpy only. Registered recipe: ``burgers1d``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from sciflow.data.recipes import register_recipe
from sciflow.errors import SciflowError

TWO_PI = 2.0 * math.pi


def grid(n: int) -> np.ndarray:
    """Uniform periodic grid x_j = 2πj/n, j = 0..n−1, shape (n,)."""
    return TWO_PI * np.arange(n) / n


def convection_diffusion_fourier(u0: np.ndarray, c: float, nu: float, t) -> np.ndarray:
    """Exact u(x_j, t) of u_t + c u_x = ν u_xx from periodic samples u0 (n,) on :func:`grid`.

    ``t`` scalar or (T,); returns (n,) or (T, n). Exact for band-limited data (n > 2·max |k|).
    """
    n = u0.shape[-1]
    k = np.fft.rfftfreq(n, 1.0 / n)
    uh = np.fft.rfft(u0)
    tt = np.atleast_1d(np.asarray(t, float))
    decay = np.exp(-(1j * c * k[None, :] + nu * k[None, :] ** 2) * tt[:, None])
    out = np.fft.irfft(uh[None, :] * decay, n=n, axis=-1)
    return out[0] if np.ndim(t) == 0 else out


def _etdrk4_coefficients(lin: np.ndarray, dt: float, m: int = 32):
    """ETDRK4 scalars for the diagonal linear operator ``lin`` (K,) (Kassam & Trefethen 2005)."""
    r = np.exp(1j * np.pi * (np.arange(1, m + 1) - 0.5) / m)
    lr = dt * lin[:, None] + r[None, :]
    e, e2 = np.exp(dt * lin), np.exp(dt * lin / 2)
    q = dt * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = dt * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr ** 2)) / lr ** 3, axis=1))
    f2 = dt * np.real(np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr ** 3, axis=1))
    f3 = dt * np.real(np.mean((-4 - 3 * lr - lr ** 2 + np.exp(lr) * (4 - lr)) / lr ** 3, axis=1))
    return e, e2, q, f1, f2, f3


def solve_burgers(u0: np.ndarray, nu: float, t_out, dt: float = 1e-3, progress: bool = False) -> np.ndarray:
    """u (T, n) of u_t + (u²/2)_x = ν u_xx at times ``t_out`` (T,), increasing, from u0 (n,) on :func:`grid`.

    Each output interval is split into equal ETDRK4 steps of at most ``dt``.
    """
    u0 = np.asarray(u0, float)
    n = u0.shape[0]
    t_out = np.asarray(t_out, float)
    if np.any(np.diff(t_out) < 0) or t_out[0] < 0:
        raise SciflowError("solve_burgers: t_out must be non-negative and increasing")
    k = np.fft.rfftfreq(n, 1.0 / n)
    dealias = (k < n / 3.0).astype(float)  # 2/3 rule: drop |k| ≥ n/3
    g = -0.5j * k * dealias

    def nonlinear(vh):
        u = np.fft.irfft(vh, n=n)
        return g * np.fft.rfft(u * u)

    lin = -nu * k ** 2
    out = np.empty((len(t_out), n))
    vh, t = np.fft.rfft(u0), 0.0
    coeffs = {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(t_out), disable=not progress, desc=f"Burgers ETDRK4 n={n}")
    for i, target in enumerate(t_out):
        span = target - t
        steps = int(math.ceil(span / dt - 1e-9)) if span > 0 else 0
        if steps:
            h = span / steps
            key = round(h, 15)
            if key not in coeffs:
                coeffs[key] = _etdrk4_coefficients(lin, h)
            e, e2, q, f1, f2, f3 = coeffs[key]
            for _ in range(steps):
                nv = nonlinear(vh)
                a = e2 * vh + q * nv
                na = nonlinear(a)
                b = e2 * vh + q * na
                nb = nonlinear(b)
                c = e2 * a + q * (2 * nb - nv)
                nc = nonlinear(c)
                vh = e * vh + f1 * nv + 2 * f2 * (na + nb) + f3 * nc
            t = target
        out[i] = np.fft.irfft(vh, n=n)
        bar.update(1)
    bar.close()
    return out


def burgers_cole_hopf(x: np.ndarray, t: float, nu: float, amplitude: float = 1.0, offset: float = 0.0,
                      h: float | None = None) -> np.ndarray:
    """Exact viscous Burgers u(x, t) (x any shape) for u0 = offset + amplitude·sin x (module eq.).

    ``h`` is the trapezoid step in η; the default resolves the narrowest feature of the
    integrand, whose width in y is ~√(2ν/A), i.e. √(2ν/A)/√(4νt) in η.
    """
    x = np.asarray(x, float)
    a, amp = float(offset), float(amplitude)
    if t <= 0:
        return a + amp * np.sin(x)
    s = math.sqrt(4 * nu * t)
    lam = amp / (2 * nu)
    half = math.sqrt(2 * abs(lam) + 60.0)  # e^{-η²} beats the largest gain e^{2|λ|} beyond this
    if h is None:
        width = math.sqrt(1.0 / max(abs(lam), 1e-12)) / s
        h = min(0.05, width / 12)
    eta = np.arange(-half, half + h / 2, h)
    xs = (x.reshape(-1) - a * t)[:, None]
    out = np.empty(xs.shape[0])
    for i in range(0, xs.shape[0], 256):  # chunks keep memory at 256 × len(eta)
        y = xs[i:i + 256] - s * eta[None, :]
        logw = lam * np.cos(y) - eta[None, :] ** 2
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        out[i:i + 256] = a + amp * (w * np.sin(y)).sum(1) / w.sum(1)
    return out.reshape(x.shape)


@register_recipe("burgers1d")
def burgers_recipe(params: dict, progress: bool = True):
    """Viscous Burgers on [0, 2π) × [0, t_final], u0 = offset + amplitude·sin x.

    params: nu, amplitude (1), offset (0), t_final (1), n (solver modes/points, 1024),
    dt (≤ 1e-3), nx (output points in x, divides n; 256), nt (output intervals in t; 100).
    Dataset: u (t, x); coords x (nx,), t (nt+1,).
    """
    import xarray as xr

    from sciflow.data.io import provenance

    p = {"nu": 0.01, "amplitude": 1.0, "offset": 0.0, "t_final": 1.0, "n": 1024, "dt": 1e-3, "nx": 256, "nt": 100}
    unknown = set(params) - set(p)
    if unknown:
        raise SciflowError(f"recipe burgers1d: unknown parameter(s) {sorted(unknown)}; known: {sorted(p)}")
    p.update(params)
    n, nx, nt = int(p["n"]), int(p["nx"]), int(p["nt"])
    if n % nx:
        raise SciflowError(f"recipe burgers1d: nx={nx} must divide n={n}")
    t0 = time.perf_counter()
    x = grid(n)
    ts = np.linspace(0.0, float(p["t_final"]), nt + 1)
    u = solve_burgers(p["offset"] + p["amplitude"] * np.sin(x), float(p["nu"]), ts, float(p["dt"]), progress)
    wall = time.perf_counter() - t0
    attrs = provenance("burgers1d", "Fourier pseudo-spectral, 2/3 dealiasing, ETDRK4", p,
                       f"n={n}, dt<={p['dt']}", wall)
    return xr.Dataset({"u": (("t", "x"), u[:, ::n // nx])}, coords={"x": x[::n // nx], "t": ts}, attrs=attrs)
