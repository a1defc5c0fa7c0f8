"""A pointwise activation applied to a *stacked* Taylor jet, as one autograd function.

Inside a network the jet of a layer's pre-activation is held as one tensor

    Z  (K, N, C)    row 0 the value z, rows 1.. its input derivatives, at N points, C channels

so that an affine layer is one matmul over all K·N rows (bias on row 0 only), and the chain
rule for σ(z) is written out by hand, forward and backward, from the activation's derivatives
σ', σ'', σ''' (and σ'''' for the backward of the third-order jet) instead of being recorded
op by op by autograd (each recorded broadcast product would cost its own backward and
reduction). Two row layouts, the same as :class:`~sciflow.autodiff.jet.Jet` and
:class:`~sciflow.autodiff.jet3.Jet3` hold:

* order 2, K = 1 + 2D: rows 1..D the first derivatives z_i, rows D+1..2D the pure second
  derivatives z_ii. With s_k = σ^(k)(z):

      out_0 = s_0,   out_i = s_1 z_i,   out_ii = s_1 z_ii + s_2 z_i²                         (1)

  and for an upstream gradient G (same rows), with Σ over i = 1..D:

      ∂L/∂z_ii = s_1 G_ii
      ∂L/∂z_i  = s_1 G_i + 2 s_2 z_i G_ii                                                     (2)
      ∂L/∂z    = s_1 G_0 + s_2 Σ (G_i z_i + G_ii z_ii) + s_3 Σ G_ii z_i²

* order 3, rows in :func:`~sciflow.autodiff.jet3.multi_indices` order (all ∂^α z, |α| ≤ 3):
  forward is eq. (1) of :mod:`sciflow.autodiff.jet3`, which has the form

      out_α = s_1 z_α + s_2 A_α + s_3 B_α      (α ≠ 0)                                        (3)
      A_ij = z_i z_j,  A_ijk = z_ij z_k + z_ik z_j + z_jk z_i,  B_ijk = z_i z_j z_k  (others 0)

  so ∂L/∂z = s_1 G_0 + s_2 Σ_α G_α z_α + s_3 Σ_α G_α A_α + s_4 Σ_α G_α B_α, and the
  gradients of the lower rows are those of the products A and B (index-added, since one
  row z_i enters several α).

Both functions are differentiable once (enough for a PINN loss and its parameter gradient).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch.autograd.function import once_differentiable

from sciflow.autodiff.jet3 import multi_indices
from sciflow.errors import SciflowError

ACTIVATIONS = ("tanh", "sin")


def activation_derivatives(name: str, a: torch.Tensor, upto: int) -> list[torch.Tensor]:
    """[σ(a), σ'(a), …, σ^(upto)(a)] (each the shape of a) for ``name`` in ACTIVATIONS, upto ≤ 4.

    tanh from t = tanh a, s = 1 − t²: σ' = s, σ'' = −2ts, σ''' = −2s(1 − 3t²), σ'''' = 8ts(2 − 3t²).
    """
    if name == "tanh":
        t = torch.tanh(a)
        s = 1.0 - t * t
        out = [t, s, -2.0 * t * s]
        if upto >= 3:
            out.append(-2.0 * s * (1.0 - 3.0 * t * t))
        if upto >= 4:
            out.append(8.0 * t * s * (2.0 - 3.0 * t * t))
        return out[:upto + 1]
    if name == "sin":
        s, c = torch.sin(a), torch.cos(a)
        return [s, c, -s, -c, s][:upto + 1]
    raise SciflowError(f"activation '{name}' is not one of {ACTIVATIONS}")


class ActivationJet2(torch.autograd.Function):
    """σ applied to a stacked second-order jet (eqs. 1–2): Z (1 + 2D, N, C), bias (C,) added to
    row 0 → (1 + 2D, N, C).

    Forward also keeps U = ∂out/∂z for the derivative rows (U_i = s_2 z_i, U_ii = s_2 z_ii + s_3 z_i²),
    so that the backward's ∂L/∂z = s_1 G_0 + Σ_rows G U is one product and one sum.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, bias: torch.Tensor, name: str) -> torch.Tensor:
        d = (z.shape[0] - 1) // 2
        s0, s1, s2, s3 = activation_derivatives(name, z[0] + bias, 3)
        z1, z2 = z[1:1 + d], z[1 + d:]
        out = torch.empty_like(z)
        out[0] = s0
        u = torch.empty_like(out[1:])  # ∂out_rows/∂z (2D, N, C)
        torch.mul(z1, s2, out=u[:d])
        torch.mul(z1, s1, out=out[1:1 + d])
        torch.addcmul(z2 * s1, u[:d], z1, out=out[1 + d:])  # s_1 z_ii + s_2 z_i²
        sq = z1 * z1
        torch.addcmul(z2 * s2, sq, s3, out=u[d:])
        ctx.save_for_backward(z1, s1, u)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        z1, s1, u = ctx.saved_tensors
        d = z1.shape[0]
        gz = torch.empty_like(g)
        torch.mul(g[1:], s1, out=gz[1:])
        gz[1:1 + d].addcmul_(u[:d], g[1 + d:], value=2.0)  # + 2 s_2 z_i G_ii
        ga = torch.addcmul((g[1:] * u).sum(0), g[0], s1, out=gz[0])
        return gz, ga.sum(0), None


class ActivationJet3(torch.autograd.Function):
    """σ applied to a stacked third-order jet (eq. 3): Z (K, N, C) with the K multi-indices of
    ``dim`` inputs, bias (C,) added to row 0 → (K, N, C).

    Row by row (each (N, C)): the products z_i z_j of first-order rows are formed once and serve
    as A for |α| = 2 and, times z_k, as B; the terms of A for |α| = 3 that coincide (z_xx z_x
    three times in A_xxx) are merged. Forward keeps U_α = ∂out_α/∂z = s_2 z_α + s_3 A_α + s_4 B_α.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, bias: torch.Tensor, name: str, dim: int) -> torch.Tensor:
        t = third_order_terms(dim)
        s = activation_derivatives(name, z[0] + bias, 4)
        out = torch.empty_like(z)
        out[0] = s[0]
        torch.mul(z[1:], s[1], out=out[1:])
        u = z[1:] * s[2]  # row α of z is row α − 1 of u
        pair = [z[a] * z[b] for a, b in t.pairs]
        for row, p in t.second:
            out[row].addcmul_(pair[p], s[2])
            u[row - 1].addcmul_(pair[p], s[3])
        for row, mixed, p, k in t.third:
            (a, b, c), *rest = mixed
            amix = torch.mul(z[a], z[b]) if c == 1 else torch.mul(z[a], z[b]).mul_(c)
            for a, b, c in rest:
                amix.addcmul_(z[a], z[b], value=c)
            prod = pair[p] * z[k]
            out[row].addcmul_(amix, s[2]).addcmul_(prod, s[3])
            u[row - 1].addcmul_(amix, s[3]).addcmul_(prod, s[4])
        ctx.save_for_backward(z, u, s[1], s[2], s[3], *pair)
        ctx.dim = dim
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        z, u, s1, s2, s3, *pair = ctx.saved_tensors
        t = third_order_terms(ctx.dim)
        gz = torch.empty_like(z)
        torch.mul(g[1:], s1, out=gz[1:])
        ga = torch.addcmul((g[1:] * u).sum(0), g[0], s1, out=gz[0])
        for (row, p), (a, b) in zip(t.second, t.pairs):
            w = g[row] * s2
            if a == b:
                gz[a].addcmul_(w, z[a], value=2.0)
            else:
                gz[a].addcmul_(w, z[b])
                gz[b].addcmul_(w, z[a])
        for (row, mixed, _, _), factors in zip(t.third, t.product_factors):
            wa, wb = g[row] * s2, g[row] * s3
            for a, b, c in mixed:
                gz[a].addcmul_(wa, z[b], value=c)
                gz[b].addcmul_(wa, z[a], value=c)
            for f, p, m in factors:
                gz[f].addcmul_(wb, pair[p], value=m)
        return gz, ga.sum(0), None, None


@dataclass(frozen=True)
class ThirdOrderTerms:
    """Rows (in multi-index order) that the products of eq. (3) read, for ``dim`` inputs:

    pairs            (row of z_i, row of z_j) for i ≤ j: the products z_i z_j, formed once
    second           (row of α = e_i + e_j, index into pairs), in the order of pairs
    third            (row of α = e_i + e_j + e_k, A's merged terms ((row of z_ij, row of z_k, count), ...),
                      index into pairs of (i, j), row of z_k)
    product_factors  for each entry of third, ∂B/∂z_f as ((row of z_f, index into pairs of the other
                      two factors, multiplicity of f), ...)
    """

    pairs: tuple
    second: tuple
    third: tuple
    product_factors: tuple


@lru_cache(maxsize=None)
def third_order_terms(dim: int) -> ThirdOrderTerms:
    index = {a: k for k, a in enumerate(multi_indices(dim))}

    def row(*axes):
        e = [0] * dim
        for i in axes:
            e[i] += 1
        return index[tuple(e)]

    axis_pairs = [(i, j) for i in range(dim) for j in range(i, dim)]
    pair_at = {p: n for n, p in enumerate(axis_pairs)}
    third, factors = [], []
    for axes in itertools.combinations_with_replacement(range(dim), 3):
        i, j, k = axes
        merged = {}
        for (a, b), c in (((i, j), k), ((i, k), j), ((j, k), i)):
            key = (row(a, b), row(c))
            merged[key] = merged.get(key, 0) + 1
        third.append((row(*axes), tuple((a, b, float(n)) for (a, b), n in merged.items()), pair_at[i, j], row(k)))
        grads = []
        for f in sorted(set(axes)):
            rest = list(axes)
            rest.remove(f)
            grads.append((row(f), pair_at[tuple(rest)], float(axes.count(f))))
        factors.append(tuple(grads))
    return ThirdOrderTerms(pairs=tuple((row(i), row(j)) for i, j in axis_pairs),
                  second=tuple((row(i, j), pair_at[i, j]) for i, j in axis_pairs),
                  third=tuple(third), product_factors=tuple(factors))


def activation_jet(z: torch.Tensor, bias: torch.Tensor, name: str, order: int, dim: int) -> torch.Tensor:
    """σ(z + bias) of a stacked jet z (K, N, C) of ``order`` 2 or 3 over ``dim`` inputs → (K, N, C)."""
    if order == 2:
        return ActivationJet2.apply(z, bias, name)
    return ActivationJet3.apply(z, bias, name, dim)
