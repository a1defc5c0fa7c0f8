"""The ``lagrangian`` objective of the Lagrangian PINN (:mod:`sciflow.models.lpinn`).

The ``physics`` objective with the problem's Lagrangian residuals (characteristic and state,
Mojgani et al. 2023) at (x0, t) points; the initial conditions are hard.
"""

from __future__ import annotations

from sciflow.bounds import Every, Points
from sciflow.problems.base import LagrangianForm
from sciflow.training.objectives import PhysicsObjective, register_objective


@register_objective("lagrangian")
class LagrangianObjective(PhysicsObjective):
    """Σ_k w_k mean(r_k²) of the problem's Lagrangian residuals (characteristic, state) at (x0, t) points.

    Same keys, sampling, resampling and checkpoint state as ``physics``; initial conditions are hard.
    """

    problem_needs = (LagrangianForm,)

    def __init__(self, problem, model, interior_points: Points = 2000, resample_every: Every = 0,
                 weights: dict | None = None):
        super().__init__(problem, model, interior_points, 0, resample_every, weights)
        self.soft = False

    def loss(self, model, step: int):
        self.resample(step)
        out = model(self.x, self._ansatz(model))
        terms = self.problem.lagrangian_residual(self.x, out)
        total = 0.0
        for name, r in terms.items():
            terms[name] = (r * r).mean()
            total = total + self.weights.get(name, 1.0) * terms[name]
        return total, terms
