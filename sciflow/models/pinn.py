"""Physics-informed neural network with hard (or soft) boundary conditions.

The network N_θ: x (N, D) → raw (N, C) is an :class:`~sciflow.models.layers.MLP`. With
``boundary: hard`` the output is the problem's ansatz ``out = lift(x) + distance(x) ⊙ raw``
(Lu et al. 2021; Sukumar & Srivastava 2022), which meets the Dirichlet data exactly for
any θ. With ``output: stream`` the network predicts (ψ, p) and the velocity is
u = ∂ψ/∂y, v = −∂ψ/∂x, so continuity holds identically; the problem's stream ansatz is

    (ψ, p) = lift + distance ⊙ raw + Σ_k a_k m_k(x) e_ψ                                  (1)

where the optional modes m_k (e.g. a wall's unknown ψ level, which sets the flow rate or
the split of the flow around an obstacle) carry learnable coefficients a_k of this model.

``forward(x, ansatz)`` returns a :class:`~sciflow.autodiff.jet.Jet` of the fields with
their first and second input derivatives. Primitive outputs propagate second-order jets
forward through the MLP; stream-function outputs propagate third-order jets
(:class:`~sciflow.autodiff.jet3.Jet3`, all mixed derivatives) — no nested autograd either way.
"""

from __future__ import annotations

import torch
from torch import nn

from sciflow.bounds import Depth, FeatureCount, Width
from sciflow.errors import SciflowError
from sciflow.models.layers import MLP
from sciflow.models.registry import register_model
from sciflow.problems.base import Ansatz, StreamAnsatz
from sciflow.autodiff.jet import Jet


def _input_normalisation(problem):
    dom = getattr(problem, "domain", None)
    if dom is None or not hasattr(dom, "x0"):
        return None, None
    lo = [dom.x0, dom.y0] + list(getattr(problem, "extra_input_bounds_lo", []))
    hi = [dom.x1, dom.y1] + list(getattr(problem, "extra_input_bounds_hi", []))
    shift = [(a + b) / 2 for a, b in zip(lo, hi)]
    scale = [2 / (b - a) for a, b in zip(lo, hi)]
    return scale, shift


@register_model("pinn")
class PINN(nn.Module):
    def __init__(self, problem, width: Width = 50, depth: Depth = 4, activation: str = "tanh",
                 fourier_features: FeatureCount = 0, fourier_sigma: float = 1.0, boundary: str = "hard",
                 output: str = "primitive"):
        super().__init__()
        if boundary not in ("hard", "soft"):
            raise SciflowError(f"model.boundary: '{boundary}' is not 'hard' or 'soft'")
        if output not in ("primitive", "stream"):
            raise SciflowError(f"model.output: '{output}' is not 'primitive' or 'stream'")
        if output == "stream" and list(problem.field_names[:3]) != ["u", "v", "p"]:
            raise SciflowError("model.output: 'stream' needs a 2D flow problem with fields (u, v, p)")
        if boundary == "hard" and problem.hard_constraint(output) is None:
            raise SciflowError(f"model.boundary: problem '{problem.name}' has no hard constraint for "
                               f"output '{output}'; use boundary: soft")
        self.problem = problem
        self.boundary = boundary
        self.output = output
        n_in = len(problem.inputs)
        n_out = 2 if output == "stream" else len(problem.fields)
        scale, shift = _input_normalisation(problem)
        self.net = MLP(n_in, n_out, width, depth, activation, fourier_features, fourier_sigma, scale, shift,
                       periodic=getattr(problem, "periodic_inputs", None),
                       keep_periodic_inputs=getattr(problem, "keep_periodic_inputs", False),
                       even_inputs=getattr(problem, "even_inputs", None))
        modes = problem.stream_modes() if output == "stream" and boundary == "hard" else 0
        self.mode_coeffs = nn.Parameter(torch.zeros(modes)) if modes else None

    def make_ansatz(self, x: torch.Tensor) -> Ansatz | StreamAnsatz | None:
        """The (detached) hard-constraint jets at fixed points x; pass them to ``forward``."""
        if self.boundary != "hard":
            return None
        return self.problem.ansatz(x, self.output)

    def forward(self, x: torch.Tensor, ansatz: Ansatz | StreamAnsatz | None = None) -> Jet:
        """Fields and derivatives at x (N, D) → Jet with value (N, C)."""
        if self.output == "stream":
            raw = self.net.jet(x, order=3)
            if self.boundary == "hard":
                raw = (ansatz or self.make_ansatz(x)).apply(raw, self.mode_coeffs)
            return raw.velocity_pressure()
        raw = self.net.jet(x)
        if self.boundary == "hard":
            if ansatz is None:
                ansatz = self.make_ansatz(x)
            return ansatz.apply(raw)
        return raw

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 16384) -> torch.Tensor:
        """Field values (N, C) at x, without derivatives (batched)."""
        outs = []
        for i in range(0, x.shape[0], batch):
            xb = x[i:i + batch]
            if self.output == "stream":
                outs.append(self.forward(xb).value)
                continue
            raw = self.net(xb)
            if self.boundary == "hard":
                lift, dist = self.problem.hard_constraint(self.output)
                raw = lift(xb) + dist(xb) * raw
            outs.append(raw)
        return torch.cat(outs, 0)
