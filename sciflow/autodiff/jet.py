"""Taylor jets: a field's values with its first and pure second derivatives w.r.t. the inputs.

PDE residuals of second-order equations need ``f``, ``∂f/∂x_i`` and ``∂²f/∂x_i²``.
A :class:`Jet` carries them together:

    value  (N, C)      f at N points, C channels
    d1     (N, D, C)   ∂f/∂x_i for each of the D inputs
    d2     (N, D, C)   ∂²f/∂x_i² (the diagonal of the Hessian)

Jets combine with the product and chain rules, so a hard-constraint ansatz
``u = lift + distance * raw`` and a network's forward pass can propagate derivatives
forward in one sweep (forward-mode Taylor arithmetic) instead of nested reverse-mode
autograd. :func:`autograd_jet` computes the same jet with ``torch.autograd`` for any
function; tests check that both agree to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciflow.errors import SciflowError


@dataclass
class Jet:
    value: torch.Tensor  # (N, C)
    d1: torch.Tensor  # (N, D, C)
    d2: torch.Tensor  # (N, D, C)

    @staticmethod
    def of_inputs(x: torch.Tensor) -> "Jet":
        """Jet of the identity map x ↦ x: value (N, D), d1 = I, d2 = 0."""
        n, d = x.shape
        eye = torch.eye(d, dtype=x.dtype, device=x.device).expand(n, d, d)
        return Jet(x, eye, torch.zeros_like(eye))

    @staticmethod
    def constant(value: torch.Tensor, dim: int) -> "Jet":
        n, c = value.shape
        z = value.new_zeros(n, dim, c)
        return Jet(value, z, z)

    def stacked(self) -> torch.Tensor:
        """The jet as one tensor of rows (1 + 2D, N, C): f, then ∂_i f, then ∂²f/∂x_i² (the layout of
        :mod:`sciflow.autodiff.fused_activation`, in which a layer is one matmul over all rows)."""
        return torch.cat([self.value.unsqueeze(0), self.d1.transpose(0, 1), self.d2.transpose(0, 1)], 0)

    @staticmethod
    def from_stacked(rows: torch.Tensor) -> "Jet":
        """Inverse of :meth:`stacked`: rows (1 + 2D, N, C) → Jet (views, no copy)."""
        d = (rows.shape[0] - 1) // 2
        return Jet(rows[0], rows[1:1 + d].transpose(0, 1), rows[1 + d:].transpose(0, 1))

    @property
    def channels(self) -> int:
        return self.value.shape[-1]

    def __getitem__(self, c) -> "Jet":
        """Select channels: ``jet[0]`` or ``jet[1:3]`` (keeps the channel dim)."""
        if isinstance(c, int):
            c = slice(c, c + 1)
        return Jet(self.value[..., c], self.d1[..., c], self.d2[..., c])

    def __add__(self, other: "Jet") -> "Jet":
        return Jet(self.value + other.value, self.d1 + other.d1, self.d2 + other.d2)

    def __mul__(self, other: "Jet") -> "Jet":
        """Product rule: (ab)' = a'b + ab', (ab)'' = a''b + 2a'b' + ab''."""
        a, b = self, other
        av, bv = a.value.unsqueeze(1), b.value.unsqueeze(1)
        return Jet(
            a.value * b.value,
            a.d1 * bv + av * b.d1,
            a.d2 * bv + 2.0 * a.d1 * b.d1 + av * b.d2,
        )

    def scale(self, s: float) -> "Jet":
        return Jet(self.value * s, self.d1 * s, self.d2 * s)

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Jet":
        """Affine map z = f Wᵀ + b applied channel-wise to value and derivatives."""
        value = self.value @ weight.T
        if bias is not None:
            value = value + bias
        return Jet(value, self.d1 @ weight.T, self.d2 @ weight.T)

    def apply(self, f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> "Jet":
        """Chain rule for a pointwise function with σ(z)=f0, σ'(z)=f1, σ''(z)=f2 (each (N, C))."""
        g1 = f1.unsqueeze(1)
        return Jet(f0, g1 * self.d1, g1 * self.d2 + f2.unsqueeze(1) * self.d1 * self.d1)

    def tanh(self) -> "Jet":
        t = torch.tanh(self.value)
        s = 1.0 - t * t
        return self.apply(t, s, -2.0 * t * s)

    def sin(self) -> "Jet":
        s, c = torch.sin(self.value), torch.cos(self.value)
        return self.apply(s, c, -s)

    def cos(self) -> "Jet":
        s, c = torch.sin(self.value), torch.cos(self.value)
        return self.apply(c, -s, -c)

    def cat(self, other: "Jet") -> "Jet":
        return Jet(
            torch.cat([self.value, other.value], -1),
            torch.cat([self.d1, other.d1], -1),
            torch.cat([self.d2, other.d2], -1),
        )

    def detach(self) -> "Jet":
        return Jet(self.value.detach(), self.d1.detach(), self.d2.detach())

    def partial(self, *axes: int) -> torch.Tensor:
        """∂_{axes} f (N, C) for at most two equal axes (``partial()`` = f, ``partial(1, 1)`` = ∂²f/∂y²).

        A Jet holds no mixed or third derivatives: a problem whose residual needs them declares
        ``derivative_order = 3`` and receives a :class:`~sciflow.autodiff.jet3.Jet3`.
        """
        if not axes:
            return self.value
        if len(axes) == 1:
            return self.d1[:, axes[0]]
        if len(axes) == 2 and axes[0] == axes[1]:
            return self.d2[:, axes[0]]
        raise SciflowError(f"Jet.partial{axes}: a second-order jet holds only first and pure second derivatives; "
                           "declare derivative_order = 3 on the problem for mixed or third derivatives")


def autograd_jet(fn, x: torch.Tensor, create_graph: bool = True) -> Jet:
    """The jet of ``fn`` at ``x`` (N, D) by reverse-mode autograd (any differentiable ``fn``).

    ``fn`` maps (N, D) → (N, C) pointwise (row i of the output depends on row i of x only).
    """
    x = x.detach().requires_grad_(True)
    y = fn(x)
    n, d = x.shape
    if not y.requires_grad:  # a constant (e.g. a zero lift): all derivatives vanish
        zero = y.new_zeros(n, d, y.shape[1])
        return Jet(y.detach(), zero, zero)
    d1, d2 = [], []
    for c in range(y.shape[1]):
        (g,) = torch.autograd.grad(y[:, c].sum(), x, create_graph=True, allow_unused=True)
        if g is None:  # this output does not depend on x
            g = torch.zeros_like(x)
        d1.append(g)
        hess = []
        for i in range(d):
            if not g.requires_grad:  # derivative constant in x (e.g. a linear map)
                hess.append(torch.zeros_like(x[:, i]))
                continue
            (gg,) = torch.autograd.grad(g[:, i].sum(), x, create_graph=create_graph, retain_graph=True,
                                        allow_unused=True)
            hess.append(torch.zeros_like(x[:, i]) if gg is None else gg[:, i])
        d2.append(torch.stack(hess, 1))
    d1 = torch.stack(d1, -1)
    d2 = torch.stack(d2, -1)
    if not create_graph:
        return Jet(y.detach(), d1.detach(), d2.detach())
    return Jet(y, d1, d2)
