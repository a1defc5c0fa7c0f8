"""Navier-Stokes problems: exact solutions have zero residual; hard constraints hold to round-off."""

import math

import torch

from sciflow.models.pinn import PINN
from sciflow.autodiff.jet import autograd_jet
from sciflow.problems.navier_stokes import Kovasznay, LidDrivenCavity, PlanePoiseuille


def test_exact_solutions_satisfy_navier_stokes():
    for prob in (PlanePoiseuille(Re=50), Kovasznay(Re=40)):
        x = prob.sample("interior", 500, torch.Generator().manual_seed(0))
        res = prob.residual(x, autograd_jet(prob.exact, x, create_graph=False))
        for name, r in res.items():
            assert r.abs().max() < 1e-11, (prob.name, name, r.abs().max())


def test_wrong_reynolds_number_leaves_a_residual():
    """The residual is sensitive: Kovasznay's field at Re=40 is not a solution at Re=60."""
    right, wrong = Kovasznay(Re=40), Kovasznay(Re=60)
    x = right.sample("interior", 500, torch.Generator().manual_seed(0))
    res = wrong.residual(x, autograd_jet(right.exact, x, create_graph=False))
    assert res["momentum_x"].abs().max() > 1e-2


def test_cavity_hard_constraint_holds_on_every_wall():
    prob = LidDrivenCavity()
    torch.manual_seed(1)
    for output, nvel in (("primitive", None), ("stream", None)):
        model = PINN(prob, width=16, depth=2, output=output).double()
        s = torch.linspace(1e-3, 1 - 1e-3, 201, dtype=torch.float64)
        one, zero = torch.ones_like(s), torch.zeros_like(s)
        walls = {"bottom": torch.stack([s, zero], 1), "left": torch.stack([zero, s], 1),
                 "right": torch.stack([one, s], 1), "lid": torch.stack([s, one], 1)}
        for name, pts in walls.items():
            uvp = model.predict(pts)
            u_expected = 1.0 if name == "lid" else 0.0
            assert torch.allclose(uvp[:, 0], torch.full_like(s, u_expected), atol=1e-12), (output, name)
            assert uvp[:, 1].abs().max() < 1e-12, (output, name)


def test_poiseuille_hard_constraint_and_exact_representation():
    """The exact Poiseuille flow is the ansatz with N_u = N_v = 0 and N_p = 8 length / Re."""
    prob = PlanePoiseuille(Re=100, length=2.0)
    x = prob.sample("interior", 300, torch.Generator().manual_seed(0))
    lift, dist = prob.hard_constraint()
    raw = torch.zeros(300, 3, dtype=torch.float64)
    raw[:, 2] = 8.0 * prob.length / prob.Re
    assert torch.allclose(lift(x) + dist(x) * raw, prob.exact(x), atol=1e-14)


def test_kovasznay_lift_meets_boundary_data():
    prob = Kovasznay()
    pts = prob.sample("boundary", 400, torch.Generator().manual_seed(0))
    lift, dist = prob.hard_constraint()
    assert torch.allclose(lift(pts)[:, :2], prob.exact(pts)[:, :2], atol=1e-13)
    assert dist(pts)[:, :2].abs().max() < 1e-14


def test_stream_function_velocity_is_divergence_free():
    prob = LidDrivenCavity()
    torch.manual_seed(0)
    model = PINN(prob, width=16, depth=2, output="stream").double()
    x = prob.sample("interior", 200, torch.Generator().manual_seed(0))
    res = prob.residual(x, model(x))
    assert res["continuity"].abs().max() < 1e-10
    assert math.isfinite(float(res["momentum_x"].detach().abs().max()))


def test_cavity_lift_removes_the_corner_singularity():
    """Near each lid corner the lift is the Stokes corner flow: ν∇²u_L ∝ 1/r² is balanced by ∇p_L,
    leaving a residual that grows no faster than 1/r; the lift is divergence-free to round-off."""
    prob = LidDrivenCavity(Re=100)
    lift, _ = prob.hard_constraint()
    nu = 1 / prob.Re
    th = torch.linspace(0.1, 1.4, 7, dtype=torch.float64)
    for cx, sx in ((0.0, 1.0), (1.0, -1.0)):
        scaled = []
        for r in (1e-2, 1e-3, 1e-4):
            x = torch.stack([cx + sx * r * torch.cos(th), 1 - r * torch.sin(th)], 1)
            J = autograd_jet(lift, x, create_graph=False)
            lap = nu * (J.d2[:, 0, :2] + J.d2[:, 1, :2])
            stokes = torch.stack([J.d1[:, 0, 2], J.d1[:, 1, 2]], 1) - lap
            assert (J.d1[:, 0, 0] + J.d1[:, 1, 1]).abs().max() < 1e-10
            assert lap.abs().max() * r * r > 1e-3  # the viscous term itself is ∝ 1/r²
            scaled.append(float(stokes.abs().max() * r * r))
        assert scaled[2] < 0.02 * scaled[0]  # residual·r² → 0: the 1/r² part cancels


def test_cavity_collocation_grading_follows_the_fem_mesh_map():
    """Graded points are the ungraded draw mapped by s − (g/2π) sin 2πs, so the fraction of points
    below x(s₀) is the ungraded fraction below s₀; the walls get (1 − g)⁻¹ times the mean density."""
    import pytest

    from sciflow.errors import SciflowError

    g, n = 0.5, 8192
    plain = LidDrivenCavity(Re=1000).sample("interior", n, torch.Generator().manual_seed(3))
    graded = LidDrivenCavity(Re=1000, collocation_grading=g).sample("interior", n, torch.Generator().manual_seed(3))
    s = plain
    assert torch.allclose(graded, s - g / (2 * math.pi) * torch.sin(2 * math.pi * s), atol=1e-15, rtol=0)
    assert graded.min() > 0 and graded.max() < 1
    band = 0.01  # strip along each wall: density ≈ 1/(1 − g) = 2 times the uniform one
    near = ((graded < band) | (graded > 1 - band)).double().mean(0)
    ratio = near / (2 * band)
    assert ((ratio - 1 / (1 - g)).abs() < 0.1).all(), ratio
    with pytest.raises(SciflowError, match="problem.collocation_grading"):
        LidDrivenCavity(collocation_grading=1.0)
