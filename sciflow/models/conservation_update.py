"""The ProbConserv update: condition a Gaussian prediction on a linear conservation law G u = b.

Given a prediction u ~ N(μ, Σ) at N points and the integral form of a conservation law
discretised as G u = b + ε, ε ~ N(0, σ_G² I) (G: (M, N), b: (M,)), the posterior is
(Hansen et al. 2023, Eq. 6)

    μ̃ = μ − Σ Gᵀ (σ_G² I + G Σ Gᵀ)⁻¹ (G μ − b)
    Σ̃ = Σ − Σ Gᵀ (σ_G² I + G Σ Gᵀ)⁻¹ G Σ                                              (6)

With σ_G = 0, G μ̃ = b and G Σ̃ = 0: the mean conserves exactly and there is no variance left
along the constrained directions. HardC (the paper's baseline) is the orthogonal projection
μ̃ = μ − Gᵀ (G Gᵀ)⁻¹ (G μ − b), i.e. (6) with Σ = I and σ_G = 0.

Σ is given in factored form, never as an N × N matrix unless asked for::

    Σ = diag(var) + L Lᵀ          var (..., N), L (..., N, R) (e.g. ensemble deviations / √(K−1))

so K = Σ Gᵀ costs O(N M (1 + R)) and the posterior *marginal* variances diag Σ̃ are
var_i + ‖L_i‖² − K_i A⁻¹ K_iᵀ. Everything runs in float64; with σ_G = 0 one step of iterative
refinement brings |G μ̃ − b| to round-off (≈ 1e-15 relative to |b|, |μ|) whatever cond(A).
Leading dimensions (...) batch several independent predictions with the same G.

Bounds (a maximum principle, lo ≤ u ≤ hi) are not linear equalities, so Eq. (6) cannot take them.
With σ_G = 0 the mean of Eq. (6) is the projection of μ onto {G u = b} in the metric Σ⁻¹;
:func:`bounded_update` projects onto {G u = b, lo ≤ u ≤ hi} in that metric instead (the posterior's
mode restricted to the states the physics allows). For diagonal Σ and constraint rows on disjoint
points (one trapezoid row per time slice) the KKT conditions give it in closed form up to one scalar
per row, u_i = clip(μ_i + λ_r G_ri σ_i², lo_i, hi_i), with λ_r the root of a nondecreasing
piecewise-linear function ("water filling").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciflow.errors import SciflowError


@dataclass
class Posterior:
    """Result of the update: mean (..., N), marginal variance (..., N), optional full covariance (..., N, N)."""

    mean: torch.Tensor
    var: torch.Tensor
    cov: torch.Tensor | None = None


def _as64(x):
    """x as float64 (a Python number straight to float64, not through float32)."""
    return None if x is None else torch.as_tensor(x, dtype=torch.float64)


def _sigma_times(v: torch.Tensor, var: torch.Tensor, factor: torch.Tensor | None, M: torch.Tensor) -> torch.Tensor:
    """Σ M for Σ = diag(var) + L Lᵀ; M (..., N, k) → (..., N, k)."""
    out = var[..., :, None] * M
    if factor is not None:
        out = out + factor @ (factor.transpose(-1, -2) @ M)
    return out


class ConservationGain:
    """The parts of Eq. (6) that depend on the prior covariance and G only, computed once:
    K = Σ Gᵀ (..., N, M) and the Cholesky factor of A = G Σ Gᵀ + σ_G² I (..., M, M).

    ``mean(μ, b)`` then gives μ̃ = μ − K A⁻¹ (G μ − b) for any number of means with that prior
    (the rollout constraint layer applies it to every predicted state); float64, differentiable in μ.
    var: (..., N); G: (M, N); factor: (..., N, R) or None.
    """

    def __init__(self, var, G, sigma_g: float = 0.0, factor=None):
        var, G, factor = (_as64(a) for a in (var, G, factor))
        if G.dim() != 2 or G.shape[1] != var.shape[-1]:
            raise SciflowError(f"conservation update: G has shape {tuple(G.shape)}, the prediction has "
                               f"{var.shape[-1]} entries")
        if sigma_g < 0:
            raise SciflowError(f"conservation update: sigma_g must be ≥ 0, got {sigma_g}")
        if (var < 0).any():
            raise SciflowError("conservation update: negative predictive variance")
        self.G, self.var, self.factor, self.sigma_g = G, var, factor, float(sigma_g)
        Gt = G.T.expand(*var.shape[:-1], *G.T.shape)
        self.K = _sigma_times(Gt, var, factor, Gt)  # Σ Gᵀ (..., N, M)
        A = G @ self.K  # G Σ Gᵀ (..., M, M)
        A = 0.5 * (A + A.transpose(-1, -2)) + sigma_g ** 2 * torch.eye(G.shape[0], dtype=torch.float64)
        self.chol, info = torch.linalg.cholesky_ex(A)
        # one gain shared by every row (var (N,)): row-major copies for the products of `mean`
        self.Gt, self.Kt = (G.T.contiguous(), self.K.T.contiguous()) if self.K.dim() == 2 else (None, None)
        if bool((info != 0).any()):
            raise SciflowError("conservation update: G Σ Gᵀ + σ_G² I is not positive definite (a constraint "
                               "row sees zero predictive variance, or the constraints are linearly dependent; "
                               "use sigma_g > 0, a positive variance floor, or independent constraints)")

    def solve(self, r: torch.Tensor) -> torch.Tensor:
        """A⁻¹ r for r (..., M, k)."""
        return torch.cholesky_solve(r, self.chol)

    def mean(self, mean, b, refine: bool = True) -> torch.Tensor:
        """μ̃ of Eq. (6) for mean (..., N), b (..., M) or (M,); with σ_G = 0 and ``refine`` one step of
        iterative refinement brings |G μ̃ − b| to round-off."""
        mean, b = _as64(mean), _as64(b).to(mean.device)
        G, K, chol = (t.to(mean.device) for t in (self.G, self.K, self.chol))
        if K.dim() == 2:  # one gain for every row: row-major products over all rows at once
            rows = mean.reshape(-1, mean.shape[-1])
            rhs = b.expand(*mean.shape[:-1], b.shape[-1]).reshape(-1, b.shape[-1])
            Gt, Kt = self.Gt.to(mean.device), self.Kt.to(mean.device)  # (N, M), (M, N)

            def correct(m):
                return m - torch.cholesky_solve((m @ Gt - rhs).T, chol).T.contiguous() @ Kt
        else:
            rows, rhs = mean, b

            def correct(m):
                resid = (m[..., None, :] @ G.T)[..., 0, :] - rhs  # G μ − b (..., M)
                return m - (K @ torch.cholesky_solve(resid[..., None], chol))[..., 0]
        new_mean = correct(rows)
        if refine and self.sigma_g == 0:
            new_mean = correct(new_mean)
        return new_mean.reshape(mean.shape)

    def variance(self) -> torch.Tensor:
        """Posterior marginal variances diag Σ̃ = var + ‖L_i‖² − K_i A⁻¹ K_iᵀ (..., N)."""
        KA = self.solve(self.K.transpose(-1, -2)).transpose(-1, -2)  # K A⁻¹ (..., N, M)
        prior_diag = self.var + ((self.factor ** 2).sum(-1) if self.factor is not None else 0.0)
        return (prior_diag - (KA * self.K).sum(-1)).clamp(min=0.0)

    def covariance(self) -> torch.Tensor:
        """Full posterior covariance Σ̃ = Σ − K A⁻¹ Kᵀ (..., N, N)."""
        N = self.var.shape[-1]
        eye = torch.eye(N, dtype=torch.float64).expand(*self.var.shape[:-1], N, N)
        KA = self.solve(self.K.transpose(-1, -2)).transpose(-1, -2)
        return _sigma_times(eye, self.var, self.factor, eye) - KA @ self.K.transpose(-1, -2)


def conservation_update(mean, var, G, b, sigma_g: float = 0.0, factor=None, full_cov: bool = False,
                        refine: bool = True) -> Posterior:
    """Eq. (6): condition N(mean, diag(var) + factor factorᵀ) on G u = b + N(0, σ_G² I).

    mean, var: (..., N); G: (M, N); b: (..., M) or (M,); factor: (..., N, R) or None.
    Returns the posterior mean, the posterior marginal variances and, with ``full_cov``, Σ̃.
    """
    mean, var, G = _as64(mean), _as64(var), _as64(G)
    if G.dim() != 2 or G.shape[1] != mean.shape[-1]:
        raise SciflowError(f"conservation update: G has shape {tuple(G.shape)}, the prediction has "
                           f"{mean.shape[-1]} entries")
    gain = ConservationGain(var.expand_as(mean) if var.shape != mean.shape else var, G, sigma_g, factor)
    return Posterior(gain.mean(mean, b, refine), gain.variance(), gain.covariance() if full_cov else None)


def hard_projection(mean, G, b) -> torch.Tensor:
    """HardC: the orthogonal projection μ − Gᵀ (G Gᵀ)⁻¹ (G μ − b) onto {u : G u = b}, (..., N) float64."""
    mean = _as64(mean)
    return conservation_update(mean, torch.ones_like(mean), G, b, 0.0).mean


def gaussian_log_likelihood(y, mean, var, floor: float = 1e-12) -> torch.Tensor:
    """Mean pointwise log N(y | mean, var) over the last dimension, (...,); var floored at ``floor``."""
    y, mean, var = _as64(y), _as64(mean), _as64(var).clamp(min=floor)
    return (-0.5 * (torch.log(2 * torch.pi * var) + (y - mean) ** 2 / var)).mean(-1)


def posterior_samples(mean, var, G, b, n: int, sigma_g: float = 0.0, generator=None, factor=None) -> torch.Tensor:
    """n draws (n, N) of the posterior of Eq. (6) for the prior N(mean, diag(var) + factor factorᵀ)
    (mean, var (N,), factor (N, R) or None).

    Matheron's rule: with v ~ N(0, Σ) (v = √var ⊙ η₁ + L η₂), η ~ N(0, I), A = G Σ Gᵀ + σ_G² I,
    u = μ̃ + v − Σ Gᵀ A⁻¹ (G v + σ_G η) has covariance Σ − Σ Gᵀ A⁻¹ G Σ = Σ̃ exactly, so with
    σ_G = 0 every draw satisfies G u = b to round-off. float64.
    """
    mean, var, G, factor = _as64(mean), _as64(var), _as64(G), _as64(factor)
    gain = ConservationGain(var, G, sigma_g, factor)
    new_mean = gain.mean(mean, b)
    v = torch.randn(n, mean.numel(), generator=generator, dtype=torch.float64) * var.sqrt()
    if factor is not None:
        v = v + torch.randn(n, factor.shape[1], generator=generator, dtype=torch.float64) @ factor.T
    r = v @ G.T
    if sigma_g > 0:
        r = r + sigma_g * torch.randn(n, G.shape[0], generator=generator, dtype=torch.float64)
    return new_mean + v - (gain.K @ gain.solve(r.T)).T


def _row_layout(G: torch.Tensor):
    """(row of each point (N,), G's entry there (N,), in some row (N,)) for G (M, N) whose rows share no point."""
    support = G != 0
    if bool((support.sum(0) > 1).any()):
        raise SciflowError("bounded update: the constraint rows share points; it needs rows on disjoint points "
                           "(e.g. one quadrature row per time slice)")
    row = support.to(torch.int64).argmax(0)
    return row, G.gather(0, row[None])[0], support.any(0)


def bounded_update(mean, var, G, b, lo, hi, iterations: int = 200) -> tuple[Posterior, torch.Tensor]:
    """The projection of N(mean, diag var) onto {G u = b, lo ≤ u ≤ hi} in the metric Σ⁻¹, and the free points.

    mean, var (..., N); G (M, N) with rows on disjoint points; b (..., M) or (M,); lo, hi broadcast to
    (..., N). u_i = clip(μ_i + λ_r G_ri σ_i², lo_i, hi_i) (points in no row: clip(μ_i)); each λ_r is found
    by bisection, then solved exactly on the free points, so |G u − b| is at round-off. The variance is
    Eq. (6)'s on the free points (the clamped ones do not move: the law is shared among the free ones)
    and the prior's at the clamped ones. Returns (Posterior(mean, var), free (..., N) bool). float64.
    """
    mean, var, G = _as64(mean), _as64(var), _as64(G)
    b = _as64(b).expand(*mean.shape[:-1], G.shape[0])
    lo, hi = (_as64(a).expand_as(mean) for a in (lo, hi))
    if bool((lo > hi).any()):
        raise SciflowError("bounded update: a lower bound exceeds its upper bound")
    row, g, in_row = _row_layout(G)
    s = g * var  # the direction each row's multiplier moves a point
    low_end, high_end = torch.where(g > 0, lo, hi) @ G.T, torch.where(g > 0, hi, lo) @ G.T
    scale = 1e-12 * (b.abs() + 1.0)
    if bool((b < low_end - scale).any() or (b > high_end + scale).any()):
        raise SciflowError("bounded update: no state within the bounds satisfies the conservation law "
                           f"(law {b.flatten()[:3].tolist()}..., reachable "
                           f"[{low_end.min():.6g}, {high_end.max():.6g}])")

    def moved(lam):
        return mean + lam[..., row] * s

    def law(lam):
        return torch.clamp(moved(lam), lo, hi) @ G.T

    support = (G != 0).T.to(torch.float64)  # (N, M)
    width = (b - mean @ G.T).abs() / ((g * s) @ support).clamp(min=1e-300) + 1.0  # Eq. (6)'s |λ|, and some
    a, c = -width, width.clone()
    for _ in range(1100):  # widen until the root is bracketed (a bound can make the law flat)
        short_a, short_c = law(a) > b, law(c) < b
        if not bool(short_a.any() or short_c.any()):
            break
        a, c = torch.where(short_a, 2 * a, a), torch.where(short_c, 2 * c, c)
    for _ in range(iterations):
        mid = 0.5 * (a + c)
        below = law(mid) < b
        a, c = torch.where(below, mid, a), torch.where(below, c, mid)
    lam = 0.5 * (a + c)
    u = moved(lam)
    free = (u > lo) & (u < hi) & in_row
    clamped = torch.clamp(u, lo, hi)
    weight = torch.where(free, g * s, 0.0) @ support  # Σ_free G_ri² σ_i² per row
    rest = torch.where(free, mean, clamped) @ G.T
    exact = torch.where(weight > 0, (b - rest) / weight.clamp(min=1e-300), lam)
    u = torch.where(free, mean + exact[..., row] * s, clamped)
    post_var = torch.where(free, var - s * s / weight[..., row].clamp(min=1e-300), var).clamp(min=0.0)
    return Posterior(u, post_var), free


def bounded_posterior_samples(mean, var, G, b, lo, hi, n: int, generator=None) -> torch.Tensor:
    """n draws (n, N) around :func:`bounded_update`'s state for the prior N(mean, diag var), mean, var (N,).

    The clamped points stay at their bound; the free ones get Matheron draws of Eq. (6) restricted to
    them (v ~ N(0, diag σ²) on the free points, v − Σ Gᵀ A⁻¹ G v), so every draw satisfies G u = b to
    round-off. float64.
    """
    post, free = bounded_update(mean, var, G, b, lo, hi)
    G = _as64(G)
    row, g, _ = _row_layout(G)
    var_free = torch.where(free, _as64(var), 0.0)
    v = torch.randn(n, post.mean.numel(), generator=generator, dtype=torch.float64) * var_free.sqrt()
    s = g * var_free
    weight = (g * s) @ (G != 0).T.to(torch.float64)
    lam = (v @ G.T) / weight.clamp(min=1e-300)
    return post.mean + v - lam[:, row] * s
