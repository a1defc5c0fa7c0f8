"""IFactFormer: implicit factorized transformer for LES of turbulent channel flow.

Yang, Wang et al., "Implicit factorized transformer approach to fast prediction of turbulent
channel flows" (2024).  The model maps the previous filtered state(s) of the channel to the
next one on the coarse (LES) grid, non-uniform in the wall-normal direction:

    input  (B, t_in, X, Y, Z, 3)  normalised u, v, w (per-channel: ũ_c = (u_c − μ_c)/σ_c with the
                                  train statistics, applied by the problem's dataset), or (B, X, Y, Z, 3)
    output (B, 1, X, Y, Z, 3)     the next state, same normalisation (or (B, X, Y, Z, 3))

Blocks:
1. Gaussian Fourier encoding of the coordinates (Tancik et al. 2020, eq. 5):
   γ(ξ) = [cos 2π Bξ̂, sin 2π Bξ̂], B (m, 3) ~ N(0, σ²), ξ̂ = (x/L_x, (y+1)/2, z/L_z).
2. Stem: h⁰ = MLP([ũ(t−t_in+1 … t), γ(ξ)])  (B, X, Y, Z, dim).
3. One block F with weights shared by all K iterations (implicit/deep-equilibrium-like update):
       h^{k+1} = h^k + F(h^k) / K,  k = 0 … K−1,
       F(h) = a + FFN(LN₂(h + a)),  a = FA(LN₁(h)),
   FA the factorized attention of :mod:`sciflow.models.factorized_attention` (variant o: chained axis
   kernels; variant m: parallel axis kernels, concatenated, normalised and projected).
4. Head: ũ(t+1) = ũ(t) + MLP(LN(h^K)) (``residual=True``, the increment over one snapshot interval),
   or ũ(t+1) = MLP(LN(h^K)).
5. No-slip walls (``no_slip=True``, hard constraint): the output rows at y = ±1 are set to the normalised
   zero velocity −μ_c/σ_c, so u = v = w = 0 holds exactly at the walls in physical units.

The coordinates (x (X,), y (Y,) with the walls, z (Z,)) and the periods (L_x, L_z) come from the
problem's grid (:meth:`sciflow.problems.channel.TurbulentChannel.grid`) or the ``grid`` argument.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciflow.errors import SciflowError
from sciflow.models.channel_walls import check_walls, impose_no_slip, wall_value
from sciflow.models.factorized_attention import FactorizedAttention
from sciflow.models.base import OperatorModel
from sciflow.models.registry import register_model
from sciflow.problems.base import StructuredGrid, Trajectories


def _default_grid(shape=(8, 9, 8)) -> dict:
    """A channel-like grid: periodic x ∈ [0, 2π), z ∈ [0, π), y = −cos(πj/(n−1)) with walls."""
    nx, ny, nz = shape
    return {"x": torch.arange(nx) * (2 * math.pi / nx), "y": -torch.cos(torch.linspace(0, math.pi, ny)),
            "z": torch.arange(nz) * (math.pi / nz), "lx": 2 * math.pi, "lz": math.pi}


class SharedBlock(nn.Module):
    """F(h) = a + FFN(LN₂(h + a)), a = FA(LN₁(h)); h (B, X, Y, Z, dim) → (B, X, Y, Z, dim)."""

    def __init__(self, dim: int, heads: int, dim_head: int, variant: str, periods, mlp_ratio: int = 2):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = FactorizedAttention(dim, heads, dim_head, variant, periods)
        self.ffn = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, h: torch.Tensor, coords, axes=("x", "y", "z")) -> torch.Tensor:
        a = self.attn(self.norm1(h), coords, axes)
        return a + self.ffn(self.norm2(h + a))


@register_model("ifactformer")
class IFactFormer(OperatorModel):
    """IFactFormer-m / -o (module docstring).

    Spec keys: variant (``m`` parallel | ``o`` chained), dim (96 in the study), heads (5), dim_head,
    iterations K (10), fourier_features (m), fourier_scale (σ), mlp_ratio, residual, t_out (1),
    no_slip, grid (only without a problem: {x, y, z, lx, lz[, stats {var: (mean, std)}]}),
    seed_features (seed of the fixed Gaussian matrix B).
    """

    requires = (Trajectories,)

    def __init__(self, problem=None, variant: str = "m", dim: int = 96, heads: int = 5, dim_head: int = 32,
                 iterations: int = 10, fourier_features: int = 16, fourier_scale: float = 1.0,
                 mlp_ratio: int = 2, residual: bool = True, no_slip: bool = True, t_out: int = 1,
                 grid: dict | None = None, seed_features: int = 0):
        super().__init__()
        if variant not in ("m", "o"):
            raise SciflowError(f"model.variant must be 'm' or 'o', got {variant!r}")
        if iterations < 1:
            raise SciflowError(f"model.iterations must be >= 1, got {iterations}")
        if t_out != 1:
            raise SciflowError(f"model.t_out: IFactFormer predicts one state per call (t_out = 1), got {t_out}")
        if grid is None:
            grid = problem.grid() if isinstance(problem, StructuredGrid) else _default_grid()
        self.t_in = int(problem.t_in) if problem is not None else 1
        self.t_out, self.variant, self.iterations, self.residual = 1, variant, int(iterations), bool(residual)
        self.channels, self.no_slip = 3, bool(no_slip)
        stats = problem.stats() if isinstance(problem, StructuredGrid) else grid.get("stats")
        self.register_buffer("wall_value", wall_value(stats), persistent=False)
        lx, lz = float(grid["lx"]), float(grid["lz"])
        for name in ("x", "y", "z"):
            self.register_buffer(name, torch.as_tensor(grid[name], dtype=torch.float32).flatten(), persistent=False)
        if self.no_slip:
            check_walls(self.y)
        g = torch.Generator().manual_seed(int(seed_features))
        self.register_buffer("fourier_b", torch.randn(3, fourier_features, generator=g) * fourier_scale)
        self.lengths = (lx, lz)
        enc = 2 * fourier_features
        self.stem = nn.Sequential(nn.Linear(self.t_in * self.channels + enc, dim), nn.GELU(), nn.Linear(dim, dim))
        self.block = SharedBlock(dim, heads, dim_head, variant, (lx, None, lz), mlp_ratio)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, self.channels))

    def coords(self):
        return (self.x, self.y, self.z)

    def encoding(self, dtype) -> torch.Tensor:
        """γ(ξ) (X, Y, Z, 2m): Gaussian Fourier features of the normalised grid coordinates."""
        xh = self.x / self.lengths[0]
        yh = (self.y - self.y[0]) / (self.y[-1] - self.y[0])
        zh = self.z / self.lengths[1]
        xi = torch.stack(torch.meshgrid(xh, yh, zh, indexing="ij"), dim=-1)  # (X, Y, Z, 3)
        proj = 2 * math.pi * xi @ self.fourier_b
        return torch.cat([torch.cos(proj), torch.sin(proj)], dim=-1).to(dtype)

    def lift(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (B, t_in, X, Y, Z, 3) → h⁰ (B, X, Y, Z, dim)."""
        b, t, nx, ny, nz, c = frames.shape
        if (nx, ny, nz) != (self.x.numel(), self.y.numel(), self.z.numel()):
            raise SciflowError(f"IFactFormer: input grid {(nx, ny, nz)} differs from the model grid "
                               f"{(self.x.numel(), self.y.numel(), self.z.numel())}")
        if t != self.t_in or c != self.channels:
            raise SciflowError(f"IFactFormer: expects {self.t_in} frame(s) of {self.channels} channels, "
                               f"got input {tuple(frames.shape)}")
        u = frames.permute(0, 2, 3, 4, 1, 5).reshape(b, nx, ny, nz, t * c)
        enc = self.encoding(frames.dtype).expand(b, -1, -1, -1, -1)
        return self.stem(torch.cat([u, enc], dim=-1))

    def iterate(self, h: torch.Tensor, axes=("x", "y", "z")) -> torch.Tensor:
        """K shared-weight updates h ← h + F(h)/K; h (B, X, Y, Z, dim)."""
        for _ in range(self.iterations):
            h = h + self.block(h, self.coords(), axes) / self.iterations
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, t_in, X, Y, Z, 3) → (B, 1, X, Y, Z, 3); x (B, X, Y, Z, 3) (t_in = 1) → (B, X, Y, Z, 3)."""
        single = x.dim() == 5
        frames = x.unsqueeze(1) if single else x
        out = self.head(self.iterate(self.lift(frames)))
        if self.residual:
            out = out + frames[:, -1]
        if self.no_slip:  # y = ±1 rows: zero physical velocity, exactly
            out = impose_no_slip(out, self.wall_value)
        return out if single else out.unsqueeze(1)
