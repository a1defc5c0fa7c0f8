"""Sinusoidal pipe PINN problem: hard constraints on walls and ends, sampler, residual."""

import math

import pytest
import torch

from sciflow.errors import SciflowError
from sciflow.models.layers import MLP
from sciflow.models.pinn import PINN
from sciflow.problems.base import build_problem
from sciflow.autodiff.jet import autograd_jet
from sciflow.evaluation.quantities import flow_rate

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def problem():
    # nu given: no FEM solve needed for these checks
    return build_problem({"name": "sinusoidal_pipe", "nu": 3e-4})


def test_sampler_stays_between_the_wavy_walls(problem):
    x = problem.sample("interior", 20000, torch.Generator().manual_seed(0))
    R = problem.radius(x[:, 0])
    assert (x[:, 1].abs() <= R).all() and (x[:, 0] >= 0).all() and (x[:, 0] <= 1).all()
    assert ((x[:, 0] == 0) | (x[:, 0] == 1)).sum() == 400
    w = problem.sample("walls", 1000, torch.Generator().manual_seed(1))
    assert torch.allclose(w[:, 1].abs(), 0.05 + 0.005 * torch.sin(12 * math.pi * w[:, 0]), atol=1e-15)
    # area fraction of the channel in its bounding box ≈ R0/(R0 + A) (sin averages out over 6 periods)
    assert problem.radius(torch.rand(100000, dtype=torch.float64)).mean() == pytest.approx(0.05, abs=2e-4)


@pytest.mark.parametrize("periodic", [True, False])
def test_hard_constraints_hold_on_walls_and_end_pressures(periodic):
    problem = build_problem({"name": "sinusoidal_pipe", "nu": 3e-4, "ends": "periodic" if periodic else "traction"})
    torch.manual_seed(0)
    model = PINN(problem, width=16, depth=2).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    g = torch.Generator().manual_seed(2)
    out = model.predict(problem.sample("walls", 2000, g))
    assert out[:, :2].abs().max() < 1e-15
    xin = problem.sample("inlet", 500, g)
    pin = model.predict(xin)[:, 2]
    pout = model.predict(problem.sample("outlet", 500, g))[:, 2]
    if periodic:  # the pressure drop is exact at every y (up to the float32 2π/period of the embedding)
        xout = xin.clone()
        xout[:, 0] = 1.0
        assert (pin - model.predict(xout)[:, 2] - 0.1).abs().max() < 1e-6
    else:  # both end pressures are exact
        assert (pin - 0.1).abs().max() < 1e-15 and pout.abs().max() < 1e-15
    assert model.predict(problem.sample("interior", 200, g))[:, 0].abs().max() > 1e-3


def test_plane_poiseuille_has_zero_residual(problem):
    """u = G (R0² − y²)/(2ν), v = 0, p = p_in − G x solves eq. (1) exactly (the A → 0 limit)."""
    G, nu, R0 = 0.1, problem.nu, 0.05
    x = problem.sample("interior", 500, torch.Generator().manual_seed(3))

    def fields(x):
        y = x[:, 1]
        return torch.stack([G * (R0 ** 2 - y ** 2) / (2 * nu), 0 * y ** 2, 0.1 - G * x[:, 0] + 0 * y ** 2], 1)

    res = problem.residual(x, autograd_jet(fields, x))
    for name, r in res.items():
        assert r.abs().max() < 1e-12, name
    assert fields(x)[:, 0].max() > 0.3  # a strong flow, not a trivial zero


def test_lubrication_lift_is_divergence_free_with_the_right_flow_rate(problem):
    """Eq. (3): ∇·u_L = 0 to round-off, u_L = 0 on the walls, and the flux through every
    section is Q₀ = 2G/(3ν⟨R⁻³⟩); for A → 0 this is plane Poiseuille, 2GR0³/(3ν)."""
    x = problem.sample("interior", 1000, torch.Generator().manual_seed(4))
    jet = autograd_jet(problem.lubrication_velocity, x)
    div = jet.d1[:, 0, 0] + jet.d1[:, 1, 1]
    assert div.abs().max() < 1e-12 * jet.d1.abs().max()
    w = problem.sample("walls", 500, torch.Generator().manual_seed(5))
    assert problem.lubrication_velocity(w).abs().max() < 1e-15
    q0 = problem.lubrication_flow_rate()
    for x0 in (0.0, 0.37, 1.0):
        R = float(problem.radius(torch.tensor([x0], dtype=torch.float64)))
        y = torch.linspace(-R, R, 2001, dtype=torch.float64)
        u = problem.lubrication_velocity(torch.stack([torch.full_like(y, x0), y], 1))[:, 0]
        assert float(torch.trapezoid(u, y)) == pytest.approx(q0, rel=1e-6)
    flat = build_problem({"name": "sinusoidal_pipe", "nu": 3e-4, "A": 1e-9})
    assert flat.lubrication_flow_rate() == pytest.approx(2 * 0.1 * 0.05 ** 3 / (3 * 3e-4), rel=1e-6)


def test_stream_form_meets_no_slip_and_carries_one_learnable_flow_rate(problem):
    """ψ = Q₀(1 + a) g(η) + (1 − η²)² N: u = v = 0 on the walls, Q = Q₀(1 + a) at every section,
    ∇·u = 0 to round-off, for random weights and a."""
    torch.manual_seed(0)
    model = PINN(problem, width=16, depth=2, output="stream").double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    g = torch.Generator().manual_seed(4)
    assert model.predict(problem.sample("walls", 1000, g))[:, :2].abs().max() < 1e-14
    q = problem.lubrication_flow_rate() * (1 + model.mode_coeffs.item())
    for x0 in (0.0, 0.123, 0.5, 1.0):
        assert flow_rate(problem, model, x0) == pytest.approx(q, rel=1e-12)
    x = problem.sample("interior", 300, g)
    res = problem.residual(x, model(x))
    assert res["continuity"].abs().max() < 1e-12
    pin = model.predict(problem.sample("inlet", 200, g))[:, 2]
    assert (pin - 0.1).abs().max() < 1e-15


def _gauss(a, b, panels, order):
    """Composite Gauss-Legendre nodes and weights on [a, b] (float64 tensors)."""
    import numpy as np

    t, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    return (torch.as_tensor((mid[:, None] + half[:, None] * t).ravel()),
            torch.as_tensor((half[:, None] * w).ravel()))


def test_global_momentum_balance_is_the_net_boundary_force():
    """Eq. (5): for a divergence-free field (stream form, random weights) the domain integral of
    the x-momentum residual equals ∮ [u (u·n) + p n_x − ν ∂u/∂n] ds (divergence theorem), and
    ``momentum_balance`` is √w times the interior mean of the x-residual."""
    problem = build_problem({"name": "sinusoidal_pipe", "nu": 3e-4, "balance_weight": 4.0})
    torch.manual_seed(1)
    model = PINN(problem, width=16, depth=2, output="stream").double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    nu, k = problem.nu, 2 * math.pi * problem.N / problem.L
    xq, wx = _gauss(0.0, problem.L, 120, 12)
    eq, we = _gauss(-1.0, 1.0, 1, 24)
    R = problem.radius(xq)
    pts = torch.stack([xq[:, None].expand(-1, eq.numel()), eq[None, :] * R[:, None]], -1).reshape(-1, 2)
    volume = (problem.residual(pts, model(pts))["momentum_x"].reshape(len(xq), -1) * we).sum(1)
    volume = float((volume * R * wx).sum().detach())  # dA = R dx dη
    dR = problem.A * k * torch.cos(k * xq)
    boundary = 0.0
    for sign in (1.0, -1.0):  # walls y = ±R(x): n ds = (−R', ±1) dx, u = 0
        out = model(torch.stack([xq, sign * R], 1))
        p, ux, uy = out.value[:, 2], out.d1[:, 0, 0], out.d1[:, 1, 0]
        boundary += float(((-p * dR - nu * (ux * -dR + uy * sign)) * wx).sum().detach())
    for x_end, nx in ((0.0, -1.0), (problem.L, 1.0)):  # ends: n = (±1, 0)
        Rend = float(problem.radius(torch.tensor([x_end], dtype=torch.float64)))
        out = model(torch.stack([torch.full_like(eq, x_end), eq * Rend], 1))
        u, p, ux = out.value[:, 0], out.value[:, 2], out.d1[:, 0, 0]
        boundary += float(((u * u * nx + p * nx - nu * ux * nx) * we).sum().detach() * Rend)
    assert abs(volume) > 1e-4  # a random field is far from balance
    assert volume == pytest.approx(boundary, rel=1e-8)
    x = problem.sample("interior", 400, torch.Generator().manual_seed(6))
    res = problem.residual(x, model(x))
    inside = (x[:, 0] > 0) & (x[:, 0] < problem.L)
    assert torch.allclose(res["momentum_balance"], 2.0 * res["momentum_x"][inside].mean().expand(400), rtol=1e-14)


@pytest.mark.parametrize("output", ["stream", "primitive"])
def test_symmetric_form_holds_the_mirror_symmetry_and_the_boundary_conditions(output):
    """Eq. (6): u, p even and v odd in y to round-off for random weights, no slip on the walls,
    p exact at both ends; the symmetric network still varies along y (not a trivial even zero)."""
    problem = build_problem({"name": "sinusoidal_pipe", "nu": 3e-4, "symmetric": True, "wall_period_features": True})
    torch.manual_seed(2)
    model = PINN(problem, width=16, depth=2, output=output).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    g = torch.Generator().manual_seed(7)
    x = problem.sample("interior", 400, g)
    mirror = x * torch.tensor([1.0, -1.0], dtype=x.dtype)
    a, b = model(x), model(mirror)
    scale = a.value.abs().max(0).values
    assert (a.value[:, 0] - b.value[:, 0]).abs().max() < 1e-14 * scale[0]
    assert (a.value[:, 1] + b.value[:, 1]).abs().max() < 1e-14 * scale[1]
    assert (a.value[:, 2] - b.value[:, 2]).abs().max() < 1e-14 * scale[2]
    assert (a.d1[:, 1, 0] + b.d1[:, 1, 0]).abs().max() < 1e-12 * a.d1[:, 1, 0].abs().max()  # ∂u/∂y odd
    lift = problem.lubrication_velocity(x)
    assert (a.value[:, 0] - lift[:, 0]).abs().max() > 1e-3 * scale[0]  # the network does act
    assert model.predict(problem.sample("walls", 500, g))[:, :2].abs().max() < 1e-14
    assert (model.predict(problem.sample("inlet", 100, g))[:, 2] - 0.1).abs().max() < 1e-15
    assert model.predict(problem.sample("outlet", 100, g))[:, 2].abs().max() < 1e-15
    with pytest.raises(SciflowError, match="even inputs"):
        MLP(2, 1, input_shift=[0.0, 0.5], even_inputs=[1])


