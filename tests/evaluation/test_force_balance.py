"""The cavity's core force balance: residual against the viscous term of the momentum equation."""

import torch

from sciflow.autodiff.jet import autograd_jet
from sciflow.evaluation.flow_fields import CAVITY_CORE, core_force_balance, momentum_force_balance
from sciflow.problems.navier_stokes import LidDrivenCavity, PlanePoiseuille


class SineField(torch.nn.Module):
    """A model with the PINN's call signature returning u = sin(πx) sin(πy), v = p = 0 (a Jet)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def make_ansatz(self, x):
        return None

    def forward(self, x, ansatz=None):
        def f(z):
            u = torch.sin(torch.pi * z[:, 0:1]) * torch.sin(torch.pi * z[:, 1:2])
            return torch.cat([u, torch.zeros_like(u), torch.zeros_like(u)], 1)

        return autograd_jet(f, x, create_graph=False)


def test_poiseuille_balances_pressure_gradient_and_viscosity_exactly():
    """Plane Poiseuille u = 4y(1 − y), p_x = −8/Re: zero residual, and the viscous term ν u'' = −8/Re
    is the whole force (RMS exactly 8/Re over the two momentum components' 2N values: √(1/2)·8/Re)."""
    for re in (10.0, 400.0):
        prob = PlanePoiseuille(Re=re)
        x = prob.sample("interior", 300, torch.Generator().manual_seed(0))
        b = momentum_force_balance(autograd_jet(prob.exact, x, create_graph=False), 1.0 / re)
        assert b["momentum_residual_rms"] < 1e-12
        assert abs(b["viscous_term_rms"] - (8.0 / re) / 2 ** 0.5) < 1e-12 * (8.0 / re)


def test_core_balance_of_a_known_field_in_the_cavity_core():
    """A model returning u = sin(πx) sin(πy), v = p = 0 (no lift) in the cavity core: the viscous
    term is ν Δu = −2π² ν u, the residual u u_x + v u_y − ν Δu; both RMS over the core box match
    the closed forms evaluated at the same points."""

    re = 250.0
    got = core_force_balance(SineField(), LidDrivenCavity(Re=re), n=2000, seed=3)
    x0, x1, y0, y1 = CAVITY_CORE
    r = torch.rand(2000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    X, Y = x0 + (x1 - x0) * r[:, 0], y0 + (y1 - y0) * r[:, 1]
    u = torch.sin(torch.pi * X) * torch.sin(torch.pi * Y)
    ux = torch.pi * torch.cos(torch.pi * X) * torch.sin(torch.pi * Y)
    visc = -2 * torch.pi ** 2 / re * u
    rms = lambda t: float(torch.cat([t, torch.zeros_like(t)]).pow(2).mean().sqrt())  # y-momentum is zero
    assert abs(got["core_viscous_term_rms"] - rms(visc)) < 1e-12
    assert abs(got["core_momentum_residual_rms"] - rms(u * ux - visc)) < 1e-12
    assert abs(got["core_residual_to_viscous"] - rms(u * ux - visc) / rms(visc)) < 1e-12


def test_weighted_residuals_at_fresh_points_follow_the_problem_weight():
    """residual_weighted_rms is √mean(w r²) with the cavity's corner weight r²/(r² + δ²): for the
    field u = sin(πx) sin(πy) it equals the closed form at the same fresh points, and it is absent
    for a problem without weights."""
    from sciflow.evaluation.flow_fields import mean_residuals

    re, delta = 100.0, 0.05
    prob = LidDrivenCavity(Re=re, corner_weight_radius=delta)
    got = mean_residuals(SineField(), prob, n=1000, seed=4)
    x = prob.sample("interior", 1000, torch.Generator().manual_seed(4)).double()
    X, Y = x[:, 0], x[:, 1]
    u = torch.sin(torch.pi * X) * torch.sin(torch.pi * Y)
    ux = torch.pi * torch.cos(torch.pi * X) * torch.sin(torch.pi * Y)
    rx = u * ux + 2 * torch.pi ** 2 / re * u
    r0, r1 = X ** 2 + (1 - Y) ** 2, (1 - X) ** 2 + (1 - Y) ** 2
    w = r0 / (r0 + delta ** 2) * r1 / (r1 + delta ** 2)
    assert abs(got["residual_weighted_rms_momentum_x"] - float((w * rx ** 2).mean().sqrt())) < 1e-12
    assert abs(got["residual_weighted_rms_continuity"] - float((w * ux ** 2).mean().sqrt())) < 1e-12
    assert abs(got["residual_rms_continuity"] - float((ux ** 2).mean().sqrt())) < 1e-12
    assert got["residual_weighted_rms_momentum_y"] == 0.0
    assert not any(k.startswith("residual_weighted") for k in mean_residuals(SineField(), PlanePoiseuille(Re=re)))
