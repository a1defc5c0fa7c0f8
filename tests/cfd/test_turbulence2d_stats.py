"""Energy, enstrophy, spectrum and temporal decorrelation of 2D vorticity fields against analytic cases."""

import math

import numpy as np
import pytest

from sciflow.cfd.energy_spectrum2d import energy_spectrum
from sciflow.cfd.turbulence2d_stats import autocorrelation, decorrelation_time, enstrophy, kinetic_energy

N = 32
X, Y = np.meshgrid(np.arange(N) / N, np.arange(N) / N, indexing="ij")


def test_energy_and_enstrophy_of_single_modes():
    """ω = A cos 2π(m x + q y): ψ = ω/|2πk|², |u|² averages to A²/(2|2πk|²): E = A²/(4|2πk|²), Z = A²/4;
    the shell spectrum holds E in the shell |k| = round((m² + q²)^½) only."""
    for a, m, q in ((1.5, 3, 0), (0.7, 2, 5), (2.0, 0, 1)):
        w = a * np.cos(2 * np.pi * (m * X + q * Y) + 0.4)
        k2 = (2 * np.pi) ** 2 * (m * m + q * q)
        assert kinetic_energy(w) == pytest.approx(a * a / (4 * k2), rel=1e-12)
        assert enstrophy(w) == pytest.approx(a * a / 4, rel=1e-12)
        ks, e = energy_spectrum(w)
        shell = int(round(math.hypot(m, q)))
        assert e[ks == shell][0] == pytest.approx(a * a / (4 * k2), rel=1e-12)
        assert np.abs(e[ks != shell]).max() <= 1e-14 * e.max()


def test_parseval_spectrum_sums_to_the_energy_of_a_band_limited_field():
    rng = np.random.default_rng(0)
    wf = np.fft.rfft2(rng.standard_normal((3, N, N)))
    k = np.fft.fftfreq(N, 1 / N)
    keep = (np.abs(k)[:, None] < N / 3) & (np.arange(N // 2 + 1)[None, :] < N / 3)  # shells below n/2
    w = np.fft.irfft2(wf * keep, s=(N, N))
    ks, e = energy_spectrum(w)
    np.testing.assert_allclose(e.sum(-1), kinetic_energy(w), rtol=1e-12)
    np.testing.assert_allclose(enstrophy(w), 0.5 * (w ** 2).mean(axis=(-2, -1)), rtol=1e-14)


def test_autocorrelation_of_a_travelling_wave_and_its_decorrelation_time():
    """ω(t) = cos 2π(x − c t) (+ a constant that the mean removal drops): R(τ) = cos(2π c τ) at every start;
    R falls to 1/e at τ = arccos(1/e) / (2π c) (linear interpolation between lags: error O(Δt²))."""
    c, dt, frames = 0.05, 0.25, 24
    t = np.arange(frames) * dt
    w = np.stack([[np.cos(2 * np.pi * (X - c * tt)) + 0.3 for tt in t] for _ in range(2)])  # (2, F, N, N)
    r = autocorrelation(w)
    np.testing.assert_allclose(r, np.cos(2 * np.pi * c * t), atol=1e-12)
    exact = math.acos(math.exp(-1)) / (2 * math.pi * c)
    assert decorrelation_time(r, dt) == pytest.approx(exact, rel=2e-3)
    assert decorrelation_time(np.ones(5), dt) is None
    assert decorrelation_time(np.array([1.0, 0.5, 0.2]), 2.0) == pytest.approx(2.0 * (1 + (0.5 - math.exp(-1)) / 0.3))
