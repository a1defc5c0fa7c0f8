"""Periodic 1D transport on x ∈ [0, 2π), t ∈ [0, t_final]: the PINN failure modes of convection.

    u_t + a(u) u_x = ν u_xx,   u(x, 0) = u0(x),   u periodic in x                        (1)

* ``convection``            a = c, ν = 0,        u0 = sin x       exact u = sin(x − ct)
* ``convection_diffusion``  a = c, ν > 0,        u0 = sin x       exact u = e^{−νt} sin(x − ct)
* ``burgers``               a = u, ν > 0,        u0 = offset + amplitude·sin x   (pseudo-spectral reference)

Inputs are (x, t); the one field is u. Eulerian PINN (Krishnapriyan et al. 2021): residual (1)
with the hard constraint u = u0(x) + t·N(x, t), periodicity by the input embedding
x ↦ (cos x, sin x) that :class:`~sciflow.models.layers.MLP` applies to the inputs listed in
``periodic_inputs``. Lagrangian form (Mojgani, Balajewicz & Hassanzadeh 2023):
along the characteristics x(x0, t),

    ∂_t x = a(u),   ∂_t u = ν ∂²_x u,   x(x0, 0) = x0,   u(x0, 0) = u0(x0)                 (2)

with ∂²_x u taken through the characteristic map by the chain rule (see
:meth:`PeriodicTransport1D.lagrangian_residual`). Burgers' breaking time is
1/(amplitude·max|sin'|) = 1/amplitude: with amplitude 1 the front steepens into a shock at
t = 1 and travels with speed ``offset``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Ansatz, Field, Problem, register_problem
from sciflow.problems.geometry import Rectangle
from sciflow.autodiff.jet import Jet

TWO_PI = 2.0 * math.pi


class PeriodicTransport1D(Problem):
    """Shared residuals, sampling, hard constraints and reference grid of eq. (1)."""

    evaluator = "lpinn"
    nonlinear = False

    def __init__(self, c: float, nu: float, amplitude: float = 1.0, offset: float = 0.0, t_final: float = 1.0,
                 reference_nx: int = 256, reference_nt: int = 100, sampling: str = "sobol"):
        super().__init__(inputs=("x", "t"), fields=(Field("u", "1", "transported scalar"),),
                         params={"c": float(c), "nu": float(nu), "amplitude": float(amplitude),
                                 "offset": float(offset), "t_final": float(t_final)})
        if nu < 0:
            raise SciflowError(f"problem.nu must be non-negative, got {nu}")
        if t_final <= 0:
            raise SciflowError(f"problem.t_final must be positive, got {t_final}")
        if reference_nx < 8 or reference_nt < 1:
            raise SciflowError("problem.reference_nx must be ≥ 8 and reference_nt ≥ 1")
        self.c, self.nu = float(c), float(nu)
        self.amplitude, self.offset, self.t_final = float(amplitude), float(offset), float(t_final)
        self.reference_nx, self.reference_nt = int(reference_nx), int(reference_nt)
        self.domain = Rectangle(0.0, TWO_PI, 0.0, self.t_final)  # (x, t): read by model input scaling
        self.periodic_inputs = (TWO_PI, None)  # x periodic with period 2π, t not
        self.sampling = sampling

    # ---------------------------------------------------------------- physics
    def initial(self, x: torch.Tensor) -> torch.Tensor:
        """u0 (N,) at positions x (N,)."""
        return self.offset + self.amplitude * torch.sin(x)

    def speed(self, u: torch.Tensor) -> torch.Tensor:
        """Characteristic speed a(u) (N,)."""
        return u if self.nonlinear else torch.full_like(u, self.c)

    @property
    def speed_scale(self) -> float:
        """Largest characteristic speed |a| of the initial data (nondimensionalises ∂_t x)."""
        s = abs(self.offset) + abs(self.amplitude) if self.nonlinear else abs(self.c)
        return max(s, 1.0)

    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Eq. (1) at Eulerian points x (N, 2) = (x, t): u_t + a(u) u_x − ν u_xx, (N,)."""
        u, ux, ut, uxx = out.value[:, 0], out.d1[:, 0, 0], out.d1[:, 1, 0], out.d2[:, 0, 0]
        return {"pde": ut + self.speed(u) * ux - self.nu * uxx}

    def lagrangian_residual(self, x0t: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Eq. (2) at Lagrangian points x0t (N, 2) = (x0, t); ``out`` has channels (x, u) of (x0, t).

        characteristic: (∂_t x − a(u)) / a_scale (nondimensional);
        state: ∂_t u − ν ∂²_x u with the Eulerian derivatives by the chain rule through x(x0, t):
            ∂_x u = u_{x0} / x_{x0},   ∂²_x u = (u_{x0x0} x_{x0} − u_{x0} x_{x0x0}) / x_{x0}³,
        multiplied through by J³ (J = x_{x0} > 0 for non-crossing characteristics):
            r_state = J³ ∂_t u − ν (u_{x0x0} J − u_{x0} x_{x0x0}).
        Same zeros as the divided form, but no division by a Jacobian that a network in
        training can push through zero (the divided form diverged at c = 50, ν = 0.01).
        """
        xc, u = out[0], out[1]
        res = {"characteristic": (xc.d1[:, 1, 0] - self.speed(u.value[:, 0])) / self.speed_scale}
        state = u.d1[:, 1, 0]
        if self.nu > 0:
            j, jj = xc.d1[:, 0, 0], xc.d2[:, 0, 0]
            u0, u00 = u.d1[:, 0, 0], u.d2[:, 0, 0]
            state = state * j ** 3 - self.nu * (u00 * j - u0 * jj)
        res["state"] = state
        return res

    def hard_constraint(self, output: str = "primitive"):
        """u = u0(x) + (t/t_final)·N: lift u0(x), distance t/t_final (both (N, 1)); periodicity is in the embedding."""
        if output != "primitive":
            return None

        def lift(x):
            return self.initial(x[:, 0]).unsqueeze(1)

        def dist(x):
            return x[:, 1:2] / self.t_final

        return lift, dist

    def ansatz(self, x: torch.Tensor, output: str = "primitive") -> Ansatz | None:
        """Jets of the hard constraint in closed form (x (N, 2) → lift, distance with C = 1).

        lift = offset + A sin x: d1 = (A cos x, 0), d2 = (−A sin x, 0); distance = t/T: d1 = (0, 1/T), d2 = 0.
        """
        if output != "primitive":
            return None
        xx = x[:, 0:1].detach()
        z = torch.zeros_like(xx)
        lift = Jet(self.offset + self.amplitude * torch.sin(xx),
                   torch.stack([self.amplitude * torch.cos(xx), z], 1),
                   torch.stack([-self.amplitude * torch.sin(xx), z], 1))
        dist = Jet(x[:, 1:2].detach() / self.t_final, torch.stack([z, z + 1.0 / self.t_final], 1),
                   torch.stack([z, z], 1))
        return Ansatz(lift, dist)

    def sample(self, region: str, n: int, generator=None) -> torch.Tensor:
        """n points (n, 2) of (x, t) (or (x0, t) for Lagrangian models) in [0, 2π) × [0, t_final]."""
        if region == "interior":
            return self.domain.sample_interior(n, generator, self.sampling)
        if region == "initial":
            x = torch.rand(n, generator=generator, dtype=torch.float64) * TWO_PI
            return torch.stack([x, torch.zeros_like(x)], 1)
        raise ValueError(f"{self.name}: unknown region '{region}' (interior, initial)")

    # ---------------------------------------------------------------- reference
    def reference_grid(self):
        """x (nx,) periodic grid without the endpoint 2π, t (nt+1,) including 0 and t_final."""
        x = TWO_PI * np.arange(self.reference_nx) / self.reference_nx
        t = np.linspace(0.0, self.t_final, self.reference_nt + 1)
        return x, t

    def _dataset(self, u: np.ndarray, solver: str, resolution: str, wall: float):
        import xarray as xr

        from sciflow.data.io import provenance

        x, t = self.reference_grid()
        return xr.Dataset({"u": (("t", "x"), u)}, coords={"x": x, "t": t},
                          attrs=provenance(self.name, solver, self.params, resolution, wall))


class _LinearTransport(PeriodicTransport1D):
    def exact(self, x: torch.Tensor) -> torch.Tensor:
        """u = offset + amplitude·e^{−νt} sin(x − ct), (N, 1)."""
        xx, t = x[:, 0:1], x[:, 1:2]
        return self.offset + self.amplitude * torch.exp(-self.nu * t) * torch.sin(xx - self.c * t)

    def reference(self, progress: bool = True):
        """Exact Fourier solution on the reference grid (any periodic u0 sampled there)."""
        import time

        from sciflow.cfd.burgers1d import convection_diffusion_fourier

        t0 = time.perf_counter()
        x, t = self.reference_grid()
        u0 = self.initial(torch.as_tensor(x)).numpy()
        u = convection_diffusion_fourier(u0, self.c, self.nu, t)
        return self._dataset(u, "exact Fourier modes exp(-(ick + nu k^2) t)", f"nx={len(x)}, nt={len(t) - 1}",
                             time.perf_counter() - t0)


@register_problem("convection")
class Convection(_LinearTransport):
    """u_t + c u_x = 0, u0 = sin x on [0, 2π) × [0, 1] (Krishnapriyan et al. 2021, β = c)."""

    def __init__(self, c: float = 50.0, t_final: float = 1.0, reference_nx: int = 256, reference_nt: int = 100,
                 sampling: str = "sobol"):
        super().__init__(c, 0.0, 1.0, 0.0, t_final, reference_nx, reference_nt, sampling)


@register_problem("convection_diffusion")
class ConvectionDiffusion(_LinearTransport):
    """u_t + c u_x = ν u_xx, u0 = sin x on [0, 2π) × [0, 1]."""

    def __init__(self, c: float = 50.0, nu: float = 0.01, t_final: float = 1.0, reference_nx: int = 256,
                 reference_nt: int = 100, sampling: str = "sobol"):
        super().__init__(c, nu, 1.0, 0.0, t_final, reference_nx, reference_nt, sampling)


@register_problem("burgers")
class Burgers(PeriodicTransport1D):
    """u_t + u u_x = ν u_xx, u0 = offset + amplitude·sin x; the front steepens and travels with speed ``offset``.

    Reference: the ``burgers1d`` recipe (pseudo-spectral ETDRK4 on ``reference_n`` points,
    checked against Cole-Hopf in tests), made on first use.
    """

    nonlinear = True

    def __init__(self, nu: float = 0.01, amplitude: float = 1.0, offset: float = 0.5, t_final: float = 1.0,
                 reference_n: int = 1024, reference_nx: int = 256, reference_nt: int = 100, sampling: str = "sobol"):
        if nu <= 0:
            raise SciflowError(f"problem.nu must be positive for Burgers, got {nu}")
        super().__init__(0.0, nu, amplitude, offset, t_final, reference_nx, reference_nt, sampling)
        if reference_n % reference_nx:
            raise SciflowError(f"problem.reference_nx={reference_nx} must divide reference_n={reference_n}")
        self.reference_n = int(reference_n)

    def reference(self, progress: bool = True):
        from sciflow.problems.reference_data import cached_recipe

        p = {"nu": self.nu, "amplitude": self.amplitude, "offset": self.offset, "t_final": self.t_final,
             "n": self.reference_n, "nx": self.reference_nx, "nt": self.reference_nt}
        name = (f"burgers_nu{self.nu:g}_a{self.amplitude:g}_o{self.offset:g}_T{self.t_final:g}"
                f"_n{self.reference_n}_{self.reference_nx}x{self.reference_nt}.nc")
        return cached_recipe("burgers1d", p, name, progress)

