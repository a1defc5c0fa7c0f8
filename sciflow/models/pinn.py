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

from sciflow.autodiff.jet import Jet
from sciflow.autodiff.jet3 import Jet3
from sciflow.bounds import Depth, FeatureCount, Width
from sciflow.errors import SciflowError
from sciflow.models.base import PointwiseModel
from sciflow.models.layers import MLP
from sciflow.models.registry import register_model
from sciflow.problems.base import Ansatz, HardConstraints, PointwisePhysics, SoftBoundary, StreamAnsatz
from sciflow.problems.base import ansatz as problem_ansatz
from sciflow.problems.base import require, stream_modes


def input_normalisation(problem) -> tuple[list[float] | None, list[float] | None]:
    """(scale, shift) mapping the problem's declared input bounds to [-1, 1]; (None, None) without bounds."""
    bounds = problem.input_bounds()
    if bounds is None:
        return None, None
    lo, hi = bounds
    shift = [(a + b) / 2 for a, b in zip(lo, hi)]
    scale = [2 / (b - a) for a, b in zip(lo, hi)]
    return scale, shift


@register_model("pinn")
class PINN(PointwiseModel):
    requires = (PointwisePhysics,)

    @classmethod
    def requirements(cls, config: dict) -> tuple[type, ...]:
        return cls.requires + ((SoftBoundary,) if config.get("boundary", "hard") == "soft" else (HardConstraints,))

    def __init__(self, problem, width: Width = 50, depth: Depth = 4, activation: str = "tanh",
                 fourier_features: FeatureCount = 0, fourier_sigma: float = 1.0, boundary: str = "hard",
                 output: str = "primitive"):
        super().__init__()
        require(problem, self.requirements({"boundary": boundary}), "model 'pinn'")
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
        if problem.derivative_order not in (2, 3):
            raise SciflowError(f"problem '{problem.name}': derivative_order is {problem.derivative_order}, not 2 or 3")
        self.order = 3 if output == "stream" else problem.derivative_order
        n_in = len(problem.inputs)
        n_out = 2 if output == "stream" else len(problem.fields)
        scale, shift = input_normalisation(problem)
        self.net = MLP(n_in, n_out, width, depth, activation, fourier_features, fourier_sigma, scale, shift,
                       periodic=problem.periodic_inputs, keep_periodic_inputs=problem.keep_periodic_inputs,
                       even_inputs=problem.even_inputs)
        modes = stream_modes(problem) if output == "stream" and boundary == "hard" else 0
        self.mode_coeffs = nn.Parameter(torch.zeros(modes)) if modes else None

    def compile_jets(self) -> None:
        """``compile: true``: the network's activation jets as compiled kernels (:class:`CompilesJets`)."""
        self.net.compile_jets()

    def make_ansatz(self, x: torch.Tensor) -> Ansatz | StreamAnsatz | None:
        """The (detached) hard-constraint jets at fixed points x; pass them to ``forward``."""
        if self.boundary != "hard":
            return None
        return problem_ansatz(self.problem, self.problem.complete_inputs(x), self.output, self.order)

    def forward(self, x: torch.Tensor, ansatz: Ansatz | StreamAnsatz | None = None) -> Jet | Jet3:
        """Fields and derivatives at x (N, D) → Jet with value (N, C) (a Jet3 when the problem
        declares ``derivative_order = 3``). Points without the problem's parametric inputs take
        their current values (``Problem.complete_inputs``)."""
        x = self.problem.complete_inputs(x)
        if self.output == "stream":
            raw = self.net.jet(x, order=3)
            if self.boundary == "hard":
                raw = (ansatz or self.make_ansatz(x)).apply(raw, self.mode_coeffs)
            return raw.velocity_pressure()
        raw = self.net.jet(x, order=self.order)
        if self.boundary == "hard":
            if ansatz is None:
                ansatz = self.make_ansatz(x)
            return ansatz.apply(raw)
        return raw

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 16384) -> torch.Tensor:
        """Field values (N, C) at x, without derivatives (batched)."""
        outs = []
        x = self.problem.complete_inputs(x)
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
