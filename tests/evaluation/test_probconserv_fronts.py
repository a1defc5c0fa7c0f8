"""The ProbConserv front diagnostics: the correction of Eq. (6) split at the exact front."""

import torch

from sciflow.evaluation.probconserv_fronts import front_decomposition
from sciflow.problems.porous_medium import PorousMediumEquation, trapezoid_weights

T = 0.5


def _slice(m=1.0, nx=201):
    pme = PorousMediumEquation(m)
    x = torch.linspace(0, 1, nx, dtype=torch.float64)
    u = pme.solution(torch.full_like(x, T), x, torch.tensor(m, dtype=torch.float64))
    mass = float(pme.mass(torch.tensor(T, dtype=torch.float64), torch.tensor(m, dtype=torch.float64)))
    return x, u, mass


def test_uniform_variance_spreads_the_defect_by_the_squared_weights():
    """σ² uniform: Δ_i = −w_i d / Σ w_j², so the share of ∫|Δ| beyond the front is Σ_{x>x_f} w² / Σ w²,
    the defect is the offset times the domain length, and μ̃ carries the exact mass."""
    x, u, mass = _slice()
    offset = -0.02
    d = front_decomposition(u + offset, torch.full_like(u, 1e-2), x, mass, true_front=T)
    w = trapezoid_weights(x)
    beyond = x > T
    assert abs(d["defect"] - offset * 1.0) < 1e-12
    assert abs(d["correction_beyond_front"] - float((w[beyond] ** 2).sum() / (w ** 2).sum())) < 1e-12
    assert abs(d["correction_near_front"] - d["correction_near_front_uniform"]) < 1e-12
    assert abs(d["correction_near_front_uniform"] - 41 / 199.5) < 1e-12  # 41 of 201 nodes within 0.1; Σ w² = 199.5 dx²
    # the mass put back beyond the front: the share of −d that lands there
    assert abs(d["mass_beyond_front_probconserv"] - d["mass_beyond_front_anp"]
               + d["defect"] * float((w[beyond] ** 2).sum() / (w ** 2).sum())) < 1e-12


def test_a_level_zero_front_is_lost_to_any_positive_correction():
    """σ at a floor (1e-6) beyond the front: only σ_min²/σ² = 1e-10 of the correction lands there, yet μ̃ > 0
    everywhere beyond x_f, so the level-0 front of the mean (the first u ≤ 0) jumps to the domain end; at level
    1e-6 it stays within one grid cell of the exact front."""
    x, u, mass = _slice(m=3.0)
    var = torch.where(x <= T, torch.full_like(x, 1e-2), torch.full_like(x, 1e-12))
    d = front_decomposition(0.9 * u, var, x, mass, true_front=T, min_std=1e-6)
    assert d["defect"] < 0
    # Σ_{x>x_f} w² σ² / Σ w² σ²: 99 interior points and the end (w/2) beyond, 100 and the start behind
    assert abs(d["correction_beyond_front"] - 1e-10 * 99.25 / (100.25 + 99.25e-10)) < 1e-16
    assert 0 < d["mass_beyond_front_probconserv"] < 1e-11
    assert d["front_of_mean_anp"] == 0.0 and abs(d["front_of_mean_probconserv"] - 0.5) < 1e-12
    assert d["sigma_at_floor_beyond_front"] == 1.0
    d = front_decomposition(0.9 * u, var, x, mass, true_front=T, level=1e-6)
    assert abs(d["front_of_mean_probconserv"] - 0.005) < 1e-12


def test_variance_beyond_the_front_smears_the_front_downstream():
    """σ large beyond the front and a mass deficit: μ̃ > 0 beyond x_f, its first zero moves to the domain end."""
    x, u, mass = _slice(m=1.0)
    d = front_decomposition(0.8 * u, torch.full_like(u, 1e-2), x, mass, true_front=T)
    assert d["mass_beyond_front_probconserv"] > 0 and d["mass_beyond_front_anp"] == 0.0
    assert d["front_of_mean_probconserv"] > 0.4  # x[-1] − 0.5: no crossing left


def test_trapezoid_mass_of_the_exact_pme_slice_and_what_the_update_does_to_it():
    """m = 1: u = relu(t − x) is linear between nodes with its kink on the node x = t, so the trapezoid
    rule integrates it exactly and the update leaves the exact solution where it is. m = 6: u = (6 relu(t − x))^{1/6}
    has an infinite slope at the front; the rule misses mass (exact U(t) = ∫u dx), and Eq. (6) with σ² peaked
    at the front node puts the missing mass there."""
    from sciflow.evaluation.probconserv_fronts import mse_decomposition

    x, u, mass = _slice(1.0)
    flat = torch.full_like(u, 1e-4)
    d = mse_decomposition(u, flat, x, mass, u)
    assert abs(d["quadrature_defect"]) < 1e-15 and d["mse_update_of_exact"] < 1e-30
    x, u, mass = _slice(6.0)
    d = mse_decomposition(u, flat, x, mass, u)
    w = trapezoid_weights(x)
    assert abs(d["quadrature_defect"] - float(w @ u - mass)) < 1e-15 and d["quadrature_defect"] < -5e-4
    # uniform σ²: Δ = −w d / Σ w², so the exact solution's MSE after the update is mean(Δ²)
    delta = -w * d["quadrature_defect"] / (w ** 2).sum()
    assert abs(d["mse_update_of_exact"] - float((delta ** 2).mean())) < 1e-18
    assert d["mse_probconserv_grid_mass"] < 1e-30  # the grid-consistent target leaves u exact
    peaked = flat.clone()
    peaked[100] = 1.0  # σ² peaked at the front node x = 0.5
    d = mse_decomposition(u, peaked, x, mass, u)
    share = float(w[100] ** 2 * peaked[100] / (w ** 2 * peaked).sum())  # w_i|Δ_i| ∝ w_i² σ_i²
    assert abs(d["correction_at_peak_variance"] - share) < 1e-12 and share > 0.98
    assert d["mse_update_of_exact"] > 100 * float((delta ** 2).mean())
