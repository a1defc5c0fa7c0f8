"""DyMixOp: a neural operator built from a dynamics perspective with Local-Global Mixing.

Lai et al., "DyMixOp: Guiding Neural Operator Design for PDEs from a Complex Dynamics
Perspective with Local-Global-Mixing" (2025).  The network advances a latent field c
(batch, width, x, y) as a discretised dynamical system dc/dt = L c + N(c):

* lifting / projection (the paper's lifting P and projection Q): pointwise linear maps
  u (B, t_in + 2, X, Y) → v (B, 2w) → c (B, w)  and back  c → v → ω (B, t_out, X, Y);
  the two extra input channels are the grid coordinates (x, y).
* Local-Global-Mixing (LGM transformation): ``LGM(c) = G(c) ⊙ L(c)``, the Hadamard product of a
  global spectral transform G (a truncated-Fourier multiplier, FNO-style) and a local pointwise
  (1×1) transform L.  A product of two linear maps models the quadratic nonlinearity of
  transport terms (u·∇ω) that neither captures alone.
* linear dynamics (the linear part L, approximated locally): a 1×1 transform plus a learnable
  finite-difference stencil D whose weights are made zero-sum (centre weight − Σ weights), so D
  annihilates constants like any consistent derivative stencil; periodic (circular) padding.
* LGM layer (linear + mixed nonlinear branch): ``F(c) = L_lin(c) + D(c) + A(Σ_k LGM_k(c))`` with A
  a two-layer pointwise map (w → 2w → w), followed by GELU.
* dynamics-informed architecture (DyIA): the layers form an explicit time stepper
  ``c_{i+1} = c_i + σ(λ) F_i(c_i)`` with a learnable step σ(λ), and the output is
  ``c_0 + Σ_i a_i F_i(c_i)`` with learned layer weights a_i (sequential and parallel paths).

Shapes: ``forward(x)``: x (B, t_in, X, Y) → (B, t_out, X, Y) on any periodic grid (the spectral
weights act on the lowest ``modes`` wavenumbers, so the model is resolution-independent).
"""

from __future__ import annotations

import torch
from torch import nn

from sciflow.models.base import OperatorModel
from sciflow.models.registry import register_model
from sciflow.bounds import Depth, Modes, Width
from sciflow.problems.base import Trajectories


class SpectralTransform2d(nn.Module):
    """Global transform G of the LGM transformation: ĉ_out(k) = W(k) ĉ_in(k) for |k_x| < m, 0 ≤ k_y < m, else 0.

    x (B, C_in, X, Y) → (B, C_out, X, Y), real.  A Fourier multiplier commutes with periodic
    shifts, so the transform is exactly translation-equivariant on the grid.
    """

    def __init__(self, c_in: int, c_out: int, modes: int):
        super().__init__()
        self.modes = int(modes)
        scale = 1.0 / (c_in * c_out)
        # weights for k_x = 0..m-1 and k_x = -m..-1 (rows), k_y = 0..m-1 (rfft half plane)
        self.w_pos = nn.Parameter(scale * torch.randn(c_in, c_out, modes, modes, 2))
        self.w_neg = nn.Parameter(scale * torch.randn(c_in, c_out, modes, modes, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nx, ny = x.shape[-2:]
        m = self.modes
        mx, my = min(m, nx // 2), min(m, ny // 2 + 1)
        xf = torch.fft.rfft2(x.float() if x.dtype == torch.bfloat16 else x, norm="ortho")
        out = torch.zeros(x.shape[0], self.w_pos.shape[1], nx, ny // 2 + 1, dtype=xf.dtype, device=x.device)
        wp = torch.view_as_complex(self.w_pos.to(xf.real.dtype).contiguous())[:, :, :mx, :my]
        wn = torch.view_as_complex(self.w_neg.to(xf.real.dtype).contiguous())[:, :, m - mx:, :my]
        out[:, :, :mx, :my] = torch.einsum("bixy,ioxy->boxy", xf[:, :, :mx, :my], wp)
        out[:, :, nx - mx:, :my] = torch.einsum("bixy,ioxy->boxy", xf[:, :, nx - mx:, :my], wn)
        return torch.fft.irfft2(out, s=(nx, ny), norm="ortho").to(x.dtype)


class ZeroSumStencil2d(nn.Module):
    """Learnable finite-difference stencil D of the linear branch with Σ weights = 0 per (out, in) pair.

    x (B, C_in, X, Y) → (B, C_out, X, Y).  The effective kernel is ``K − δ_centre Σ K``; periodic
    padding.  Zero sum ⇔ D(const) = 0, the consistency condition of a derivative stencil.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"stencil kernel_size must be odd, got {kernel_size}")
        self.k = int(kernel_size)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, self.k, self.k) / (c_in * self.k))

    def kernel(self) -> torch.Tensor:
        """The zero-sum kernel (C_out, C_in, k, k)."""
        centre = torch.zeros_like(self.weight)
        centre[:, :, self.k // 2, self.k // 2] = 1.0
        return self.weight - centre * self.weight.sum(dim=(-2, -1), keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.k // 2
        xp = nn.functional.pad(x, (p, p, p, p), mode="circular")
        return nn.functional.conv2d(xp, self.kernel().to(x.dtype))


class Pointwise(nn.Module):
    """Pointwise (1×1) linear map over channels, x (B, C_in, X, Y) → (B, C_out, X, Y): ``W x + b``.

    The same map as a 1×1 ``Conv2d`` (and the same parameters), written as a matmul, which is
    several times faster than a convolution kernel on small CPU tensors."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        bound = 1.0 / c_in ** 0.5
        self.weight = nn.Parameter(torch.empty(c_out, c_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(c_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, nx, ny = x.shape
        y = torch.matmul(self.weight.to(x.dtype), x.reshape(b, c, nx * ny)) + self.bias.to(x.dtype)[:, None]
        return y.reshape(b, -1, nx, ny)


class LGMLayer(nn.Module):
    """One LGM layer F(c) = GELU(L_lin c + D c + A(Σ_k G_k(c) ⊙ L_k(c))) (see the module docstring).

    c (B, w, X, Y) → (B, w, X, Y).
    """

    def __init__(self, width: int, modes: int, n_mixing: int = 1, stencil: int = 3):
        super().__init__()
        self.globals = nn.ModuleList(SpectralTransform2d(width, width, modes) for _ in range(n_mixing))
        self.locals = nn.ModuleList(Pointwise(width, width) for _ in range(n_mixing))
        self.linear = Pointwise(width, width)
        self.stencil = ZeroSumStencil2d(width, width, stencil)
        self.mix = nn.Sequential(Pointwise(width, 2 * width), Pointwise(2 * width, width))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        nonlinear = sum(g(c) * loc(c) for g, loc in zip(self.globals, self.locals))
        return nn.functional.gelu(self.linear(c) + self.stencil(c) + self.mix(nonlinear))


@register_model("dymixop")
class DyMixOp(OperatorModel):
    """DyMixOp (see the module docstring). Spec keys:

    Args:
        width: latent channels w of c (the lifted field v has 2w).
        modes: Fourier modes kept per direction by each global transform.
        layers: number of LGM layers (steps of the latent time stepper).
        n_mixing: LGM products summed per layer.
        stencil: size of the zero-sum finite-difference stencil.
        t_out: frames predicted per call (1: one-step operator for autoregressive rollout).
        coordinates: append the (x, y) grid to the input channels.

    ``forward(x)``: x (B, t_in, X, Y) → (B, t_out, X, Y); ``t_in`` comes from the problem.
    """

    requires = (Trajectories,)

    def __init__(self, problem=None, width: Width = 20, modes: Modes = 12, layers: Depth = 4, n_mixing: Depth = 1,
                 stencil: int = 3, t_out: int = 1, coordinates: bool = True, step_init: float = 0.0):
        super().__init__()
        t_in = int(problem.t_in) if problem is not None else 10
        self.t_in, self.t_out, self.coordinates = t_in, int(t_out), bool(coordinates)
        c_in = t_in + (2 if coordinates else 0)
        self.lift = Pointwise(c_in, 2 * width)
        self.reduce = Pointwise(2 * width, width)
        self.layers = nn.ModuleList(LGMLayer(width, modes, n_mixing, stencil) for _ in range(layers))
        self.step_logit = nn.Parameter(torch.tensor(float(step_init)))  # σ(λ): learnable step
        self.layer_weights = nn.Parameter(torch.full((layers,), 1.0 / layers))  # a_i
        self.expand = Pointwise(width, 2 * width)
        self.project = Pointwise(2 * width, self.t_out)

    @staticmethod
    def grid(x: torch.Tensor) -> torch.Tensor:
        """Coordinates (B, 2, X, Y) of the periodic grid x_i = i/X, y_j = j/Y."""
        b, _, nx, ny = x.shape
        gx = torch.arange(nx, device=x.device, dtype=x.dtype) / nx
        gy = torch.arange(ny, device=x.device, dtype=x.dtype) / ny
        g = torch.stack(torch.meshgrid(gx, gy, indexing="ij"))
        return g.expand(b, 2, nx, ny)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.coordinates:
            x = torch.cat([x, self.grid(x)], dim=1)
        c = self.reduce(self.lift(x))
        c0, out = c, 0.0
        h = torch.sigmoid(self.step_logit)
        for i, layer in enumerate(self.layers):
            f = layer(c)
            out = out + self.layer_weights[i] * f
            if i < len(self.layers) - 1:
                c = c + h * f
        return self.project(self.expand(c0 + out))
