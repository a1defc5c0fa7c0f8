"""The cavity's core force balance: residual against the viscous term of the momentum equation."""

import torch

from sciflow.autodiff.jet import autograd_jet
from sciflow.evaluation.flow_fields import CAVITY_CORE, core_force_balance, momentum_force_balance
from sciflow.problems.navier_stokes import LidDrivenCavity, PlanePoiseuille


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

    class Field(torch.nn.Module):
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

    re = 250.0
    got = core_force_balance(Field(), LidDrivenCavity(Re=re), n=2000, seed=3)
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
