"""DFG flow around a cylinder (Schäfer & Turek 1996), cases 2D-1 (steady) and 2D-2 (periodic).

Channel ``[0, 2.2] × [0, 0.41]``, cylinder of diameter ``D = 0.1`` centred at (0.2, 0.2),
``ν = 10⁻³``, ``ρ = 1``; inflow ``u = 4 U_m y (0.41 − y)/0.41²``; no-slip on the walls and the
cylinder; do-nothing outflow at x = 2.2. ``U_mean = 2 U_m / 3``; ``Re = U_mean D / ν``
(2D-1: U_m = 0.3, Re 20; 2D-2: U_m = 1.5, Re 100).

Forces (Schäfer & Turek 1996): ``F = ∫_S (ρν ∂u_t/∂n n_y − p n_x, −ρν ∂u_t/∂n n_x − p n_y) dS``
evaluated in the volume-integral form (John & Matthies 2001; John 2004):
with the discrete residual ``r`` of the momentum equation assembled *without* the
boundary conditions, ``F·e = −Σ_{i ∈ S} r_i`` over the velocity dofs of component ``e`` on
the cylinder. This equals ``−R(u_h, p_h; v_e)`` for the test function ``v_e = Σ_{i∈S} φ_i e``,
which is ``e`` on S and zero on all other boundaries; it converges at twice the rate of
the surface integral. ``c_{D,L} = 2 F_{D,L} / (ρ U_mean² D)``;
``Δp = p(0.15, 0.2) − p(0.25, 0.2)`` (both points are mesh vertices).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from sciflow.cfd.fem_unsteady import BDF2Stepper, TaylorHood, dirichlet_values, solve_newton, steady_residual
from sciflow.cfd.mesh_gmsh import DFG_CENTER, DFG_DIAMETER, DFG_HEIGHT, GmshMesh, dfg_channel_mesh, vertices
from sciflow.errors import SciflowError

NU = 1e-3


@dataclass
class CylinderFlow:
    """A DFG solution: mesh, Taylor-Hood operators and the stacked dof vector ``x`` (n_dofs,)."""

    gm: GmshMesh
    th: TaylorHood
    x: np.ndarray
    U_m: float
    nu: float = NU
    info: dict = field(default_factory=dict)

    @property
    def U_mean(self) -> float:
        return 2.0 * self.U_m / 3.0

    def coefficients(self, residual: np.ndarray) -> tuple[float, float]:
        """(c_D, c_L) from a full momentum residual (n_dofs,) by the volume-integral form."""
        cyl = self.th.facet_dofs(self.gm.boundaries["cylinder"])
        F_D, F_L = -residual[cyl].sum(), -residual[self.th.n2 + cyl].sum()
        scale = 2.0 / (self.U_mean**2 * DFG_DIAMETER)
        return float(scale * F_D), float(scale * F_L)

    def delta_p(self) -> float:
        """p(0.15, 0.2) − p(0.25, 0.2) from the P1 pressure at the two cylinder vertices."""
        p = self.th.split(self.x)[2]
        V = vertices(self.gm.mesh)
        xc, yc = DFG_CENTER
        r = DFG_DIAMETER / 2
        ia = np.argmin(np.hypot(V[0] - (xc - r), V[1] - yc))
        ib = np.argmin(np.hypot(V[0] - (xc + r), V[1] - yc))
        return float(p[ia] - p[ib])

    def wall_pressure(self, theta: np.ndarray) -> np.ndarray:
        """Pressure on the cylinder at polar angles ``theta`` (n,) [rad, from +x, counter-clockwise].

        The P1 pressure is linear along each boundary edge; it is interpolated linearly in
        angle between the cylinder vertices (exact up to the chord/arc difference).
        """
        p = self.th.split(self.x)[2]
        verts = np.unique(self.gm.mesh.facets[:, self.gm.boundaries["cylinder"]])
        V = vertices(self.gm.mesh)[:, verts]
        ang = np.mod(np.arctan2(V[1] - DFG_CENTER[1], V[0] - DFG_CENTER[0]), 2 * np.pi)
        order = np.argsort(ang)
        return np.interp(np.mod(theta, 2 * np.pi), ang[order], p[verts][order], period=2 * np.pi)


def inflow_profile(U_m: float):
    """Parabolic inflow u = 4 U_m y (H − y)/H², v = 0, as ``g(x) -> (2, n)`` for points (2, n)."""
    return lambda x: np.array([4.0 * U_m * x[1] * (DFG_HEIGHT - x[1]) / DFG_HEIGHT**2, np.zeros_like(x[1])])


def _boundary_data(gm: GmshMesh, U_m: float, cylinder=(0.0, 0.0)):
    b = gm.boundaries
    return [(b["inlet"], inflow_profile(U_m)), (b["wall"], (0.0, 0.0)), (b["cylinder"], cylinder)]


def build_mesh(n_cyl: int, h_max: float, order: int = 2) -> GmshMesh:
    if n_cyl < 8 or h_max <= 0:
        raise SciflowError(f"cylinder mesh: need n_cyl >= 8 and h_max > 0, got n_cyl={n_cyl}, h_max={h_max}")
    return dfg_channel_mesh(n_cyl=n_cyl, h_max=h_max, order=order)


def solve_2d1(n_cyl: int = 64, h_max: float = 0.03, order: int = 2, U_m: float = 0.3) -> CylinderFlow:
    """Steady case 2D-1 by Newton from the Stokes solution; ``info`` holds c_D, c_L, Δp and timings."""
    t0 = time.perf_counter()
    gm = build_mesh(n_cyl, h_max, order)
    th = TaylorHood.on(gm.mesh)
    dofs, vals = dirichlet_values(th, _boundary_data(gm, U_m))
    x, its = solve_newton(th, NU, dofs, vals)
    flow = CylinderFlow(gm, th, x, U_m)
    c_D, c_L = flow.coefficients(steady_residual(th, NU, x))
    flow.info = dict(c_D=c_D, c_L=c_L, delta_p=flow.delta_p(), newton_iterations=its, n_dofs=th.n_dofs,
                     n_triangles=int(gm.mesh.t.shape[1]), wall_time_s=time.perf_counter() - t0)
    return flow


def _rotation(omega_r: float):
    """Tangential velocity ω r (−sin θ, cos θ) on the cylinder (counter-clockwise spin)."""
    xc, yc = DFG_CENTER
    r = DFG_DIAMETER / 2
    return lambda x: omega_r * np.array([-(x[1] - yc) / r, (x[0] - xc) / r])


def solve_2d2(
    n_cyl: int = 64, h_max: float = 0.02, order: int = 2, U_m: float = 1.5, dt: float = 0.005, t_end: float = 12.0,
    n_periods: int = 4, rtol_periodic: float = 1e-3, kick: float = 0.3, t_kick: float = 0.25, progress: bool = True,
) -> CylinderFlow:
    """Periodic case 2D-2 by BDF2 from the steady Re-100 solution (Newton with Re continuation).

    The symmetric steady state is unstable; shedding is started by spinning the cylinder
    (surface speed ``kick``·U_m) during ``t < t_kick`` only. The run stops once the last
    ``n_periods`` lift periods have maxima and periods equal to ``rtol_periodic`` (relative)
    or at ``t_end``. ``info`` holds the time series ``t``, ``c_D``, ``c_L`` (n_steps,) and
    the statistics of the last ``n_periods`` periods (see :func:`periodic_statistics`).
    """
    t0 = time.perf_counter()
    gm = build_mesh(n_cyl, h_max, order)
    th = TaylorHood.on(gm.mesh)
    x_steady = None
    for U in (0.2 * U_m, 0.5 * U_m, U_m):  # continuation in Re: 20, 50, 100 for 2D-2
        dofs, vals = dirichlet_values(th, _boundary_data(gm, U))
        x_steady, _ = solve_newton(th, NU, dofs, vals, x0=x_steady)
    _, kick_vals = dirichlet_values(th, _boundary_data(gm, U_m, cylinder=_rotation(kick * U_m)))
    stepper = BDF2Stepper(th, NU, dt, dofs, x_steady)
    flow = CylinderFlow(gm, th, x_steady, U_m)
    ts, cds, cls = [], [], []
    n_max = int(round(t_end / dt))
    stats = None
    bar = tqdm(total=n_max, desc="DFG 2D-2 (BDF2)", disable=not progress, unit="step")
    try:
        for n in range(1, n_max + 1):
            t = n * dt
            r = stepper.step(kick_vals if t <= t_kick + 1e-12 else vals)
            flow.x = stepper.x
            c_D, c_L = flow.coefficients(r)
            if not np.isfinite(c_D + c_L):
                raise SciflowError(f"DFG 2D-2: non-finite forces at t={t:.4f} (dt={dt} too large for this mesh?)")
            ts.append(t), cds.append(c_D), cls.append(c_L)
            bar.update(1)
            if n % 10 == 0:
                bar.set_postfix(t=f"{t:.3f}", c_D=f"{c_D:.4f}", c_L=f"{c_L:+.4f}")
            if t > t_kick and n % 20 == 0:
                stats = periodic_statistics(np.array(ts), np.array(cds), np.array(cls), flow.U_mean, n_periods, t_min=t_kick)
                if stats is not None and stats["periodic_rtol"] <= rtol_periodic:
                    break
    finally:
        bar.close()
    ts, cds, cls = np.array(ts), np.array(cds), np.array(cls)
    stats = periodic_statistics(ts, cds, cls, flow.U_mean, n_periods, t_min=t_kick)
    if stats is None:
        raise SciflowError(f"DFG 2D-2: no periodic shedding detected by t_end={t_end}; increase t_end")
    flow.info = dict(t=ts, c_D=cds, c_L=cls, **stats, delta_p=flow.delta_p(), n_dofs=th.n_dofs, n_steps=len(ts),
                     n_triangles=int(gm.mesh.t.shape[1]), factorizations=stepper.factorizations,
                     gmres_iterations_mean=float(np.mean(stepper.gmres_iterations)), wall_time_s=time.perf_counter() - t0)
    return flow


def _peak(t: np.ndarray, y: np.ndarray, i: int) -> tuple[float, float]:
    """Vertex (t*, y*) of the parabola through samples i−1, i, i+1 (sub-step maximum)."""
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    den = y0 - 2 * y1 + y2
    s = 0.0 if den == 0 else 0.5 * (y0 - y2) / den
    h = t[i + 1] - t[i]
    return float(t[i] + s * h), float(y1 - 0.25 * (y0 - y2) * s)


def periodic_statistics(t, c_D, c_L, U_mean: float, n_periods: int = 4, t_min: float = 0.0) -> dict | None:
    """Shedding statistics over the last ``n_periods`` lift periods, or None if fewer exist.

    Periods are delimited by upward zero crossings of c_L − mean(c_L) (linear interpolation);
    ``strouhal = D f / U_mean`` with f = 1 / (mean period). Maxima use parabolic
    sub-step interpolation. Arrays ``t``, ``c_D``, ``c_L``: (n_steps,).
    Returns c_D_max, c_D_min, c_L_max, c_L_min, c_D_mean, c_L_mean (period averages),
    period, strouhal, t_start (of the averaging window) and periodic_rtol (relative spread
    of c_L maxima and periods between the windows' periods).
    """
    keep = t > t_min
    t, c_D, c_L = t[keep], c_D[keep], c_L[keep]
    if t.size < 10 or np.ptp(c_L) < 1e-3:
        return None
    y = c_L - np.mean(c_L[t.size // 2 :])
    up = np.nonzero((y[:-1] < 0) & (y[1:] >= 0))[0]
    if up.size < n_periods + 2:
        return None
    tc = t[up] - y[up] * (t[up + 1] - t[up]) / (y[up + 1] - y[up])
    periods = np.diff(tc)[-n_periods:]
    ta, tb = tc[-n_periods - 1], tc[-1]
    win = (t >= ta) & (t <= tb)
    cl_max, cd_max = [], []
    for a, b in zip(tc[-n_periods - 1 : -1], tc[-n_periods:]):
        idx = np.nonzero((t >= a) & (t <= b))[0]
        idx = idx[(idx > 0) & (idx < t.size - 1)]
        cl_max.append(_peak(t, c_L, idx[np.argmax(c_L[idx])])[1])
        cd_max.append(_peak(t, c_D, idx[np.argmax(c_D[idx])])[1])
    cl_max, cd_max = np.array(cl_max), np.array(cd_max)
    period = float(periods.mean())
    spread = max(np.ptp(cl_max) / np.abs(cl_max).max(), np.ptp(periods) / period, np.ptp(cd_max) / np.abs(cd_max).max())
    dtw = np.gradient(t[win])
    return dict(
        c_D_max=float(cd_max.max()), c_L_max=float(cl_max.max()), c_D_min=float(c_D[win].min()), c_L_min=float(c_L[win].min()),
        c_D_mean=float(np.sum(c_D[win] * dtw) / np.sum(dtw)), c_L_mean=float(np.sum(c_L[win] * dtw) / np.sum(dtw)),
        period=period, strouhal=float(DFG_DIAMETER / period / U_mean), t_start=float(ta), periodic_rtol=float(spread),
    )
