"""BFGS with a dense inverse Hessian and a strong-Wolfe line search.

L-BFGS keeps the last m curvature pairs; for the few thousand to ~25,000 weights of a PINN the
whole inverse-Hessian approximation H (n × n) fits in memory, and full BFGS keeps every pair's
information (Urbán, Stefanou & Pons 2025, "Unveiling the optimization process of PINNs", JCP).

One ``step(closure)`` is one iteration, as ``torch.optim.LBFGS`` with ``max_iter = 1``: with the
gradient g_k of the closure and the last step s = x_k − x_{k−1}, y = g_k − g_{k−1} (when
sᵀy > 0), the inverse Hessian is updated (Nocedal & Wright 2006, eq. 6.17):

    ρ = 1/sᵀy,   H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ                                  (1)

then d = −H g_k and x_{k+1} = x_k + t d with t from the strong-Wolfe line search torch's L-BFGS
uses. H starts as the identity; before the first update it is set to (sᵀy / yᵀy) I (ibid.,
eq. 6.20). Cost per step: one gemv and one rank-2 update of H (memory-bound, n² entries), plus
the closure's evaluations. The state (H included) is checkpointed.
"""

from __future__ import annotations

import torch
from torch.optim.lbfgs import _strong_wolfe

from sciflow.errors import SciflowError

#: The largest number of weights a dense H is built for: 25,000² float64 entries are 5 GB.
MAX_PARAMETERS = 25_000


class DenseBFGS(torch.optim.Optimizer):
    """Eq. (1) over all parameters of one group (flattened); ``lr`` is the line search's first trial step."""

    def __init__(self, params, lr: float = 1.0, tolerance_grad: float = 1e-12, tolerance_change: float = 1e-16):
        super().__init__(params, dict(lr=lr, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change))
        if len(self.param_groups) != 1:
            raise SciflowError("optimizer bfgs: one parameter group only")
        self._params = self.param_groups[0]["params"]
        n = sum(p.numel() for p in self._params)
        if n > MAX_PARAMETERS:
            raise SciflowError(f"training.phases: optimizer bfgs holds a dense {n} × {n} inverse Hessian; the model "
                               f"has {n} weights, more than {MAX_PARAMETERS}: use lbfgs")

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self._params])

    def _add(self, t: float, d: torch.Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].view_as(p), alpha=t)
            offset += n

    def _set(self, x: list[torch.Tensor]) -> None:
        for p, v in zip(self._params, x):
            p.copy_(v)

    @torch.no_grad()
    def step(self, closure):
        """One iteration of eq. (1); ``closure`` zeroes the gradients, evaluates and backpropagates the loss."""
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        with torch.enable_grad():
            loss = float(closure().detach())
        g = self._flat_grad()
        if g.abs().max() <= group["tolerance_grad"]:
            return loss
        if "H" not in state:
            state["H"] = torch.eye(g.numel(), dtype=g.dtype, device=g.device)
            state["updates"] = 0
        H = state["H"]
        if "g_prev" in state:
            s, y = state["s"], g - state["g_prev"]
            sy = float(s @ y)
            if sy > 1e-10 * float(s @ s) ** 0.5 * float(y @ y) ** 0.5:
                if state["updates"] == 0:
                    H.mul_(sy / float(y @ y))
                u = H @ y
                rho = 1.0 / sy
                # H − ρ(s uᵀ + u sᵀ) + (ρ² yᵀHy + ρ) s sᵀ with u = Hy, as one rank-2 update s aᵀ + u bᵀ
                a = s * (rho * rho * float(y @ u) + rho) - u * rho
                H.addmm_(torch.stack([s, u], 1), torch.stack([a, -rho * s], 0))
                state["updates"] += 1
        d = -(H @ g)
        gtd = float(g @ d)
        if gtd > -group["tolerance_change"]:  # not a descent direction: restart from the gradient
            H.copy_(torch.eye(g.numel(), dtype=g.dtype, device=g.device))
            state["updates"] = 0
            d, gtd = -g, -float(g @ g)
        t = group["lr"] if state["updates"] else min(1.0, 1.0 / float(g.abs().sum())) * group["lr"]
        x0 = [p.detach().clone() for p in self._params]

        def evaluate(x, step, direction):
            self._add(step, direction)
            with torch.enable_grad():
                f = float(closure().detach())
            grad = self._flat_grad()
            self._set(x)
            return f, grad

        _, _, t, _ = _strong_wolfe(evaluate, x0, t, d, loss, g, gtd)
        self._add(t, d)
        state["s"] = d * t
        state["g_prev"] = g
        return loss
