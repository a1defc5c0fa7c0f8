"""Steady pressure-driven flow in a 2D channel with sinusoidal walls (recipe ``sinusoidal_pipe_fem``).

Domain ``0 ≤ x ≤ L``, ``|y| ≤ R(x) = R0 + A sin(2π N x / L)`` (defaults R0 = 0.05,
A = 0.005, N = 6, L = 1); no-slip walls; at the inlet (x = 0) and outlet (x = L) the
traction is prescribed, ``ν ∂u/∂n − p n = −p_ext n`` ("do-nothing" with a given pressure,
Heywood, Rannacher & Turek 1996), with p_in = 0.1, p_out = 0 (ρ = 1, kinematic pressure).
In the weak form this adds the load ``−p_ext ∫_Γ n·v ds`` on Γ_in and Γ_out.

``ends="periodic"``: the spatially developed flow (Patankar, Liu & Sparrow 1977). Since N is an
integer, the pipe is N copies of one wall period λ = L/N; the velocity and the pressure less its
mean gradient are λ-periodic,

    u(x + λ, y) = u(x, y),   p(x, y) = p̃(x, y) − G x,  p̃ λ-periodic,  G = (p_in − p_out)/L,   (P)

so p(0, y) − p(L, y) = p_in − p_out at every y, and the pressure level is fixed by a zero mean
outlet pressure (mean over the section). One period is solved (periodic mesh, outlet dofs tied to
the inlet's, body force G in x) and tiled. This flow carries no entrance effect: with the
do-nothing ends the flow rate is about 9 % lower (see the problem's physics note).

Reynolds number: ``Re = U_mean · 2R0 / ν`` with ``U_mean = Q / (2R0)`` and Q the flow rate
(per unit depth), i.e. ``Re = Q/ν``. With the pressure drop fixed, Q depends on ν, so ν is
*solved for*: the viscosity is iterated (secant on log Re vs log ν, each step a steady
Newton solve from the previous one) until Re = Re_target; Δp and Re are both held and ν
is the output. The plane-Poiseuille estimate ν₀ = sqrt(2 G R0³ / (3 Re)), G = Δp/L, starts it.

Discretisation: Taylor-Hood P2/P1 on a curved (isoparametric P2) gmsh mesh of cell size
``h``; see :mod:`sciflow.cfd.fem_unsteady`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from skfem import ElementTriP2, FacetBasis, Functional, LinearForm, asm

from sciflow.cfd.fem_unsteady import probe as probe_matrix
from sciflow.cfd.fem_unsteady import TaylorHood, dirichlet_values, solve_newton
from sciflow.cfd.mesh_gmsh import GmshMesh, sinusoidal_channel_mesh
from sciflow.data.io import provenance
from sciflow.data.recipes import register_recipe
from sciflow.errors import SciflowError

DEFAULTS = {"R0": 0.05, "A": 0.005, "N": 6, "L": 1.0, "p_in": 0.1, "p_out": 0.0, "Re": 100.0, "h": 0.007, "order": 2,
            "nx": 401, "ny": 45, "nu": None, "ends": "traction"}
ENDS = ("traction", "periodic")


@LinearForm
def _traction(v, w):
    """−p_ext (n_x, n_y)·v for one velocity component ``w.comp`` on the selected facets."""
    return -w["pe"] * w.n[w["comp"]] * v


@Functional
def _normal_flux(w):
    return w["ux"] * w.n[0] + w["uy"] * w.n[1]


@dataclass
class PipeFlow:
    gm: GmshMesh
    th: TaylorHood
    x: np.ndarray
    nu: float
    geometry: dict
    info: dict = field(default_factory=dict)
    period: float | None = None  # eq. (P): the mesh holds one period, p = p̃ − G x + p_shift
    gradient: float = 0.0
    p_shift: float = 0.0

    def _local(self, x: np.ndarray) -> np.ndarray:
        """x folded into the meshed period (identity for a full-length mesh)."""
        x = np.asarray(x, dtype=float)
        return x if self.period is None else np.mod(x, self.period)

    def radius(self, x: np.ndarray) -> np.ndarray:
        g = self.geometry
        return g["R0"] + g["A"] * np.sin(2 * np.pi * g["N"] * np.asarray(x) / g["L"])

    def boundary_flux(self, name: str) -> float:
        """∫_Γ u·n ds over a boundary (outward normal): −Q at the inlet, +Q at the outlet."""
        fb = FacetBasis(self.gm.mesh, ElementTriP2(), facets=self.gm.boundaries[name], intorder=6)
        ux, uy, _ = self.th.split(self.x)
        return float(_normal_flux.assemble(fb, ux=fb.interpolate(ux), uy=fb.interpolate(uy)))

    def section_flux(self, x0: float, n_sub: int = 200) -> float:
        """Q(x0) = ∫_{−R}^{R} u(x0, y) dy by composite 4-point Gauss quadrature on n_sub pieces."""
        R = float(self.radius(x0))
        g, wg = np.polynomial.legendre.leggauss(4)
        edges = np.linspace(-R, R, n_sub + 1)
        mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        y = (mid[:, None] + half[:, None] * g[None, :]).ravel()
        w = (half[:, None] * wg[None, :]).ravel()
        u = probe_matrix(self.th.sb, np.vstack([np.full_like(y, self._local(x0)), y])) @ self.th.split(self.x)[0]
        return float(w @ u)

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> dict[str, np.ndarray]:
        """(u, v, p) on the grid ys × xs, each (ny, nx); NaN outside |y| < R(x) (1e-6 margin)."""
        X, Y = np.meshgrid(xs, ys)
        inside = np.abs(Y) < self.radius(X) - 1e-6
        pts = np.vstack([self._local(X[inside]), Y[inside]])
        ux, uy, p = self.th.split(self.x)
        Pu, Pp = probe_matrix(self.th.sb, pts), probe_matrix(self.th.pb, pts)
        p_vals = Pp @ p - self.gradient * X[inside] + self.p_shift
        out = {}
        for name, vals in (("u", Pu @ ux), ("v", Pu @ uy), ("p", p_vals)):
            arr = np.full(X.shape, np.nan)
            arr[inside] = vals
            out[name] = arr
        return out


def _traction_load(th: TaylorHood, gm: GmshMesh, pressures: dict[str, float]) -> np.ndarray:
    f = np.zeros(th.n_dofs)
    for name, pe in pressures.items():
        fb = FacetBasis(gm.mesh, ElementTriP2(), facets=gm.boundaries[name], intorder=5)
        for comp in (0, 1):
            f[comp * th.n2 : (comp + 1) * th.n2] += asm(_traction, fb, pe=pe, comp=comp)
    return f


def _periodic_setup(th: TaylorHood, gm: GmshMesh, wall_dofs: np.ndarray, G: float):
    """Eq. (P) on one period: (slaves, masters) tying every outlet dof (u, v off the walls; p) to the
    inlet dof at the same y, the pressure dof pinned to 0 (gauge), and the body-force load G ∫ φ."""
    def pairs(basis, offset, exclude):
        nodes = {}
        for name in ("inlet", "outlet"):
            idx = basis.get_dofs(facets=gm.boundaries[name]).all()
            idx = np.setdiff1d(idx, exclude)
            nodes[name] = idx[np.argsort(basis.doflocs[1, idx])]
        a, b = nodes["inlet"], nodes["outlet"]
        if a.size != b.size or np.abs(basis.doflocs[1, a] - basis.doflocs[1, b]).max() > 1e-9:
            raise SciflowError("sinusoidal_pipe: the periodic mesh's inlet and outlet nodes do not match")
        return b + offset, a + offset

    n2 = th.n2
    sv, mv = pairs(th.sb, 0, wall_dofs)
    sp_, mp = pairs(th.pb, 2 * n2, np.zeros(0, dtype=np.int64))
    slaves = np.concatenate([sv, sv + n2, sp_])
    masters = np.concatenate([mv, mv + n2, mp])
    f = np.zeros(th.n_dofs)
    f[:n2] = G * (th.M @ np.ones(n2))  # ∫ G φ_i dA
    loc = th.pb.doflocs
    gauge = 2 * n2 + int(np.argmin((loc[0] - 0.5 * loc[0].max()) ** 2 + loc[1] ** 2))  # an interior p dof
    return (slaves, masters), np.array([gauge]), f


def solve_pipe(R0=0.05, A=0.005, N=6, L=1.0, p_in=0.1, p_out=0.0, Re=100.0, h=0.01, order=2, nu=None,
               ends: str = "traction", rtol_re: float = 1e-8, max_iter: int = 30) -> PipeFlow:
    """Steady flow for prescribed (p_in, p_out); ν from the Re condition unless ``nu`` is given.
    ``ends``: "traction" (do-nothing with p_ext at x = 0 and L) or "periodic" (eq. P).

    Returns a :class:`PipeFlow` whose ``info`` holds Q (outlet), Q_in, nu, Re, U_mean, the ν
    iteration history and timings.
    """
    if ends not in ENDS:
        raise SciflowError(f"sinusoidal_pipe: ends '{ends}' is not one of {ENDS}")
    if ends == "periodic" and int(N) < 1:
        raise SciflowError("sinusoidal_pipe: periodic ends need N >= 1 wall periods")
    if not (0 < A < R0) or h <= 0 or L <= 0 or N < 0:
        raise SciflowError(f"sinusoidal_pipe: need 0 < A < R0, h > 0, L > 0, N >= 0 (got R0={R0}, A={A}, h={h}, L={L}, N={N})")
    t0 = time.perf_counter()
    G = (p_in - p_out) / L
    if G <= 0:
        raise SciflowError(f"sinusoidal_pipe: need p_in > p_out for a positive Reynolds number (got {p_in}, {p_out})")
    periodic = ends == "periodic"
    period = L / int(N) if periodic else None
    gm = sinusoidal_channel_mesh(R0=R0, A=A, N=1 if periodic else int(N), L=period or L, h=h, order=int(order),
                                 periodic=periodic)
    th = TaylorHood.on(gm.mesh)
    dofs, vals = dirichlet_values(th, [(gm.boundaries["wall"], (0.0, 0.0))])
    tie = None
    if periodic:
        tie, gauge, f = _periodic_setup(th, gm, dofs[dofs < th.n2], G)
        dofs, vals = np.concatenate([dofs, gauge]), np.concatenate([vals, [0.0]])
    else:
        f = _traction_load(th, gm, {"inlet": p_in, "outlet": p_out})
    flow = PipeFlow(gm, th, np.zeros(th.n_dofs), 0.0, dict(R0=R0, A=A, N=int(N), L=L), period=period,
                    gradient=G if periodic else 0.0)
    fixed_nu = nu is not None
    nu_k = float(nu) if fixed_nu else float(np.sqrt(2 * G * R0**3 / (3 * Re)))
    x, history, pts = None, [], []
    for k in range(max_iter):
        # Continuation: start at the Stokes solution only for the first viscosity.
        x, its = solve_newton(th, nu_k, dofs, vals, x0=x, rhs=f, tie=tie)
        flow.x, flow.nu = x, nu_k
        re_k = flow.boundary_flux("outlet") / nu_k
        history.append((nu_k, re_k, its))
        if fixed_nu or abs(re_k / Re - 1) <= rtol_re:
            break
        pts.append((np.log(nu_k), np.log(re_k)))
        slope = -2.0 if len(pts) < 2 else (pts[-1][1] - pts[-2][1]) / (pts[-1][0] - pts[-2][0])
        nu_k = float(np.exp(pts[-1][0] + (np.log(Re) - pts[-1][1]) / slope))
    else:
        raise SciflowError(f"sinusoidal_pipe: viscosity iteration for Re={Re} did not converge in {max_iter} solves")
    Q = flow.boundary_flux("outlet")
    if periodic:  # pressure level: zero mean over the outlet section x = L (eq. P)
        R_end = float(flow.radius(L))
        y = np.linspace(-R_end, R_end, 401)[1:-1]
        flow.p_shift = p_out - float(flow.sample(np.array([L]), y)["p"].mean())
    flow.info = dict(Q=Q, Q_in=-flow.boundary_flux("inlet"), nu=flow.nu, Re=Q / flow.nu, U_mean=Q / (2 * R0),
                     nu_history=history, n_dofs=th.n_dofs, n_triangles=int(gm.mesh.t.shape[1]), wall_time_s=time.perf_counter() - t0)
    return flow


@register_recipe("sinusoidal_pipe_fem")
def sinusoidal_pipe_fem(params: dict, progress: bool = True) -> xr.Dataset:
    """Fields u, v, p (y, x) on a grid (NaN outside the walls); attrs flow_rate, nu, Re, U_mean."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise SciflowError(f"sinusoidal_pipe_fem: unknown parameter(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    prm = {**DEFAULTS, **params}
    t0 = time.perf_counter()
    keys = ("R0", "A", "N", "L", "p_in", "p_out", "Re", "h", "order", "nu", "ends")
    flow = solve_pipe(**{k: prm[k] for k in keys})
    R0, A, L = prm["R0"], prm["A"], prm["L"]
    xs = np.linspace(0.0, L, int(prm["nx"]))
    ys = np.linspace(-(R0 + A), R0 + A, int(prm["ny"]))
    fields = flow.sample(xs, ys)
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in fields.items()}, coords={"x": xs, "y": ys})
    info = flow.info
    ds.attrs = provenance("sinusoidal_pipe", "Taylor-Hood P2/P1 FEM (scikit-fem), curved gmsh mesh, Newton", prm,
                          f"h={prm['h']}, {info['n_dofs']} dofs, {info['n_triangles']} triangles", time.perf_counter() - t0)
    ds.attrs.update(flow_rate=info["Q"], flow_rate_inlet=info["Q_in"], flow_rate_middle=flow.section_flux(0.5 * L),
                    nu=info["nu"], Re=info["Re"], U_mean=info["U_mean"], delta_p=prm["p_in"] - prm["p_out"],
                    Re_definition="Re = U_mean * 2 R0 / nu, U_mean = Q / (2 R0); nu solved so that Re equals the target")
    return ds
