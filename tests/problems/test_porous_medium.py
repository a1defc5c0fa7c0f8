"""The GPME family: exact solutions solve their PDE, conserve mass as stated, meet the Stefan condition."""

import math

import pytest
import torch

from sciflow.problems.base import build_problem
from sciflow.autodiff.jet import autograd_jet
from sciflow.problems.porous_medium import (HeatEquation, PorousMediumEquation, StefanProblem, stefan_z1,
                                            trapezoid_weights)


def _fd_residual(problem, t, x, theta, h=1e-4):
    """u_t − ∂x(k(u) u_x) by central differences in flux form (second order), float64."""
    u = lambda tt, xx: problem.solution(tt, xx, theta)  # noqa: E731
    u_t = (u(t + h, x) - u(t - h, x)) / (2 * h)

    def flux(xm):  # k(u) u_x at x = xm (centred)
        um = u(t, xm)
        return problem.k(um, theta) * (u(t, xm + h / 2) - u(t, xm - h / 2)) / h

    return u_t - (flux(x + h / 2) - flux(x - h / 2)) / h


def test_heat_exact_solves_pde_and_conserves_zero_mass():
    p = HeatEquation(k=3.0)
    pts = p.sample("interior", 200, torch.Generator().manual_seed(0)).clamp(min=1e-3)
    th = torch.full((200,), 3.0, dtype=torch.float64)
    assert _fd_residual(p, pts[:, 0], pts[:, 1], th).abs().max() < 1e-6
    # the autograd residual hook on the exact solution: zero to round-off
    jet = autograd_jet(p.exact, pts, create_graph=False)
    assert p.residual(pts, jet)["gpme"].abs().max() < 1e-12
    g = p.grid(11, 64)
    G, b = p.constraints(g)
    assert torch.allclose(b, torch.zeros(11, dtype=torch.float64))
    assert (G @ p.exact(g.points)[:, 0] - b).abs().max() < 1e-14  # trapezoid is exact for sin on a period


@pytest.mark.parametrize("m", [1.0, 3.0, 6.0])
def test_pme_exact_solves_pde_away_from_front_and_mass_matches_inflow(m):
    p = PorousMediumEquation(m=m)
    g = torch.Generator().manual_seed(1)
    t = 0.3 + 0.7 * torch.rand(300, generator=g, dtype=torch.float64)
    x = t * torch.rand(300, generator=g, dtype=torch.float64) * 0.9  # behind the front x = t
    th = torch.full_like(t, m)
    scale = (m * (t - x)) ** (1 / m - 1)  # |u_t|, to make the FD check relative
    assert (_fd_residual(p, t, x, th, 1e-4) / scale).abs().max() < 1e-5
    pts = torch.stack([t, x], 1)
    jet = autograd_jet(p.exact, pts, create_graph=False)
    assert (p.residual(pts, jet)["gpme"] / scale).abs().max() < 1e-10
    # U(t) from the closed form against fine quadrature and against ∫₀ᵗ F(0, τ) dτ, F(0,t) = (mt)^{1/m}
    grid = p.grid(5, 20001)
    G, b = p.constraints(grid)
    h = 1 / 20000  # u ~ (t − x)^{1/m} at the front: trapezoidal error O(h^{1+1/m})
    assert (G @ p.exact(grid.points)[:, 0] - b).abs().max() < 5 * h ** (1 + 1 / m)
    tau = torch.linspace(0, 1, 20001, dtype=torch.float64)
    inflow = (m * tau) ** (1 / m)
    assert abs(float(trapezoid_weights(tau) @ inflow) - float(p.mass(torch.tensor(1.0), torch.tensor(m)))) < 5 * h ** (1 + 1 / m)
    # the front: u = 0 ahead of x = t
    assert float(p.solution(torch.tensor(0.5), torch.tensor(0.5 + 1e-9), torch.tensor(m))) == 0.0


@pytest.mark.parametrize("p_star", [0.5, 0.6, 0.7])
def test_stefan_exact_solution_condition_and_mass(p_star):
    p = StefanProblem(p_star=p_star)
    z1 = float(stefan_z1(p_star))
    assert abs(p_star * math.erf(z1) * z1 * math.exp(z1 ** 2) - (1 - p_star) / math.sqrt(math.pi)) < 1e-14
    t = torch.linspace(0.01, 0.1, 10, dtype=torch.float64)
    s = p.front(t, p_star)
    th = torch.full_like(t, p_star)
    # behind the front: u_t = u_xx (k = 1); ahead: u ≡ 0
    x = 0.5 * s
    assert _fd_residual(p, t, x, th, 1e-5).abs().max() < 1e-4
    assert (p.solution(t, s + 1e-9, th) == 0).all()
    # the front carries u = p*, and −u_x(s⁻) = p* ds/dt (Stefan condition)
    assert torch.allclose(p.solution(t, s * (1 - 1e-12), th), th, atol=1e-9)
    h = 1e-7
    ux = (p.solution(t, s - h, th) - p.solution(t, s - 2 * h, th)) / h
    assert torch.allclose(-ux, p_star * z1 / torch.sqrt(t), rtol=1e-5)
    # U(t) = ∫₀ᵗ F(0, τ) dτ with F(0, t) = c₁/√(πt); the trapezoidal rule converges to it at O(h):
    # across the jump its error is at most p*·h/2 (plus O(h²) from the smooth part); at t = 0 the
    # corner value u(0, 0) = 1 contributes h/2
    c1 = (1 - p_star) / math.erf(z1)
    assert torch.allclose(p.mass(t, torch.tensor(p_star)), 2 * c1 * torch.sqrt(t / math.pi), rtol=1e-14)
    for nx in (1001, 4001):  # x ∈ [0, 1]: h = 1/(nx − 1)
        grid = p.grid(6, nx)
        G, b = p.constraints(grid)
        err = (G @ p.exact(grid.points)[:, 0] - b).abs()
        h = 1 / (nx - 1)
        assert float(err[0]) <= h / 2 * 1.0001 and float(err[1:].max()) <= p_star * h / 2 * 1.05


def test_function_draws_and_registry():
    p = build_problem({"name": "gpme_stefan", "p_star": 0.6})
    d = p.draw_functions(3, generator=torch.Generator().manual_seed(0))
    assert ((d["theta"] >= 0.55) & (d["theta"] <= 0.7)).all()
    # contexts: one time per stratum of [0, 0.1], the values are the exact solution
    tc = d["xc"][0, ::10, 0]
    assert torch.equal(torch.floor(tc / 0.01), torch.arange(10, dtype=torch.float64))
    assert torch.allclose(d["yc"][..., 0], p.solution(d["xc"][..., 0], d["xc"][..., 1], d["theta"][:, None]))
    with pytest.raises(Exception, match="span"):
        from sciflow.problems.porous_medium import GPMEGrid

        p.constraints(GPMEGrid(torch.linspace(0, 0.1, 3, dtype=torch.float64), torch.linspace(0, 0.5, 5)))
