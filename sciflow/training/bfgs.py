"""BFGS and self-scaled Broyden with a dense inverse Hessian and a strong-Wolfe line search.

L-BFGS keeps the last m curvature pairs; for the few thousand to ~25,000 weights of a PINN the
whole inverse-Hessian approximation H (n × n) fits in memory, and full BFGS keeps every pair's
information (Urbán, Stefanou & Pons 2025, "Unveiling the optimization process of PINNs", JCP).

One ``step(closure)`` is one iteration, as ``torch.optim.LBFGS`` with ``max_iter = 1``. With the
gradient g_k of the closure, the last step s = x_k − x_{k−1}, y = g_k − g_{k−1} (when sᵀy > 0),
u = Hy and ρ = 1/sᵀy, the self-scaled Broyden family updates the inverse Hessian as

    H ← (H − u uᵀ/yᵀu + φ yᵀu v vᵀ) / τ + ρ s sᵀ,   v = ρ s − u/yᵀu,   φ = (1 − θ)/(1 + aθ)   (1)

(Al-Baali 1998, "Numerical experience with a class of self-scaling quasi-Newton algorithms", JOTA;
Urbán, Stefanou & Pons 2025). θ = 0, τ = 1 is BFGS (Nocedal & Wright 2006,
eq. 6.17); before its first update H = I is set to (sᵀy / yᵀy) I (ibid., eq. 6.20).
``self_scaled`` (optimizer ``ssbroyden``) chooses θ and τ at each update from
b = −t sᵀg_{k−1}/sᵀy (= sᵀBs/sᵀy), h = yᵀu/sᵀy and a = bh − 1 ≥ 0:

    c = √(a/(1+a)),  ρ₋ = min(1, h(1 − c)),  θ = clip((1 − b)/b, (ρ₋ − 1)/a, 1/ρ₋)
    τ = h/(1 + aθ) at the first update; later, with σ = 1 + aθ and n weights,
    τ = min(min(1, 1/b) σ^{1/(1−n)}, σ) if θ ≤ 0, else min(1, 1/b) min(σ^{1/(1−n)}, 1/θ).

Then d = −H g_k and x_{k+1} = x_k + t d with t from torch's strong-Wolfe line search. Cost per
step: one gemv (Hg; u = Hg_k − Hg_{k−1} with Hg_{k−1} = −d_{k−1} kept from the last step, and
the new Hg follows from (1) in O(n)) and one rank-2 update of H, both memory-bound on n² entries,
plus the closure's evaluations. The state (H included) is checkpointed.
"""

from __future__ import annotations

import torch
from torch.optim.lbfgs import _strong_wolfe

from sciflow.errors import SciflowError

#: The largest number of weights a dense H is built for: 25,000² float64 entries are 5 GB.
MAX_PARAMETERS = 25_000


def broyden_parameters(a: float, b: float, h: float, first: bool, n: int) -> tuple[float, float]:
    """(θ, τ) of the self-scaled Broyden update, eq. (1), from a = bh − 1, b = sᵀBs/sᵀy, h = yᵀHy/sᵀy."""
    if a <= 1e-12:  # s ∥ H y: every member of the family is the same update; scale only
        theta = 0.0
    else:
        c = (a / (1 + a)) ** 0.5
        rho_minus = min(1.0, h * (1 - c))
        theta = min(max((1 - b) / b, (rho_minus - 1) / a), 1 / rho_minus)
    sigma = 1 + a * theta
    if first:
        return theta, h / sigma
    shrink = min(1.0, 1 / b)
    power = abs(sigma) ** (1.0 / (1 - n)) if n > 1 else 1.0
    if theta <= 0:
        return theta, min(shrink * power, sigma)
    return theta, shrink * min(power, 1 / theta)


class DenseBFGS(torch.optim.Optimizer):
    """Eq. (1) over all parameters of one group (flattened); ``lr`` is the line search's first trial step."""

    def __init__(self, params, lr: float = 1.0, tolerance_grad: float = 1e-12, tolerance_change: float = 1e-16,
                 self_scaled: bool = False):
        super().__init__(params, dict(lr=lr, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change))
        name = "ssbroyden" if self_scaled else "bfgs"
        if len(self.param_groups) != 1:
            raise SciflowError(f"optimizer {name}: one parameter group only")
        self._params = self.param_groups[0]["params"]
        self.self_scaled = self_scaled
        n = sum(p.numel() for p in self._params)
        if n > MAX_PARAMETERS:
            raise SciflowError(f"training.phases: optimizer {name} holds a dense {n} × {n} inverse Hessian; the "
                               f"model has {n} weights, more than {MAX_PARAMETERS}: use lbfgs")

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

    def _update(self, state: dict, g: torch.Tensor, Hg: torch.Tensor) -> torch.Tensor:
        """Apply eq. (1) with the pair (s, y) to H in place; returns the new H g (from the old ``Hg``)."""
        H, s, t = state["H"], state["s"], state.get("t", 1.0)
        y = g - state["g_prev"]
        sy = float(s @ y)
        if not sy > 1e-10 * float(s @ s) ** 0.5 * float(y @ y) ** 0.5:
            return Hg
        u = Hg + state["d"] if "d" in state else H @ y  # H y = H g_k − H g_{k−1}, and H g_{k−1} = −d_{k−1}
        first = state["updates"] == 0
        if first and not self.self_scaled:  # H = I → (sᵀy/yᵀy) I before the first BFGS update
            gamma = sy / float(y @ y)
            H.mul_(gamma)
            Hg, u = Hg * gamma, u * gamma
        rho, yu = 1.0 / sy, float(y @ u)
        theta, tau = 0.0, 1.0
        if self.self_scaled:
            b = -t * rho * float(s @ state["g_prev"])
            h = yu * rho
            theta, tau = broyden_parameters(b * h - 1, b, h, first, g.numel())
        phi = 1.0 if theta == 0 else (1 - theta) / (1 + (b * h - 1) * theta)
        # eq. (1) as H/τ + S C Sᵀ with S = [s, u]: v vᵀ = ρ² s sᵀ − ρ/yᵀu (s uᵀ + u sᵀ) + u uᵀ/(yᵀu)²
        c_ss = phi * yu * rho * rho / tau + rho
        c_su = -phi * rho / tau
        c_uu = (phi - 1) / (tau * yu)
        S = torch.stack([s, u], 1)
        C = torch.tensor([[c_ss, c_su], [c_su, c_uu]], dtype=g.dtype, device=g.device)
        H.addmm_(S, C @ S.T, beta=1.0 / tau)
        state["updates"] += 1
        return Hg / tau + S @ (C @ (S.T @ g))

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
        Hg = H @ g
        if "g_prev" in state:
            Hg = self._update(state, g, Hg)
        d = -Hg
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
        state["s"], state["t"], state["d"], state["g_prev"] = d * t, t, d, g
        return loss
