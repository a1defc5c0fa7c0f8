"""Quantities of interest of a model, computed from a problem's declared geometry.

Problems never call models: they declare geometry (the cylinder's centre and radius, the
pipe's wall radius R(x)) and pure functionals of a field jet (the cylinder's
``force_coefficients(jet, n_theta)``, eq. 3 of :mod:`sciflow.problems.cylinder`); these
functions evaluate them on a trained :class:`~sciflow.models.base.PointwiseModel`.
"""

from __future__ import annotations

import numpy as np
import torch


def field_jet(model):
    """x (N, D) ↦ the model's Jet of its fields at x (hard constraints applied), on its device/dtype."""
    prm = next(model.parameters())

    def jet(pts: torch.Tensor):
        x = pts.to(prm.device, prm.dtype)
        return model(x, model.make_ansatz(x))

    return jet


def force_coefficients(problem, model, n_theta: int = 256) -> dict[str, float]:
    """c_D, c_L of the DFG cylinder from the model's own stresses on the cylinder surface."""
    return problem.force_coefficients(field_jet(model), n_theta)


def pressure_difference(problem, model) -> float:
    """Δp = p(x_c − R, y_c) − p(x_c + R, y_c) of the model (the DFG benchmark's Δp)."""
    prm = next(model.parameters())
    xc, yc = problem.center
    pts = torch.tensor([[xc - problem.R, yc], [xc + problem.R, yc]], device=prm.device, dtype=prm.dtype)
    p = model.predict(pts)[:, 2].double()
    return float(p[0] - p[1])


def flow_rate(problem, model, x0: float, n: int = 201) -> float:
    """Q(x0) = ∫_{−R(x0)}^{R(x0)} u(x0, y) dy of the model in a channel of wall radius
    ``problem.radius(x)`` (Gauss-Legendre, n points)."""
    s, w = np.polynomial.legendre.leggauss(n)
    R = float(problem.radius(torch.tensor([x0], dtype=torch.float64)))
    prm = next(model.parameters())
    pts = torch.tensor(np.stack([np.full(n, x0), R * s], 1), device=prm.device, dtype=prm.dtype)
    u = model.predict(pts)[:, 0].double().cpu().numpy()
    return float(R * (w * u).sum())
