"""Building blocks shared by models: an MLP that also propagates derivative jets, Fourier features."""

from __future__ import annotations

import math

import torch
from torch import nn

from sciflow.autodiff.compiled_activation import compiled_activation_jet
from sciflow.autodiff.fused_activation import activation_jet
from sciflow.autodiff.jet import Jet
from sciflow.autodiff.jet3 import Jet3

ACTIVATIONS = ("tanh", "sin")


class FourierFeatures(nn.Module):
    """Random Fourier features γ(x) = [sin 2πBx, cos 2πBx], B ~ N(0, σ²) fixed (Tancik et al. 2020).

    x (N, D) → (N, 2F).
    """

    def __init__(self, in_dim: int, features: int, sigma: float, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("B", torch.randn(features, in_dim, generator=g) * sigma * 2 * math.pi)

    def forward(self, x):
        z = x @ self.B.T
        return torch.cat([torch.sin(z), torch.cos(z)], -1)

    def jet(self, x: Jet) -> Jet:
        z = x.linear(self.B)
        return z.sin().cat(z.cos())


class MLP(nn.Module):
    """Fully connected network (N, in_dim) → (N, out_dim) with tanh or sin activations.

    ``jet(x)`` runs the same network forward on a :class:`Jet`, propagating first and pure
    second input derivatives layer by layer (costs ≈ (1 + 2D) forward passes, no double
    backward). Xavier-normal initialisation; for ``sin`` the SIREN first-layer scaling.

    ``periodic`` (one entry per input: a period L_i or None) embeds those inputs as
    (cos 2πx_i/L_i, sin 2πx_i/L_i) — a hard periodic boundary condition (Dong & Ni 2021).
    With ``keep_periodic_inputs`` the inputs themselves stay too: the embedding is then a
    feature of the geometry's period, not a constraint (the network may still vary along x_i).

    ``even_inputs`` (indices i whose normalisation shift is 0) enter as x̂_i²: the network is
    then exactly even in those inputs, N(.., −x_i, ..) = N(.., x_i, ..) (any smooth even function
    of x_i is a smooth function of x_i², Whitney 1943) — a mirror symmetry held to round-off.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 50, depth: int = 4, activation: str = "tanh",
                 fourier_features: int = 0, fourier_sigma: float = 1.0, input_scale=None, input_shift=None,
                 periodic=None, keep_periodic_inputs: bool = False, even_inputs=None):
        super().__init__()
        from sciflow.errors import SciflowError

        if activation not in ACTIVATIONS:
            raise SciflowError(f"model.activation: '{activation}' is not one of {ACTIVATIONS}")
        self.activation = activation
        self.features = FourierFeatures(in_dim, fourier_features, fourier_sigma) if fourier_features else None
        first = 2 * fourier_features if fourier_features else in_dim
        # periodic inputs: x_i with period L_i enters as (cos 2πx_i/L_i, sin 2πx_i/L_i), so the
        # network is exactly L_i-periodic in x_i (with all its derivatives); others pass through
        self.periodic = None
        if periodic is not None and any(p is not None for p in periodic):
            if len(periodic) != in_dim:
                raise SciflowError(f"MLP: periodic has {len(periodic)} entries for {in_dim} inputs")
            if fourier_features:
                raise SciflowError("model.fourier_features cannot be combined with a periodic input embedding")
            per = [i for i, p in enumerate(periodic) if p is not None]
            freq = torch.zeros(len(per), in_dim, dtype=torch.float64)
            for j, i in enumerate(per):
                freq[j, i] = 2 * math.pi / float(periodic[i])
            self.register_buffer("periodic_freq", freq)
            self.periodic = per
            self.passthrough = [i for i in range(in_dim) if keep_periodic_inputs or i not in per]
            first = len(self.passthrough) + 2 * len(per)
        dims = [first] + [width] * depth + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.even = sorted(int(i) for i in (even_inputs or ()))
        if any(not 0 <= i < in_dim or (input_shift is not None and input_shift[i] != 0) for i in self.even):
            raise SciflowError(f"MLP: even inputs {self.even} must be inputs whose range is symmetric about 0")
        if self.even and fourier_features:
            raise SciflowError("model.fourier_features cannot be combined with even (mirror-symmetric) inputs")
        # inputs are mapped to [-1, 1]: x̂ = (x − shift) * scale
        self.register_buffer("in_scale", torch.as_tensor(input_scale if input_scale is not None else [1.0] * in_dim,
                                                         dtype=torch.float32))
        self.register_buffer("in_shift", torch.as_tensor(input_shift if input_shift is not None else [0.0] * in_dim,
                                                         dtype=torch.float32))

    compiled_jets = False

    def compile_jets(self) -> None:
        """From now on :meth:`jet` runs its activations through compiler-fused kernels (TorchInductor;
        :mod:`sciflow.autodiff.compiled_activation`): the same jets to round-off, each hidden layer's
        activation one fused loop forward and one backward instead of one pass per row product."""
        self.compiled_jets = True

    def _act(self, z):
        return torch.tanh(z) if self.activation == "tanh" else torch.sin(z)

    def forward(self, x):
        h = (x - self.in_shift) * self.in_scale
        if self.even:
            h = torch.stack([h[:, i] ** 2 if i in self.even else h[:, i] for i in range(h.shape[1])], 1)
        if self.features is not None:
            h = self.features(h)
        if self.periodic is not None:
            z = x @ self.periodic_freq.T
            h = torch.cat([h[:, self.passthrough], torch.cos(z), torch.sin(z)], -1)
        for layer in self.layers[:-1]:
            h = self._act(layer(h))
        return self.layers[-1](h)

    def jet(self, x: torch.Tensor, order: int = 2):
        """Outputs and their input derivatives at x (N, in_dim): a Jet (order 2: first and pure
        second derivatives) or a Jet3 (order 3: every partial derivative up to third order).

        The hidden layers run on the stacked rows (K, N, C) of the jet: one matmul per layer over
        all K·N rows and one fused autograd function for the activation's chain rule
        (:mod:`sciflow.autodiff.fused_activation`; compiled kernels after :meth:`compile_jets`)."""
        rows = self._input_jet(x, order).stacked()  # (K, N, C)
        kernel = compiled_activation_jet if self.compiled_jets else activation_jet
        for layer in self.layers[:-1]:
            rows = kernel(_rows_linear(rows, layer.weight), layer.bias, self.activation, order, x.shape[1])
        last = self.layers[-1]
        out = _rows_linear(rows, last.weight)
        out = torch.cat([(out[0] + last.bias).unsqueeze(0), out[1:]], 0)
        return Jet.from_stacked(out) if order == 2 else Jet3.from_stacked(out, x.shape[1])

    def jet_op_by_op(self, x: torch.Tensor, order: int = 2):
        """The same jet as :meth:`jet` through the Jet rules (``linear``, ``tanh``/``sin``), every
        product recorded by autograd: the reference the fused path is checked and timed against."""
        h = self._input_jet(x, order)
        for layer in self.layers[:-1]:
            z = h.linear(layer.weight, layer.bias)
            h = z.tanh() if self.activation == "tanh" else z.sin()
        return h.linear(self.layers[-1].weight, self.layers[-1].bias)

    def _input_jet(self, x: torch.Tensor, order: int):
        """Jet (order 2) or Jet3 (order 3) of the first layer's input: normalised x and its embeddings."""
        cls = Jet if order == 2 else Jet3
        scale = self.in_scale.to(x.dtype)
        h = cls.of_inputs(x).linear(torch.diag(scale), -self.in_shift.to(x.dtype) * scale)
        if self.even:
            parts = [h[i] * h[i] if i in self.even else h[i] for i in range(x.shape[1])]
            h = parts[0]
            for part in parts[1:]:
                h = h.cat(part)
        if self.features is not None:
            h = self.features.jet(h)
        if self.periodic is not None:
            z = cls.of_inputs(x).linear(self.periodic_freq.to(x.dtype))
            h = h[self.passthrough].cat(z.cos()).cat(z.sin())
        return h


def _rows_linear(rows: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """z = rows Wᵀ for stacked jet rows (K, N, C_in) → (K, N, C_out), as one (K·N, C_in) matmul."""
    k, n, c = rows.shape
    return (rows.reshape(k * n, c) @ weight.T).view(k, n, -1)
