"""Dataset recipes for the DFG cylinder benchmark (Schäfer & Turek 1996): ``cylinder_2d1``, ``cylinder_2d2``.

Both write an ``xarray.Dataset`` with

* ``u``, ``v``, ``p`` (y, x): the finite-element solution sampled on a uniform grid over
  the channel ``[0, 2.2] × [0, 0.41]`` (NaN inside the cylinder); for 2D-2 the last
  computed time step (attr ``t_snapshot``);
* ``p_wall`` (theta): pressure on the cylinder at polar angle θ (rad, measured from +x,
  counter-clockwise about (0.2, 0.2); θ = π is the front stagnation point);
* attrs: provenance, ``nu``, ``U_m``, ``U_mean``, ``Re``, ``n_dofs``; 2D-1: ``c_D``,
  ``c_L``, ``delta_p``; 2D-2: ``c_D_max``, ``c_L_max``, ``strouhal`` and period averages
  ``c_D_mean``, ``c_L_mean`` (+ minima, ``period``), and the series ``c_D``, ``c_L`` (t).

The solvers are in :mod:`sciflow.cfd.cylinder_dfg`; parameters: ``n_cyl`` (cells on the
cylinder), ``h_max`` (largest cell size), ``order`` (2: curved isoparametric geometry, 1:
straight-sided), ``nx``, ``ny``, ``n_theta``; 2D-2 also ``dt``, ``t_end``, ``n_periods``.
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from sciflow.cfd.cylinder_dfg import NU, CylinderFlow, solve_2d1, solve_2d2
from sciflow.cfd.fem_unsteady import probe as probe_matrix
from sciflow.cfd.mesh_gmsh import DFG_CENTER, DFG_DIAMETER, DFG_HEIGHT, DFG_LENGTH
from sciflow.data.io import provenance
from sciflow.data.recipes import register_recipe
from sciflow.errors import SciflowError

_COMMON = {"n_cyl": 64, "h_max": 0.03, "order": 2, "nx": 221, "ny": 42, "n_theta": 360}
_UNSTEADY = {"h_max": 0.02, "dt": 0.005, "t_end": 12.0, "n_periods": 4}


def sample_on_grid(th, x_dofs: np.ndarray, xs: np.ndarray, ys: np.ndarray, inside: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate (u, v, p) of a stacked Taylor-Hood vector on the grid ``ys × xs``.

    ``inside``: (ny, nx) bool, True where the point lies in the flow domain; elsewhere NaN.
    Returns arrays of shape (ny, nx).
    """
    X, Y = np.meshgrid(xs, ys)
    pts = np.vstack([X[inside], Y[inside]])
    ux, uy, p = th.split(x_dofs)
    Pu, Pp = probe_matrix(th.sb, pts), probe_matrix(th.pb, pts)
    out = {}
    for name, vals in (("u", Pu @ ux), ("v", Pu @ uy), ("p", Pp @ p)):
        field = np.full(X.shape, np.nan)
        field[inside] = vals
        out[name] = field
    return out


def _params(params: dict, defaults: dict) -> dict:
    unknown = set(params) - set(defaults)
    if unknown:
        raise SciflowError(f"cylinder recipe: unknown parameter(s) {sorted(unknown)}; allowed: {sorted(defaults)}")
    merged = {**defaults, **params}
    for key in ("n_cyl", "order", "nx", "ny", "n_theta"):
        merged[key] = int(merged[key])
    if merged["order"] not in (1, 2):
        raise SciflowError(f"cylinder recipe: 'order' must be 1 or 2, got {merged['order']}")
    return merged


def _dataset(flow: CylinderFlow, prm: dict) -> xr.Dataset:
    xs = np.linspace(0.0, DFG_LENGTH, prm["nx"])
    ys = np.linspace(0.0, DFG_HEIGHT, prm["ny"])
    X, Y = np.meshgrid(xs, ys)
    inside = np.hypot(X - DFG_CENTER[0], Y - DFG_CENTER[1]) >= DFG_DIAMETER / 2
    fields = sample_on_grid(flow.th, flow.x, xs, ys, inside)
    theta = np.linspace(0.0, 2 * np.pi, prm["n_theta"], endpoint=False)
    ds = xr.Dataset(
        {name: (("y", "x"), val) for name, val in fields.items()},
        coords={"x": xs, "y": ys, "theta": theta},
    )
    ds["p_wall"] = ("theta", flow.wall_pressure(theta))
    ds["u"].attrs.update(long_name="streamwise velocity", units="m/s")
    ds["v"].attrs.update(long_name="cross-stream velocity", units="m/s")
    ds["p"].attrs.update(long_name="kinematic pressure (rho = 1)", units="m^2/s^2")
    ds["p_wall"].attrs.update(long_name="pressure on the cylinder surface", units="m^2/s^2")
    ds["theta"].attrs.update(long_name="polar angle about (0.2, 0.2) from +x, counter-clockwise", units="rad")
    ds["x"].attrs.update(long_name="x-coordinate (streamwise)", units="m")
    ds["y"].attrs.update(long_name="y-coordinate", units="m")
    return ds


def _attrs(case: str, flow: CylinderFlow, prm: dict, wall: float, extra: dict) -> dict:
    attrs = provenance(case, "Taylor-Hood P2/P1 FEM (scikit-fem) on a gmsh mesh"
                       + (" with curved (isoparametric P2) boundary" if prm["order"] == 2 else " (straight-sided)"),
                       prm, f"n_cyl={prm['n_cyl']}, h_max={prm['h_max']}, {flow.info['n_dofs']} dofs, "
                       f"{flow.info['n_triangles']} triangles", wall)
    attrs.update(nu=NU, U_m=flow.U_m, U_mean=flow.U_mean, D=DFG_DIAMETER, Re=flow.U_mean * DFG_DIAMETER / NU,
                 n_dofs=int(flow.info["n_dofs"]), reference="Schaefer & Turek (1996), datasets/reference/dfg_cylinder_2d1.csv")
    attrs.update(extra)
    return attrs


@register_recipe("cylinder_2d1")
def cylinder_2d1(params: dict, progress: bool = True) -> xr.Dataset:
    """DFG 2D-1 (Re 20, steady): fields on a grid, p_wall(θ), c_D, c_L, Δp."""
    prm = _params(params, _COMMON)
    t0 = time.perf_counter()
    flow = solve_2d1(prm["n_cyl"], prm["h_max"], prm["order"])
    ds = _dataset(flow, prm)
    info = flow.info
    ds.attrs = _attrs("dfg_cylinder_2d1", flow, prm, time.perf_counter() - t0,
                      dict(c_D=info["c_D"], c_L=info["c_L"], delta_p=info["delta_p"], newton_iterations=info["newton_iterations"]))
    return ds


@register_recipe("cylinder_2d2")
def cylinder_2d2(params: dict, progress: bool = True) -> xr.Dataset:
    """DFG 2D-2 (Re 100, periodic): last snapshot on a grid, p_wall(θ), c_D(t), c_L(t) and statistics."""
    prm = _params(params, {**_COMMON, **_UNSTEADY})
    prm["n_periods"] = int(prm["n_periods"])
    t0 = time.perf_counter()
    flow = solve_2d2(prm["n_cyl"], prm["h_max"], prm["order"], dt=float(prm["dt"]), t_end=float(prm["t_end"]),
                     n_periods=prm["n_periods"], progress=progress)
    info = flow.info
    ds = _dataset(flow, prm)
    ds = ds.assign_coords(t=info["t"])
    ds["c_D"] = ("t", info["c_D"])
    ds["c_L"] = ("t", info["c_L"])
    ds["t"].attrs.update(long_name="time", units="s")
    keys = ("c_D_max", "c_L_max", "strouhal", "c_D_mean", "c_L_mean", "c_D_min", "c_L_min", "period", "t_start", "periodic_rtol")
    extra = {k: info[k] for k in keys}
    extra.update(t_snapshot=float(info["t"][-1]), dt=float(prm["dt"]), delta_p_snapshot=info["delta_p"],
                 statistics="maxima, means and period over the last n_periods lift periods starting at t_start")
    ds.attrs = _attrs("dfg_cylinder_2d2", flow, prm, time.perf_counter() - t0, extra)
    return ds
