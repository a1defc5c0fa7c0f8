"""The activation of a stacked jet as compiler-fused kernels: eqs. (1)–(3) of
:mod:`sciflow.autodiff.fused_activation` written as pure functions of whole rows, which TorchInductor
fuses into one loop per direction (C++ on a CPU, Triton on CUDA).

The eager kernels of :mod:`~sciflow.autodiff.fused_activation` write every product into
preallocated rows (fast op by op); that in-place form defeats the compiler's fusion, so the compiled path
is this functional twin of the same equations. Each row op of the eager path reads and writes a
(N, C) row through memory; the fused loop reads Z (and G) once. Used when a run sets ``compile: true``
(:meth:`sciflow.models.layers.MLP.compile_jets`); the two agree to round-off
(``tests/autodiff/test_fused_activation.py``).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from sciflow.autodiff.fused_activation import ThirdOrderTerms, activation_derivatives, third_order_terms


def jet2_forward(z: torch.Tensor, bias: torch.Tensor, name: str) -> tuple:
    """Eq. (1): Z (1 + 2D, N, C) → out (1 + 2D, N, C), and what the backward needs: the first-order rows
    z_i (D, N, C), s_1 (N, C), U (2D, N, C) = ∂out/∂z of the derivative rows."""
    d = (z.shape[0] - 1) // 2
    s0, s1, s2, s3 = activation_derivatives(name, z[0] + bias, 3)
    z1, z2 = z[1:1 + d], z[1 + d:]
    out = torch.cat([s0.unsqueeze(0), z1 * s1, z2 * s1 + z1 * z1 * s2], 0)
    u = torch.cat([z1 * s2, z2 * s2 + z1 * z1 * s3], 0)
    return out, z1, s1, u


def jet2_backward(g: torch.Tensor, z1: torch.Tensor, s1: torch.Tensor, u: torch.Tensor) -> tuple:
    """Eq. (2): the upstream gradient G (1 + 2D, N, C) → (∂L/∂Z (1 + 2D, N, C), ∂L/∂bias (C,))."""
    d = z1.shape[0]
    ga = g[0] * s1 + (g[1:] * u).sum(0)
    gz = torch.cat([ga.unsqueeze(0), g[1:1 + d] * s1 + 2.0 * u[:d] * g[1 + d:], g[1 + d:] * s1], 0)
    return gz, ga.sum(0)


def jet3_forward(z: torch.Tensor, bias: torch.Tensor, name: str, t: ThirdOrderTerms) -> tuple:
    """Eq. (3): Z (K, N, C) over the inputs of the rows ``t`` (``third_order_terms(dim)``) → out (K, N, C),
    and for the backward U (K − 1, N, C),
    s_1, s_2, s_3 (N, C) and the products z_i z_j of first-order rows stacked (P, N, C), i ≤ j."""
    s = activation_derivatives(name, z[0] + bias, 4)
    pair = [z[a] * z[b] for a, b in t.pairs]
    out = [s[0]] + [z[r] * s[1] for r in range(1, z.shape[0])]
    u = [z[r] * s[2] for r in range(1, z.shape[0])]
    for row, p in t.second:
        out[row] = out[row] + pair[p] * s[2]
        u[row - 1] = u[row - 1] + pair[p] * s[3]
    for row, mixed, p, k in t.third:
        amix = sum(c * z[a] * z[b] for a, b, c in mixed)
        prod = pair[p] * z[k]
        out[row] = out[row] + amix * s[2] + prod * s[3]
        u[row - 1] = u[row - 1] + amix * s[3] + prod * s[4]
    return torch.stack(out), torch.stack(u), s[1], s[2], s[3], torch.stack(pair)


def jet3_backward(g: torch.Tensor, z: torch.Tensor, u: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor,
                  s3: torch.Tensor, pair: torch.Tensor, t: ThirdOrderTerms) -> tuple:
    """The gradient of eq. (3): G (K, N, C) → (∂L/∂Z (K, N, C), ∂L/∂bias (C,))."""
    ga = g[0] * s1 + (g[1:] * u).sum(0)
    gz = [ga] + [g[r] * s1 for r in range(1, z.shape[0])]
    for (row, _), (a, b) in zip(t.second, t.pairs):
        w = g[row] * s2
        if a == b:
            gz[a] = gz[a] + 2.0 * w * z[a]
        else:
            gz[a] = gz[a] + w * z[b]
            gz[b] = gz[b] + w * z[a]
    for (row, mixed, _, _), factors in zip(t.third, t.product_factors):
        wa, wb = g[row] * s2, g[row] * s3
        for a, b, c in mixed:
            gz[a] = gz[a] + c * wa * z[b]
            gz[b] = gz[b] + c * wa * z[a]
        for f, p, m in factors:
            gz[f] = gz[f] + m * wb * pair[p]
    return torch.stack(gz), ga.sum(0)


# compiled on first call; the activation name and the row terms are constants of each compiled graph,
# and a number of points that changes between calls recompiles once with that size dynamic
_jet2_forward = torch.compile(jet2_forward)
_jet2_backward = torch.compile(jet2_backward)
_jet3_forward = torch.compile(jet3_forward)
_jet3_backward = torch.compile(jet3_backward)


class CompiledActivationJet2(torch.autograd.Function):
    """σ applied to a stacked second-order jet (eqs. 1–2) through the compiled kernels."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, bias: torch.Tensor, name: str) -> torch.Tensor:
        out, z1, s1, u = _jet2_forward(z, bias, name)
        ctx.save_for_backward(z1, s1, u)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        gz, gb = _jet2_backward(g.contiguous(), *ctx.saved_tensors)
        return gz, gb, None


class CompiledActivationJet3(torch.autograd.Function):
    """σ applied to a stacked third-order jet (eq. 3) through the compiled kernels."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, bias: torch.Tensor, name: str, dim: int) -> torch.Tensor:
        ctx.terms = third_order_terms(dim)
        out, u, s1, s2, s3, pairs = _jet3_forward(z, bias, name, ctx.terms)
        ctx.save_for_backward(z, u, s1, s2, s3, pairs)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        gz, gb = _jet3_backward(g.contiguous(), *ctx.saved_tensors, ctx.terms)
        return gz, gb, None, None


def compiled_activation_jet(z: torch.Tensor, bias: torch.Tensor, name: str, order: int, dim: int) -> torch.Tensor:
    """:func:`~sciflow.autodiff.fused_activation.activation_jet` through the compiled kernels: σ(z + bias) of a
    stacked jet z (K, N, C) of ``order`` 2 or 3 over ``dim`` inputs → (K, N, C)."""
    if order == 2:
        return CompiledActivationJet2.apply(z, bias, name)
    return CompiledActivationJet3.apply(z, bias, name, dim)
