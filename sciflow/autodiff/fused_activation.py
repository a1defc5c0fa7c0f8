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

import torch
from torch.autograd.function import once_differentiable

from sciflow.autodiff.jet3 import _chain_indices
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

    Forward keeps U_α = ∂out_α/∂z = s_2 z_α + s_3 A_α + s_4 B_α for the backward.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, bias: torch.Tensor, name: str, dim: int) -> torch.Tensor:
        lo2, lo3, (i2, j2), (i3, j3, k3, ij, ik, jk) = _rows(dim, z.device)
        s = activation_derivatives(name, z[0] + bias, 4)
        out = torch.empty_like(z)
        out[0] = s[0]
        torch.mul(z[1:], s[1], out=out[1:])
        u = z[1:] * s[2]
        second = z[i2] * z[j2]  # A for |α| = 2
        zi, zj, zk = z[i3], z[j3], z[k3]
        prod3 = zi * zj * zk  # B
        mixed = z[ij] * zk + z[ik] * zj + z[jk] * zi  # A for |α| = 3
        out[lo2:lo3].addcmul_(second, s[2])
        out[lo3:].addcmul_(mixed, s[2]).addcmul_(prod3, s[3])
        u[lo2 - 1:lo3 - 1].addcmul_(second, s[3])
        u[lo3 - 1:].addcmul_(mixed, s[3]).addcmul_(prod3, s[4])
        ctx.save_for_backward(z, u, s[1], s[2], s[3])
        ctx.dim = dim
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        z, u, s1, s2, s3 = ctx.saved_tensors
        lo2, lo3, (i2, j2), (i3, j3, k3, ij, ik, jk) = _rows(ctx.dim, z.device)
        gz = torch.empty_like(z)
        torch.mul(g[1:], s1, out=gz[1:])
        ga = torch.addcmul((g[1:] * u).sum(0), g[0], s1, out=gz[0])
        g2, g3 = g[lo2:lo3], g[lo3:]
        w2 = g2 * s2  # ∂L/∂A for |α| = 2
        zi, zj, zk = z[i3], z[j3], z[k3]
        wa, wb = g3 * s2, g3 * s3  # ∂L/∂A and ∂L/∂B for |α| = 3
        gz.index_add_(0, i2, w2 * z[j2])
        gz.index_add_(0, j2, w2 * z[i2])
        gz.index_add_(0, i3, (wb * zj * zk).addcmul_(wa, z[jk]))
        gz.index_add_(0, j3, (wb * zi * zk).addcmul_(wa, z[ik]))
        gz.index_add_(0, k3, (wb * zi * zj).addcmul_(wa, z[ij]))
        gz.index_add_(0, ij, wa * zk)
        gz.index_add_(0, ik, wa * zj)
        gz.index_add_(0, jk, wa * zi)
        return gz, ga.sum(0), None, None


_ROWS: dict = {}


def _rows(dim: int, device) -> tuple:
    """(first order-2 row, first order-3 row, order-2 index lists, order-3 index lists) of
    :func:`~sciflow.autodiff.jet3._chain_indices` (the rows each product of eq. 3 reads), as
    long tensors on ``device``. Rows are ordered by degree, so each order is a contiguous block."""
    key = (dim, str(device))
    if key not in _ROWS:
        _, (o2, *two), (o3, *three) = _chain_indices(dim)
        assert o2 == list(range(o2[0], o3[0])) and o3 == list(range(o3[0], o3[-1] + 1))

        def as_tensors(lists):
            return tuple(torch.tensor(ix, dtype=torch.long, device=device) for ix in lists)

        _ROWS[key] = (o2[0], o3[0], as_tensors(two), as_tensors(three))
    return _ROWS[key]


def activation_jet(z: torch.Tensor, bias: torch.Tensor, name: str, order: int, dim: int) -> torch.Tensor:
    """σ(z + bias) of a stacked jet z (K, N, C) of ``order`` 2 or 3 over ``dim`` inputs → (K, N, C)."""
    if order == 2:
        return ActivationJet2.apply(z, bias, name)
    return ActivationJet3.apply(z, bias, name, dim)
