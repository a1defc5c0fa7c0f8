"""Physics checks of the 2D periodic pseudo-spectral Navier-Stokes solver and its GRF initial data.

Box [0,1)², ω = ∂_x v − ∂_y u, u = (∂_y ψ, −∂_x ψ), −Δψ = ω, ∂_t ω + u·∇ω = νΔω + f.
"""

import math

import numpy as np
import pytest
import torch

from sciflow.cfd.random_fields import GaussianRandomField, wavenumbers
from sciflow.cfd.spectral2d import PseudoSpectralNS2D, fno_forcing, grid, kolmogorov_forcing
from sciflow.errors import SciflowError


TWO_PI = 2 * math.pi


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def grf(n, num, seed=0, dtype=torch.float64):
    return GaussianRandomField(n, dtype=dtype).sample(num, torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- exact solutions
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_taylor_green_decays_exactly(dtype, tol):
    """ω₀ = Σ modes with one |k|² = 5(2π)²: ω ∝ ψ so u·∇ω = 0 and ω(t) = ω₀ exp(−ν|k|² t).

    The modes give a non-zero velocity and gradients, so the discrete nonlinear term must cancel."""
    n, nu = 32, 0.01
    x, y = grid(n)
    w0 = (torch.sin(TWO_PI * x) * torch.cos(TWO_PI * 2 * y)
          + 0.7 * torch.cos(TWO_PI * (2 * x) + 0.3) * torch.sin(TWO_PI * y)
          - 0.4 * torch.cos(TWO_PI * (x + 2 * y)))
    solver = PseudoSpectralNS2D(n, nu, dtype=dtype)
    u, v = solver.velocity(w0.to(dtype))
    assert float(u.abs().max()) > 0.05 and float(v.abs().max()) > 0.05
    times = [0.0, 0.5, 2.0]
    out, stats = solver.integrate(w0, times)
    assert stats["n_steps"] >= 4
    for j, t in enumerate(times):
        exact = w0 * math.exp(-nu * 5 * TWO_PI**2 * t)
        assert rel(out[0, j].double(), exact) <= tol


def test_kolmogorov_laminar_state_exact():
    """f = A sin(2π m y): ω_s = A sin(2π m y) / (ν (2π m)²) is steady (shear flow, u·∇ω = 0).

    From rest the flow stays a shear flow: ω(t) = ω_s (1 − exp(−ν (2π m)² t)) exactly;
    started on ω_s it stays there to round-off."""
    n, nu, amp, m = 32, 0.02, 1.5, 3
    _, y = grid(n)
    kap2 = (TWO_PI * m) ** 2
    w_s = amp * torch.sin(TWO_PI * m * y) / (nu * kap2)
    solver = PseudoSpectralNS2D(n, nu, forcing=kolmogorov_forcing(amp, m))
    times = [0.0, 0.3, 1.0, 5.0]
    out, _ = solver.integrate(torch.zeros(n, n), times)
    for j, t in enumerate(times[1:], 1):
        assert rel(out[0, j], w_s * (1 - math.exp(-nu * kap2 * t))) <= 1e-12
    kept, _ = solver.integrate(w_s, [0.0, 10.0, 50.0])
    assert rel(kept[0, -1], w_s) <= 1e-12


def test_kolmogorov_laminar_state_reached_from_perturbation():
    """Below the instability threshold a perturbation interacts with the shear flow and decays to ω_s."""
    n, nu, amp, m = 16, 0.05, 2.0, 1
    x, y = grid(n)
    w_s = amp * torch.sin(TWO_PI * m * y) / (nu * (TWO_PI * m) ** 2)
    pert = 0.5 * w_s.abs().max() * (torch.cos(TWO_PI * x) * torch.sin(TWO_PI * 2 * y) + torch.sin(TWO_PI * (x + y)))
    solver = PseudoSpectralNS2D(n, nu, forcing=kolmogorov_forcing(amp, m))
    out, _ = solver.integrate(w_s + pert, [0.0, 1.0, 14.0])
    err = [rel(out[0, j], w_s) for j in range(3)]
    assert err[0] > 0.4 and 1e-3 < err[1] < err[0]
    assert err[2] <= 1e-8
    # the perturbation decays through the nonlinear coupling (the linear decay alone differs)
    lin = w_s + pert * torch.tensor(math.exp(-nu * TWO_PI**2 * 1.0))
    assert rel(out[0, 1], lin) > 1e-3


# ---------------------------------------------------------------- budgets and invariants
def _budget_error(dt):
    """Relative mismatch between ΔE, ΔZ over each step and the trapezoid of dE/dt, dZ/dt."""
    solver = PseudoSpectralNS2D(48, 1e-3, forcing=fno_forcing(0.1))
    w0 = grf(48, 1, seed=3)
    times = np.arange(0, round(0.4 / dt) + 1) * dt
    out, _ = solver.integrate(w0, times, dt=dt)
    w = out[0]
    budget = solver.budgets(w)
    errs = []
    for q, rate in ((solver.energy(w), budget["dE_dt"]), (solver.enstrophy(w), budget["dZ_dt"])):
        dq = q[1:] - q[:-1]
        trap = 0.5 * dt * (rate[1:] + rate[:-1])
        errs.append(float((dq - trap).abs().sum() / dq.abs().sum()))
    return errs


def test_energy_and_enstrophy_budgets():
    """dE/dt = −2νZ + ∫ψ f and dZ/dt = −2νP + ∫ω f on a forced GRF run (P = ½∫|∇ω|²).

    The mismatch is the trapezoid error O(dt²): small, and falling ~4× per halving of dt."""
    e1, e2, e3 = (_budget_error(dt) for dt in (0.04, 0.02, 0.01))
    for a, b, c in zip(e1, e2, e3):
        assert c < 2e-4
        assert a / b > 3.0 and b / c > 3.0


def test_inviscid_nonlinear_term_conserves_energy_and_enstrophy():
    """With the 2/3 rule, ∫ψ N(ω) = ∫ω N(ω) = 0 to round-off for a dealiased state."""
    solver = PseudoSpectralNS2D(48, 0.0)
    z = solver.to_state(grf(48, 2, seed=5) * 5)
    nl = solver.nonlinear(z)
    scale = float(solver._inner(nl, nl).sqrt().max() * solver._inner(z, z).sqrt().max())
    assert float(solver._inner(z * solver.inv_k2, nl).abs().max()) <= 1e-13 * scale
    assert float(solver._inner(z, nl).abs().max()) <= 1e-13 * scale


def test_mean_vorticity_conserved():
    """∫ω is invariant (∫u·∇ω = 0, zero-mean forcing): zero stays zero, a constant stays put."""
    solver = PseudoSpectralNS2D(32, 1e-4, forcing=fno_forcing(0.1))
    w0 = grf(32, 2, seed=7) * 3
    w0[1] += 0.3
    out, stats = solver.integrate(w0, [0.0, 1.0, 3.0])
    assert stats["n_steps"] > 20
    mean = out.mean(dim=(-2, -1))
    scale = float(out.abs().max())
    assert float(mean[0].abs().max()) <= 1e-14 * scale
    assert float((mean[1] - 0.3).abs().max()) <= 1e-14 * scale


# ---------------------------------------------------------------- dealiasing
def _exact_product_hat(w, m):
    """Fourier coefficients (rfft2 / m²) of −u·∇ω computed alias-free on an m×m grid (m >= 3n/2)."""
    n = w.shape[-1]
    fine = PseudoSpectralNS2D(m, 0.0, dealias=False)
    wh = torch.fft.rfft2(w)
    pad = torch.zeros(m, m // 2 + 1, dtype=wh.dtype)
    h = n // 2
    pad[:h, :h] = wh[:h, :h]
    pad[-h + 1:, :h] = wh[-h + 1:, :h]
    pad = pad * (m / n) ** 2
    return fine.nonlinear(pad.unsqueeze(0))[0] / m**2


def test_dealiasing_removes_aliased_products():
    """A field with modes |k| <= 7: on 24² with the 2/3 rule the product u·∇ω is exact on the kept
    modes (alias-free reference on 64²); on 16² without dealiasing, products of modes 9..14 fold back
    onto |k| <= 7 and corrupt them."""
    g = torch.Generator().manual_seed(11)
    coef = torch.randn(15, 15, 2, generator=g, dtype=torch.float64)
    kx = torch.arange(-7, 8, dtype=torch.float64)
    coef = coef / (1 + kx.reshape(-1, 1) ** 2 + kx.reshape(1, -1) ** 2).unsqueeze(-1)

    def field(n):
        x, y = grid(n)
        w = torch.zeros(n, n, dtype=torch.float64)
        for a in range(15):
            for b in range(15):
                ph = TWO_PI * (kx[a] * x + kx[b] * y)
                w += coef[a, b, 0] * torch.cos(ph) + coef[a, b, 1] * torch.sin(ph)
        return w - w.mean()

    ref = _exact_product_hat(field(24), 64)  # (64, 33)

    def kept(nl_hat, n):
        """modes |kx|, |ky| <= 7 of an rfft2 array (normalised), as a (15, 8) block."""
        idx = list(range(0, 8)) + list(range(n - 7, n))
        return nl_hat[idx][:, :8]

    good = PseudoSpectralNS2D(24, 0.0)
    nl24 = good.nonlinear(torch.fft.rfft2(field(24)).unsqueeze(0))[0] / 24**2
    assert rel(kept(nl24, 24), kept(ref, 64)) <= 1e-12
    assert float(nl24[good.mask == 0].abs().max()) == 0.0  # nothing beyond the 2/3 band
    bad = PseudoSpectralNS2D(16, 0.0, dealias=False)
    nl16 = bad.nonlinear(torch.fft.rfft2(field(16)).unsqueeze(0))[0] / 16**2
    assert rel(kept(nl16, 16), kept(ref, 64)) > 0.05


def _upsample(w, m):
    """Spectral interpolation of a field band-limited below n/3, (batch, n, n) → (batch, m, m)."""
    n = w.shape[-1]
    wh = torch.fft.rfft2(w) * (m / n) ** 2
    pad = torch.zeros(w.shape[0], m, m // 2 + 1, dtype=wh.dtype)
    h = n // 2
    pad[:, :h, :h] = wh[:, :h, :h]
    pad[:, -h + 1:, :h] = wh[:, -h + 1:, :h]
    return torch.fft.irfft2(pad, s=(m, m))


def test_spectral_convergence_in_space():
    """Forced run (ν = 2e-3) from a field band-limited to the 16² grid: the error against a 128²
    solution at t = 2 falls by orders of magnitude per doubling of the grid (exponential convergence)."""
    w = grf(128, 1, seed=3) * 4
    w0 = _upsample(PseudoSpectralNS2D(16, 0.0).from_state(PseudoSpectralNS2D(16, 0.0).to_state(w[:, ::8, ::8])), 128)
    sol = {}
    for n in (16, 32, 64, 128):
        out, _ = PseudoSpectralNS2D(n, 2e-3, forcing=fno_forcing(0.1)).integrate(w0[:, :: 128 // n, :: 128 // n], [0.0, 2.0])
        sol[n] = _upsample(out[:, -1], 128) if n < 128 else out[:, -1]
    err = {n: rel(sol[n], sol[128]) for n in (16, 32, 64)}
    assert err[16] > 1e-3  # the coarse grid is visibly under-resolved ...
    assert err[32] < err[16] / 100 and err[64] < err[32] / 100 and err[64] < 1e-7


# ---------------------------------------------------------------- time accuracy, batching, CFL
def test_fourth_order_in_time():
    """Lawson RK4: errors against a dt = 0.005 run fall ~16× per halving of dt on a forced nonlinear run."""
    solver = PseudoSpectralNS2D(32, 1e-3, forcing=fno_forcing(0.1))
    w0 = grf(32, 1, seed=2) * 2
    ref, _ = solver.integrate(w0, [0.0, 1.6], dt=0.005)
    errs = [rel(solver.integrate(w0, [0.0, 1.6], dt=dt)[0][0, -1], ref[0, -1]) for dt in (0.08, 0.04)]
    print("RK4 errors", errs)
    assert errs[1] < 1e-5
    assert 11 < errs[0] / errs[1] < 22


def _reference_if_rk4(w0, n, nu, drag, f, h, steps, dealias=True):
    """The module docstring's scheme written out on full rfft2 spectra: ζ̂ = Pω̂ − ω̂_s, N(ω) = −P[u·∇ω]^."""
    ix = torch.fft.fftfreq(n, 1 / n, dtype=torch.float64).reshape(-1, 1)
    iy = torch.fft.rfftfreq(n, 1 / n, dtype=torch.float64).reshape(1, -1)
    kx, ky = TWO_PI * ix, TWO_PI * iy
    k2 = kx**2 + ky**2
    P = ((ix.abs() < n / 3) & (iy < n / 3)).double() if dealias else torch.ones_like(k2)
    lam = -nu * k2 - drag
    f_hat = torch.fft.rfft2(f) * P
    w_s = torch.where(lam != 0, -f_hat / torch.where(lam != 0, lam, 1.0), 0)  # Stokes state
    f_rest = torch.where(lam != 0, 0, f_hat)  # forcing where Λ = 0 stays in N
    psi_mult = torch.where(k2 > 0, 1 / torch.where(k2 > 0, k2, 1.0), 0.0)

    def N(z):
        w = z + w_s
        psi = w * psi_mult
        u, v = torch.fft.irfft2(1j * ky * psi, s=(n, n)), torch.fft.irfft2(-1j * kx * psi, s=(n, n))
        wx, wy = torch.fft.irfft2(1j * kx * w, s=(n, n)), torch.fft.irfft2(1j * ky * w, s=(n, n))
        return -P * torch.fft.rfft2(u * wx + v * wy) + f_rest

    E, Eh = torch.exp(lam * h), torch.exp(lam * h / 2)
    z = torch.fft.rfft2(w0) * P - w_s
    for _ in range(steps):
        k1 = N(z)
        k2 = N(Eh * (z + h / 2 * k1))
        k3 = N(Eh * z + h / 2 * k2)
        k4 = N(E * z + h * Eh * k3)
        z = E * z + h / 6 * (E * k1 + 2 * Eh * (k2 + k3) + k4)
    return torch.fft.irfft2(z + w_s, s=(n, n))


@pytest.mark.parametrize("n,nu,drag,mean_forcing,dealias", [(48, 1e-3, 0.0, 0.0, True), (66, 2e-3, 0.1, 0.0, True),
                                                          (64, 1e-3, 0.0, 0.2, True), (32, 5e-3, 0.0, 0.0, False)])
def test_step_matches_reference_scheme_to_round_off(n, nu, drag, mean_forcing, dealias):
    """The solver's step (compact state on the retained columns, pruned transforms, fused stage updates)
    equals the scheme written out on full spectra to round-off, with and without drag, with forcing
    on the Λ = 0 mode (mean forcing, no drag) and without dealiasing; float64 and float32."""
    x, y = grid(n)
    f = kolmogorov_forcing(1.0, 3)(x, y) + fno_forcing(0.1)(x, y) + mean_forcing
    w0 = grf(n, 2, seed=11) * 4
    h, steps = 2e-3, 20
    ref = _reference_if_rk4(w0, n, nu, drag, f, h, steps, dealias)
    scale = float(ref.abs().max())
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 5e-6)):
        solver = PseudoSpectralNS2D(n, nu, forcing=f, drag=drag, dealias=dealias, dtype=dtype)
        z = solver.to_state(w0.to(dtype))
        by_step = z
        for _ in range(steps):
            by_step = solver.step(by_step, h)
        out = solver.from_state(solver.advance(z, h, steps)).double()
        assert float((out - ref).abs().max()) <= tol * scale
        assert float((solver.from_state(by_step).double() - out).abs().max()) <= tol * scale
        integrated, st = solver.integrate(w0.to(dtype), [0.0, h * steps], dt=h)
        assert st["n_steps"] == steps
        assert float((integrated[:, -1].double() - ref).abs().max()) <= tol * scale


def test_batch_equals_individual_runs():
    solver = PseudoSpectralNS2D(32, 1e-3, forcing=fno_forcing(0.1))
    w0 = grf(32, 3, seed=4)
    times = [0.0, 0.5, 1.0]
    batch, _ = solver.integrate(w0, times, dt=0.02)
    for b in range(3):
        single, _ = solver.integrate(w0[b], times, dt=0.02)
        assert float((batch[b] - single[0]).abs().max()) <= 1e-13 * float(single.abs().max())
    assert rel(batch[0, -1], batch[1, -1]) > 0.1


def test_batch_blocks_share_the_adaptive_step():
    """A batch stepped in blocks of trajectories (the CPU cache blocking) gives the one-block result:
    the adaptive step is set by the velocity maximum over the whole batch in both."""
    solver = PseudoSpectralNS2D(32, 1e-3, forcing=fno_forcing(0.1))
    w0 = grf(32, 5, seed=6) * torch.tensor([1.0, 4.0, 1.0, 2.0, 1.0]).reshape(-1, 1, 1)
    times = [0.0, 0.4, 1.0]
    solver._batch_block = None
    whole, st_whole = solver.integrate(w0, times)
    solver._batch_block = 2
    blocked, st_blocked = solver.integrate(w0, times)
    assert st_blocked == st_whole and st_whole["n_steps"] > 10
    assert float((blocked - whole).abs().max()) <= 1e-13 * float(whole.abs().max())
    z = solver.to_state(w0)
    by_blocks = solver.advance(z, 0.01, 7)
    solver._batch_block = None
    assert float((by_blocks - solver.advance(z, 0.01, 7)).abs().max()) <= 1e-13 * float(by_blocks.abs().max())


def test_cfl_check_stops_too_large_fixed_dt():
    solver = PseudoSpectralNS2D(32, 1e-3, forcing=fno_forcing(0.1))
    with pytest.raises(SciflowError, match="CFL"):
        solver.integrate(grf(32, 1) * 20, [0.0, 1.0], dt=0.5)
    out, stats = solver.integrate(grf(32, 1) * 20, [0.0, 1.0], cfl=0.4)
    assert stats["cfl_max_seen"] <= 1.0 and bool(torch.isfinite(out).all())


# ---------------------------------------------------------------- Gaussian random field
def test_grf_covariance_matches_definition():
    """FNO GRF: C_k = 2·7³ (4π²|k|² + 49)^(−2.5); E[ω²] = Σ C_k (within 5 standard errors of the
    estimator, sd = sqrt(2 Σ C_k² / N)); shell spectrum slope against (4π²|k|² + 49) is −2.5."""
    n, num = 32, 4000
    field = GaussianRandomField(n)
    ix, iy = wavenumbers(n)
    expected = 2 * 7.0**3 * (4 * math.pi**2 * (ix**2 + iy**2) + 49.0) ** (-2.5)
    assert torch.allclose(field.eigenvalues[1:], expected[1:], rtol=1e-14)
    w = field.sample(num, torch.Generator().manual_seed(0))
    assert float(w.mean(dim=(-2, -1)).abs().max()) < 1e-15  # zero mean field

    full = torch.fft.fftfreq(n, 1 / n, dtype=torch.float64)
    c_full = 2 * 7.0**3 * (4 * math.pi**2 * (full.reshape(-1, 1) ** 2 + full.reshape(1, -1) ** 2) + 49.0) ** (-2.5)
    c_full[0, 0] = 0
    var_theory, sd = float(c_full.sum()), math.sqrt(2 * float((c_full**2).sum()) / num)
    assert abs(field.pointwise_variance() - var_theory) <= 1e-12 * var_theory
    assert sd < 0.02 * var_theory
    assert abs(float((w**2).mean()) - var_theory) <= 5 * sd

    power = (torch.fft.fft2(w).abs() ** 2).mean(0) / n**4  # E|ĉ_k|², should equal C_k
    kk = (full.reshape(-1, 1) ** 2 + full.reshape(1, -1) ** 2).sqrt().round()
    shells, ratio = [], []
    for s in range(1, n // 2):
        sel = kk == s
        shells.append((float((4 * math.pi**2 * s**2 + 49.0)), float(power[sel].mean())))
        ratio.append(float(power[sel].sum() / c_full[sel].sum()))
    assert max(abs(r - 1) for r in ratio) < 0.1  # each shell pools >= 4·num squared Gaussians
    lx, ly = np.log([s[0] for s in shells]), np.log([s[1] for s in shells])
    slope = np.polyfit(lx[3:], ly[3:], 1)[0]
    assert abs(slope + 2.5) < 0.05


def test_grf_paper_scale_and_errors():
    assert GaussianRandomField(16, scale="paper").scale == pytest.approx(7.0**1.5)
    with pytest.raises(SciflowError, match="scale"):
        GaussianRandomField(16, scale="wrong")


# ---------------------------------------------------------------- dataset recipe
SMALL = dict(nu=1e-3, T=3, resolution=16, solve_resolution=32, n_train=4, n_validation=2, n_test=2,
             batch_size=3, dt=0.05, seed=1)


def test_ns2d_recipe_matches_direct_solve():
    """Frames are the solver's trajectories subsampled to the output grid, at t = 0, 1, ..., T;
    the batch size does not change them; stats are train-split only."""
    from sciflow.cfd.ns2d_recipe import _initial_vorticity, _ns2d_params
    from sciflow.data.recipes import run_recipe

    ds = run_recipe("ns2d", SMALL, progress=False)
    assert ds["vorticity"].dims == ("sample", "t", "y", "x") and ds["vorticity"].shape == (8, 4, 16, 16)  # CF order
    np.testing.assert_array_equal(ds["t"].values, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(ds["x"].values, np.arange(16) / 16)
    labels = ds["split"].values.astype(str)
    assert [int((labels == s).sum()) for s in ("train", "validation", "test")] == [4, 2, 2]
    assert ds.attrs["nu"] == 1e-3 and "sin(2*pi*(x+y))" in ds.attrs["forcing"]
    assert ds.attrs["dt_max"] == pytest.approx(0.05) and ds.attrs["solve_resolution"] == 32

    solver = PseudoSpectralNS2D(32, 1e-3, forcing=fno_forcing(0.1))
    w0 = _initial_vorticity(_ns2d_params(SMALL), 0, 8, "cpu")
    direct, _ = solver.integrate(w0, [0.0, 1.0, 2.0, 3.0], dt=0.05)
    got = torch.from_numpy(ds["vorticity"].transpose("sample", "t", "x", "y").values).double()
    assert rel(got, direct[..., ::2, ::2]) < 1e-6  # float32 storage; the solver indexes (x, y)
    assert rel(torch.from_numpy(ds["energy"].values), solver.energy(direct.reshape(-1, 32, 32)).reshape(8, 4)) < 1e-12

    train = ds["vorticity"].values[labels == "train"].astype(np.float64)
    assert ds["vorticity"].attrs["norm_mean"] == pytest.approx(train.mean(), abs=1e-6 * train.std())
    assert ds["vorticity"].attrs["norm_std"] == pytest.approx(train.std(), rel=1e-6)
    again = run_recipe("ns2d", {**SMALL, "batch_size": 8}, progress=False)
    np.testing.assert_allclose(again["vorticity"].values, ds["vorticity"].values, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(again["split"].values, ds["split"].values)


def test_ns2d_yaml_recipes_and_errors(tmp_path):
    from pathlib import Path

    from sciflow.data.io import read_dataset
    from sciflow.data.recipes import load_recipe, make_dataset, run_recipe

    root = Path(__file__).resolve().parents[2] / "datasets"
    for name, nu, T in (("ns2d_nu1e-3", 1e-3, 50), ("ns2d_nu1e-5", 1e-5, 20),
                        ("ns2d_nu1e-3_cpu", 1e-3, 50), ("ns2d_nu1e-5_cpu", 1e-5, 20)):
        spec = load_recipe(root / f"{name}.yaml")
        assert spec["recipe"] == "ns2d" and spec["params"]["nu"] == nu and spec["params"]["T"] == T
    small = {k: v for k, v in SMALL.items() if k not in ("nu",)}
    out = make_dataset(root / "ns2d_nu1e-5_cpu.yaml", overrides={**small, "T": 2}, out=tmp_path / "d.nc",
                       progress=False)
    ds = read_dataset(out, required=("vorticity", "split"))
    assert ds.attrs["nu"] == 1e-5 and ds.sizes["t"] == 3 and ds.attrs["case"] == "ns2d_nu1e-05"
    with pytest.raises(SciflowError, match="unknown param"):
        run_recipe("ns2d", {"viscosity": 1e-3})
    with pytest.raises(SciflowError, match="multiple of resolution"):
        run_recipe("ns2d", {"resolution": 64, "solve_resolution": 96})


def test_ns2d_recipe_extends_a_smaller_set():
    """``extends``: the smaller set's samples come first, bit for bit and with their split labels
    (so its validation and test trajectories are shared); the added samples are all train."""
    from sciflow.data.recipes import run_recipe

    base = {**SMALL, "batch_size": 4}
    small = run_recipe("ns2d", base, progress=False)
    big = run_recipe("ns2d", {**base, "n_train": 9, "extends": [4, 2, 2]}, progress=False)
    assert big.sizes["sample"] == 13
    np.testing.assert_array_equal(big["vorticity"].values[:8], small["vorticity"].values)
    np.testing.assert_array_equal(big["split"].values[:8], small["split"].values)
    assert set(big["split"].values[8:].astype(str)) == {"train"}
    with pytest.raises(SciflowError, match="whole batches"):
        run_recipe("ns2d", {**base, "batch_size": 3, "n_train": 9, "extends": [4, 2, 2]})
    with pytest.raises(SciflowError, match="keep n_validation and n_test"):
        run_recipe("ns2d", {**base, "n_train": 9, "n_test": 3, "extends": [4, 2, 2]})
    with pytest.raises(SciflowError, match="must be \\[n_train"):
        run_recipe("ns2d", {**base, "extends": [4, 2]})
