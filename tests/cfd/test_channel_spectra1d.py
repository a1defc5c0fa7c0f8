"""1D spectra, two-point correlations and the Reynolds shear stress of channel states against analytic cases:
a single Fourier mode, Parseval, the direct lagged product, and a field with a known ⟨u'v'⟩."""

import math

import numpy as np
import pytest

from sciflow.cfd.channel_profiles import ProfileAccumulator, profile_errors
from sciflow.cfd.channel_spectra1d import LevelSpectraAccumulator, level_indices, spectra_errors

Y = np.cos(np.pi * np.arange(13)[::-1] / 12)  # symmetric wall-normal points, walls and centreline included
RE_TAU, LX, LZ = 180.0, 2 * math.pi, math.pi


def _grid(nx, nz):
    x = np.arange(nx) * LX / nx
    z = np.arange(nz) * LZ / nz
    return x[:, None, None], z[None, None, :]


def test_levels_are_the_nearest_points_and_their_mirrors():
    lv = level_indices(Y, RE_TAU)
    yp = (1 - np.abs(Y)) * RE_TAU
    j, mirror, ypj = lv["y15"]
    assert Y[j] < 0 and Y[mirror] == pytest.approx(-Y[j]) and ypj == pytest.approx(yp[j])
    assert np.all(np.abs(yp[Y <= 0] - 15) >= abs(ypj - 15) - 1e-12)
    c = lv["center"]
    assert Y[c[0]] == pytest.approx(0, abs=1e-15) and c[0] == c[1] and c[2] == pytest.approx(RE_TAU)


@pytest.mark.parametrize("nx,nz", [(16, 8), (15, 9)])
def test_single_fourier_mode_spectrum_and_correlation(nx, nz):
    """u = U(y) + A cos(k_m x + 0.3) + B cos(k_q z): E_uu(k_x) = A²/2 at m, B² (the z-variance of the x-means)
    at m = 0, nothing else; R_uu(Δx) = (A²/2 cos(k_m Δx) + B²/2) / (A²/2 + B²/2); likewise in z."""
    x, z = _grid(nx, nz)
    m, q, a, b = 3, 2, 0.7, 0.4
    kx, kz = 2 * np.pi * m / LX, 2 * np.pi * q / LZ
    u = 5.0 * (1 - Y[None, :, None] ** 2) + a * np.cos(kx * x + 0.3) + b * np.cos(kz * z)
    states = np.zeros((2, nx, len(Y), nz, 3))
    states[..., 0] = u
    states[..., 1] = 0.2 * np.sin(kx * x)  # v, single mode too
    acc = LevelSpectraAccumulator(Y, RE_TAU, (LX, LZ))
    acc.add(states[:1])
    acc.add(states[1:])
    r = acc.result()
    for li in range(2):
        ex, ez = r["E_kx"][li, 0], r["E_kz"][li, 0]
        expect_x = np.zeros_like(ex)
        expect_x[m], expect_x[0] = a * a / 2, b * b / 2
        expect_z = np.zeros_like(ez)
        expect_z[q], expect_z[0] = b * b / 2, a * a / 2
        np.testing.assert_allclose(ex, expect_x, atol=1e-13)
        np.testing.assert_allclose(ez, expect_z, atol=1e-13)
        var = a * a / 2 + b * b / 2
        np.testing.assert_allclose(r["R_dx"][li, 0], (a * a / 2 * np.cos(kx * r["dx"]) + b * b / 2) / var, atol=1e-13)
        np.testing.assert_allclose(r["R_dz"][li, 0], (b * b / 2 * np.cos(kz * r["dz"]) + a * a / 2) / var, atol=1e-13)
        np.testing.assert_allclose(r["R_dx"][li, 1], np.cos(kx * r["dx"]), atol=1e-13)  # v: one mode, R = cos
        assert r["E_kz"][li, 1, 0] == pytest.approx(0.02, abs=1e-14)  # z-spectrum of v: the x-variance in m = 0


def _random_states(rng, nx=12, nz=10, n=3):
    s = rng.standard_normal((n, nx, len(Y), nz, 3))
    s[..., 0] += 3.0 * (1 - Y[None, None, :, None] ** 2)
    s[..., 1] += 0.5 * Y[None, None, :, None]  # a mean v that is odd in y: subtracted per wall
    return s


def test_parseval_and_direct_two_point_correlation_on_random_states():
    """Σ_m E_ii = ⟨u'_i²⟩ and R_ii(Δ) = ⟨u'(x)u'(x+Δ)⟩/⟨u'²⟩ computed directly with lagged copies (both walls)."""
    rng = np.random.default_rng(0)
    s = _random_states(rng)
    acc = LevelSpectraAccumulator(Y, RE_TAU, (LX, LZ))
    acc.add(s)
    r = acc.result()
    for li, (j, mirror, _) in enumerate(acc.levels.values()):
        walls = [s[:, :, jj] for jj in sorted({j, mirror})]  # (N, X, Z, 3) each
        fl = [w - w.mean(axis=(0, 1, 2)) for w in walls]
        var = np.mean([(f ** 2).mean(axis=(0, 1, 2)) for f in fl], axis=0)
        np.testing.assert_allclose(r["E_kx"][li].sum(-1), var, rtol=1e-12)
        np.testing.assert_allclose(r["E_kz"][li].sum(-1), var, rtol=1e-12)
        for d, (axis, n_pts) in enumerate(((1, 12), (2, 10))):
            key = "R_dx" if d == 0 else "R_dz"
            for lag in range(n_pts // 2 + 1):
                direct = np.mean([(f * np.roll(f, -lag, axis=axis)).mean(axis=(0, 1, 2)) for f in fl], axis=0) / var
                np.testing.assert_allclose(r[key][li, :, lag], direct, atol=1e-12)


def test_spectra_errors_of_identical_and_scaled_rollouts():
    rng = np.random.default_rng(1)
    s = _random_states(rng)
    ref = LevelSpectraAccumulator(Y, RE_TAU, (LX, LZ))
    ref.add(s)
    same = spectra_errors(ref.result(), ref.result())
    assert all(same[f"E_k{d}_log_err_{lv}"] == 0.0 and same[f"R_uu_d{d}_max_err_{lv}"] == 0.0
               for d in "xz" for lv in ("y15", "center"))
    scaled = s.copy()
    scaled[..., 0] = 3.0 * (1 - Y[None, None, :, None] ** 2) + 10 * (s[..., 0] - 3.0 * (1 - Y[None, None, :, None] ** 2))
    pred = LevelSpectraAccumulator(Y, RE_TAU, (LX, LZ))
    pred.add(scaled)
    e = spectra_errors(pred.result(), ref.result())
    for d in "xz":
        for lv in ("y15", "center"):
            assert e[f"E_k{d}_log_err_{lv}"] == pytest.approx(2.0 / 3.0, rel=1e-9)  # u: log10 100, v and w: 0
            assert e[f"R_uu_d{d}_max_err_{lv}"] == pytest.approx(0.0, abs=1e-12)  # R is normalised


def test_reynolds_shear_stress_of_a_field_with_known_uv():
    """u = U(y) + a(y) cos(2πx/L_x), v = b(y) cos(2πx/L_x) (a b odd in y): ⟨u'v'⟩ = a b / 2 exactly on the grid."""
    nx, nz = 8, 6
    x, z = _grid(nx, nz)
    a, b = 1.0 + Y ** 2, np.sin(np.pi * Y / 2)
    c = np.cos(2 * np.pi * x / LX) + 0 * z
    s = np.zeros((2, nx, len(Y), nz, 3))
    s[..., 0] = 4.0 * (1 - Y[None, :, None] ** 2) + a[None, :, None] * c
    s[..., 1] = b[None, :, None] * c
    s[..., 2] = 0.1
    acc = ProfileAccumulator()
    acc.add(s)
    np.testing.assert_allclose(acc.shear_stress(), a * b / 2, atol=1e-14)
    half = ProfileAccumulator()
    s2 = s.copy()
    s2[..., 1] *= 0.5
    half.add(s2)
    e = profile_errors(half, acc)
    assert e["uv_plus_max_rel_err"] == pytest.approx(0.5, rel=1e-12)
    np.testing.assert_allclose(e["uv_ref"], a * b / 2, atol=1e-14)
