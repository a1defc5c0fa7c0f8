"""Steady NS reference cases solved with ``sciflow.cfd.fem``: lid-driven cavity, plane
Poiseuille channel, Kovasznay flow; and their dataset recipes (``cavity_fem``,
``poiseuille_fem``, ``kovasznay_fem``).

All cases are nondimensional with ν = 1/Re. Grid datasets hold ``u``, ``v``, ``p`` with
dims ``("y", "x")`` on a uniform grid that includes the boundary; ``p`` is shifted to
zero mean over the grid points.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import xarray as xr
from skfem import Functional, MeshTri
from skfem.helpers import dot

from sciflow.cfd.fem import FEMSolution, solve_steady_ns
from sciflow.data.io import provenance
from sciflow.data.recipes import register_recipe
from sciflow.errors import SciflowError
from sciflow.resources import has_reference_table, reference_table

#: Reynolds numbers visited on the way to a high target Re (those below the target are used).
CONTINUATION_RE = (100.0, 400.0, 1000.0, 2000.0, 3200.0, 5000.0, 7500.0, 10000.0)

CAVITY_CORNER_TREATMENT = (
    "the two lid corners (0,1) and (1,1) are wall points with u=v=0; the lid velocity u=1, v=0 "
    "holds on the open edge 0<x<1, y=1; the P2 trace therefore rises from 0 to 1 within the "
    "first/last element of the lid"
)


def rectangle_mesh(x0: float, x1: float, y0: float, y1: float, nx: int, ny: int) -> MeshTri:
    """Structured triangle mesh of [x0,x1]×[y0,y1] with nx×ny cells, each cut into 2 triangles."""
    return MeshTri.init_tensor(np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1))


def graded_square_mesh(n: int, grading: float = 0.0) -> MeshTri:
    """n×n×2 triangles of [0,1]², nodes graded towards all four walls (hence the corners).

    Node i of each side sits at x_i = s − (g/2π) sin 2πs, s = i/n, g = ``grading`` ∈ [0, 1):
    the spacing is (1 − g)/n at the walls and (1 + g)/n at the centre line (g = 0: uniform).
    """
    if not 0.0 <= grading < 1.0:
        raise SciflowError(f"mesh grading must lie in [0, 1), got {grading}")
    s = np.linspace(0.0, 1.0, n + 1)
    x = s - grading / (2 * np.pi) * np.sin(2 * np.pi * s)
    x[0], x[-1] = 0.0, 1.0
    return MeshTri.init_tensor(x, x)


def continuation_schedule(Re: float) -> list[float]:
    """Reynolds numbers solved before ``Re`` (each < Re), e.g. 1000 → [100, 400]."""
    return [r for r in CONTINUATION_RE if r < Re * (1 - 1e-12)]


# ------------------------------------------------------------------------- cavity
def cavity_boundary_conditions(mesh) -> dict:
    """Dirichlet data of the cavity on ``mesh``: lid u=1, v=0 on the open top edge; no-slip
    elsewhere. Order matters: the walls, listed last, own the two lid-corner dofs."""
    ytop = mesh.p[1].max()
    return {
        (lambda x: np.isclose(x[1], ytop)): (1.0, 0.0),
        (lambda x: ~np.isclose(x[1], ytop)): (0.0, 0.0),
    }


def cavity_solution(Re: float = 100.0, n: int = 64, mesh: MeshTri | None = None,
                    progress: bool = False, grading: float = 0.0,
                    initial: FEMSolution | None = None) -> FEMSolution:
    """Lid-driven square cavity on [0,1]² (Ghia, Ghia & Shin 1982), uniform lid u=1.

    Corner treatment: the two lid corners are wall points (u=v=0); u=1, v=0 holds on
    the open lid edge 0<x<1, y=1; all other walls are no-slip. Re = U L/ν with U=L=1.
    Continuation: Newton is run at every Re of ``continuation_schedule(Re)`` first, or,
    given ``initial`` (a converged solution on the same mesh), directly from it.
    ``n`` elements per side (2n² triangles, graded by ``grading``, see
    ``graded_square_mesh``) unless ``mesh`` is given.
    """
    mesh = graded_square_mesh(n, grading) if mesh is None else mesh
    continuation = [] if initial is not None else [1.0 / r for r in continuation_schedule(Re)]
    return solve_steady_ns(mesh, 1.0 / Re, cavity_boundary_conditions(mesh), continuation=continuation,
                           initial=initial, progress=progress, desc=f"cavity Re={Re:g} (Newton)")


# ---------------------------------------------------------------------- Poiseuille
def poiseuille_exact(x: np.ndarray, Re: float, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plane Poiseuille flow in [0,L]×[0,1]: u = 4y(1−y), v = 0, p = 8(L−x)/Re (p=0 at outflow)."""
    return 4.0 * x[1] * (1.0 - x[1]), np.zeros_like(x[0]), 8.0 / Re * (length - x[0])


def poiseuille_solution(Re: float = 100.0, n: int = 8, length: float = 2.0, mesh: MeshTri | None = None,
                        progress: bool = False) -> FEMSolution:
    """Channel [0,L]×[0,1]: parabolic inflow at x=0, no-slip at y=0,1, do-nothing outflow at x=L.

    The exact solution (``poiseuille_exact``) lies in P2×P1, so Taylor-Hood reproduces it to
    round-off on any triangulation. ``n`` cells across the height, ``n·L`` along.
    """
    mesh = rectangle_mesh(0.0, length, 0.0, 1.0, int(round(n * length)), n) if mesh is None else mesh
    inflow = lambda x: np.vstack(poiseuille_exact(x, Re, length)[:2])  # noqa: E731
    dirichlet = {
        (lambda x: np.isclose(x[0], 0.0)): inflow,
        (lambda x: np.isclose(x[1], 0.0) | np.isclose(x[1], 1.0)): (0.0, 0.0),
    }
    return solve_steady_ns(mesh, 1.0 / Re, dirichlet, progress=progress, desc=f"Poiseuille Re={Re:g} (Newton)")


# ----------------------------------------------------------------------- Kovasznay
KOVASZNAY_BOX = (-0.5, 1.0, -0.5, 1.5)


def kovasznay_exact(x: np.ndarray, Re: float = 40.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kovasznay (1948) flow: λ = Re/2 − sqrt(Re²/4 + 4π²),
    u = 1 − e^{λx} cos 2πy, v = λ/(2π) e^{λx} sin 2πy, p = ½(1 − e^{2λx}) (up to a constant)."""
    lam = Re / 2.0 - np.sqrt(Re**2 / 4.0 + 4.0 * np.pi**2)
    e = np.exp(lam * x[0])
    return 1.0 - e * np.cos(2 * np.pi * x[1]), lam / (2 * np.pi) * e * np.sin(2 * np.pi * x[1]), 0.5 * (1.0 - e**2)


def kovasznay_solution(Re: float = 40.0, n: int = 16, mesh: MeshTri | None = None,
                       progress: bool = False) -> FEMSolution:
    """Kovasznay flow on [−0.5,1]×[−0.5,1.5] with exact Dirichlet data on the whole boundary.
    ``n`` cells per side (n×n rectangles of 1.5/n × 2/n, each cut into two triangles)."""
    mesh = rectangle_mesh(*KOVASZNAY_BOX, n, n) if mesh is None else mesh
    exact_uv = lambda x: np.vstack(kovasznay_exact(x, Re)[:2])  # noqa: E731
    return solve_steady_ns(mesh, 1.0 / Re, {(lambda x: np.ones(x.shape[1], bool)): exact_uv},
                           continuation=[1.0 / r for r in continuation_schedule(Re)],
                           progress=progress, desc=f"Kovasznay Re={Re:g} (Newton)")


def velocity_l2_error(sol: FEMSolution, exact: Callable[[np.ndarray], tuple], intorder: int = 8) -> float:
    """Relative L² velocity error ‖u_h − u‖ / ‖u‖ over the mesh, by quadrature of order ``intorder``.
    ``exact(x)`` takes points (2, ...) and returns (u, v, ...) arrays of the same trailing shape."""
    from skfem import Basis, ElementTriP2, ElementVector

    basis = Basis(sol.mesh, ElementVector(ElementTriP2()), intorder=intorder)

    @Functional
    def err2(w):
        ue = np.stack(exact(w.x)[:2])
        d = w["uh"] - ue
        return dot(d, d)

    @Functional
    def ref2(w):
        ue = np.stack(exact(w.x)[:2])
        return dot(ue, ue)

    uh = basis.interpolate(sol.u)
    return float(np.sqrt(err2.assemble(basis, uh=uh) / ref2.assemble(basis)))


# -------------------------------------------------------------------- grid output
def grid_dataset(sol: FEMSolution, x: np.ndarray, y: np.ndarray) -> xr.Dataset:
    """Evaluate ``sol`` on the tensor grid x (nx,) × y (ny,): variables u, v, p of shape (ny, nx).
    p is shifted to zero mean over the grid points."""
    X, Y = np.meshgrid(x, y)
    u, v, p = sol.evaluate(np.vstack([X.ravel(), Y.ravel()]))
    p = p - p.mean()
    shape = (y.size, x.size)
    return xr.Dataset(
        {
            "u": (("y", "x"), u.reshape(shape), {"long_name": "x-velocity"}),
            "v": (("y", "x"), v.reshape(shape), {"long_name": "y-velocity"}),
            "p": (("y", "x"), p.reshape(shape), {"long_name": "pressure (zero mean over the grid)"}),
        },
        coords={"x": ("x", x), "y": ("y", y)},
    )


# Size bounds: a mesh of 512 cells per side is ~1.6M Taylor-Hood unknowns (the sparse LU needs
# tens of GiB); an output grid of 4097² is 0.4 GB per field.
MAX_MESH, MAX_GRID = 512, 4097


def _params(params: dict, defaults: dict, recipe: str) -> dict:
    unknown = set(params) - set(defaults)
    if unknown:
        raise SciflowError(f"recipe '{recipe}': unknown parameter(s) {sorted(unknown)}; allowed: {sorted(defaults)}")
    out = {**defaults, **params}
    for key, most in (("mesh", MAX_MESH), ("grid", MAX_GRID)):
        if key in out and (not isinstance(out[key], int) or isinstance(out[key], bool) or not 2 <= out[key] <= most):
            raise SciflowError(f"recipe '{recipe}': parameter '{key}' must be an integer from 2 to {most}, "
                               f"got {out[key]!r}")
    try:
        out["Re"] = float(out["Re"])
    except (TypeError, ValueError):
        raise SciflowError(f"recipe '{recipe}': parameter 'Re' must be a number, got {out['Re']!r}") from None
    if not math.isfinite(out["Re"]) or out["Re"] <= 0:
        raise SciflowError(f"recipe '{recipe}': parameter 'Re' must be positive, got {out['Re']}")
    return out


def _attrs(case: str, p: dict, sol: FEMSolution, resolution: str, wall: float, **extra) -> dict:
    attrs = provenance(case, "sciflow.cfd.fem Taylor-Hood P2/P1 Newton", p, resolution, wall)
    attrs.update(Re=p["Re"], mesh=p["mesh"], n_dofs=sol.n_dofs, newton_iterations=list(sol.newton_iterations))
    attrs.update(extra)
    return attrs


@register_recipe("cavity_fem")
def cavity_recipe(params: dict, progress: bool = True) -> xr.Dataset:
    """Lid-driven cavity: params Re (100), mesh (elements per side, 64), grading (0: uniform; g
    in [0, 1): wall spacing (1−g)/mesh, see ``graded_square_mesh``), grid (points per side, 129)."""
    p = _params(params, {"Re": 100.0, "mesh": 64, "grading": 0.0, "grid": 129}, "cavity_fem")
    try:
        p["grading"] = float(p["grading"])
    except (TypeError, ValueError):
        raise SciflowError(f"recipe 'cavity_fem': parameter 'grading' must be a number, got {p['grading']!r}") from None
    if not 0.0 <= p["grading"] < 1.0:
        raise SciflowError(f"recipe 'cavity_fem': parameter 'grading' must lie in [0, 1), got {p['grading']}")
    t0 = time.perf_counter()
    sol = cavity_solution(p["Re"], p["mesh"], progress=progress, grading=p["grading"])
    g = np.linspace(0.0, 1.0, p["grid"])
    ds = grid_dataset(sol, g, g)
    ds.attrs = _attrs("lid_driven_cavity", p, sol, f"{p['mesh']}x{p['mesh']}x2 P2/P1 triangles, grading "
                      f"{p['grading']:g}; grid {p['grid']}^2",
                      time.perf_counter() - t0, corner_treatment=CAVITY_CORNER_TREATMENT,
                      continuation_Re=continuation_schedule(p["Re"]) + [p["Re"]])
    return ds


@register_recipe("poiseuille_fem")
def poiseuille_recipe(params: dict, progress: bool = True) -> xr.Dataset:
    """Plane Poiseuille channel [0,L]×[0,1]: params Re (100), mesh (cells across, 8),
    length L (2.0), grid (points across the height, 33; same spacing along x)."""
    p = _params(params, {"Re": 100.0, "mesh": 8, "grid": 33, "length": 2.0}, "poiseuille_fem")
    t0 = time.perf_counter()
    sol = poiseuille_solution(p["Re"], p["mesh"], float(p["length"]), progress=progress)
    y = np.linspace(0.0, 1.0, p["grid"])
    x = np.linspace(0.0, float(p["length"]), int(round((p["grid"] - 1) * float(p["length"]))) + 1)
    ds = grid_dataset(sol, x, y)
    ds.attrs = _attrs("plane_poiseuille", p, sol, f"{p['mesh']} cells across, P2/P1; grid {x.size}x{y.size}",
                      time.perf_counter() - t0, corner_treatment="inflow corners are wall points (u=v=0)")
    return ds


@register_recipe("kovasznay_fem")
def kovasznay_recipe(params: dict, progress: bool = True) -> xr.Dataset:
    """Kovasznay flow on [−0.5,1]×[−0.5,1.5]: params Re (40), mesh (cells per side, 32),
    grid (points per side, 65)."""
    p = _params(params, {"Re": 40.0, "mesh": 32, "grid": 65}, "kovasznay_fem")
    t0 = time.perf_counter()
    sol = kovasznay_solution(p["Re"], p["mesh"], progress=progress)
    x0, x1, y0, y1 = KOVASZNAY_BOX
    ds = grid_dataset(sol, np.linspace(x0, x1, p["grid"]), np.linspace(y0, y1, p["grid"]))
    err = velocity_l2_error(sol, lambda x: kovasznay_exact(x, p["Re"]))
    ds.attrs = _attrs("kovasznay", p, sol, f"{p['mesh']}x{p['mesh']}x2 P2/P1 triangles; grid {p['grid']}^2",
                      time.perf_counter() - t0, corner_treatment="exact Dirichlet data, corners included",
                      velocity_relative_l2_error=err)
    return ds


# ------------------------------------------------------------ published reference
#: Known misprints in Ghia et al. (1982) Tables I/II, excluded from comparisons: {Re: [coordinate, ...]}.
GHIA_MISPRINTS_U = {3200: [0.4531]}  # printed −0.86636; the profile and later copies give −0.08664
GHIA_MISPRINTS_V = {400: [0.9063]}


def _read_table(path: Path) -> np.ndarray:
    """Rows of a reference CSV (``#`` comment lines and one header line skipped) as floats."""
    rows = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return np.array([[float(c) for c in ln.split(",")] for ln in rows[1:]])


def _centerline_tables(prefix: str, Re: int, author: str) -> dict[str, np.ndarray]:
    out = {}
    for name, coord in (("u_vertical", "y"), ("v_horizontal", "x")):
        table_name = f"{prefix}_cavity_{name}_centerline_re{int(Re)}"
        if not has_reference_table(table_name):
            raise SciflowError(f"no {author} table for Re={Re}: {table_name}.csv is not a bundled reference table")
        table = _read_table(reference_table(table_name))
        out[coord], out[name[0]] = table[:, 0], table[:, 1]
    return out


def ghia_centerlines(Re: int) -> dict[str, np.ndarray]:
    """Ghia et al. (1982) Tables I/II for ``Re`` ∈ {100, 400, 1000, 3200}: arrays ``y``, ``u``
    (u on x=0.5) and ``x``, ``v`` (v on y=0.5), 17 points each, and boolean ``u_valid``,
    ``v_valid`` masks that drop known misprints (Re 400 v(0.9063), Re 3200 u(0.4531))."""
    out = _centerline_tables("ghia1982", Re, "Ghia (1982)")
    out["u_valid"] = ~np.isin(np.round(out["y"], 4), GHIA_MISPRINTS_U.get(int(Re), []))
    out["v_valid"] = ~np.isin(np.round(out["x"], 4), GHIA_MISPRINTS_V.get(int(Re), []))
    return out


def botella_peyret_centerlines() -> dict[str, np.ndarray]:
    """Botella & Peyret (1998) spectral Re=1000 centrelines at Ghia's 17 points: ``y``, ``u``
    (u on x=0.5), ``x``, ``v`` (v on y=0.5)."""
    return _centerline_tables("botella1998", 1000, "Botella & Peyret (1998)")


def botella_peyret_extrema() -> dict[str, tuple[float, float]]:
    """Botella & Peyret (1998) Re=1000 centreline extrema {``u_min``/``v_max``/``v_min``: (value, location)}."""
    path = reference_table("botella1998_cavity_extrema_re1000")
    rows = [ln.split(",") for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")][1:]
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def centerline_deviation(sol: FEMSolution, table: dict[str, np.ndarray]) -> dict[str, float]:
    """Max |FEM − table| at the table points (evaluated exactly there, no grid interpolation):
    keys ``u`` (x=0.5 line), ``v`` (y=0.5 line), ``max``; points masked by ``u_valid`` /
    ``v_valid`` (where present) are excluded."""
    u = sol.evaluate(np.vstack([np.full_like(table["y"], 0.5), table["y"]]))[0]
    v = sol.evaluate(np.vstack([table["x"], np.full_like(table["x"], 0.5)]))[1]
    du = float(np.abs(u - table["u"])[table.get("u_valid", np.ones(u.size, bool))].max())
    dv = float(np.abs(v - table["v"])[table.get("v_valid", np.ones(v.size, bool))].max())
    return {"u": du, "v": dv, "max": max(du, dv)}


def ghia_deviation(sol: FEMSolution, Re: int) -> dict[str, float]:
    """``centerline_deviation`` against Ghia et al. (1982) at ``Re`` (misprints excluded)."""
    return centerline_deviation(sol, ghia_centerlines(Re))


def centerline_extrema(sol: FEMSolution, samples: int = 801) -> dict[str, float]:
    """Extrema of u(0.5, y) and v(x, 0.5) of a cavity solution and where they occur:
    ``u_min, y_u_min, v_max, x_v_max, v_min, x_v_min``. Located on ``samples`` points, then
    refined by bounded scalar minimisation of the FEM field between the neighbouring samples."""
    from scipy.optimize import minimize_scalar

    s = np.linspace(0.0, 1.0, samples)
    lines = {
        "u": lambda t: sol.evaluate(np.vstack([np.full_like(t, 0.5), t]))[0],
        "v": lambda t: sol.evaluate(np.vstack([t, np.full_like(t, 0.5)]))[1],
    }
    out = {}
    for key, comp, sign, coord in (("u_min", "u", 1.0, "y"), ("v_max", "v", -1.0, "x"), ("v_min", "v", 1.0, "x")):
        f = lines[comp]
        k = int(np.argmin(sign * f(s)))
        lo, hi = s[max(k - 1, 0)], s[min(k + 1, samples - 1)]
        r = minimize_scalar(lambda t: sign * f(np.array([t]))[0], bounds=(lo, hi), method="bounded",
                            options={"xatol": 1e-8})
        out[key], out[f"{coord}_{key}"] = float(sign * r.fun), float(r.x)
    return out
