"""Case evaluators of steady 2D flows (u, v, p): they add to the generic field comparison.

* ``steady_flow``: relative L2 of |u| and of the velocity vector, the max errors of u and v
  (on the comparison's points), and the RMS of each PDE residual of the model;
* ``cavity``: ``steady_flow`` + the errors away from the singular lid corners + the largest
  deviation from Ghia et al. (1982) centreline values (u on x=0.5, v on y=0.5), with a figure,
  + the force balance of the vortex core (:func:`core_force_balance`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sciflow.evaluation import metrics as M
from sciflow.evaluation.report import register_evaluator


def predict_on_grid(model, ds, dtype=torch.float64):
    """The model's (u, v, p) on the reference grid of ``ds``: three (ny, nx) arrays."""
    xs, ys = ds["x"].values, ds["y"].values
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    p = next(model.parameters())
    out = model.predict(pts.to(p.device, p.dtype)).double().cpu().numpy()
    return [out[:, i].reshape(len(ys), len(xs)) for i in range(3)]


def predict_at_points(model, x: np.ndarray, y: np.ndarray):
    """The model's (u, v, p) at scattered points x, y (N,): three (N,) arrays."""
    pts = torch.tensor(np.stack([np.asarray(x, float), np.asarray(y, float)], 1))
    p = next(model.parameters())
    out = model.predict(pts.to(p.device, p.dtype)).double().cpu().numpy()
    return [out[:, i] for i in range(3)]


def ghia_deviation(model, re: float) -> dict | None:
    """Max |model − Ghia| over the interior table points, on both centrelines (None if no table)."""
    from sciflow.problems.reference_data import read_table
    from sciflow.resources import has_reference_table

    tag = f"re{int(re)}"
    if not has_reference_table(f"ghia1982_cavity_u_vertical_centerline_{tag}"):
        return None
    cu, _ = read_table(f"ghia1982_cavity_u_vertical_centerline_{tag}")
    cv, _ = read_table(f"ghia1982_cavity_v_horizontal_centerline_{tag}")
    ucol = [k for k in cu if k.startswith("u_")][0]
    vcol = [k for k in cv if k.startswith("v_")][0]
    p = next(model.parameters())
    xu = torch.tensor(np.stack([np.full_like(cu["y"], 0.5), cu["y"]], 1), device=p.device, dtype=p.dtype)
    xv = torch.tensor(np.stack([cv["x"], np.full_like(cv["x"], 0.5)], 1), device=p.device, dtype=p.dtype)
    pu = model.predict(xu)[:, 0].double().cpu().numpy()
    pv = model.predict(xv)[:, 1].double().cpu().numpy()
    return {
        "ghia_u_max_dev": float(np.max(np.abs(pu - cu[ucol]))),
        "ghia_v_max_dev": float(np.max(np.abs(pv - cv[vcol]))),
        "ghia_points": int(len(cu["y"]) + len(cv["x"])),
    }, {"y": cu["y"], "u": cu[ucol], "x": cv["x"], "v": cv[vcol]}


def mean_residuals(model, problem, n: int = 4096, seed: int = 123) -> dict:
    """RMS of each PDE residual at n fresh interior points (not the training points):
    ``residual_rms_<name>``; where the problem weights its residuals (``residual_weight``, e.g. near
    singular corners) also ``residual_weighted_rms_<name>`` = √mean(w r²), the training loss's
    term at fresh points (against the logged term: does the fit hold between collocation points?)."""
    p = next(model.parameters())
    x = problem.sample("interior", n, torch.Generator().manual_seed(seed)).to(p.device, p.dtype)
    out = model(x, model.make_ansatz(x))
    res = {k: v.detach() for k, v in problem.residual(x, out).items()}
    metrics = {f"residual_rms_{k}": float(torch.sqrt((v ** 2).mean())) for k, v in res.items()}
    w = problem.residual_weight(x)
    if w is not None:
        metrics.update({f"residual_weighted_rms_{k}": float(torch.sqrt((w * v ** 2).mean())) for k, v in res.items()})
    return metrics


#: The cavity's vortex core for :func:`core_force_balance`: (x0, x1, y0, y1).
CAVITY_CORE = (0.25, 0.75, 0.2, 0.8)


def momentum_force_balance(out, nu) -> dict:
    """RMS over points of the momentum residual r = (u·∇)u + ∇p − ν Δu and of its viscous term
    ν Δu, for a Jet ``out`` of (u, v, p) (:func:`~sciflow.problems.navier_stokes.navier_stokes_residual`):
    ``{"momentum_residual_rms", "viscous_term_rms"}``."""
    from sciflow.problems.navier_stokes import navier_stokes_residual

    r, inviscid = navier_stokes_residual(out, nu), navier_stokes_residual(out, 0.0)
    res = torch.cat([r["momentum_x"], r["momentum_y"]]).detach()
    visc = torch.cat([inviscid["momentum_x"] - r["momentum_x"], inviscid["momentum_y"] - r["momentum_y"]]).detach()
    return {"momentum_residual_rms": float(res.pow(2).mean().sqrt()), "viscous_term_rms": float(visc.pow(2).mean().sqrt())}


def core_force_balance(model, problem, n: int = 4096, seed: int = 123) -> dict:
    """Momentum residual against the viscous force in the cavity's vortex core (``CAVITY_CORE``), at
    n uniform points: ``core_momentum_residual_rms``, ``core_viscous_term_rms`` and their ratio
    ``core_residual_to_viscous``. In a steady closed-streamline core at high Re the vorticity is
    uniform and its value is fixed only by the O(1/Re) viscous term (Prandtl 1904, Batchelor 1956:
    ∮ ∂ω/∂n ds = 0 on every streamline); a residual as large as that term acts as a body force of
    the same size, and the vortex strength is then not determined by the loss. A ratio well below 1
    is needed before a smaller loss means a better vortex."""
    p = next(model.parameters())
    x0, x1, y0, y1 = CAVITY_CORE
    u = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], 1).to(p.device, p.dtype)
    x = problem.complete_inputs(x)
    nu = 1.0 / problem.param("Re", x)
    b = momentum_force_balance(model(x, model.make_ansatz(x)), nu)
    return {"core_momentum_residual_rms": b["momentum_residual_rms"], "core_viscous_term_rms": b["viscous_term_rms"],
            "core_residual_to_viscous": b["momentum_residual_rms"] / b["viscous_term_rms"]}


def steady_flow_metrics(fields) -> dict:
    """Velocity-vector and speed errors of a (u, v, p) :class:`FieldComparison`."""
    u, v, p = (fields.pred[k] for k in ("u", "v", "p"))
    ur, vr, pr = (fields.ref[k] for k in ("u", "v", "p"))
    return {
        "u_rel_l2": M.rel_l2(u, ur),
        "v_rel_l2": M.rel_l2(v, vr),
        "speed_rel_l2": M.rel_l2(np.hypot(u, v), np.hypot(ur, vr)),
        "velocity_rel_l2": M.velocity_rel_l2(u, v, ur, vr),
        "p_rel_l2": M.rel_l2_up_to_constant(p, pr),
        "u_max_abs_err": M.max_abs(u, ur),
        "v_max_abs_err": M.max_abs(v, vr),
    }


@register_evaluator("steady_flow")
def evaluate_steady_flow(run, out: Path, progress=True, fields=None):
    metrics = steady_flow_metrics(fields)
    metrics.update(mean_residuals(run.model, run.problem))
    return metrics, {}


@register_evaluator("cavity")
def evaluate_cavity(run, out: Path, progress=True, fields=None):
    from sciflow.evaluation import plots

    model, problem = run.model, run.problem
    metrics = steady_flow_metrics(fields)
    metrics.update(mean_residuals(model, problem))
    metrics.update(core_force_balance(model, problem))
    u, v, p = (fields.pred[k] for k in ("u", "v", "p"))
    ur, vr, pr = (fields.ref[k] for k in ("u", "v", "p"))
    x, y = fields.coords["x"], fields.coords["y"]
    # p ∝ 1/r at the lid corners dominates any pressure norm: also report it away from them
    X, Y = np.meshgrid(x, y) if fields.gridded else (x, y)
    away = np.all([np.hypot(X - cx, Y - cy) > problem.singular_radius for cx, cy in problem.singular_points], 0)
    metrics["p_rel_l2_away_from_lid_corners"] = M.rel_l2_up_to_constant(p[away], pr[away])
    metrics["velocity_rel_l2_away_from_lid_corners"] = M.velocity_rel_l2(u[away], v[away], ur[away], vr[away])
    arrays = {"x": x, "y": y, "pred": {"u": u, "v": v}, "ref": {"u": ur, "v": vr}}
    got = ghia_deviation(model, problem.Re)
    if got is not None:
        dev, table = got
        metrics.update(dev)
        arrays["ghia"] = table
    figs = {}
    if fields.gridded:
        figs["Centreline profiles vs FEM and Ghia et al. (1982)"] = plots.cavity_centerlines(arrays, out / "centerlines.png")
    return metrics, figs
