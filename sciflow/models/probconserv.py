"""ProbConserv (Hansen et al., ICML 2023): probabilistic predictions that conserve exactly.

Two pieces:

* ``ProbConservANP`` (registered ``probconserv``): the attentive neural process of
  :mod:`sciflow.models.anp` on a problem's (t, x) inputs, trained by the ``likelihood``
  objective (ELBO; with ``residual_weight`` > 0 it is the SoftC-ANP baseline). At inference the
  chosen ``update`` is applied to its sample-averaged prediction:
  ``probconserv`` (Eq. 6 with ``sigma_g``), ``hardc`` (orthogonal projection), ``bounded`` (Eq. 6's
  projection within the problem's maximum-principle bounds) or ``none``.
* ``ProbConserv(model, problem)``: the same update as a wrapper around *any* model that gives a
  mean and a variance (``predict_distribution(x) -> (mean, var)``, optionally with a covariance
  factor) or a deep ensemble (a sequence of models with ``predict(x)``), using the linear
  constraints (G, b) its problem declares through ``Problem.constraints(grid)`` (or given
  explicitly). Vectors are the model output (N, C) flattened point-major (index n·C + c).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import torch
from torch import nn

from sciflow.errors import SciflowError
from sciflow.models.anp import AttentiveNeuralProcess
from sciflow.models.base import Model, ProbabilisticPredictor
from sciflow.models.conservation_update import bounded_update, conservation_update, hard_projection
from sciflow.models.registry import register_model
from sciflow.problems.base import Conservation, FunctionSamples, ValueBounds

#: ``bounded``: Eq. (6)'s projection with the problem's maximum-principle bounds as well
#: (:func:`sciflow.models.conservation_update.bounded_update`; diagonal prior, σ_G = 0)
UPDATES = ("probconserv", "hardc", "none", "bounded")
#: the prior covariance Eq. (6) conditions: ``diagonal`` diag σ² (the paper's public code) or
#: ``latent`` the ANP's own predictive covariance over its latent z (:func:`latent_covariance`)
COVARIANCES = ("diagonal", "latent")


class Variant(NamedTuple):
    """One evaluated predictor: the ``update`` applied to the ANP, its σ_G and the prior ``covariance``."""

    update: str
    sigma_g: float = 0.0
    covariance: str = "diagonal"


def latent_covariance(mean, var, sample_means):
    """The ANP's predictive covariance in factored form, diag(d) + L Lᵀ (law of total covariance).

    The ANP's prediction is a mixture over its latent z: u | z_s ~ N(μ_s, diag σ_s²), s = 1..S.
    Its covariance is E_s[diag σ_s²] + Cov_s(μ_s): a diagonal d = var − Σ_s (μ_s − μ)²/S (var the
    marginal variance, (N,)) plus the rank-S factor L = (μ_s − μ)ᵀ/√S (N, S) from the draws'
    means ``sample_means`` (S, N). Its diagonal is the marginal variance ``var`` again; unlike diag σ²,
    it correlates the points whose mean moves together with z (e.g. a front moving as a whole).
    Returns (d (N,), L (N, S)) float64.
    """
    mean, var, ms = (torch.as_tensor(a).double() for a in (mean, var, sample_means))
    factor = ((ms - mean) / math.sqrt(ms.shape[0])).T
    return (var - (factor ** 2).sum(-1)).clamp(min=0.0), factor


@dataclass
class Prediction:
    """A (possibly constrained) prediction: mean, marginal var (N, C); ``raw_*`` before the update."""

    mean: torch.Tensor
    var: torch.Tensor
    raw_mean: torch.Tensor
    raw_var: torch.Tensor


def variant_prior(variant: Variant, mean, var, sample_means):
    """The prior (diag (N,), factor (N, S) or None) that ``variant`` conditions; mean, var (N,), sample_means (S, N)."""
    if variant.covariance not in COVARIANCES:
        raise SciflowError(f"covariance: '{variant.covariance}' is not one of {COVARIANCES}")
    if variant.covariance == "latent":
        return latent_covariance(mean, var, sample_means)
    return torch.as_tensor(var).double(), None


def apply_update(mean, var, G, b, update: str = "probconserv", sigma_g: float = 0.0, factor=None, bounds=None):
    """Apply ``update`` to the prior N(mean, diag(var) + factor factorᵀ), flat (..., N) [factor (..., N, R)]:
    returns (mean, marginal var) float64. ``bounded`` needs ``bounds`` = (lo, hi) broadcast to mean."""
    if update not in UPDATES:
        raise SciflowError(f"update: '{update}' is not one of {UPDATES}")
    if update == "bounded":
        if bounds is None:
            raise SciflowError("update 'bounded': the problem declares no value bounds (ValueBounds)")
        if factor is not None or sigma_g != 0:
            raise SciflowError("update 'bounded' takes the diagonal prior with sigma_g = 0 "
                               f"(got covariance with a factor: {factor is not None}, sigma_g = {sigma_g})")
        post, _ = bounded_update(mean, var, G, b, *bounds)
        return post.mean, post.var
    mean, var = mean.double(), var.double()
    if update != "probconserv" and factor is not None:
        var = var + (factor.double() ** 2).sum(-1)
    if update == "none":
        return mean, var
    if update == "hardc":
        return hard_projection(mean, G, b), var
    post = conservation_update(mean, var, G, b, sigma_g, factor=factor)
    return post.mean, post.var


@register_model("probconserv")
class ProbConservANP(Model):
    """ANP on a GPME-type problem (inputs (t, x), one field) + the conservation update at inference.

    Spec keys: ``hidden``, ``heads``, ``self_attention_layers``, ``cross_attention_layers``,
    ``decoder_hidden``, ``decoder_layers``, ``latent_std``, ``min_std`` (ANP, :mod:`sciflow.models.anp`);
    ``update`` (probconserv | hardc | none | bounded: within the problem's value bounds), ``sigma_g`` (σ_G of Eq. 6), ``samples`` (z draws
    averaged at inference), ``covariance`` (the prior of Eq. 6: diagonal | latent, see :data:`COVARIANCES`).
    """

    requires = (FunctionSamples, Conservation)

    def __init__(self, problem, hidden: int = 64, heads: int = 4, self_attention_layers: int = 2,
                 min_std: float = 0.01, update: str = "probconserv", sigma_g: float = 0.0, samples: int = 32,
                 cross_attention_layers: int = 1, decoder_hidden: int | None = None, decoder_layers: int = 2,
                 latent_std: str = "bounded", covariance: str = "diagonal"):
        super().__init__()
        if update not in UPDATES:
            raise SciflowError(f"model.update: '{update}' is not one of {UPDATES}")
        if covariance not in COVARIANCES:
            raise SciflowError(f"model.covariance: '{covariance}' is not one of {COVARIANCES}")
        if sigma_g < 0:
            raise SciflowError(f"model.sigma_g must be ≥ 0, got {sigma_g}")
        if update == "bounded" and not isinstance(problem, ValueBounds):
            raise SciflowError(f"model.update: 'bounded' needs value bounds, which problem '{problem.name}' "
                               "does not declare")
        if update == "bounded" and (sigma_g != 0 or covariance != "diagonal"):
            raise SciflowError("model.update: 'bounded' takes model.sigma_g = 0 and model.covariance = diagonal "
                               f"(got {sigma_g}, {covariance})")
        if hidden % heads:
            raise SciflowError(f"model.hidden ({hidden}) must be a multiple of model.heads ({heads})")
        self.problem = problem
        self.update, self.sigma_g, self.samples = update, float(sigma_g), int(samples)
        self.covariance = covariance
        lo = [problem.t_range[0], problem.x_range[0]]
        hi = [problem.t_range[1], problem.x_range[1]]
        self.anp = AttentiveNeuralProcess(len(problem.inputs), len(problem.fields), hidden, heads,
                                          self_attention_layers, min_std, lo, hi, cross_attention_layers,
                                          decoder_hidden, decoder_layers, latent_std)

    def forward(self, xc, yc, xt, yt=None, generator=None):
        """ANP training pass → (mean, std (B, Nt, C), kl (B,))."""
        return self.anp(xc, yc, xt, yt, generator)

    def predict(self, xc, yc, xt, samples: int | None = None, generator=None, return_samples: bool = False):
        """The ANP's predictive (mean, var) (B, Nt, C) before any update (a :class:`NeuralProcess`)
        [+ the z draws' means (B, S, Nt, C) with ``return_samples``]; ``samples`` defaults to the spec's."""
        return self.anp.predict(xc, yc, xt, self.samples if samples is None else samples, generator,
                                return_samples=return_samples)

    def condition(self, xc, yc, generator=None) -> "ConditionedANP":
        """A predictor for one function observed at xc (Nc, D), yc (Nc, C)."""
        return ConditionedANP(self.anp, xc, yc, self.samples, generator, self.covariance)

    @torch.no_grad()
    def predict_constrained(self, xc, yc, grid, theta: float | None = None, update: str | None = None,
                            sigma_g: float | None = None, generator=None) -> Prediction:
        """Prediction for one function at ``grid.points`` (N, D) with the update applied, float64 (N, 1)."""
        G, b = self.problem.constraints(grid, theta)
        return ProbConserv(self.condition(xc, yc, generator), self.problem, self.sigma_g if sigma_g is None else sigma_g,
                           update or self.update, constraints=lambda _: (G, b),
                           bounds=lambda g: self.problem.value_bounds(g.points[:, 0], theta)).predict(grid)


class ConditionedANP:
    """An ANP conditioned on one function's contexts: ``predict_distribution(x (N, D))`` ->
    (mean (N, C), var (N, C), factor (N·C, S) or None): with ``covariance`` = latent, var and factor
    are the diagonal and the factor of :func:`latent_covariance` (diag(var) + factor factorᵀ)."""

    def __init__(self, anp: AttentiveNeuralProcess, xc, yc, samples: int = 32, generator=None,
                 covariance: str = "diagonal"):
        self.anp, self.samples, self.generator, self.covariance = anp, samples, generator, covariance
        p = next(anp.parameters())
        self.xc = torch.as_tensor(xc).to(p.device, p.dtype)[None]
        self.yc = torch.as_tensor(yc).to(p.device, p.dtype)[None]

    @torch.no_grad()
    def predict_distribution(self, x):
        p = next(self.anp.parameters())
        mean, var, ms = self.anp.predict(self.xc, self.yc, torch.as_tensor(x).to(p.device, p.dtype)[None],
                                         self.samples, self.generator, return_samples=True)
        mean, var = mean[0], var[0]  # (N, C)
        if self.covariance == "diagonal":
            return mean, var, None
        diag, factor = latent_covariance(mean.reshape(-1), var.reshape(-1), ms[0].reshape(ms.shape[1], -1))
        return mean, diag.reshape(var.shape), factor


class ProbConserv:
    """Make any probabilistic model's prediction satisfy its problem's linear conservation laws.

    ``model``: an object with ``predict_distribution(x) -> (mean, var)`` or ``(mean, var, factor)``
    [(N, C), (N, C), (N·C, R)], or a sequence of models with ``predict(x) -> (N, C)`` (a deep
    ensemble: mean of the members, covariance diag(member variances or ``jitter``) + L Lᵀ with
    L = deviations/√(K−1), so corrections spread along the ensemble's correlations).
    ``constraints``: ``grid -> (G (M, N·C), b (M,))``; default ``problem.constraints``.
    ``update``: probconserv (Eq. 6 with ``sigma_g``), hardc, none or bounded (with ``bounds``:
    ``grid -> (lo, hi)`` over the N·C outputs, e.g. a maximum principle).
    """

    def __init__(self, model, problem, sigma_g: float = 0.0, update: str = "probconserv",
                 constraints: Callable | None = None, jitter: float = 1e-10, bounds: Callable | None = None):
        if update not in UPDATES:
            raise SciflowError(f"ProbConserv: update '{update}' is not one of {UPDATES}")
        if update == "bounded" and bounds is None:
            raise SciflowError("ProbConserv: update 'bounded' needs bounds (grid -> (lo, hi))")
        self.model, self.problem = model, problem
        self.sigma_g, self.update, self.jitter = float(sigma_g), update, float(jitter)
        self._constraints = constraints or problem.constraints
        self._bounds = bounds

    def distribution(self, x: torch.Tensor):
        """(mean (N, C), var (N, C), factor (N·C, R) or None) of the wrapped model, float64."""
        if isinstance(self.model, ProbabilisticPredictor):
            out = self.model.predict_distribution(_input_for(self.model, x))
            mean, var = out[0].double(), out[1].double()
            return mean, var, (out[2].double() if len(out) > 2 and out[2] is not None else None)
        if isinstance(self.model, (Sequence, nn.ModuleList)):
            return ensemble_distribution(self.model, x, self.jitter)
        raise SciflowError(f"ProbConserv: {type(self.model).__name__} gives no mean and variance "
                           "(predict_distribution) and is not an ensemble (a sequence of models)")

    def predict(self, grid) -> Prediction:
        """Constrained prediction at ``grid.points`` (or at ``grid`` itself when it is a tensor)."""
        x = grid if isinstance(grid, torch.Tensor) else grid.points
        mean, var, factor = self.distribution(x)
        G, b = self._constraints(grid)
        n, c = mean.shape
        bounds = self._bounds(grid) if self.update == "bounded" else None
        m2, v2 = apply_update(mean.reshape(-1), var.reshape(-1), G.double(), torch.as_tensor(b).double(),
                              self.update, self.sigma_g, factor, bounds)
        raw_var = var if factor is None else var + (factor ** 2).sum(-1).reshape(n, c)  # the prior's marginal
        return Prediction(m2.reshape(n, c), v2.reshape(n, c), mean, raw_var)


def _input_for(model, x):
    """x cast to the dtype/device of a torch model's parameters (unchanged for other models)."""
    if isinstance(model, nn.Module):
        p = next(model.parameters(), None)
        if p is not None:
            return x.to(p.device, p.dtype)
    return x


def ensemble_distribution(models, x, jitter: float = 1e-10):
    """Deep-ensemble moments at x (N, D): mean (N, C), diag var (N, C), factor (N·C, K) float64.

    Σ = diag(mean member variance + jitter) + L Lᵀ, L = (f_k − mean)/√(K − 1) flattened point-major.
    """
    outs, vars_ = [], []
    for m in models:
        if isinstance(m, ProbabilisticPredictor):
            mu, v = m.predict_distribution(_input_for(m, x))[:2]
            outs.append(mu.double().cpu())
            vars_.append(v.double().cpu())
        else:
            outs.append(m.predict(_input_for(m, x)).double().cpu())
    k = len(outs)
    if k < 2:
        raise SciflowError("ProbConserv: an ensemble needs at least two members")
    f = torch.stack(outs)  # (K, N, C)
    mean = f.mean(0)
    diag = torch.stack(vars_).mean(0) if vars_ else torch.zeros_like(mean)
    factor = ((f - mean) / math.sqrt(k - 1)).reshape(k, -1).T
    return mean, diag + jitter, factor


@dataclass
class SectionGrid:
    """Points on vertical cross-sections x = xs_j of a 2D domain: points (J·ny, 2), quadrature w (ny,)."""

    xs: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor

    @property
    def points(self) -> torch.Tensor:
        xx, yy = torch.meshgrid(self.xs, self.y, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def channel_sections(xs, ny: int = 33, y0: float = 0.0, y1: float = 1.0) -> SectionGrid:
    """Cross-sections x ∈ xs of the channel y ∈ [y0, y1] with ny Gauss–Legendre nodes each."""
    import numpy as np

    g, w = np.polynomial.legendre.leggauss(ny)
    y = torch.tensor(y0 + (g + 1) * (y1 - y0) / 2, dtype=torch.float64)
    return SectionGrid(torch.as_tensor(xs, dtype=torch.float64), y, torch.tensor(w * (y1 - y0) / 2, dtype=torch.float64))


def flow_rate_constraints(flow_rate: float, n_fields: int = 3, component: int = 0):
    """Constraint builder ``grid -> (G, b)``: ∫ u dy = ``flow_rate`` on every section of a SectionGrid.

    For incompressible flow between walls, continuity makes the volume flux Q = ∫ u dy the same
    through every cross-section (plane Poiseuille flow u = 4y(1−y): Q = 2/3). G acts on the
    (N, n_fields) output flattened point-major; only the ``component`` (u) entries are weighted.
    """

    def build(grid: SectionGrid):
        J, ny = grid.xs.numel(), grid.y.numel()
        G = torch.zeros(J, J * ny * n_fields, dtype=torch.float64)
        for j in range(J):
            idx = (j * ny + torch.arange(ny)) * n_fields + component
            G[j, idx] = grid.w
        return G, torch.full((J,), float(flow_rate), dtype=torch.float64)

    return build
