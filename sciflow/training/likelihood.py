"""``likelihood``: train a neural process on batches of functions drawn from a problem family.

Each step draws ``batch_size`` functions (parameter θ from the problem's training range; with
``functions`` > 0 from a fixed training set of that many functions, visited epoch by epoch in a
random order), each with contexts (problem.contexts_t × contexts_x points) and random targets
(``targets_t`` × ``targets_x``), and minimises the negative ELBO per target point
(Kim et al. 2019, Eq. 3):

    L = −(1/Nt) Σ_i log N(y_i | μ(x_i), σ(x_i)²) + KL(q(z|C∪T) ‖ q(z|C)) / Nt

With ``nll_beta`` β > 0 each point's negative log-likelihood is weighted by sg(σ²)^β (sg: no
gradient), the β-NLL of Seitzer et al. (ICLR 2022, Eq. 4): the gradient on the mean becomes
(μ − y)/σ^{2−2β} instead of (μ − y)/σ², so points the network is unsure of still pull the mean
(β = 1: the mean's gradient is that of the MSE). β = 0 is the plain likelihood above.

With ``residual_weight`` λ > 0 it adds λ · mean r(x_i)² of the problem's PDE residual
(``Problem.residual``) at the targets of the first ``residual_functions`` functions of the
batch (0: all), evaluated on the predicted mean by autograd — the SoftC-ANP baseline of
ProbConserv (a differential-form soft constraint).

All draws use the Trainer's generator, whose state the checkpoint holds; the fixed training
set, the epoch order and the position in it are in ``state_dict``, so a resumed run sees the
same batches. ``validate`` reports the test-parameter MSE (first key; selects best.pt) and the
Gaussian negative log-likelihood of the unconstrained prediction on a fixed validation set.
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError
from sciflow.autodiff.jet import Jet
from sciflow.problems.base import FunctionSamples
from sciflow.training.objectives import Objective, register_objective


@register_objective("likelihood")
class LikelihoodObjective(Objective):
    problem_needs = (FunctionSamples,)

    def __init__(self, problem, model, batch_size: int = 16, functions: int = 0, targets_t: int = 10,
                 targets_x: int = 10, nll_beta: float = 0.0, residual_weight: float = 0.0, residual_functions: int = 4,
                 validation_functions: int = 8,
                 validation_grid: int = 21, validation_seed: int = 12345):
        if batch_size < 1 or functions < 0:
            raise SciflowError("objective.batch_size must be ≥ 1 and objective.functions ≥ 0")
        if not 0.0 <= nll_beta <= 1.0:
            raise SciflowError(f"objective.nll_beta must lie in [0, 1], got {nll_beta}")
        if residual_weight < 0:
            raise SciflowError(f"objective.residual_weight must be ≥ 0, got {residual_weight}")
        if functions and functions < batch_size:
            raise SciflowError(f"objective.functions ({functions}) must be ≥ objective.batch_size ({batch_size})")
        self.problem = problem
        self.batch_size, self.functions = int(batch_size), int(functions)
        self.targets_t, self.targets_x = int(targets_t), int(targets_x)
        self.nll_beta = float(nll_beta)
        self.residual_weight = float(residual_weight)
        self.residual_functions = int(residual_functions)
        self.validation_functions, self.validation_grid = int(validation_functions), int(validation_grid)
        self.validation_seed = int(validation_seed)

    # ---------------------------------------------------------------- data
    def setup(self, device, dtype, generator: torch.Generator, rank: int = 0, world: int = 1):
        self.device, self.dtype, self.generator = device, dtype, generator
        self.rank, self.world = rank, world
        self.data = None
        if self.functions:
            self.data = self.problem.draw_functions(self.functions, self.targets_t, self.targets_x, generator)
            self._new_epoch()
        g = torch.Generator().manual_seed(self.validation_seed)
        n = self.validation_grid
        self.val = self.problem.draw_functions(self.validation_functions, generator=g,
                                               theta=torch.full((self.validation_functions,), self.problem.param),
                                               grid=self.problem.grid(n, n))

    def _new_epoch(self):
        self.order = torch.randperm(self.functions, generator=self.generator)
        self.position = 0

    def _batch(self) -> dict:
        if self.data is None:
            return self.problem.draw_functions(self.batch_size, self.targets_t, self.targets_x, self.generator)
        if self.position + self.batch_size > self.functions:
            self._new_epoch()
        idx = self.order[self.position:self.position + self.batch_size]
        # each rank trains on its own slice of the global batch
        idx = idx[self.rank::self.world]
        self.position += self.batch_size
        return {k: v[idx] for k, v in self.data.items()}

    def _to(self, t):
        return t.to(self.device, self.dtype)

    # ---------------------------------------------------------------- loss
    def loss(self, model, step: int):
        b = self._batch()
        xc, yc, xt, yt = (self._to(b[k]) for k in ("xc", "yc", "xt", "yt"))
        mean, std, kl = model(xc, yc, xt, yt)
        nt = xt.shape[1]
        nll_points = -torch.distributions.Normal(mean, std).log_prob(yt)
        nll = nll_points.mean()
        kl_term = (kl / nt).mean()
        terms = {"nll": nll, "kl": kl_term}
        fit = nll
        if self.nll_beta:
            fit = (std.detach() ** (2 * self.nll_beta) * nll_points).mean()
            terms["beta_nll"] = fit
        total = fit + kl_term
        if self.residual_weight:
            # a second pass on the first residual_functions functions, differentiable in the targets
            n = min(self.residual_functions, xt.shape[0]) if self.residual_functions > 0 else xt.shape[0]
            xr = xt[:n].clone().requires_grad_(True)
            mean_r = model(xc[:n], yc[:n], xr, yt[:n])[0]
            terms["residual"] = self._residual(mean_r, xr, b["theta"][:n])
            total = total + self.residual_weight * terms["residual"]
        return total, terms

    def _residual(self, mean, xt, theta):
        """mean r² of the problem's residual at the targets; mean (B, Nt, 1), xt (B, Nt, D) requires grad."""
        (d1,) = torch.autograd.grad(mean.sum(), xt, create_graph=True)
        d2 = []
        for i in range(xt.shape[-1]):
            (g,) = torch.autograd.grad(d1[..., i].sum(), xt, create_graph=True)
            d2.append(g[..., i])
        B, N, D = xt.shape
        jet = Jet(mean.reshape(B * N, 1), d1.reshape(B * N, D, 1), torch.stack(d2, -1).reshape(B * N, D, 1))
        th = self._to(theta)[:, None, None].expand(B, N, 1)
        x3 = torch.cat([xt.detach(), th], -1).reshape(B * N, D + 1)
        res = self.problem.residual(x3, jet)
        return sum((r ** 2).mean() for r in res.values())

    # ---------------------------------------------------------------- resume / validation
    def state_dict(self):
        d = {}
        if self.data is not None:
            d = {"data": self.data, "order": self.order, "position": self.position}
        return d

    def load_state_dict(self, d):
        if d:
            self.data, self.order, self.position = d["data"], d["order"], int(d["position"])

    def validate(self, model):
        xc, yc, xt, yt = (self._to(self.val[k]) for k in ("xc", "yc", "xt", "yt"))
        g = torch.Generator(device=xc.device).manual_seed(self.validation_seed)
        mean, var = model.predict(xc, yc, xt, samples=8, generator=g)
        mse = float(((mean - yt) ** 2).mean())
        nll = float(-torch.distributions.Normal(mean, var.sqrt()).log_prob(yt).mean())
        return {"mse": mse, "nll": nll}
