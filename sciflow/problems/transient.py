"""Start-up of plane Poiseuille flow from rest: a transient NS case with an exact solution.

Channel of height H = 1 between walls y = 0 and y = 1, periodic in x with period ``length``,
fluid at rest at t = 0, driven for t > 0 by a constant pressure gradient G = 8/Re (the total
pressure is −G x + p with p periodic), Re = U H/ν with U the steady centreline speed:

    ∂u/∂t + (u·∇)u + ∇p − G e_x − ν ∇²u = 0,   ∇·u = 0,   ν = 1/Re         (1)

Exact solution (separation of variables; 4y(1−y) = Σ_{n odd} c_n sin nπy, c_n = 32/(nπ)³):

    u(y, t) = 4y(1−y) − Σ_{n odd} c_n sin(nπy) exp(−ν (nπ)² t),   v = 0,   p = 0      (2)

Written this way each term of the sum solves u_t = ν u_yy on its own, so the truncated series
has zero residual to round-off; the initial condition holds up to the series tail
Σ_{n > n_max} c_n ≤ 16/(π³ n_max²).

Hard constraint (inputs x, y, t): u = (t/T) 4y(1−y) N_u, v = (t/T) 4y(1−y) N_v, p = N_p, with
the network periodic in x (input embedding cos/sin 2πx/length): no slip on both walls, the
initial state u = v = 0 and periodicity hold exactly for any network.
"""

from __future__ import annotations

import math

import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Problem, register_problem
from sciflow.problems.geometry import Rectangle
from sciflow.autodiff.jet import Jet
from sciflow.problems.navier_stokes import VELOCITY_PRESSURE


@register_problem("poiseuille_startup")
class PoiseuilleStartup(Problem):
    """Start-up plane Poiseuille flow; inputs (x, y, t), fields (u, v, p), eq. (1)-(2)."""

    evaluator = "transient_pinn"

    def __init__(self, Re: float = 10.0, t_end: float = 1.0, length: float = 1.0, n_terms: int = 400,
                 sampling: str = "sobol", reference_nx: int = 9, reference_ny: int = 65, reference_nt: int = 21):
        if Re <= 0 or t_end <= 0 or length <= 0 or n_terms < 1:
            raise SciflowError(f"problem: poiseuille_startup needs Re, t_end, length > 0 and n_terms >= 1 "
                               f"(got Re={Re}, t_end={t_end}, length={length}, n_terms={n_terms})")
        super().__init__(inputs=("x", "y", "t"), fields=VELOCITY_PRESSURE,
                         params={"Re": float(Re), "t_end": float(t_end)}, scales={"length": "H", "velocity": "U"})
        self.Re, self.nu, self.t_end, self.length = float(Re), 1.0 / float(Re), float(t_end), float(length)
        self.G = 8.0 * self.nu
        self.n_terms, self.sampling = int(n_terms), sampling
        self.reference_grid = (int(reference_nx), int(reference_ny), int(reference_nt))
        self.domain = Rectangle(0.0, self.length, 0.0, 1.0)
        self.extra_input_bounds_lo, self.extra_input_bounds_hi = [0.0], [self.t_end]
        self.periodic_inputs = (self.length, None, None)

    # --- exact solution, eq. (2) ------------------------------------------------------
    def series_tail_bound(self) -> float:
        """Upper bound of the dropped terms Σ_{n > n_max} c_n (the initial-condition error of eq. 2)."""
        n_max = 2 * self.n_terms - 1
        return 16.0 / (math.pi ** 3 * n_max ** 2)

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        """(u, v, p) (N, 3) of eq. (2) at x = (x, y, t) (N, 3)."""
        y, t = x[:, 1:2], x[:, 2:3]
        k = math.pi * (2 * torch.arange(self.n_terms, dtype=x.dtype, device=x.device) + 1)  # (K,)
        c = 32.0 / k ** 3
        u = 4 * y * (1 - y) - (c * torch.sin(k * y) * torch.exp(-self.nu * k * k * t)).sum(1, keepdim=True)
        z = torch.zeros_like(u)
        return torch.cat([u, z, z], 1)

    # --- physics-informed hooks ---------------------------------------------------------
    def sample(self, region: str, n: int, generator=None) -> torch.Tensor:
        """(n, 3) points: "interior" (Sobol/uniform in space-time), "initial" (t = 0), "walls"."""
        if region == "interior":
            if self.sampling == "sobol":
                seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
                s = torch.quasirandom.SobolEngine(3, scramble=True, seed=seed).draw(n, dtype=torch.float64)
            else:
                s = torch.rand(n, 3, generator=generator, dtype=torch.float64)
            return s * torch.tensor([self.length, 1.0, self.t_end], dtype=torch.float64)
        s = torch.rand(n, 3, generator=generator, dtype=torch.float64) * torch.tensor([self.length, 1.0, self.t_end],
                                                                                        dtype=torch.float64)
        if region == "initial":
            s[:, 2] = 0.0
            return s
        if region == "walls":
            s[:, 1] = (torch.rand(n, generator=generator) < 0.5).to(s.dtype)
            return s
        raise ValueError(f"{self.name}: unknown region '{region}' (interior, initial, walls)")

    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Eq. (1): momentum_x, momentum_y, continuity, each (N,); derivative index 2 is t."""
        u, v = out.value[:, 0], out.value[:, 1]
        d1, d2 = out.d1, out.d2
        lap_u, lap_v = d2[:, 0, 0] + d2[:, 1, 0], d2[:, 0, 1] + d2[:, 1, 1]
        return {
            "momentum_x": d1[:, 2, 0] + u * d1[:, 0, 0] + v * d1[:, 1, 0] + d1[:, 0, 2] - self.G - self.nu * lap_u,
            "momentum_y": d1[:, 2, 1] + u * d1[:, 0, 1] + v * d1[:, 1, 1] + d1[:, 1, 2] - self.nu * lap_v,
            "continuity": d1[:, 0, 0] + d1[:, 1, 1],
        }

    def hard_constraint(self, output: str = "primitive"):
        if output != "primitive":
            return None

        def lift(x):
            return 0.0 * x * x  # zero, written so that autograd can differentiate it twice

        def dist(x):
            d = (x[:, 2:3] / self.t_end) * 4 * x[:, 1:2] * (1 - x[:, 1:2])
            return torch.cat([d, d, torch.ones_like(d)], 1)

        return lift, dist

    def reference(self, progress: bool = True):
        """Eq. (2) on a (t, y, x) grid: fields u, v, p (p = 0; compared up to a constant per time)."""
        import xarray as xr

        nx, ny, nt = self.reference_grid
        xs = torch.linspace(0, self.length, nx, dtype=torch.float64)
        ys = torch.linspace(0, 1, ny, dtype=torch.float64)
        ts = torch.linspace(0, self.t_end, nt, dtype=torch.float64)
        T, Y, X = torch.meshgrid(ts, ys, xs, indexing="ij")
        f = self.exact(torch.stack([X.reshape(-1), Y.reshape(-1), T.reshape(-1)], 1)).reshape(nt, ny, nx, 3).numpy()
        dims = ("t", "y", "x")
        return xr.Dataset({"u": (dims, f[..., 0]), "v": (dims, f[..., 1]), "p": (dims, f[..., 2])},
                          coords={"t": ts.numpy(), "y": ys.numpy(), "x": xs.numpy()},
                          attrs={"case": "poiseuille_startup", "solver": f"exact series, {self.n_terms} odd terms",
                                 "Re": self.Re, "t_end": self.t_end})
