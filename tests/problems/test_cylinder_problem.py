"""DFG cylinder PINN problem: hard constraints, samplers and the stress-integral forces."""

import math

import pytest
import torch

from sciflow.models.pinn import PINN
from sciflow.problems.base import build_problem
from sciflow.autodiff.jet import autograd_jet

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def problem():
    return build_problem({"name": "dfg_cylinder"})


@pytest.fixture(scope="module")
def model(problem):
    torch.manual_seed(0)
    return PINN(problem, width=16, depth=2).double()


def test_samplers_put_no_point_inside_the_cylinder(problem):
    g = torch.Generator().manual_seed(1)
    x = problem.sample("interior", 20000, g)
    r = torch.hypot(x[:, 0] - 0.2, x[:, 1] - 0.2)
    assert x.shape == (20000, 2)
    assert r.min() >= 0.05
    assert (x[:, 0] >= 0).all() and (x[:, 0] <= 2.2).all() and (x[:, 1] >= 0).all() and (x[:, 1] <= 0.41).all()
    # the near-cylinder ring holds its share: 30 % + the uniform part's share of the annulus area
    ring = ((r <= 0.15).double().mean()).item()
    assert 0.3 < ring < 0.35
    s = problem.sample("cylinder", 500, g)
    assert torch.allclose(torch.hypot(s[:, 0] - 0.2, s[:, 1] - 0.2), torch.full((500,), 0.05, dtype=s.dtype), atol=1e-15)


def test_hard_constraints_hold_to_round_off_on_every_boundary(problem, model):
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    for region in ("walls", "cylinder"):
        out = model.predict(problem.sample(region, 2000, g))
        assert out[:, :2].abs().max() < 1e-15, region
    xi = problem.sample("inlet", 2000, g)
    out = model.predict(xi)
    assert torch.allclose(out[:, 0], problem.inflow(xi[:, 1]), atol=1e-15, rtol=0)
    assert out[:, 1].abs().max() < 1e-15
    assert out[:, 0].max() > 0.29  # the parabola peaks at U_m = 0.3
    po = model.predict(problem.sample("outlet", 2000, g))[:, 2]
    assert po.abs().max() < 1e-15
    # inside, the network does change the fields (the constraint is not trivially zero)
    assert model.predict(problem.sample("interior", 100, g))[:, 2].abs().max() > 1e-3


def test_stress_integral_matches_the_divergence_theorem():
    """F = ∮ σ n dS = ∫_disc ∇·σ dV for a field smooth inside the disc: with u = (y², 0),
    p = −G x: ∇·σ = (G + 2ν, 0), so F = ((G + 2ν) πR², 0) exactly."""
    problem = build_problem({"name": "dfg_cylinder"})
    G, nu, R = 0.7, problem.nu, problem.R

    def fields(x):
        return torch.stack([(x[:, 1] - 0.2) ** 2 + 3 * x[:, 1], torch.zeros_like(x[:, 0]), -G * x[:, 0] + 5.0], 1)

    coeffs = problem.force_coefficients(lambda x: autograd_jet(fields, x), n_theta=64)
    F_x = (G + 2 * nu) * math.pi * R ** 2
    scale = 2.0 / (problem.U_mean ** 2 * problem.D)
    assert coeffs["c_D"] == pytest.approx(scale * F_x, rel=1e-12)
    assert abs(coeffs["c_L"]) < 1e-12


def test_viscous_force_of_a_rotating_cylinder_flow():
    """Exterior flow of a cylinder rotating with surface speed Ω R: u_θ = Ω R²/r, p = −Ω²R⁴/(2r²).
    Its torque is 4πνΩR² per unit depth but the net force vanishes; shear drag on the surface
    only appears in the torque, so F = 0 tests the transpose term of the strain rate."""
    problem = build_problem({"name": "dfg_cylinder"})
    Om, R = 2.0, problem.R

    def fields(x):
        dx, dy = x[:, 0] - 0.2, x[:, 1] - 0.2
        r2 = dx * dx + dy * dy
        return torch.stack([-Om * R ** 2 * dy / r2, Om * R ** 2 * dx / r2, -Om ** 2 * R ** 4 / (2 * r2)], 1)

    _, pts, nrm, w = problem.surface_points(128)
    out = autograd_jet(fields, pts)
    coeffs = problem.force_coefficients(lambda x: autograd_jet(fields, x), n_theta=128)
    assert abs(coeffs["c_D"]) < 1e-12 and abs(coeffs["c_L"]) < 1e-12
    # the wall shear of this flow is σ_rθ = −2νΩ: torque −4πνΩR² (resisting the rotation)
    g = out.d1[:, :2, :2].transpose(1, 2)
    S = problem.nu * (g + g.transpose(1, 2))
    tang = torch.stack([-nrm[:, 1], nrm[:, 0]], 1)
    shear = torch.einsum("qi,qij,qj->q", tang, S, nrm)
    torque = (R * shear * w).sum()
    assert float(torque.detach()) == pytest.approx(-4 * math.pi * problem.nu * Om * R ** 2, rel=1e-12)


def test_residuals_of_a_known_field_and_outlet_term_is_masked(problem):
    """u = 0.3 + x², v = −2xy (divergence-free), p = 1: continuity vanishes, y-momentum is
    u v_x + v v_y = 2x²y − 0.6y, and the outlet shear term ∂v/∂x = −2y only on x = L."""
    g = torch.Generator().manual_seed(3)
    x = problem.sample("interior", 500, g)

    def fields(x):
        return torch.stack([0.3 + x[:, 0] ** 2, -2 * x[:, 0] * x[:, 1], 1 + 0 * x[:, 0] ** 2], 1)

    res = problem.residual(x, autograd_jet(fields, x))
    on = x[:, 0] >= 2.2 - 1e-12
    assert on.sum() == 10
    t = problem.D / problem.U_mean  # residuals are nondimensional: momentum × t/U_mean, continuity × t
    assert torch.allclose(res["outlet_shear"][on], -2 * x[on, 1] * t)
    assert res["outlet_shear"][~on].abs().max() == 0
    assert res["continuity"].abs().max() < 1e-13
    assert torch.allclose(res["momentum_y"], (2 * x[:, 0] ** 2 * x[:, 1] - 0.6 * x[:, 1]) * t / problem.U_mean)
    expect_mx = (0.3 + x[:, 0] ** 2) * 2 * x[:, 0] - 2 * problem.nu
    assert torch.allclose(res["momentum_x"], expect_mx * t / problem.U_mean)


@pytest.mark.slow
def test_stress_integral_of_the_fem_field_gives_the_fem_drag():
    """Eq. (3) applied to the FEM solution itself (P2 velocity, P1 pressure on the curved mesh;
    gradients by central differences of the interpolant at r = R + 2δ, δ = 1e-6) reproduces the
    FEM drag of the volume-integral form (Schäfer & Turek 1996: c_D = 5.5795) to within the
    surface integral's discretisation error (the wall gradient of P2 converges at first order)."""
    import numpy as np

    from sciflow.cfd.cylinder_dfg import solve_2d1
    from sciflow.cfd.fem_unsteady import probe as probe_matrix

    flow = solve_2d1(n_cyl=64, h_max=0.03, order=2)
    problem = build_problem({"name": "dfg_cylinder"})
    ux, uy, p = flow.th.split(flow.x)
    _, pts, nrm, w = problem.surface_points(720)
    delta = 1e-6
    at = (pts + 2 * delta * nrm).numpy().T  # (2, Q), in the fluid next to the wall

    def values(comp, basis, shift=(0.0, 0.0)):
        return probe_matrix(basis, at + np.array(shift)[:, None]) @ comp

    grads = np.stack([np.stack([(values(c, flow.th.sb, (delta, 0)) - values(c, flow.th.sb, (-delta, 0))) / (2 * delta),
                                (values(c, flow.th.sb, (0, delta)) - values(c, flow.th.sb, (0, -delta))) / (2 * delta)], 1)
                      for c in (ux, uy)], 1)  # (Q, i, j) = ∂u_i/∂x_j
    assert np.abs(values(ux, flow.th.sb)).max() < 1e-3 * flow.U_m  # no slip (to 2δ |∇u|)
    S = -values(p, flow.th.pb)[:, None, None] * np.eye(2) + problem.nu * (grads + grads.transpose(0, 2, 1))
    F = np.einsum("qij,qj->i", S, nrm.numpy()) * float(w[0])
    c_D = 2 * F[0] / (problem.U_mean ** 2 * problem.D)
    assert abs(c_D / flow.info["c_D"] - 1) < 1e-2
    assert abs(flow.info["c_D"] / 5.5795 - 1) < 1e-3


@pytest.mark.parametrize("lift", ["stream", "parabola"])
def test_both_lifts_meet_the_boundary_data(lift):
    problem = build_problem({"name": "dfg_cylinder", "lift": lift})
    lift_fn, _ = problem.hard_constraint()
    g = torch.Generator().manual_seed(5)
    for region in ("walls", "cylinder"):
        assert lift_fn(problem.sample(region, 1000, g))[:, :2].abs().max() < 1e-15, region
    xi = problem.sample("inlet", 1000, g)
    vel = lift_fn(xi)
    assert torch.allclose(vel[:, 0], problem.inflow(xi[:, 1]), atol=1e-15, rtol=0) and vel[:, 1].abs().max() < 1e-15
    if lift == "stream":  # divergence-free by construction
        x = problem.sample("interior", 2000, g)
        jet = autograd_jet(lambda q: lift_fn(q)[:, :2], x)
        assert (jet.d1[:, 0, 0] + jet.d1[:, 1, 1]).abs().max() < 1e-12
        assert jet.d1.abs().max() > 1.0  # it does turn the flow around the cylinder


def test_stream_form_meets_every_boundary_condition_and_is_divergence_free(problem):
    """ψ = ψ_L + a ψ_in(1 − S²) + (s w φ_c)² N: no slip on walls and cylinder, the inflow parabola,
    p = 0 at the outlet and ∇·u = 0, to round-off, for random weights and cylinder level a."""
    torch.manual_seed(0)
    model = PINN(problem, width=16, depth=2, output="stream").double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    assert model.mode_coeffs.numel() == 1
    g = torch.Generator().manual_seed(5)
    for region in ("cylinder", "walls", "inlet"):
        xb = problem.sample(region, 400, g)
        out = model.predict(xb)
        target = torch.zeros_like(out[:, :2])
        if region == "inlet":
            target[:, 0] = problem.inflow(xb[:, 1])
        assert (out[:, :2] - target).abs().max() < 1e-14, region
    assert model.predict(problem.sample("outlet", 200, g))[:, 2].abs().max() < 1e-15
    x = problem.sample("interior", 300, g)
    assert problem.residual(x, model(x))["continuity"].abs().max() < 1e-12
