"""Full third-order Taylor jets: a field with all its partial derivatives up to order 3.

A stream-function PINN predicts ψ and sets u = ∂ψ/∂y, v = −∂ψ/∂x, so the momentum
equations need *mixed* third derivatives of ψ (∇²u = ψ_xxy + ψ_yyy). The second-order
:class:`~sciflow.autodiff.jet.Jet` carries only pure second derivatives; a :class:`Jet3`
carries every partial derivative ∂^α f with |α| ≤ 3 (α a multi-index of exponents):

    d  (N, K, C)    d[:, k] = ∂^{α_k} f for the K multi-indices α_0 = 0, α_1 .. α_K−1
                    (K = 10 for D = 2 inputs, 20 for D = 3), ordered by degree

and propagates them forward through affine maps (linear), pointwise functions (the
multivariate Faà di Bruno formula, eq. 1) and products (the Leibniz rule, eq. 2):

    ∂_i σ(z)    = σ' z_i
    ∂_ij σ(z)   = σ'' z_i z_j + σ' z_ij                                           (1)
    ∂_ijk σ(z)  = σ''' z_i z_j z_k + σ''(z_ij z_k + z_ik z_j + z_jk z_i) + σ' z_ijk

    ∂^α (f g)   = Σ_{β ≤ α} Π_i C(α_i, β_i) ∂^β f ∂^{α−β} g                        (2)

:func:`autograd_jet3` computes the same jet with nested reverse-mode autograd (used for the
fixed lift/distance functions of a hard-constraint ansatz, and by the tests as the check).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from sciflow.autodiff.jet import Jet

ORDER = 3


@lru_cache(maxsize=None)
def multi_indices(dim: int) -> tuple[tuple[int, ...], ...]:
    """All exponent tuples α (length ``dim``) with |α| ≤ 3, ordered by degree then lexicographically."""
    out = []
    for degree in range(ORDER + 1):
        level = [a for a in itertools.product(range(degree + 1), repeat=dim) if sum(a) == degree]
        out.extend(sorted(level, reverse=True))
    return tuple(out)


@lru_cache(maxsize=None)
def _index(dim: int) -> dict[tuple[int, ...], int]:
    return {a: k for k, a in enumerate(multi_indices(dim))}


def _unit_sum(dim: int, *axes: int) -> tuple[int, ...]:
    a = [0] * dim
    for i in axes:
        a[i] += 1
    return tuple(a)


@lru_cache(maxsize=None)
def _leibniz_terms(dim: int) -> tuple[tuple[int, tuple[tuple[float, int, int], ...]], ...]:
    """For each α: the terms (coefficient, index of β, index of α − β) of eq. (2)."""
    idx = _index(dim)
    table = []
    for a in multi_indices(dim):
        terms = []
        for b in itertools.product(*(range(ai + 1) for ai in a)):
            coef = math.prod(math.comb(ai, bi) for ai, bi in zip(a, b))
            terms.append((float(coef), idx[b], idx[tuple(ai - bi for ai, bi in zip(a, b))]))
        table.append((idx[a], tuple(terms)))
    return tuple(table)


@lru_cache(maxsize=None)
def _chain_indices(dim: int):
    """Index lists for eq. (1), per order: positions of each α = e_i + e_j (+ e_k), i ≤ j ≤ k,
    and of the lower derivatives z_i, z_j, z_k, z_ij, z_ik, z_jk its terms multiply."""
    idx = _index(dim)

    def at(*axes):
        return idx[_unit_sum(dim, *axes)]

    by_order = {1: [], 2: [], 3: []}
    for a in multi_indices(dim)[1:]:
        by_order[sum(a)].append([i for i, ai in enumerate(a) for _ in range(ai)])
    one, two, three = by_order[1], by_order[2], by_order[3]
    return (([at(*a) for a in one],),
            ([at(*a) for a in two], [at(a[0]) for a in two], [at(a[1]) for a in two]),
            ([at(*a) for a in three], [at(a[0]) for a in three], [at(a[1]) for a in three],
             [at(a[2]) for a in three], [at(a[0], a[1]) for a in three], [at(a[0], a[2]) for a in three],
             [at(a[1], a[2]) for a in three]))


@dataclass
class Jet3:
    """All partial derivatives of order ≤ 3 of C channels at N points: ``d`` (N, K, C)."""

    d: torch.Tensor
    dim: int

    @staticmethod
    def of_inputs(x: torch.Tensor) -> "Jet3":
        """Jet of the identity map x ↦ x at x (N, D): value x, ∂_i x_j = δ_ij, higher = 0."""
        n, dim = x.shape
        idx = _index(dim)
        d = x.new_zeros(n, len(idx), dim)
        d[:, 0] = x
        for i in range(dim):
            d[:, idx[_unit_sum(dim, i)], i] = 1.0
        return Jet3(d, dim)

    def stacked(self) -> torch.Tensor:
        """The derivatives as rows (K, N, C), contiguous (the layout of
        :mod:`sciflow.autodiff.fused_activation`)."""
        return self.d.transpose(0, 1).contiguous()

    @staticmethod
    def from_stacked(rows: torch.Tensor, dim: int) -> "Jet3":
        """Inverse of :meth:`stacked`: rows (K, N, C) → Jet3 (a view, no copy)."""
        return Jet3(rows.transpose(0, 1), dim)

    @property
    def value(self) -> torch.Tensor:
        return self.d[:, 0]

    @property
    def d1(self) -> torch.Tensor:
        """First derivatives (N, D, C), as :attr:`Jet.d1`."""
        return torch.stack([self.partial(i) for i in range(self.dim)], 1)

    @property
    def d2(self) -> torch.Tensor:
        """Pure second derivatives (N, D, C), as :attr:`Jet.d2`."""
        return torch.stack([self.partial(i, i) for i in range(self.dim)], 1)

    def partial(self, *axes: int) -> torch.Tensor:
        """∂_{axes} f (N, C), e.g. ``partial(0, 1, 1)`` = ∂³f/∂x∂y²; ``partial()`` = f."""
        return self.d[:, _index(self.dim)[_unit_sum(self.dim, *axes)]]

    def __getitem__(self, c) -> "Jet3":
        if isinstance(c, int):
            c = slice(c, c + 1)
        return Jet3(self.d[..., c], self.dim)

    def __add__(self, other: "Jet3") -> "Jet3":
        return Jet3(self.d + other.d, self.dim)

    def __mul__(self, other: "Jet3") -> "Jet3":
        """Leibniz rule, eq. (2), channel-wise."""
        a, b = self.d, other.d
        out = [None] * a.shape[1]
        for k, terms in _leibniz_terms(self.dim):
            out[k] = sum(coef * a[:, i] * b[:, j] for coef, i, j in terms)
        return Jet3(torch.stack(out, 1), self.dim)

    def scale(self, s) -> "Jet3":
        return Jet3(self.d * s, self.dim)

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Jet3":
        """Affine map f Wᵀ + b (bias on the value only)."""
        d = self.d @ weight.T
        if bias is not None:
            d = torch.cat([d[:, :1] + bias, d[:, 1:]], 1)
        return Jet3(d, self.dim)

    def apply(self, f0, f1, f2, f3) -> "Jet3":
        """Eq. (1) for a pointwise σ with σ(z) = f0, σ' = f1, σ'' = f2, σ''' = f3 (each (N, C)),
        vectorised over the multi-indices of each order."""
        (o1,), (o2, i2, j2), (o3, i3, j3, k3, ij, ik, jk) = _chain_indices(self.dim)
        d = self.d
        f1, f2, f3 = f1.unsqueeze(1), f2.unsqueeze(1), f3.unsqueeze(1)
        first = f1 * d[:, o1]
        second = f2 * d[:, i2] * d[:, j2] + f1 * d[:, o2]
        third = (f3 * d[:, i3] * d[:, j3] * d[:, k3]
                 + f2 * (d[:, ij] * d[:, k3] + d[:, ik] * d[:, j3] + d[:, jk] * d[:, i3]) + f1 * d[:, o3])
        return Jet3(torch.cat([f0.unsqueeze(1), first, second, third], 1), self.dim)

    def tanh(self) -> "Jet3":
        t = torch.tanh(self.value)
        s = 1.0 - t * t
        return self.apply(t, s, -2.0 * t * s, -2.0 * s * (1.0 - 3.0 * t * t))

    def sin(self) -> "Jet3":
        s, c = torch.sin(self.value), torch.cos(self.value)
        return self.apply(s, c, -s, -c)

    def cos(self) -> "Jet3":
        s, c = torch.sin(self.value), torch.cos(self.value)
        return self.apply(c, -s, -c, s)

    def cat(self, other: "Jet3") -> "Jet3":
        return Jet3(torch.cat([self.d, other.d], -1), self.dim)

    def detach(self) -> "Jet3":
        return Jet3(self.d.detach(), self.dim)

    def velocity_pressure(self) -> Jet:
        """(ψ, p) channels over (x, y, ...) → the second-order Jet of (u, v, p) = (ψ_y, −ψ_x, p).

        Value (N, 3), d1 (N, D, 3), d2 (N, D, 3) (pure second derivatives), as residuals expect.
        """
        z, dim = self.partial, self.dim
        psi, p = 0, 1
        u = [z(1)[:, psi]] + [z(i, 1)[:, psi] for i in range(dim)] + [z(i, i, 1)[:, psi] for i in range(dim)]
        v = [-z(0)[:, psi]] + [-z(i, 0)[:, psi] for i in range(dim)] + [-z(i, i, 0)[:, psi] for i in range(dim)]
        q = [z()[:, p]] + [z(i)[:, p] for i in range(dim)] + [z(i, i)[:, p] for i in range(dim)]
        cols = [torch.stack(f, 1) for f in (u, v, q)]  # each (N, 1 + 2D)
        full = torch.stack(cols, -1)  # (N, 1 + 2D, 3)
        return Jet(full[:, 0], full[:, 1:1 + dim], full[:, 1 + dim:])


def autograd_jet3(fn, x: torch.Tensor, create_graph: bool = False) -> Jet3:
    """The Jet3 of a pointwise ``fn``: (N, D) → (N, C) at x by nested reverse-mode autograd."""
    n, dim = x.shape
    idx = _index(dim)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        y = fn(xg)
        d = [None] * len(idx)
        d[0] = y

        def grad(f):
            if not f.requires_grad:
                return torch.zeros_like(xg)
            (g,) = torch.autograd.grad(f.sum(), xg, create_graph=True, allow_unused=True)
            return torch.zeros_like(xg) if g is None else g

        chans = y.shape[1]
        first = [grad(y[:, c]) for c in range(chans)]  # each (N, D)
        for i in range(dim):
            d[idx[_unit_sum(dim, i)]] = torch.stack([first[c][:, i] for c in range(chans)], 1)
        second = {}
        for i in range(dim):
            gi = [grad(first[c][:, i]) for c in range(chans)]
            for j in range(i, dim):
                second[i, j] = [gi[c][:, j] for c in range(chans)]
                d[idx[_unit_sum(dim, i, j)]] = torch.stack(second[i, j], 1)
        for i in range(dim):
            for j in range(i, dim):
                gij = [grad(second[i, j][c]) for c in range(chans)]
                for k in range(j, dim):
                    d[idx[_unit_sum(dim, i, j, k)]] = torch.stack([gij[c][:, k] for c in range(chans)], 1)
        out = torch.stack(d, 1)
    return Jet3(out if create_graph else out.detach(), dim)
