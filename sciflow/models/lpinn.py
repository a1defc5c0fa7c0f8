"""Lagrangian PINN (Mojgani, Balajewicz & Hassanzadeh 2023): transport along learned characteristics.

Two separate branches over Lagrangian coordinates ξ = (x0, t) (N, 2):

    x(x0, t) = x0 + t · a_s · N_x(x0, t)          characteristic curves
    u(x0, t) = u0(x0) + (t/T) · N_u(x0, t)          state along them

N_x, N_u are :class:`~sciflow.models.layers.MLP` s with the periodic embedding
x0 ↦ (cos x0, sin x0), so the displacement x − x0 and the state are 2π-periodic in x0;
a_s is the problem's characteristic speed scale (∂_t x = a_s N_x is O(1) in network units).
Both initial conditions hold exactly (hard constraints). The residuals
∂_t x − a(u) and ∂_t u − ν ∂²_x u come from the problem's ``lagrangian_residual``; ∂²_x u is
taken through the map x(x0, t) by the chain rule, from the jets of both branches (the state
residual is multiplied by (∂x/∂x0)³ to clear the denominator).

``predict(x)`` answers at Eulerian points (x, t): for each distinct t the branches are
evaluated on a uniform Lagrangian grid of ``lagrangian_points`` x0, positions are wrapped
into [0, 2π), sorted, and u is interpolated linearly and periodically to the queried x.

Its objective is ``lagrangian`` (:mod:`sciflow.training.lagrangian`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from sciflow.errors import SciflowError
from sciflow.models.base import PointwiseModel
from sciflow.models.layers import MLP
from sciflow.models.pinn import input_normalisation
from sciflow.models.registry import register_model
from sciflow.problems.base import Ansatz, HardConstraints, LagrangianForm, require
from sciflow.problems.base import ansatz as problem_ansatz
from sciflow.autodiff.jet import Jet
from sciflow.bounds import Depth, Width

TWO_PI = 2.0 * math.pi


@register_model("lpinn")
class LagrangianPINN(PointwiseModel):
    boundary = "hard"
    requires = (LagrangianForm, HardConstraints)

    def __init__(self, problem, width: Width = 32, depth: Depth = 4, activation: str = "tanh",
                 characteristic_width: int = 0, characteristic_depth: int = 0, lagrangian_points: int = 2048):
        super().__init__()
        require(problem, self.requires, "model 'lpinn' (1D transport along characteristics)")
        if lagrangian_points < 16:
            raise SciflowError(f"model.lagrangian_points must be ≥ 16, got {lagrangian_points}")
        self.problem = problem
        scale, shift = input_normalisation(problem)
        periodic = problem.periodic_inputs
        self.characteristic_net = MLP(2, 1, characteristic_width or width, characteristic_depth or depth,
                                      activation, input_scale=scale, input_shift=shift, periodic=periodic)
        self.state_net = MLP(2, 1, width, depth, activation, input_scale=scale, input_shift=shift, periodic=periodic)
        # last layers start at zero: training starts from x = x0 (∂x/∂x0 = 1 > 0, so the chain-rule
        # division by ∂x/∂x0 is safe) and u = u0(x0)
        for net in (self.characteristic_net, self.state_net):
            nn.init.zeros_(net.layers[-1].weight)
        self.speed_scale = float(problem.speed_scale)
        self.lagrangian_points = int(lagrangian_points)

    # ------------------------------------------------------------ Lagrangian branches
    def compile_jets(self) -> None:
        """``compile: true``: both networks' activation jets as compiled kernels (``CompilesJets``)."""
        self.characteristic_net.compile_jets()
        self.state_net.compile_jets()

    def make_ansatz(self, x0t: torch.Tensor) -> Ansatz:
        """Detached jets of the state's hard constraint u = u0(x0) + (t/T)·N_u at fixed points."""
        return problem_ansatz(self.problem, x0t)

    def forward(self, x0t: torch.Tensor, ansatz: Ansatz | None = None) -> Jet:
        """Jet over (x0, t) (N, 2) with channels (x, u): value (N, 2), d1/d2 (N, 2, 2)."""
        xi = Jet.of_inputs(x0t)
        xc = xi[0] + xi[1] * self.characteristic_net.jet(x0t).scale(self.speed_scale)
        if ansatz is None:
            ansatz = self.make_ansatz(x0t)
        u = ansatz.apply(self.state_net.jet(x0t))
        return xc.cat(u)

    @torch.no_grad()
    def lagrangian(self, x0t: torch.Tensor, batch: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
        """Characteristic positions x (N,) (unwrapped) and states u (N,) at (x0, t) (N, 2)."""
        xs, us = [], []
        lift, dist = self.problem.hard_constraint()
        for i in range(0, x0t.shape[0], batch):
            p = x0t[i:i + batch]
            xs.append(p[:, 0] + p[:, 1] * self.speed_scale * self.characteristic_net(p)[:, 0])
            us.append((lift(p) + dist(p) * self.state_net(p))[:, 0])
        return torch.cat(xs), torch.cat(us)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 65536) -> torch.Tensor:
        """u (N, 1) at Eulerian points x (N, 2) = (x, t), interpolated from the Lagrangian grid."""
        ts, inverse = torch.unique(x[:, 1], return_inverse=True)
        n0 = self.lagrangian_points
        x0 = torch.arange(n0, dtype=x.dtype, device=x.device) * (TWO_PI / n0)
        grid = torch.stack([x0.repeat(len(ts)), ts.repeat_interleave(n0)], 1)
        xl, ul = self.lagrangian(grid, batch)
        xl = torch.remainder(xl, TWO_PI).reshape(len(ts), n0).cpu().double().numpy()
        ul = ul.reshape(len(ts), n0).cpu().double().numpy()
        xq = x[:, 0].cpu().double().numpy()
        inv = inverse.cpu().numpy()
        out = np.empty(x.shape[0])
        for k in range(len(ts)):
            sel = inv == k
            order = np.argsort(xl[k])
            out[sel] = np.interp(xq[sel], xl[k][order], ul[k][order], period=TWO_PI)
        return torch.as_tensor(out, dtype=x.dtype, device=x.device).unsqueeze(1)
