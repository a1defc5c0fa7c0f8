"""Steady incompressible 2D Navier-Stokes problems (nondimensional, density 1).

    (u·∇)u + ∇p − (1/Re) ∇²u = 0,    ∇·u = 0                       (1)

Velocity is scaled by the problem's velocity scale U, lengths by L, pressure by ρU²,
so Re = U L / ν is the only parameter. Cases: lid-driven cavity (Ghia et al. 1982),
plane Poiseuille channel and Kovasznay flow (exact solutions).
"""

from __future__ import annotations

import math

import torch

from sciflow.problems.base import BoundaryTargets, Field, Problem, register_problem
from sciflow.problems.geometry import Rectangle
from sciflow.autodiff.jet import Jet

VELOCITY_PRESSURE = (
    Field("u", "U", "streamwise velocity"),
    Field("v", "U", "cross-stream velocity"),
    Field("p", "rho U^2", "kinematic pressure (defined up to a constant)", up_to_constant=True),
)


def navier_stokes_residual(out: Jet, nu) -> dict[str, torch.Tensor]:
    """Eq. (1) with ν = 1/Re (a float, or (N,) per point) for a Jet of (u, v, p) over inputs
    (x, y, ...): three residuals, each (N,)."""
    u, v = out.value[:, 0], out.value[:, 1]
    ux, uy = out.d1[:, 0, 0], out.d1[:, 1, 0]
    vx, vy = out.d1[:, 0, 1], out.d1[:, 1, 1]
    px, py = out.d1[:, 0, 2], out.d1[:, 1, 2]
    lap_u = out.d2[:, 0, 0] + out.d2[:, 1, 0]
    lap_v = out.d2[:, 0, 1] + out.d2[:, 1, 1]
    return {
        "momentum_x": u * ux + v * uy + px - nu * lap_u,
        "momentum_y": u * vx + v * vy + py - nu * lap_v,
        "continuity": ux + vy,
    }


class SteadyNavierStokes2D(Problem):
    """Shared residuals, sampling and grids for steady 2D NS on a rectangle.

    ``Re`` lives in ``params`` and may follow a training schedule (``problem.schedule``).
    """

    schedulable_params = ("Re",)

    evaluator = "steady_flow"

    def __init__(self, Re: float, domain: Rectangle, velocity_scale: float = 1.0, length_scale: float = 1.0,
                 sampling: str = "sobol", collocation_grading: float = 0.0):
        super().__init__(inputs=("x", "y"), fields=VELOCITY_PRESSURE, params={"Re": float(Re)},
                         scales={"length": length_scale, "velocity": velocity_scale})
        if Re <= 0:
            from sciflow.errors import SciflowError

            raise SciflowError(f"problem.Re must be positive, got {Re}")
        if not 0.0 <= collocation_grading < 1.0:
            from sciflow.errors import SciflowError

            raise SciflowError(f"problem.collocation_grading must lie in [0, 1), got {collocation_grading}")
        self.domain = domain
        self.sampling = sampling
        self.collocation_grading = float(collocation_grading)

    @property
    def Re(self) -> float:
        """The Reynolds number now in force (``params["Re"]``)."""
        return self.params["Re"]

    def set_params(self, **values: float) -> None:
        if "Re" in values and not values["Re"] > 0:
            from sciflow.errors import SciflowError

            raise SciflowError(f"problem.Re must be positive, got {values['Re']}")
        super().set_params(**values)

    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Eq. (1): x-momentum, y-momentum and continuity residuals, each (N,); Re per point when it
        is a network input (``problem.parametric``)."""
        return navier_stokes_residual(out, 1.0 / self.param("Re", x))

    def sample(self, region: str, n: int, generator=None) -> torch.Tensor:
        if region == "interior":
            return self.domain.sample_interior(n, generator, self.sampling, grading=self.collocation_grading)
        if region == "boundary":
            return self.domain.sample_boundary(n, generator)
        raise ValueError(f"{self.name}: unknown region '{region}' (interior, boundary)")

    def velocity_bc(self, x: torch.Tensor) -> torch.Tensor:
        """Dirichlet velocity (N, 2) on the boundary points x."""
        raise NotImplementedError

    def velocity_bc_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Which boundary points carry Dirichlet velocity (N,) bool (default: all)."""
        return torch.ones(x.shape[0], dtype=torch.bool)

    def boundary_targets(self, n: int, generator=None) -> BoundaryTargets:
        pts = self.sample("boundary", n, generator)
        mask = torch.zeros(n, 3, dtype=pts.dtype)
        mask[:, :2] = self.velocity_bc_mask(pts).to(pts.dtype)[:, None]
        values = torch.zeros(n, 3, dtype=pts.dtype)
        values[:, :2] = self.velocity_bc(pts)
        return BoundaryTargets(pts, values, mask)

    def grid_dataset(self, nx: int, ny: int, fields: torch.Tensor, attrs: dict):
        """An xarray.Dataset of fields (ny*nx, 3) on the uniform grid, p shifted to zero mean."""
        import xarray as xr

        xs, ys, _ = self.domain.grid(nx, ny)
        f = fields.detach().cpu().double().reshape(ny, nx, 3).numpy()
        p = f[..., 2] - f[..., 2].mean()
        return xr.Dataset(
            {"u": (("y", "x"), f[..., 0]), "v": (("y", "x"), f[..., 1]), "p": (("y", "x"), p)},
            coords={"x": xs.numpy(), "y": ys.numpy()}, attrs=attrs)


# Stokes corner flow (Taylor's scraper) for a 90° corner between a wall sliding away from the
# corner with unit speed (θ = 0) and a fixed wall (θ = π/2): Ψ = r f(θ),
# f = A sinθ + C θ sinθ + D θ cosθ with f(0) = 0, f'(0) = 1, f(π/2) = f'(π/2) = 0, whose
# pressure is p = (2ν/r)(D cosθ + C sinθ) (p − iνω analytic, ω = −∇²Ψ = −(2/r)(C cosθ − D sinθ)).
_CORNER_D = 1.0 / (1.0 - math.pi ** 2 / 4)
_CORNER_C = _CORNER_D * math.pi / 2
_CORNER_A = -_CORNER_D * math.pi ** 2 / 4


def corner_profile(theta: torch.Tensor) -> torch.Tensor:
    """h(θ) = f(θ)/sinθ = A + Cθ + D θ cotθ: h(0) = 1, h(π/2) = h'(π/2) = 0 (θ cotθ → 1 at θ = 0)."""
    small = theta.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(theta), theta)
    tcot = torch.where(small, 1 - theta * theta / 3, safe * torch.cos(safe) / torch.sin(safe))
    return _CORNER_A + _CORNER_C * theta + _CORNER_D * tcot


@register_problem("cavity")
class LidDrivenCavity(SteadyNavierStokes2D):
    """Lid-driven square cavity [0,1]², lid y=1 moving with u=1 (Ghia et al. 1982), Re = U L/ν.

    Corner treatment: the lid velocity u=1 holds on the open edge 0<x<1, y=1; the two lid
    corners are wall points (u=v=0), both in the finite-element reference and in the PINN's
    prediction at those two points. Near them the exact solution is singular (∇u ∝ 1/r,
    p ∝ 1/r), so the hard constraint subtracts the singularity analytically.

    Hard constraint (primitive variables): u = u_L + D N_u, v = v_L + D N_v, p = p_L + N_p,
    D = 16 x(1−x) y(1−y), where (u_L, v_L) = (∂ψ_L/∂y, −∂ψ_L/∂x) is divergence-free with

        ψ_L = y²(y−1) h(θ_a) h(θ_b),  θ_a = atan2(1−y, x),  θ_b = atan2(1−y, 1−x),

    h = f/sinθ from the Stokes corner flow above: ψ_L vanishes on every wall, ∂ψ_L/∂n is the
    wall velocity (1 on the lid, 0 elsewhere), and near each lid corner ψ_L → ∓r f(θ), the
    exact Stokes corner flow. p_L = (2/Re)[(D x + C(1−y))/r_a² − (D(1−x) + C(1−y))/r_b²] is
    its singular pressure at both corners. The network adds only smooth corrections.
    Stream-function form: ψ = ψ_L + D² N_ψ, p = p_L + N_p.

    Reference: the ``cavity_fem`` recipe on ``reference_mesh``² elements, graded towards the
    walls by ``reference_grading`` (0: uniform), sampled on ``reference_grid``² points.
    Collocation points: ``sampling`` (sobol, uniform), graded towards the walls by
    ``collocation_grading`` (the FEM mesh's map, see ``Rectangle.sample_interior``).
    """

    evaluator = "cavity"
    parametric_params = ("Re",)
    singular_points = ((0.0, 1.0), (1.0, 1.0))  # the lid corners: ∇u ∝ 1/r, p ∝ 1/r

    def __init__(self, Re: float = 100.0, reference_mesh: int = 64, reference_grid: int = 129,
                 corner_weight_radius: float = 0.0, sampling: str = "sobol", reference_grading: float = 0.0,
                 collocation_grading: float = 0.0):
        super().__init__(Re, Rectangle(0.0, 1.0, 0.0, 1.0), sampling=sampling, collocation_grading=collocation_grading)
        self.reference_mesh = int(reference_mesh)
        self.reference_grading = float(reference_grading)
        self.reference_grid = int(reference_grid)
        self.corner_weight_radius = float(corner_weight_radius)

    @staticmethod
    def lift_stream_function(x: torch.Tensor) -> torch.Tensor:
        """ψ_L (N, 1)."""
        X, Y = x[:, 0:1], x[:, 1:2]
        ha = corner_profile(torch.atan2(1 - Y, X))
        hb = corner_profile(torch.atan2(1 - Y, 1 - X))
        return Y * Y * (Y - 1) * ha * hb

    def lift_pressure(self, x: torch.Tensor) -> torch.Tensor:
        """p_L (N, 1): the Stokes corner-flow pressure of both lid corners."""
        X, Y = x[:, 0:1], x[:, 1:2]
        ra2 = X * X + (1 - Y) ** 2
        rb2 = (1 - X) ** 2 + (1 - Y) ** 2
        pa = (_CORNER_D * X + _CORNER_C * (1 - Y)) / ra2
        pb = (_CORNER_D * (1 - X) + _CORNER_C * (1 - Y)) / rb2
        re = self.param("Re", x)
        return (2.0 / (re[:, None] if torch.is_tensor(re) else re)) * (pa - pb)

    def _lift(self, x):
        """(u_L, v_L, p_L) (N, 3); at the two lid corner points themselves u = v = 0, p = NaN."""
        corner = ((x[:, 0] <= 0) | (x[:, 0] >= 1)) & (x[:, 1] >= 1)
        xs = torch.where(corner[:, None], torch.full_like(x, 0.5), x)
        with torch.enable_grad():
            xg = xs if xs.requires_grad else xs.detach().requires_grad_(True)
            psi = self.lift_stream_function(xg)
            (g,) = torch.autograd.grad(psi.sum(), xg, create_graph=True)
        out = torch.cat([g[:, 1:2], -g[:, 0:1], self.lift_pressure(xs)], 1)
        if not x.requires_grad:
            out = out.detach()
        if corner.any():
            fill = torch.tensor([0.0, 0.0, float("nan")], dtype=x.dtype, device=x.device)
            out = torch.where(corner[:, None], fill, out)
        return out

    def _distance(self, x):
        d = self.domain.wall_distance_product(x) * 16.0
        return torch.cat([d, d, torch.ones_like(d)], 1)

    def hard_constraint(self, output="primitive"):
        if output == "primitive":
            return self._lift, self._distance
        if output != "stream":
            raise ValueError(f"cavity: unknown output form '{output}' (primitive, stream)")

        def lift(x):
            return torch.cat([self.lift_stream_function(x), self.lift_pressure(x)], 1)

        def dist(x):
            d = (self.domain.wall_distance_product(x) * 16.0) ** 2
            return torch.cat([d, torch.ones_like(d)], 1)

        return lift, dist

    def residual_weight(self, x: torch.Tensor) -> torch.Tensor | None:
        """Optional weight r²/(r²+δ²) near the two singular lid corners (δ = corner_weight_radius)."""
        if self.corner_weight_radius <= 0:
            return None
        d2 = self.corner_weight_radius ** 2
        r0 = (x[:, 0] ** 2 + (1 - x[:, 1]) ** 2)
        r1 = ((1 - x[:, 0]) ** 2 + (1 - x[:, 1]) ** 2)
        return (r0 / (r0 + d2)) * (r1 / (r1 + d2))

    def velocity_bc(self, x):
        on_lid = (x[:, 1] >= 1.0 - 1e-12) & (x[:, 0] > 0) & (x[:, 0] < 1)
        out = torch.zeros(x.shape[0], 2, dtype=x.dtype)
        out[on_lid, 0] = 1.0
        return out

    def reference(self, progress: bool = True):
        """The FEM reference (recipe ``cavity_fem``, cached), or the user's file given as ``reference``."""
        from sciflow.problems.reference_data import cached_recipe

        if self.user_reference is not None:
            return self.user_reference
        params = {"Re": self.Re, "mesh": self.reference_mesh, "grid": self.reference_grid}
        name = f"cavity_re{self.Re:g}_mesh{self.reference_mesh}"
        if self.reference_grading:  # graded FEM mesh (Re >= 1000): wall spacing (1 - g)/mesh
            params["grading"] = self.reference_grading
            name += f"_graded{self.reference_grading:g}"
        return cached_recipe("cavity_fem", params, name + ".nc", progress, required=tuple(self.field_names))


@register_problem("poiseuille")
class PlanePoiseuille(SteadyNavierStokes2D):
    """Plane Poiseuille flow in the channel [0, length] × [0, 1], Re = U_max H / ν.

    Exact: u = 4y(1−y), v = 0, p = −(8/Re)(x − length). Dirichlet velocity at the walls and
    the inlet x=0 (parabola), pressure p=0 at the outlet x=length (hard constraint:
    u = 4y(1−y) + x y(1−y) N_u, v = x y(1−y) N_v, p = (length − x) N_p).
    """

    parametric_params = ("Re",)

    def __init__(self, Re: float = 100.0, length: float = 2.0, reference_grid: int = 65, sampling: str = "sobol"):
        super().__init__(Re, Rectangle(0.0, float(length), 0.0, 1.0), sampling=sampling)
        self.length = float(length)
        self.reference_grid = int(reference_grid)

    def exact(self, x):
        y = x[:, 1:2]
        re = self.param("Re", x)
        re = re[:, None] if torch.is_tensor(re) else re
        return torch.cat([4 * y * (1 - y), torch.zeros_like(y), -(8.0 / re) * (x[:, 0:1] - self.length)], 1)

    def hard_constraint(self, output="primitive"):
        if output != "primitive":
            return None

        def lift(x):
            y = x[:, 1:2]
            z = torch.zeros_like(y)
            return torch.cat([4 * y * (1 - y), z, z], 1)

        def dist(x):
            d = self.domain.wall_distance_product(x, "lbt") * 4.0
            return torch.cat([d, d, (self.length - x[:, 0:1]) / self.length], 1)

        return lift, dist

    def velocity_bc(self, x):
        return self.exact(x)[:, :2]

    def velocity_bc_mask(self, x):
        return x[:, 0] < self.length - 1e-12

    def reference(self, progress: bool = True):
        n = self.reference_grid
        _, _, pts = self.domain.grid(2 * n - 1, n)
        return self.grid_dataset(2 * n - 1, n, self.exact(pts),
                                 {"case": "poiseuille", "solver": "exact", "Re": self.Re})


@register_problem("kovasznay")
class Kovasznay(SteadyNavierStokes2D):
    """Kovasznay flow (1948) on [−0.5, 1] × [−0.5, 1.5], an exact steady NS solution:

        u = 1 − e^{λx} cos 2πy,  v = (λ/2π) e^{λx} sin 2πy,  p = ½(1 − e^{2λx}),
        λ = Re/2 − sqrt(Re²/4 + 4π²).

    Hard constraint: Coons (transfinite) interpolation of the boundary velocity as lift,
    the normalised product of wall distances as distance.
    """

    def __init__(self, Re: float = 40.0, reference_grid: int = 101, sampling: str = "sobol"):
        super().__init__(Re, Rectangle(-0.5, 1.0, -0.5, 1.5), sampling=sampling)
        self.reference_grid = int(reference_grid)

    @property
    def lam(self) -> float:
        """λ = Re/2 − sqrt(Re²/4 + 4π²) at the Reynolds number now in force."""
        return self.Re / 2 - math.sqrt(self.Re ** 2 / 4 + 4 * math.pi ** 2)

    def exact(self, x):
        lam = self.lam
        ex = torch.exp(lam * x[:, 0:1])
        tpy = 2 * math.pi * x[:, 1:2]
        return torch.cat([1 - ex * torch.cos(tpy), lam / (2 * math.pi) * ex * torch.sin(tpy),
                          0.5 * (1 - torch.exp(2 * lam * x[:, 0:1]))], 1)

    def hard_constraint(self, output="primitive"):
        if output != "primitive":
            return None

        def lift(x):
            vel = self.domain.transfinite_lift(x, lambda q: self.exact(q)[:, :2])
            return torch.cat([vel, torch.zeros_like(vel[:, :1])], 1)

        def dist(x):
            d = self.domain.wall_distance_product(x) * 16.0
            return torch.cat([d, d, torch.ones_like(d)], 1)

        return lift, dist

    def velocity_bc(self, x):
        return self.exact(x)[:, :2]

    def reference(self, progress: bool = True):
        n = self.reference_grid
        nx, ny = n, int(round(n * 4 / 3))
        _, _, pts = self.domain.grid(nx, ny)
        return self.grid_dataset(nx, ny, self.exact(pts), {"case": "kovasznay", "solver": "exact", "Re": self.Re})
