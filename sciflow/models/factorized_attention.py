"""Factorized (axial-kernel) attention on 3D grids with non-uniform axes, after FactFormer.

FactFormer (Li, Shu & Barati Farimani, NeurIPS 2023, §3.2, eq. 6-8) replaces full attention over
the N = n_x n_y n_z points of a grid by one low-rank kernel per axis.  For a field
u (B, X, Y, Z, C) and each axis a ∈ {x, y, z}:

* axis reduction (eq. 7): r_a(i) = Σ_{other axes} w · φ_a(u)   →  (B, n_a, H·d),
  a quadrature-weighted mean over the other axes of a learned projection φ_a;
* rotary queries/keys on the axis coordinate ξ_a (Su et al. 2021, RoFormer eq. 34):
  q_a = R(ξ_a) W_q r_a,  k_a = R(ξ_a) W_k r_a          (B, H, n_a, d);
* axis kernel without softmax (eq. 6), an integral operator on the actual grid points:
  (K_a f)(ξ_i) = Σ_j q_a(ξ_i)·k_a(ξ_j) ŵ_a(ξ_j) f(ξ_j)  ≈  (1/|Ω_a|) ∫ κ_a(ξ_i, ξ') f(ξ') dξ',
  with ŵ_a the quadrature weights of the axis points divided by the axis length (periodic x, z:
  rectangle rule; wall-normal y with walls: trapezoid rule on the stretched points).

Values v = W_v u (B, H, X, Y, Z, d) are then contracted with the axis kernels:

* ``variant="o"`` (chained, FactFormer / IFactFormer-o): z = K_x ∘ K_y ∘ K_z v, heads merged,
  linear projection to C;
* ``variant="m"`` (parallel, IFactFormer-m; Yang et al., "Implicit factorized transformer
  approach to fast prediction of turbulent channel flows", 2024): z_a = K_a v for each axis
  separately, concatenated in canonical axis order (x, y, z), layer-normalised and projected.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciflow.errors import SciflowError

AXES = ("x", "y", "z")


def quadrature_weights(coord: torch.Tensor, period: float | None = None) -> torch.Tensor:
    """Quadrature weights (n,) of the points ``coord`` (n,) (increasing); they sum to the axis length.

    ``period`` given (periodic axis, points ξ_0 … ξ_{n−1}, ξ_n = ξ_0 + period): trapezoid rule on the
    closed loop, w_j = (ξ_{j+1} − ξ_{j−1}) / 2 (for uniform points the rectangle rule, exact for
    trigonometric polynomials of degree < n).  Otherwise (bounded axis with end points included, e.g.
    y ∈ [−1, 1] with the walls): trapezoid rule, exact for piecewise-linear integrands.
    """
    c = coord.to(torch.float64).flatten()
    n = c.numel()
    if n < 2:
        raise SciflowError(f"quadrature_weights: need at least 2 points, got {n}")
    if torch.any(c[1:] <= c[:-1]):
        raise SciflowError("quadrature_weights: coordinates must be strictly increasing")
    if period is not None:
        ext = torch.cat([c[-1:] - period, c, c[:1] + period])
        return 0.5 * (ext[2:] - ext[:-2])
    h = c[1:] - c[:-1]
    w = torch.zeros_like(c)
    w[:-1] += 0.5 * h
    w[1:] += 0.5 * h
    return w


class RotaryEmbedding(nn.Module):
    """Rotary position embedding on one axis coordinate (RoFormer, Su et al. 2021, eq. 34).

    Channel pairs (2m, 2m+1) of q (…, n, d) are rotated by the angle f_m · φ(ξ), with the integer
    frequencies f_m = 1 … d/2 and the phase φ = 2π ξ / L on a periodic axis of length L (so the kernel is
    periodic) or φ = π (ξ − ξ_0) / L on a bounded axis of length L.  Rotations preserve ‖q‖ and give
    (R(ξ)q)·(R(ξ')k) = q·R(ξ' − ξ)k, a function of the coordinate difference only.
    """

    def __init__(self, dim_head: int):
        super().__init__()
        if dim_head % 2:
            raise SciflowError(f"model.dim_head must be even for rotary embeddings, got {dim_head}")
        self.register_buffer("freqs", torch.arange(1, dim_head // 2 + 1, dtype=torch.float32), persistent=False)

    def forward(self, q: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """q (…, n, d), phase (n,) → rotated q (…, n, d)."""
        ang = phase.to(q.dtype)[:, None] * self.freqs.to(q.dtype)  # (n, d/2)
        cos, sin = torch.cos(ang), torch.sin(ang)
        q1, q2 = q[..., 0::2], q[..., 1::2]
        out = torch.stack((q1 * cos - q2 * sin, q1 * sin + q2 * cos), dim=-1)
        return out.flatten(-2)


def axis_phase(coord: torch.Tensor, period: float | None) -> torch.Tensor:
    """Rotary phase φ (n,) of axis points (see :class:`RotaryEmbedding`)."""
    if period is not None:
        return 2 * math.pi * coord / period
    return math.pi * (coord - coord[0]) / (coord[-1] - coord[0])


def apply_axis_kernel(kernel: torch.Tensor, v: torch.Tensor, axis: int) -> torch.Tensor:
    """Contract kernel (B, H, n_a, n_a) (weights included) with v (B, H, X, Y, Z, d) along spatial
    ``axis`` (0 = x, 1 = y, 2 = z): out[…, i, …] = Σ_j kernel[i, j] v[…, j, …]."""
    eq = {0: "bhij,bhjyzd->bhiyzd", 1: "bhij,bhxjzd->bhxizd", 2: "bhij,bhxyjd->bhxyid"}[axis]
    return torch.einsum(eq, kernel, v)


class FactorizedAttention(nn.Module):
    """Factorized attention on (B, X, Y, Z, C) fields (module docstring).

    Args:
        dim: channels C of the field.  heads, dim_head: H and d.  variant: ``"o"`` | ``"m"``.
        periods: period of each axis (None for a bounded axis), e.g. (L_x, None, L_z) for the channel.

    ``forward(u, coords, axes=("x","y","z"))``: coords = (ξ_x (X,), ξ_y (Y,), ξ_z (Z,)); ``axes`` is the
    order the kernels are built and applied in (for ``m`` the result does not depend on it; the linear
    kernels of ``o`` act on different indices and commute, so neither does its result, up to round-off).
    """

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32, variant: str = "m",
                 periods: tuple = (1.0, None, 1.0)):
        super().__init__()
        if variant not in ("m", "o"):
            raise SciflowError(f"model.variant must be 'm' or 'o', got {variant!r}")
        self.heads, self.dim_head, self.variant, self.periods = heads, dim_head, variant, tuple(periods)
        inner = heads * dim_head
        self.reduce = nn.ModuleList([nn.Sequential(nn.Linear(dim, inner), nn.GELU(), nn.Linear(inner, inner))
                                     for _ in AXES])
        self.to_qk = nn.ModuleList([nn.Linear(inner, 2 * inner, bias=False) for _ in AXES])
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.rotary = RotaryEmbedding(dim_head)
        if variant == "m":
            self.merge = nn.Sequential(nn.LayerNorm(3 * inner), nn.Linear(3 * inner, dim))
        else:
            self.merge = nn.Linear(inner, dim)

    def weights(self, coords) -> list[torch.Tensor]:
        """Normalised quadrature weights ŵ_a (n_a,) of each axis (sum 1)."""
        out = []
        for c, p in zip(coords, self.periods):
            w = quadrature_weights(c, p)
            out.append((w / w.sum()))
        return out

    def axis_features(self, u: torch.Tensor, weights) -> list[torch.Tensor]:
        """Axis reductions r_a (B, n_a, H·d) of eq. 7 for a = x, y, z.

        r_a = W₂ᵃ (Σ_other ŵ GELU(W₁ᵃ u + b₁ᵃ)) + b₂ᵃ: the three first layers run as one matmul, and the second
        (linear) layer is applied after the weighted mean, which it commutes with (the weights sum to 1), so
        the result equals the MLP-then-mean form exactly while the second layer acts on n_a rows only."""
        first = [r[0] for r in self.reduce]
        h = nn.functional.gelu(nn.functional.linear(u, torch.cat([f.weight for f in first]),
                                                    torch.cat([f.bias for f in first])))
        out = []
        for a, f in enumerate(h.chunk(3, dim=-1)):  # (B, X, Y, Z, H·d) each
            for other in (o for o in (0, 1, 2) if o != a):  # quadrature-weighted mean over the other axes
                shape = [1, 1, 1, 1, 1]
                shape[1 + other] = -1
                f = (f * weights[other].to(f.dtype).view(shape)).sum(1 + other, keepdim=True)
            out.append(self.reduce[a][2](f.reshape(u.shape[0], -1, f.shape[-1])))
        return out

    def axis_kernel(self, r: torch.Tensor, a: int, coords, weights) -> torch.Tensor:
        """Kernel of axis a from its reduction r (B, n_a, H·d): (B, H, n_a, n_a), entry [i, j] =
        q_a(ξ_i)·k_a(ξ_j) ŵ_a(ξ_j)."""
        b = r.shape[0]
        q, k = self.to_qk[a](r).chunk(2, dim=-1)
        q = q.reshape(b, -1, self.heads, self.dim_head).transpose(1, 2)  # (B, H, n_a, d)
        k = k.reshape(b, -1, self.heads, self.dim_head).transpose(1, 2)
        phase = axis_phase(coords[a].to(r.dtype), self.periods[a])
        q, k = self.rotary(q, phase), self.rotary(k, phase)
        return torch.einsum("bhid,bhjd->bhij", q, k) * weights[a].to(r.dtype)

    def forward(self, u: torch.Tensor, coords, axes=AXES) -> torch.Tensor:
        """u (B, X, Y, Z, C) → (B, X, Y, Z, C)."""
        if u.dim() != 5:
            raise SciflowError(f"FactorizedAttention: expects (B, X, Y, Z, C), got shape {tuple(u.shape)}")
        order = [AXES.index(a) for a in axes]
        if sorted(order) != [0, 1, 2]:
            raise SciflowError(f"FactorizedAttention: axes must list x, y, z once each, got {axes}")
        b, nx, ny, nz, _ = u.shape
        weights = self.weights(coords)
        v = self.to_v(u).reshape(b, nx, ny, nz, self.heads, self.dim_head).permute(0, 4, 1, 2, 3, 5)
        feats = self.axis_features(u, weights)
        kernels = {a: self.axis_kernel(feats[a], a, coords, weights) for a in order}
        if self.variant == "o":
            z = v
            for a in order:
                z = apply_axis_kernel(kernels[a], z, a)
            return self.merge(z.permute(0, 2, 3, 4, 1, 5).reshape(b, nx, ny, nz, -1))
        parts = {a: apply_axis_kernel(kernels[a], v, a) for a in order}
        z = torch.cat([parts[a].permute(0, 2, 3, 4, 1, 5).reshape(b, nx, ny, nz, -1) for a in (0, 1, 2)], dim=-1)
        return self.merge(z)
