"""Pressure-driven flow in a 2D pipe with sinusoidal walls, as a hard-BC PINN problem.

Domain 0 ≤ x ≤ L, |y| ≤ R(x) = R0 + A sin(2πNx/L) (R0 = 0.05, A = 0.005, N = 6, L = 1);
no slip on both walls; inlet pressure p_in = 0.1 at x = 0, p_out = 0 at x = L; ρ = 1;
Re = U_mean 2R0/ν = Q/ν = 100 (the FEM reference :mod:`sciflow.cfd.sinusoidal_pipe` solves
for the ν that gives this Re; the PINN takes that ν from the reference, or ``nu`` if given).

    (u·∇)u + ∇p − ν ∇²u = 0,   ∇·u = 0                                    (1)

Hard constraint, ``out = lift + dist ⊙ raw``:

    u = u_L + U (R(x)² − y²)/R0² N_u,   v = v_L + U (R(x)² − y²)/R0² N_v              (2)
    p = p_in (1 − x/L) + p_out x/L + P 4x(L − x)/L² N_p

with U = 0.25 · 3Q₀/(4R0), P = 0.25 (p_in − p_out) (a quarter of the lift's scales: the
network starts as a small correction). The velocity lift (``lift: lubrication``; ``zero`` turns it
off) is the lubrication-theory flow, divergence-free and zero on both walls: with η = y/R(x),

    ψ_L = (Q₀/2)(3η − η³)/2,   u_L = ∂ψ_L/∂y = 3Q₀(1 − η²)/(4R),   v_L = −∂ψ_L/∂x = η R' u_L,   (3)
    Q₀ = 2G/(3ν ⟨R⁻³⟩),  G = (p_in − p_out)/L

(local plane Poiseuille, dp/dx = −3νQ/(2R³), integrated at constant Q).

Stream-function form (``model.output: stream``): continuity holds identically and the flow
rate Q is the same at every section; it is a learnable coefficient a of the model,
Q = Q₀(1 + a), so the momentum balance (not the lift) decides it. With g(η) = (3η − η³)/4
(g(±1) = ±1/2, g'(±1) = 0):

    ψ = Q₀ g(η) + a Q₀ g(η) + (Q₀/4)(1 − η²)² N_ψ,   p as in eq. (2)                  (4)

ψ = ±Q/2 on the walls (no penetration) and ∂ψ/∂η = 0 there (no slip), for any N and a.

``ends: periodic`` solves the spatially developed flow instead (see "Ends" below): the network
is periodic in x with the wall period L/N (input embedding cos/sin 2πNx/L) and p's end factor is
dropped, so p(0, y) − p(L, y) = p_in − p_out holds exactly at every y, and u(0, y) = u(L, y).
``wall_period_features: true`` feeds (x, y, cos 2πNx/L, sin 2πNx/L), keeping eq. (2)'s ends.

Global balance (``balance_weight`` w > 0): the mean x-momentum residual over Ω equals the net
x-force on the fluid, (1/|Ω|) ∮ [u (u·n) + p n_x − ν ∂u/∂n] ds = 0 (5); its Monte-Carlo estimate,
squared and weighted by w, holds the budget that sets Q (off unless a spec sets w; measured in
``configs/sinusoidal_pipe_pinn.yaml``).

Mirror symmetry (``symmetric: true``): the network sees (x, y²) and the odd channels (v, ψ) carry
a factor η, ψ = Q₀ g(η)(1 + a) + (Q₀/4)(1 − η²)² η N_ψ(x, y²) (6), so the flow is symmetric
about y = 0 to round-off.

Ends (``ends``): what holds on the cuts x = 0, L besides the two end pressures decides the flow.

* ``traction`` (default): the do-nothing condition of the FEM reference,
  ν ∂u/∂n − p n = −p_ext n (Heywood, Rannacher & Turek 1996). The PINN holds p = p_ext exactly
  (eq. 2) and ∂v/∂x = 0 as the soft residual ``end_shear`` (points on x = 0 and L, fraction
  ``end_fraction``). The cuts meet the walls at a slope R' = 0.19, where ∂v/∂x = 0 and no slip
  are incompatible for smooth fields (ψ_xx = τ_w R'²/(1 + R'²) at the corner): the FEM wall shear
  is singular there and the fit is ill-conditioned; measured seeds and what was tried are in
  ``benchmarks/results/pinn_cases.md``.
* ``periodic``: the spatially developed flow (FEM recipe ``ends: periodic``, eq. P of
  :mod:`sciflow.cfd.sinusoidal_pipe`). N is an integer, so the pipe is N copies of one wall
  period; u is periodic and p less its mean gradient −(p_in − p_out)/L is periodic, the pressure
  level set by a zero mean over the outlet section. It is the flow the two end pressures determine
  on their own, without the corner singularity; Re = Q/ν = 100 sets ν = 2.777e-4 (traction: 2.650e-4).
"""

from __future__ import annotations

import math

import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Problem, register_problem
from sciflow.problems.geometry import Rectangle
from sciflow.autodiff.jet import Jet
from sciflow.problems.navier_stokes import VELOCITY_PRESSURE, navier_stokes_residual


@register_problem("sinusoidal_pipe")
class SinusoidalPipe(Problem):
    """Channel with walls y = ±R(x); inputs (x, y), fields (u, v, p); eq. (1)-(2)."""

    evaluator = "sinusoidal_pipe_pinn"

    def __init__(self, R0: float = 0.05, A: float = 0.005, N: int = 6, L: float = 1.0, p_in: float = 0.1,
                 p_out: float = 0.0, Re: float = 100.0, nu: float = 0.0, end_fraction: float = 0.02,
                 lift: str = "lubrication", ends: str = "traction", wall_period_features: bool = False,
                 balance_weight: float = 0.0, reference_h: float = 0.007,
                 sampling: str = "sobol", symmetric: bool = False):
        if not (0 < A < R0) or L <= 0 or N < 0 or Re <= 0 or p_in <= p_out:
            raise SciflowError(f"problem: sinusoidal_pipe needs 0 < A < R0, L > 0, N >= 0, Re > 0, p_in > p_out "
                               f"(got R0={R0}, A={A}, N={N}, L={L}, Re={Re}, p_in={p_in}, p_out={p_out})")
        if lift not in ("lubrication", "zero"):
            raise SciflowError(f"problem.lift: '{lift}' is not 'lubrication' or 'zero'")
        self.lift_kind = lift
        if not 0 <= end_fraction < 1:
            raise SciflowError(f"problem.end_fraction must be in [0, 1), got {end_fraction}")
        if balance_weight < 0:
            raise SciflowError(f"problem.balance_weight must be >= 0, got {balance_weight}")
        self.balance_weight = float(balance_weight)
        self.R0, self.A, self.N, self.L = float(R0), float(A), int(N), float(L)
        self.p_in, self.p_out, self.Re = float(p_in), float(p_out), float(Re)
        self.end_fraction, self.sampling, self.reference_h = float(end_fraction), sampling, float(reference_h)
        super().__init__(inputs=("x", "y"), fields=VELOCITY_PRESSURE,
                         params={"Re": self.Re, "R0": self.R0, "A": self.A, "N": self.N, "L": self.L,
                                 "p_in": self.p_in, "p_out": self.p_out}, scales={"length": "m", "velocity": "m/s"})
        self.domain = Rectangle(0.0, self.L, -(self.R0 + self.A), self.R0 + self.A)
        self._nu = float(nu) if nu > 0 else None
        if ends not in ("traction", "periodic"):
            raise SciflowError(f"problem.ends: '{ends}' is not 'traction' or 'periodic'")
        self.ends = ends
        self.periodic_network = ends == "periodic"
        self.symmetric = bool(symmetric)
        if self.symmetric:
            self.even_inputs = (1,)  # the network sees y² (eq. 6)
        if self.periodic_network and wall_period_features:
            raise SciflowError("problem: ends: periodic and wall_period_features exclude each other")
        if self.periodic_network or wall_period_features:
            self.periodic_inputs = (self.L / max(self.N, 1), None)
            self.keep_periodic_inputs = bool(wall_period_features)

    @property
    def nu(self) -> float:
        """Kinematic viscosity: ``nu`` if given, else the FEM reference's (Re = Q/ν held at Re)."""
        if self._nu is None:
            self._nu = float(self.reference(progress=True).attrs["nu"])
            self.params["nu"] = self._nu
        return self._nu

    def lubrication_flow_rate(self) -> float:
        """Q₀ of eq. (3): ⟨R⁻³⟩ by the midpoint rule on 4096 points (spectral for the periodic R)."""
        x = (torch.arange(4096, dtype=torch.float64) + 0.5) * (self.L / 4096)
        mean_inv_r3 = float((self.radius(x) ** -3).mean())
        return 2 * (self.p_in - self.p_out) / self.L / (3 * self.nu * mean_inv_r3)

    def lubrication_velocity(self, x: torch.Tensor) -> torch.Tensor:
        """(u_L, v_L) (N, 2) of eq. (3) at x (N, 2)."""
        X, Y = x[:, 0:1], x[:, 1:2]
        k = 2 * math.pi * self.N / self.L
        R = self.R0 + self.A * torch.sin(k * X)
        dR = self.A * k * torch.cos(k * X)
        eta = Y / R
        u = 0.75 * self.lubrication_flow_rate() * (1 - eta * eta) / R
        return torch.cat([u, eta * dR * u], 1)

    def radius(self, x: torch.Tensor) -> torch.Tensor:
        """R(x) for x (N,) → (N,)."""
        return self.R0 + self.A * torch.sin(2 * math.pi * self.N * x / self.L)

    def sample(self, region: str, n: int, generator=None) -> torch.Tensor:
        """(n, 2) points: "interior" (uniform in the wavy channel + both end lines), "walls", "inlet", "outlet"."""
        g = generator
        if region == "interior":
            n_end = 0 if self.periodic_network else int(self.end_fraction * n)
            got, total = [], 0
            while total < n - n_end:
                c = self.domain.sample_interior(int(1.2 * (n - n_end - total)) + 16, g, self.sampling)
                c = c[c[:, 1].abs() <= self.radius(c[:, 0])]
                got.append(c)
                total += c.shape[0]
            ends = self._section(torch.rand(n_end, generator=g) < 0.5, g)
            return torch.cat([torch.cat(got, 0)[:n - n_end], ends], 0)
        t = torch.rand(n, generator=g, dtype=torch.float64)
        if region == "walls":
            x = t * self.L
            sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).to(x.dtype)
            return torch.stack([x, sign * self.radius(x)], 1)
        if region in ("inlet", "outlet"):
            return self._section(torch.full((n,), region == "outlet"), g)
        raise ValueError(f"{self.name}: unknown region '{region}' (interior, walls, inlet, outlet)")

    def _section(self, at_outlet: torch.Tensor, g) -> torch.Tensor:
        x = at_outlet.to(torch.float64) * self.L
        s = 2 * torch.rand(x.shape[0], generator=g, dtype=torch.float64) - 1
        return torch.stack([x, s * self.radius(x)], 1)

    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Eq. (1) (each (N,)) + ``end_shear`` = ∂v/∂x at points on x = 0 or x = L (0 elsewhere),
        + with ``balance_weight`` > 0, ``momentum_balance`` = √w · eq. (5) estimated by the mean of the
        x-momentum residual over the interior points (the same value at every point, so its mean
        square is w · (eq. 5)²)."""
        res = navier_stokes_residual(out, self.nu)
        on_end = ((x[:, 0] <= 1e-9) | (x[:, 0] >= self.L - 1e-9)).to(x.dtype)
        if not self.periodic_network:  # no ends in the periodic form (eq. P)
            res["end_shear"] = on_end * out.d1[:, 0, 1]
        if self.balance_weight > 0:
            inside = 1.0 - on_end
            mean_x = (inside * res["momentum_x"]).sum() / inside.sum().clamp_min(1.0)
            res["momentum_balance"] = math.sqrt(self.balance_weight) * mean_x.expand(x.shape[0])
        return res

    def hard_constraint(self, output: str = "primitive"):
        if output == "stream":
            return self._stream_constraint()
        if output != "primitive":
            return None

        U = 0.25 * 0.75 * self.lubrication_flow_rate() / self.R0
        P = 0.25 * (self.p_in - self.p_out)

        def lift(x):
            s = x[:, 0:1] / self.L
            z = 0.0 * x[:, 1:2] ** 2
            vel = self.lubrication_velocity(x) if self.lift_kind == "lubrication" else torch.cat([z, z], 1)
            return torch.cat([vel, self.p_in * (1 - s) + self.p_out * s + z], 1)

        def dist(x):
            R = self.radius(x[:, 0:1])
            d = U * (R * R - x[:, 1:2] ** 2) / self.R0 ** 2
            s = x[:, 0:1] / self.L
            dp = P * torch.ones_like(s) if self.periodic_network else P * 4 * s * (1 - s)
            dv = d * x[:, 1:2] / R if self.symmetric else d  # eq. (6): v odd in y
            return torch.cat([d, dv, dp], 1)

        return lift, dist

    def _stream_constraint(self):
        """Eq. (4): (lift, dist, modes) of the stream-function form, x (N, 2) → (N, 2), (N, 2), (N, 1)."""
        Q0 = self.lubrication_flow_rate()
        P = 0.25 * (self.p_in - self.p_out)

        def profile(x):  # g(η) = (3η − η³)/4
            eta = x[:, 1:2] / self.radius(x[:, 0:1])
            return 0.25 * (3 * eta - eta ** 3), eta

        def lift(x):
            g, _ = profile(x)
            s = x[:, 0:1] / self.L
            return torch.cat([Q0 * g, self.p_in * (1 - s) + self.p_out * s], 1)

        def dist(x):
            _, eta = profile(x)
            s = x[:, 0:1] / self.L
            dp = P * torch.ones_like(s) if self.periodic_network else P * 4 * s * (1 - s)
            d_psi = 0.25 * Q0 * (1 - eta * eta) ** 2
            return torch.cat([d_psi * eta if self.symmetric else d_psi, dp], 1)  # eq. (6): ψ odd in y

        def modes(x):
            return Q0 * profile(x)[0]

        return lift, dist, modes

    def reference(self, progress: bool = True):
        from sciflow.problems.reference_data import cached_recipe

        prm = {"R0": self.R0, "A": self.A, "N": self.N, "L": self.L, "p_in": self.p_in, "p_out": self.p_out,
               "Re": self.Re, "h": self.reference_h}
        if self.ends != "traction":
            prm["ends"] = self.ends
        name = "sinusoidal_pipe_" + "_".join(f"{k}{v}" if isinstance(v, str) else f"{k}{v:g}" for k, v in prm.items()) + ".nc"
        return cached_recipe("sinusoidal_pipe_fem", prm, name, progress)
