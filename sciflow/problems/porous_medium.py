"""The generalised porous medium equation (GPME) family of ProbConserv (Hansen et al., ICML 2023).

    u_t − ∂_x( k(u) ∂_x u ) = 0,    x ∈ [x0, x1], t ∈ [t0, t1]                      (GPME)

Its integral form (the conservation law ProbConserv enforces) is, for the total mass
U(t) = ∫ u(x, t) dx,

    dU/dt = F(x0, t) − F(x1, t),    F = −k(u) u_x (the flux)                            (1)

so U(t) is known from the initial mass and the boundary fluxes. Three members, each with an
analytic solution (paper, Sec. 4 and App. D):

==============  ==============================  ======================================  ==========
case            k(u)                            exact solution                          U(t)
==============  ==============================  ======================================  ==========
heat            k (constant)                    u = e^{−kt} sin x on [0, 2π], periodic   0
porous medium   u^m                             u = (m · relu(t − x))^{1/m} on [0, 1]    m^{1+1/m} t^{1+1/m}/(m+1)
Stefan          1 if u ≥ p* else 0              u = 1 − c₁ erf(x / 2√t) for x ≤ 2z₁√t,   2 c₁ √(t/π)
                                                0 beyond (c₁ = (1−p*)/erf z₁)
==============  ==============================  ======================================  ==========

(PME: the solution has a front at x = t with u ~ (t−x)^{1/m}; Stefan: u jumps from p* to 0 at
x = 2z₁√t, where z₁ solves p* erf(z₁) z₁ e^{z₁²} = (1 − p*)/√π, the Stefan condition
−u_x(s⁻) = p* ds/dt.)

Training draws functions with the parameter θ (k, m or p*) uniform in ``train_range``; the
problem's own ``param`` (one of ``test_values``) is the held-out test case. Each function is
observed at *contexts* — ``contexts_t`` stratified times × ``contexts_x`` sorted uniform
positions — and predicted at *targets* (random points in training, a uniform grid in tests).

``constraints(grid)`` returns G (nt, nt·nx), the trapezoidal quadrature of ∫u dx at each
time of a :class:`GPMEGrid`, and b (nt,) = U(t) from the analytic mass (1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sciflow.errors import SciflowError
from sciflow.problems.base import Field, Problem, register_problem
from sciflow.autodiff.jet import Jet


@dataclass
class GPMEGrid:
    """A tensor grid of target points: t (nt,), x (nx,), points (nt·nx, 2) = (t, x), t-major."""

    t: torch.Tensor
    x: torch.Tensor

    @property
    def points(self) -> torch.Tensor:
        tt, xx = torch.meshgrid(self.t, self.x, indexing="ij")
        return torch.stack([tt.reshape(-1), xx.reshape(-1)], 1)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.t.numel(), self.x.numel())


def trapezoid_weights(x: torch.Tensor) -> torch.Tensor:
    """Weights w (nx,) with Σ w_i f(x_i) the trapezoidal rule of ∫ f dx over sorted nodes x (nx,)."""
    dx = x[1:] - x[:-1]
    w = torch.zeros_like(x)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return w


def stefan_z1(p_star) -> torch.Tensor:
    """Root z₁ of p* erf(z) z e^{z²} = (1 − p*)/√π (the Stefan condition; front at 2z₁√t), float64.

    Vectorised bisection on [0, 6] (the left side increases monotonically in z; z₁ < 6 for
    p* > 1e-15), 64 halvings: the bracket shrinks below one ulp.
    """
    p = torch.as_tensor(p_star, dtype=torch.float64)
    rhs = (1 - p) / math.sqrt(math.pi)
    lo, hi = torch.zeros_like(p), torch.full_like(p, 6.0)
    for _ in range(64):
        mid = (lo + hi) / 2
        above = p * torch.special.erf(mid) * mid * torch.exp(mid * mid) > rhs
        hi = torch.where(above, mid, hi)
        lo = torch.where(above, lo, mid)
    return (lo + hi) / 2


class GPMEProblem(Problem):
    """Shared machinery of the GPME family (subclasses define k, the exact solution and the mass).

    Inputs are (t, x); the one field is u. The parameter θ of a family member travels as a
    third input column where needed: ``residual`` and ``exact`` accept x (N, 2) (the problem's
    own ``param``) or (N, 3) = (t, x, θ).
    """

    evaluator = "probconserv"
    param_name = "theta"
    x_range = (0.0, 1.0)
    t_range = (0.0, 1.0)
    periodic = False
    front_level = None  # level u crossing which locates the front (None: no front)

    def __init__(self, param: float, train_range: tuple[float, float], test_values: tuple[float, ...],
                 contexts_t: int = 10, contexts_x: int = 10, t_of_interest: float = 0.5):
        super().__init__(inputs=("t", "x"), fields=(Field("u", "1", "conserved quantity"),),
                         params={self.param_name: float(param)})
        lo, hi = (float(v) for v in train_range)
        if not lo <= hi:
            raise SciflowError(f"problem.train_range: expected [low, high], got {list(train_range)}")
        if contexts_t < 1 or contexts_x < 2:
            raise SciflowError("problem.contexts_t ≥ 1 and problem.contexts_x ≥ 2 are needed")
        self.param = float(param)
        self.train_range = (lo, hi)
        self.test_values = tuple(float(v) for v in test_values)
        self.contexts_t, self.contexts_x = int(contexts_t), int(contexts_x)
        self.t_of_interest = float(t_of_interest)

    # ---------------------------------------------------------------- physics (per subclass)
    def k(self, u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dk(self, u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """k'(u) (a.e.)."""
        raise NotImplementedError

    def solution(self, t: torch.Tensor, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Exact u (same shape as broadcast t, x, θ)."""
        raise NotImplementedError

    def mass(self, t: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Exact U(t) = ∫ u dx (broadcast shape of t, θ), Eq. (1)."""
        raise NotImplementedError

    def value_bounds(self, t, theta=None):
        """(lo, hi) of the maximum principle at times t (float64, t's shape): the extremes of the initial
        and boundary data up to t bound u (the GPME is a degenerate parabolic equation)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        th = torch.tensor(self.param if theta is None else float(theta), dtype=torch.float64)
        lo, hi = self.data_extremes(t, th)
        return torch.broadcast_to(lo, t.shape).clone(), torch.broadcast_to(hi, t.shape).clone()

    def data_extremes(self, t: torch.Tensor, theta: torch.Tensor):
        """(min, max) of the initial and boundary data over [0, t] (broadcast with t)."""
        raise NotImplementedError

    def front(self, t: torch.Tensor, theta: float) -> torch.Tensor | None:
        """Exact front position(s) at times t, or None where the case has no front."""
        return None

    # ---------------------------------------------------------------- Problem hooks
    def _theta(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] >= 3:
            return x[:, 2]
        return torch.full_like(x[:, 0], self.param)

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        """u (N, 1) at x (N, 2) = (t, x) [or (N, 3) with θ]."""
        return self.solution(x[:, 0], x[:, 1], self._theta(x)).unsqueeze(1)

    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """(GPME) in non-conservative form u_t − k(u) u_xx − k'(u) u_x², (N,)."""
        theta = self._theta(x)
        u = out.value[:, 0]
        u_t, u_x, u_xx = out.d1[:, 0, 0], out.d1[:, 1, 0], out.d2[:, 1, 0]
        return {"gpme": u_t - self.k(u, theta) * u_xx - self.dk(u, theta) * u_x ** 2}

    def sample(self, region: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if region != "interior":
            raise ValueError(f"{self.name}: unknown region '{region}' (interior)")
        r = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        (t0, t1), (x0, x1) = self.t_range, self.x_range
        return torch.stack([t0 + r[:, 0] * (t1 - t0), x0 + r[:, 1] * (x1 - x0)], 1)

    def grid(self, nt: int, nx: int, dtype=torch.float64) -> GPMEGrid:
        """Uniform evaluation grid, endpoints included (nt, nx ≥ 2)."""
        return GPMEGrid(torch.linspace(*self.t_range, nt, dtype=dtype), torch.linspace(*self.x_range, nx, dtype=dtype))

    def constraints(self, grid: GPMEGrid, theta: float | None = None):
        """(G (nt, nt·nx), b (nt,)): trapezoidal ∫u dx at each grid time = exact mass U(t), float64.

        G acts on u flattened t-major (``grid.points`` order); the x nodes must span the domain.
        """
        x = grid.x.double()
        (x0, x1) = self.x_range
        if abs(float(x[0]) - x0) > 1e-12 or abs(float(x[-1]) - x1) > 1e-12:
            raise SciflowError(f"{self.name}.constraints: the grid's x nodes must span [{x0}, {x1}] "
                               f"(got [{float(x[0])}, {float(x[-1])}])")
        w = trapezoid_weights(x)
        nt = grid.t.numel()
        G = torch.kron(torch.eye(nt, dtype=torch.float64), w[None, :])
        th = torch.tensor(self.param if theta is None else float(theta), dtype=torch.float64)
        return G, self.mass(grid.t.double(), th)

    def reference(self, progress: bool = True):
        """The exact solution on a 201 × 201 grid for every test value (``xarray.Dataset``)."""
        import xarray as xr

        from sciflow.data.io import provenance

        grid = self.grid(201, 201)
        tt, xx = torch.meshgrid(grid.t, grid.x, indexing="ij")
        th = torch.tensor(self.test_values, dtype=torch.float64)
        u = self.solution(tt[None], xx[None], th[:, None, None])
        mass = self.mass(grid.t[None], th[:, None])
        return xr.Dataset(
            {"u": ((self.param_name, "t", "x"), u.numpy()), "mass": ((self.param_name, "t"), mass.numpy())},
            coords={self.param_name: th.numpy(), "t": grid.t.numpy(), "x": grid.x.numpy()},
            attrs=provenance(self.name, "analytic", {**self.params, "test_values": list(self.test_values)},
                             "201x201", 0.0))

    # ---------------------------------------------------------------- function draws (ANP data)
    def draw_parameters(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """θ (n,) uniform in ``train_range``."""
        lo, hi = self.train_range
        return lo + torch.rand(n, generator=generator, dtype=torch.float64) * (hi - lo)

    def _context_points(self, n: int, generator) -> torch.Tensor:
        """(n, contexts_t·contexts_x, 2): one t in each of contexts_t equal intervals × sorted uniform x."""
        (t0, t1), (x0, x1) = self.t_range, self.x_range
        nt, nx = self.contexts_t, self.contexts_x
        t = (torch.arange(nt, dtype=torch.float64) + torch.rand(n, nt, generator=generator, dtype=torch.float64)) / nt
        x = torch.sort(torch.rand(n, nx, generator=generator, dtype=torch.float64), 1).values
        return _mesh(t0 + t * (t1 - t0), x0 + x * (x1 - x0))

    def _target_points(self, n: int, nt: int, nx: int, generator) -> torch.Tensor:
        """(n, nt·nx, 2): sorted uniform random t × sorted uniform random x."""
        (t0, t1), (x0, x1) = self.t_range, self.x_range
        t = torch.sort(torch.rand(n, nt, generator=generator, dtype=torch.float64), 1).values
        x = torch.sort(torch.rand(n, nx, generator=generator, dtype=torch.float64), 1).values
        return _mesh(t0 + t * (t1 - t0), x0 + x * (x1 - x0))

    def draw_functions(self, n: int, targets_t: int = 10, targets_x: int = 10, generator=None,
                       theta: torch.Tensor | None = None, grid: GPMEGrid | None = None) -> dict:
        """A batch of n functions: ``theta`` (n,), ``xc`` (n, Nc, 2), ``yc`` (n, Nc, 1), ``xt`` (n, Nt, 2),
        ``yt`` (n, Nt, 1), all float64. θ defaults to draws from ``train_range``; targets are random
        (targets_t × targets_x) or the given ``grid``.
        """
        theta = self.draw_parameters(n, generator) if theta is None else torch.as_tensor(theta, dtype=torch.float64)
        xc = self._context_points(n, generator)
        if grid is None:
            xt = self._target_points(n, targets_t, targets_x, generator)
        else:
            xt = grid.points.double()[None].expand(n, -1, -1)
        th = theta[:, None]
        yc = self.solution(xc[..., 0], xc[..., 1], th).unsqueeze(-1)
        yt = self.solution(xt[..., 0], xt[..., 1], th).unsqueeze(-1)
        return {"theta": theta, "xc": xc, "yc": yc, "xt": xt, "yt": yt}


def _mesh(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """t (n, nt), x (n, nx) → (n, nt·nx, 2) = (t, x), t-major."""
    n, nt = t.shape
    nx = x.shape[1]
    return torch.stack([t[:, :, None].expand(n, nt, nx), x[:, None, :].expand(n, nt, nx)], -1).reshape(n, nt * nx, 2)


@register_problem("gpme_heat")
class HeatEquation(GPMEProblem):
    """Heat equation u_t = k u_xx on [0, 2π] (periodic), u(x, 0) = sin x: u = e^{−kt} sin x, U(t) = 0.

    Parameter k (diffusivity): train k ∈ [1, 5], test k ∈ {1, 5} (paper).
    """

    param_name = "k"
    x_range = (0.0, 2 * math.pi)
    t_range = (0.0, 1.0)
    periodic = True

    def __init__(self, k: float = 1.0, train_range: tuple[float, float] = (1.0, 5.0),
                 test_values: tuple[float, ...] = (1.0, 5.0), contexts_t: int = 10, contexts_x: int = 10,
                 t_of_interest: float = 0.5):
        if k <= 0:
            raise SciflowError(f"problem.k must be positive, got {k}")
        super().__init__(k, train_range, test_values, contexts_t, contexts_x, t_of_interest)

    def k(self, u, theta):
        return theta * torch.ones_like(u)

    def dk(self, u, theta):
        return torch.zeros_like(u)

    def solution(self, t, x, theta):
        return torch.exp(-theta * t) * torch.sin(x)

    def mass(self, t, theta):
        return torch.zeros(torch.broadcast_shapes(t.shape, theta.shape), dtype=torch.float64)

    def data_extremes(self, t, theta):
        return -torch.ones_like(t), torch.ones_like(t)  # u(x, 0) = sin x, periodic: no boundary data


@register_problem("gpme_pme")
class PorousMediumEquation(GPMEProblem):
    """Porous medium equation, k(u) = u^m on [0, 1], u(x, 0) = 0, u(0, t) = (mt)^{1/m}, u(1, t) = 0.

    Exact u = (m relu(t − x))^{1/m} (a front at x = t), U(t) = m^{1+1/m} t^{1+1/m} / (m + 1)
    (= ∫₀ᵗ F(0, τ) dτ with the inflow flux F(0, t) = (mt)^{1/m}). Train m ∈ [1, 6], test
    m ∈ {1, 3, 6} (paper).
    """

    param_name = "m"
    x_range = (0.0, 1.0)
    t_range = (0.0, 1.0)

    def __init__(self, m: float = 3.0, train_range: tuple[float, float] = (1.0, 6.0),
                 test_values: tuple[float, ...] = (1.0, 3.0, 6.0), contexts_t: int = 10, contexts_x: int = 10,
                 t_of_interest: float = 0.5):
        if m < 1:
            raise SciflowError(f"problem.m must be ≥ 1, got {m}")
        super().__init__(m, train_range, test_values, contexts_t, contexts_x, t_of_interest)

    @property
    def front_level(self):
        return 0.1

    def k(self, u, theta):
        return torch.relu(u) ** theta

    def dk(self, u, theta):
        return theta * torch.relu(u) ** (theta - 1)

    def solution(self, t, x, theta):
        return (theta * torch.relu(t - x)) ** (1.0 / theta)

    def mass(self, t, theta):
        a = 1 + 1 / theta
        return theta ** a * t ** a / (theta + 1)

    def front(self, t, theta):
        return t.clone()

    def data_extremes(self, t, theta):
        return torch.zeros_like(t), (theta * t) ** (1.0 / theta)  # u(0, t) = (mt)^{1/m} grows, u(·, 0) = u(1, ·) = 0


@register_problem("gpme_stefan")
class StefanProblem(GPMEProblem):
    """Stefan problem, k(u) = 1 for u ≥ p*, 0 otherwise, on [0, 1] × [0, 0.1], u(0, t) = 1, u(x, 0) = 0.

    Exact u = 1 − c₁ erf(x / 2√t) behind the front s(t) = 2z₁√t and 0 beyond (a jump from p*
    to 0), c₁ = (1 − p*)/erf z₁; U(t) = 2 c₁ √(t/π) = ∫₀ᵗ F(0, τ) dτ. Train p* ∈ [0.55, 0.7],
    test p* ∈ {0.5, 0.6} (0.5 outside the training range; paper).
    """

    param_name = "p_star"
    x_range = (0.0, 1.0)
    t_range = (0.0, 0.1)

    def __init__(self, p_star: float = 0.6, train_range: tuple[float, float] = (0.55, 0.7),
                 test_values: tuple[float, ...] = (0.5, 0.6), contexts_t: int = 10, contexts_x: int = 10,
                 t_of_interest: float = 0.05):
        if not 0 < p_star < 1:
            raise SciflowError(f"problem.p_star must lie in (0, 1), got {p_star}")
        super().__init__(p_star, train_range, test_values, contexts_t, contexts_x, t_of_interest)

    @property
    def front_level(self):
        return self.param / 2

    def k(self, u, theta):
        return (u >= theta).to(u.dtype)

    def dk(self, u, theta):
        return torch.zeros_like(u)  # k' is a Dirac mass at u = p*: the front, where the jump condition holds

    @staticmethod
    def _z1(theta: torch.Tensor) -> torch.Tensor:
        return stefan_z1(theta)

    def c1(self, theta: torch.Tensor) -> torch.Tensor:
        return (1 - theta) / torch.special.erf(self._z1(theta))

    def solution(self, t, x, theta):
        t, x, theta = torch.broadcast_tensors(torch.as_tensor(t, dtype=torch.float64),
                                              torch.as_tensor(x, dtype=torch.float64),
                                              torch.as_tensor(theta, dtype=torch.float64))
        z1 = self._z1(theta)
        ts = torch.sqrt(t.clamp(min=1e-300))
        behind = 1 - self.c1(theta) * torch.special.erf(x / (2 * ts))
        u = torch.where(x <= 2 * z1 * torch.sqrt(t), behind, torch.zeros_like(x))
        return torch.where(x <= 0, torch.ones_like(x), u)

    def mass(self, t, theta):
        return 2 * self.c1(theta) * torch.sqrt(t / math.pi)

    def front(self, t, theta):
        return 2 * stefan_z1(float(theta)) * torch.sqrt(t)

    def data_extremes(self, t, theta):
        return torch.zeros_like(t), torch.ones_like(t)  # u(x, 0) = 0, u(0, t) = 1
