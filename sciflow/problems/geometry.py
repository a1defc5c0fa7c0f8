"""Domains, collocation samplers, and distance functions / lifts for hard boundary conditions."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Rectangle:
    """Axis-aligned rectangle [x0, x1] × [y0, y1]."""

    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def sample_interior(self, n: int, generator: torch.Generator | None = None, method: str = "sobol",
                        dtype=torch.float64, grading: float = 0.0) -> torch.Tensor:
        """n points (n, 2) inside the rectangle: scrambled Sobol (low discrepancy) or uniform random.

        ``grading`` g ∈ [0, 1) maps each unit coordinate s to s − (g/2π) sin 2πs (the map of the
        graded FEM meshes, :func:`sciflow.cfd.fem_cases.graded_square_mesh`): the point density is
        1/(1 − g cos 2πs), (1 − g)⁻¹ times the mean at the walls and (1 + g)⁻¹ at the centre lines,
        so thin wall boundary layers get more points (g = 0: unchanged).
        """
        if method == "sobol":
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
            u = torch.quasirandom.SobolEngine(2, scramble=True, seed=seed).draw(n, dtype=torch.float64)
        elif method == "uniform":
            u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        else:
            raise ValueError(f"unknown sampling method '{method}' (sobol, uniform)")
        if grading:
            u = u - grading / (2 * torch.pi) * torch.sin(2 * torch.pi * u)
        pts = torch.stack([self.x0 + (self.x1 - self.x0) * u[:, 0], self.y0 + (self.y1 - self.y0) * u[:, 1]], 1)
        return pts.to(dtype)

    def sample_boundary(self, n: int, generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
        """n points (n, 2) on the four sides, spread in proportion to side length."""
        lx, ly = self.x1 - self.x0, self.y1 - self.y0
        s = torch.rand(n, generator=generator, dtype=torch.float64) * 2 * (lx + ly)
        pts = torch.empty(n, 2, dtype=torch.float64)
        bottom = s < lx
        right = (s >= lx) & (s < lx + ly)
        top = (s >= lx + ly) & (s < 2 * lx + ly)
        left = s >= 2 * lx + ly
        pts[bottom] = torch.stack([self.x0 + s[bottom], torch.full_like(s[bottom], self.y0)], 1)
        pts[right] = torch.stack([torch.full_like(s[right], self.x1), self.y0 + s[right] - lx], 1)
        pts[top] = torch.stack([self.x1 - (s[top] - lx - ly), torch.full_like(s[top], self.y1)], 1)
        pts[left] = torch.stack([torch.full_like(s[left], self.x0), self.y1 - (s[left] - 2 * lx - ly)], 1)
        return pts.to(dtype)

    def grid(self, nx: int, ny: int, dtype=torch.float64):
        """Uniform grid including the walls: returns (xs (nx,), ys (ny,), points (ny*nx, 2) row-major in y)."""
        xs = torch.linspace(self.x0, self.x1, nx, dtype=dtype)
        ys = torch.linspace(self.y0, self.y1, ny, dtype=dtype)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return xs, ys, torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)

    def wall_distance_product(self, x: torch.Tensor, sides: str = "lrbt") -> torch.Tensor:
        """Normalised product of distances to the chosen sides (l, r, b, t): (N, 1), zero on those sides.

        Each factor is scaled by the side-to-side length so the product is O(1) inside.
        """
        lx, ly = self.x1 - self.x0, self.y1 - self.y0
        d = torch.ones_like(x[:, :1])
        if "l" in sides:
            d = d * (x[:, :1] - self.x0) / lx
        if "r" in sides:
            d = d * (self.x1 - x[:, :1]) / lx
        if "b" in sides:
            d = d * (x[:, 1:2] - self.y0) / ly
        if "t" in sides:
            d = d * (self.y1 - x[:, 1:2]) / ly
        return d

    def transfinite_lift(self, x: torch.Tensor, g) -> torch.Tensor:
        """Coons (transfinite) interpolation of Dirichlet data g on the four sides: (N, C).

        Equals g exactly on every side for continuous data g(x, y) → (N, C):
        T = (1−s)g(x0,y) + s g(x1,y) + (1−t)g(x,y0) + t g(x,y1) − bilinear corner terms.
        """
        xx, yy = x[:, :1], x[:, 1:2]
        s = (xx - self.x0) / (self.x1 - self.x0)
        t = (yy - self.y0) / (self.y1 - self.y0)

        def at(px, py):
            return g(torch.cat([px, py], 1))

        X0, X1 = torch.full_like(xx, self.x0), torch.full_like(xx, self.x1)
        Y0, Y1 = torch.full_like(yy, self.y0), torch.full_like(yy, self.y1)
        edges = (1 - s) * at(X0, yy) + s * at(X1, yy) + (1 - t) * at(xx, Y0) + t * at(xx, Y1)
        corners = ((1 - s) * (1 - t) * at(X0, Y0) + s * (1 - t) * at(X1, Y0)
                   + (1 - s) * t * at(X0, Y1) + s * t * at(X1, Y1))
        return edges - corners
