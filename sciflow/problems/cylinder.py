"""DFG flow around a cylinder, case 2D-1 (Schäfer & Turek 1996), as a hard-BC PINN problem.

Channel Ω = [0, 2.2] × [0, 0.41] minus the disc of diameter D = 0.1 centred at (0.2, 0.2);
ν = 10⁻³, ρ = 1 (dimensional units of the benchmark, as in the FEM reference
:mod:`sciflow.cfd.cylinder`); inflow u = 4 U_m y (H − y)/H², v = 0 at x = 0; no slip on
y = 0, y = H and the cylinder; U_mean = 2U_m/3, Re = U_mean D/ν (U_m = 0.3: Re 20).

    (u·∇)u + ∇p − ν ∇²u = 0,   ∇·u = 0                                   (1)

Hard constraint (Sukumar & Srivastava 2022; Lu et al. 2021), per field ``out = lift + dist ⊙ raw``:

    φ_c = (r² − R²)/(r² + R²)             0 on the cylinder, → 1 far away, r = |x − x_c|
    w   = 4 y (H − y)/H²                  0 on both walls
    s   = 1 − exp(−x/D)                   0 on the inlet, → 1 downstream
    u   = g(y) φ_c(x, y)/φ_c(0, y) + U_m s w φ_c N_u                     (2)
    v   =                            U_m s w φ_c N_v
    p   =                            P (L − x)/L N_p,    P = U_m²

(``lift: parabola``, the default), or (``lift: stream``) the divergence-free lift

    ψ_L = c + (Ψ(y) − c) S(r)²,   (u_L, v_L) = (∂ψ_L/∂y, −∂ψ_L/∂x),   Ψ' = g,  Ψ(0) = 0,   (2')
    c = Ψ(y_c),   S = septic (C³) smoothstep of (r − R)/(r_1 − R), r_1 = 1.5 D

(ψ_L = c and ∇ψ_L = 0 on the cylinder; S = 1 beyond r_1, so ψ_L = Ψ(y) at the inlet and on
both walls: the no-slip, inflow and ∇·u_L = 0 conditions hold exactly, and the network only
corrects a flow that already passes around the obstacle; in trials its unbalanced inertia near
the cylinder made the momentum residual larger, so it is not the default). Either way
u = v = 0 on walls and cylinder, u = g(y) on the inlet, p = 0 on the outlet, for any
network N. The benchmark's outflow is "do nothing" (ν ∂u/∂n − p n = 0); with p = 0 imposed
its tangential part ν ∂v/∂x = 0 is added as a soft residual ``outlet_shear`` at collocation
points on x = L (a fraction ``outlet_fraction`` of the interior sample); the normal part
then asks ν ∂u/∂x = 0, which the developed outflow satisfies to O(ν).

The residuals are returned in the benchmark's nondimensional form (momentum × D/U_mean²,
continuity × D/U_mean), so that their squares are comparable in the loss.

Stream-function form (``model.output: stream``, exact continuity): with the blend S of
eq. (2') and ψ_in = Ψ(H) the inflow's flux,

    ψ = ψ_L + a ψ_in (1 − S²) + (ψ_in/4)(s w φ_c)² N_ψ,   p = P (L − x)/L N_p          (4)

ψ_L meets the inflow and both walls; (s w φ_c)² and 1 − S² have zero gradient on the walls,
the inlet and the cylinder, so no slip and the inflow hold for any N; the learnable a sets the
cylinder's ψ level, i.e. how the flux splits above and below the cylinder.

Forces on the cylinder from the fields' own stresses (σ = −p I + ν(∇u + ∇uᵀ), n the unit
normal out of the body, trapezoidal rule in θ, spectrally accurate for smooth periodic data):

    F = ∮ σ n dS = ∫₀^{2π} σ(θ) n(θ) R dθ,    c_D, c_L = 2 F_{x,y} / (U_mean² D)        (3)
"""

from __future__ import annotations

import math

import torch

from sciflow.cfd.mesh_gmsh import DFG_CENTER, DFG_DIAMETER, DFG_HEIGHT, DFG_LENGTH
from sciflow.errors import SciflowError
from sciflow.problems.base import Problem, register_problem
from sciflow.problems.geometry import Rectangle
from sciflow.autodiff.jet import Jet
from sciflow.problems.navier_stokes import VELOCITY_PRESSURE, navier_stokes_residual


def surface_force(out: Jet, normals: torch.Tensor, weights: torch.Tensor, nu: float) -> torch.Tensor:
    """Eq. (3): F (2,) = Σ_q w_q σ(x_q) n_q for a Jet of (u, v, p) at surface points x_q.

    ``normals`` (Q, 2) point out of the body into the fluid, ``weights`` (Q,) are the
    quadrature weights (arc length per point).
    """
    p = out.value[:, 2]
    g = out.d1[:, :2, :2]  # g[:, j, i] = ∂u_i/∂x_j
    grad = g.transpose(1, 2)  # grad[:, i, j] = ∂u_i/∂x_j
    sigma = -p[:, None, None] * torch.eye(2, dtype=p.dtype, device=p.device) + nu * (grad + grad.transpose(1, 2))
    traction = torch.einsum("qij,qj->qi", sigma, normals)
    return (traction * weights[:, None]).sum(0)


@register_problem("dfg_cylinder")
class DFGCylinder(Problem):
    """DFG 2D-1 channel with a circular hole; inputs (x, y), fields (u, v, p) in benchmark units."""

    evaluator = "cylinder_pinn"

    def __init__(self, U_m: float = 0.3, nu: float = 1e-3, near_fraction: float = 0.3, near_width: float = 0.1,
                 outlet_fraction: float = 0.02, lift: str = "parabola", sampling: str = "sobol", reference_n_cyl: int = 64,
                 reference_h_max: float = 0.03, reference_order: int = 2):
        if U_m <= 0 or nu <= 0:
            raise SciflowError(f"problem: dfg_cylinder needs U_m > 0 and nu > 0 (got U_m={U_m}, nu={nu})")
        if not (0 <= near_fraction < 1 and 0 <= outlet_fraction < 1 and near_fraction + outlet_fraction < 1):
            raise SciflowError("problem.near_fraction/outlet_fraction: need fractions in [0, 1) with sum < 1")
        if lift not in ("stream", "parabola"):
            raise SciflowError(f"problem.lift: '{lift}' is not 'stream' or 'parabola'")
        self.lift_kind = lift
        self.U_m, self.nu = float(U_m), float(nu)
        self.U_mean = 2.0 * self.U_m / 3.0
        self.L, self.H, self.D, self.R = DFG_LENGTH, DFG_HEIGHT, DFG_DIAMETER, DFG_DIAMETER / 2
        self.center = DFG_CENTER
        super().__init__(inputs=("x", "y"), fields=VELOCITY_PRESSURE,
                         params={"Re": self.U_mean * self.D / self.nu, "U_m": self.U_m, "nu": self.nu},
                         scales={"length": "m", "velocity": "m/s"})
        self.Re = self.params["Re"]
        self.domain = Rectangle(0.0, self.L, 0.0, self.H)
        self.near_fraction, self.near_width = float(near_fraction), float(near_width)
        self.outlet_fraction, self.sampling = float(outlet_fraction), sampling
        self.reference_params = {"n_cyl": int(reference_n_cyl), "h_max": float(reference_h_max),
                                 "order": int(reference_order)}

    # --- geometry --------------------------------------------------------------
    def cylinder_distance(self, x: torch.Tensor) -> torch.Tensor:
        """φ_c (N, 1) of eq. (2)."""
        r2 = (x[:, 0:1] - self.center[0]) ** 2 + (x[:, 1:2] - self.center[1]) ** 2
        return (r2 - self.R ** 2) / (r2 + self.R ** 2)

    def inflow_stream(self, y: torch.Tensor) -> torch.Tensor:
        """Ψ(y) = ∫₀^y g: the inflow's stream function."""
        return 4.0 * self.U_m * (self.H * y * y / 2 - y ** 3 / 3) / self.H ** 2

    def stream_lift(self, x: torch.Tensor) -> torch.Tensor:
        """ψ_L (N, 1) of eq. (2')."""
        S = self._blend(x)
        c = self.inflow_stream(torch.tensor(self.center[1], dtype=x.dtype))
        return c + (self.inflow_stream(x[:, 1:2]) - c) * S * S

    def _blend(self, x: torch.Tensor) -> torch.Tensor:
        """S (N, 1): 0 on the cylinder, 1 beyond r_1 = 1.5 D; the septic smoothstep of
        s = (r − R)/(r_1 − R), whose first three derivatives vanish at both ends (ψ_L is C³)."""
        r = torch.hypot(x[:, 0:1] - self.center[0], x[:, 1:2] - self.center[1])
        s = ((r - self.R) / (1.5 * self.D - self.R)).clamp(0.0, 1.0)
        return s ** 4 * (35 - 84 * s + 70 * s * s - 20 * s ** 3)

    def _stream_velocity(self, x: torch.Tensor) -> torch.Tensor:
        """(u_L, v_L) (N, 2) = (∂ψ_L/∂y, −∂ψ_L/∂x), differentiable in x when x requires grad."""
        with torch.enable_grad():
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.stream_lift(xg).sum(), xg, create_graph=True)
        vel = torch.cat([g[:, 1:2], -g[:, 0:1]], 1)
        return vel if x.requires_grad else vel.detach()

    def inflow(self, y: torch.Tensor) -> torch.Tensor:
        return 4.0 * self.U_m * y * (self.H - y) / self.H ** 2

    def outside_cylinder(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) bool: True where x is in the flow domain (on or outside the cylinder)."""
        return torch.hypot(x[:, 0] - self.center[0], x[:, 1] - self.center[1]) >= self.R

    def sample(self, region: str, n: int, generator=None) -> torch.Tensor:
        """(n, 2) points: "interior" (uniform + a ring around the cylinder + the outlet line),
        "cylinder" (uniform in θ on the surface), "inlet", "walls", "outlet"."""
        g = generator
        if region == "interior":
            n_near, n_out = int(self.near_fraction * n), int(self.outlet_fraction * n)
            pts = [self._sample_far(n - n_near - n_out, g), self._sample_ring(n_near, g)]
            y = torch.rand(n_out, generator=g, dtype=torch.float64) * self.H
            pts.append(torch.stack([torch.full_like(y, self.L), y], 1))
            return torch.cat(pts, 0)
        t = torch.rand(n, generator=g, dtype=torch.float64)
        if region == "cylinder":
            th = 2 * math.pi * t
            return torch.stack([self.center[0] + self.R * torch.cos(th), self.center[1] + self.R * torch.sin(th)], 1)
        if region == "inlet":
            return torch.stack([torch.zeros_like(t), t * self.H], 1)
        if region == "outlet":
            return torch.stack([torch.full_like(t, self.L), t * self.H], 1)
        if region == "walls":
            top = torch.rand(n, generator=g) < 0.5
            return torch.stack([t * self.L, torch.where(top, torch.full_like(t, self.H), torch.zeros_like(t))], 1)
        raise ValueError(f"{self.name}: unknown region '{region}' (interior, cylinder, inlet, walls, outlet)")

    def _sample_far(self, n: int, g) -> torch.Tensor:
        """n points uniform in the channel minus the disc (rejection from the rectangle)."""
        got, total = [], 0
        while total < n:
            cand = self.domain.sample_interior(int(1.1 * (n - total)) + 16, g, self.sampling)
            cand = cand[self.outside_cylinder(cand)]
            got.append(cand)
            total += cand.shape[0]
        return torch.cat(got, 0)[:n]

    def _sample_ring(self, n: int, g) -> torch.Tensor:
        """n points uniform (in area) in the annulus R ≤ r ≤ R + near_width."""
        a, b = self.R, self.R + self.near_width
        r = torch.sqrt(a * a + (b * b - a * a) * torch.rand(n, generator=g, dtype=torch.float64))
        th = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
        return torch.stack([self.center[0] + r * torch.cos(th), self.center[1] + r * torch.sin(th)], 1)

    # --- physics ----------------------------------------------------------------
    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Eq. (1) scaled by D/U_mean² (momentum) and D/U_mean (continuity), each (N,),
        + ``outlet_shear`` = (D/U_mean) ∂v/∂x at points on x = L (0 elsewhere)."""
        res = navier_stokes_residual(out, self.nu)
        t_conv = self.D / self.U_mean
        res = {"momentum_x": res["momentum_x"] * (t_conv / self.U_mean),
               "momentum_y": res["momentum_y"] * (t_conv / self.U_mean), "continuity": res["continuity"] * t_conv}
        on_outlet = (x[:, 0] >= self.L - 1e-9).to(x.dtype)
        res["outlet_shear"] = on_outlet * out.d1[:, 0, 1] * t_conv
        return res

    def hard_constraint(self, output: str = "primitive"):
        if output == "stream":
            return self._stream_constraint()
        if output != "primitive":
            return None

        def lift(x):
            if self.lift_kind == "stream":
                vel = self._stream_velocity(x)
                return torch.cat([vel, 0.0 * vel[:, :1] ** 2], 1)
            phi = self.cylinder_distance(x)
            phi0 = self.cylinder_distance(torch.stack([torch.zeros_like(x[:, 0]), x[:, 1]], 1))
            z = torch.zeros_like(phi)
            return torch.cat([self.inflow(x[:, 1:2]) * phi / phi0, z, z], 1)

        def dist(x):
            w = 4.0 * x[:, 1:2] * (self.H - x[:, 1:2]) / self.H ** 2
            d = self.U_m * (1 - torch.exp(-x[:, 0:1] / self.D)) * w * self.cylinder_distance(x)
            return torch.cat([d, d, self.U_m ** 2 * (self.L - x[:, 0:1]) / self.L], 1)

        return lift, dist

    def _stream_constraint(self):
        """Eq. (4): (lift, dist, modes) of the stream-function form, x (N, 2) → (N, 2), (N, 2), (N, 1)."""
        flux = float(self.inflow_stream(torch.tensor(self.H, dtype=torch.float64)))

        def lift(x):
            psi = self.stream_lift(x)
            return torch.cat([psi, 0.0 * psi], 1)

        def dist(x):
            w = 4.0 * x[:, 1:2] * (self.H - x[:, 1:2]) / self.H ** 2
            d = (1 - torch.exp(-x[:, 0:1] / self.D)) * w * self.cylinder_distance(x)
            return torch.cat([0.25 * flux * d * d, self.U_m ** 2 * (self.L - x[:, 0:1]) / self.L], 1)

        def modes(x):
            S = self._blend(x)
            return flux * (1 - S * S)

        return lift, dist, modes

    # --- forces -------------------------------------------------------------------
    def surface_points(self, n_theta: int, dtype=torch.float64):
        """θ (Q,), points (Q, 2), outward normals (Q, 2), trapezoidal weights (Q,) on the cylinder."""
        th = torch.arange(n_theta, dtype=dtype) * (2 * math.pi / n_theta)
        nrm = torch.stack([torch.cos(th), torch.sin(th)], 1)
        pts = torch.tensor(self.center, dtype=dtype) + self.R * nrm
        return th, pts, nrm, torch.full((n_theta,), 2 * math.pi * self.R / n_theta, dtype=dtype)

    def force_coefficients(self, fields_jet, n_theta: int = 256) -> dict[str, float]:
        """c_D, c_L (eq. 3) of ``fields_jet``: a callable x (Q, 2) → Jet of (u, v, p)."""
        _, pts, nrm, w = self.surface_points(n_theta)
        out = fields_jet(pts)
        F = surface_force(out, nrm.to(out.value), w.to(out.value), self.nu).detach().double()
        scale = 2.0 / (self.U_mean ** 2 * self.D)
        return {"c_D": float(scale * F[0]), "c_L": float(scale * F[1])}

    def reference(self, progress: bool = True):
        from sciflow.problems.reference_data import cached_recipe

        if abs(self.U_m - 0.3) > 1e-12 or abs(self.nu - 1e-3) > 1e-15:
            raise SciflowError("problem.U_m/nu: the FEM reference (recipe cylinder_2d1) is DFG 2D-1 "
                               "(U_m = 0.3, nu = 1e-3)")
        prm = self.reference_params
        name = f"cylinder_2d1_ncyl{prm['n_cyl']}_h{prm['h_max']:g}_o{prm['order']}.nc"
        return cached_recipe("cylinder_2d1", prm, name, progress)

