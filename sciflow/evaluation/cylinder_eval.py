"""Evaluators of hard-BC PINNs beyond the cavity: DFG cylinder, sinusoidal pipe, start-up flow.

* ``cylinder_pinn``: fields (u, v, p) vs the FEM grid (NaN inside the cylinder ignored);
  c_D, c_L from the PINN's own stresses (eq. 3 of :mod:`sciflow.problems.cylinder`) vs the
  FEM attrs; Δp; wall pressure p(θ) vs the FEM ``p_wall``; velocity profiles.
* ``sinusoidal_pipe_pinn``: fields vs FEM, flow rate Q at inlet/middle/outlet vs FEM, centreline
  pressure and velocity profiles.
* ``transient_pinn``: relative L2 over the space-time grid and at each time vs the exact solution.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sciflow.evaluation import metrics as M  # noqa: E402
from sciflow.evaluation import plots  # noqa: E402
from sciflow.evaluation.flow_fields import mean_residuals, predict_on_grid  # noqa: E402
from sciflow.evaluation.quantities import flow_rate, force_coefficients, pressure_difference  # noqa: E402
from sciflow.evaluation.report import register_evaluator  # noqa: E402


def _predict(model, pts: np.ndarray) -> np.ndarray:
    """Model fields (n, C) at points (n, D) (numpy in, numpy float64 out)."""
    prm = next(model.parameters())
    return model.predict(torch.tensor(pts, device=prm.device, dtype=prm.dtype)).double().cpu().numpy()


def _field_metrics(u, v, p, ref) -> tuple[dict, dict]:
    """Relative L2 of (u, v, p) (ny, nx) vs the reference grid, NaN (outside the flow) masked."""
    ur, vr, pr = (ref[k].values for k in ("u", "v", "p"))
    mask = np.isfinite(ur)
    u, v, p = (np.where(mask, a, np.nan) for a in (u, v, p))
    metrics = {"u_rel_l2": M.rel_l2(u, ur), "v_rel_l2": M.rel_l2(v, vr), "velocity_rel_l2": M.velocity_rel_l2(u, v, ur, vr),
               "p_rel_l2": M.rel_l2_up_to_constant(p, pr), "u_max_abs_err": M.max_abs(u, ur), "v_max_abs_err": M.max_abs(v, vr)}
    pred = {"u": u, "v": v, "p": p - np.nanmean(p)}
    return metrics, {"pred": pred, "ref": {"u": ur, "v": vr, "p": pr - np.nanmean(pr)}}


def _profiles(path, curves: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, str]], title: str) -> Path:
    """One panel per (label, coordinate, model, reference, axis name)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(3.4 * len(curves), 3.4), squeeze=False)
    for ax, (label, s, pred, ref, axis) in zip(axes[0], curves):
        ax.plot(s, ref, "k-", lw=2, label="FEM" if "exact" not in title else "exact")
        ax.plot(s, pred, "r--", lw=1.5, label="PINN")
        ax.set_xlabel(axis)
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


@register_evaluator("cylinder_pinn")
def evaluate_cylinder(run, out: Path, progress=True, fields=None):
    model, problem = run.model, run.problem
    ref = problem.reference(progress=progress)
    u, v, p = predict_on_grid(model, ref)
    metrics, arrays = _field_metrics(u, v, p, ref)
    metrics["p_rel_l2_absolute"] = M.rel_l2(np.where(np.isfinite(ref["p"].values), p, np.nan), ref["p"].values)
    forces = force_coefficients(problem, model, n_theta=512)
    c_D, c_L = float(ref.attrs["c_D"]), float(ref.attrs["c_L"])
    metrics.update(c_D=forces["c_D"], c_L=forces["c_L"], c_D_fem=c_D, c_L_fem=c_L,
                   c_D_rel_err=abs(forces["c_D"] - c_D) / abs(c_D), c_L_abs_err=abs(forces["c_L"] - c_L),
                   delta_p=pressure_difference(problem, model), delta_p_fem=float(ref.attrs["delta_p"]))
    metrics["delta_p_rel_err"] = abs(metrics["delta_p"] - metrics["delta_p_fem"]) / abs(metrics["delta_p_fem"])
    metrics.update(mean_residuals(model, problem))
    xs, ys = ref["x"].values, ref["y"].values
    figs = {"Prediction | FEM | error": plots.field_comparison(
        xs, ys, arrays["pred"], arrays["ref"], out / "fields.png",
        f"{run.spec.name}: velocity rel. L2 {metrics['velocity_rel_l2']:.2e}, c_D {forces['c_D']:.4f} (FEM {c_D:.4f})")}
    theta = ref["theta"].values
    _, pts, _, _ = problem.surface_points(len(theta))
    pw = _predict(model, pts.numpy())[:, 2]
    metrics["p_wall_rel_l2"] = M.rel_l2(pw, ref["p_wall"].values)
    curves = [("pressure on the cylinder", np.degrees(theta), pw, ref["p_wall"].values, "θ [deg]")]
    for x0 in (0.4, 1.1, 2.2):
        i = int(np.argmin(np.abs(xs - x0)))
        curves.append((f"u at x = {xs[i]:.2f}", ys, u[:, i], ref["u"].values[:, i], "y"))
    j = int(np.argmin(np.abs(ys - problem.center[1])))
    curves.append((f"u on y = {ys[j]:.3f} (wake)", xs, np.where(np.isfinite(ref["u"].values[j]), u[j], np.nan),
                   ref["u"].values[j], "x"))
    figs["Wall pressure and velocity profiles vs FEM"] = _profiles(out / "profiles.png", curves, run.spec.name)
    metrics["reference"] = {k: str(ref.attrs.get(k)) for k in ("case", "solver", "resolution", "c_D", "c_L", "delta_p")}
    return metrics, figs


@register_evaluator("sinusoidal_pipe_pinn")
def evaluate_sinusoidal_pipe(run, out: Path, progress=True, fields=None):
    model, problem = run.model, run.problem
    ref = problem.reference(progress=progress)
    u, v, p = predict_on_grid(model, ref)
    metrics, arrays = _field_metrics(u, v, p, ref)
    q_fem = float(ref.attrs["flow_rate"])
    for name, x0 in (("inlet", 0.0), ("middle", 0.5 * problem.L), ("outlet", problem.L)):
        metrics[f"flow_rate_{name}"] = flow_rate(problem, model, x0)
    metrics.update(flow_rate_fem=q_fem, flow_rate_rel_err=abs(metrics["flow_rate_outlet"] - q_fem) / q_fem,
                   nu=problem.nu, Re_model=metrics["flow_rate_outlet"] / problem.nu)
    metrics.update(mean_residuals(model, problem))
    xs, ys = ref["x"].values, ref["y"].values
    figs = {"Prediction | FEM | error": plots.field_comparison(
        xs, ys, arrays["pred"], arrays["ref"], out / "fields.png",
        f"{run.spec.name}: velocity rel. L2 {metrics['velocity_rel_l2']:.2e}")}
    j = int(np.argmin(np.abs(ys)))
    pr = ref["p"].values
    p_title, p_line = "centreline pressure", p[j]
    if problem.ends == "periodic":  # the periodic form fixes p only up to a constant
        p_title, p_line = "centreline pressure (PINN shifted by its mean offset)", p[j] - np.nanmean(p - pr)
    curves = [(p_title, xs, p_line, pr[j], "x"), ("centreline u", xs, u[j], ref["u"].values[j], "x")]
    for x0 in (0.5 / problem.N / 2, 0.5):
        i = int(np.argmin(np.abs(xs - x0)))
        curves.append((f"u at x = {xs[i]:.3f}", ys, np.where(np.isfinite(ref["u"].values[:, i]), u[:, i], np.nan),
                       ref["u"].values[:, i], "y"))
    figs["Centreline pressure and velocity profiles vs FEM"] = _profiles(out / "profiles.png", curves, run.spec.name)
    metrics["reference"] = {k: str(ref.attrs.get(k)) for k in ("case", "solver", "resolution", "nu", "Re", "flow_rate")}
    return metrics, figs


@register_evaluator("transient_pinn")
def evaluate_transient(run, out: Path, progress=True, fields=None):
    model, problem = run.model, run.problem
    ref = problem.reference(progress=progress)
    ts, ys, xs = (ref[k].values for k in ("t", "y", "x"))
    T, Y, X = np.meshgrid(ts, ys, xs, indexing="ij")
    f = _predict(model, np.stack([X.ravel(), Y.ravel(), T.ravel()], 1)).reshape(len(ts), len(ys), len(xs), 3)
    ur, vr = ref["u"].values, ref["v"].values
    u, v, p = f[..., 0], f[..., 1], f[..., 2]
    per_t = [M.rel_l2(u[k], ur[k]) if np.linalg.norm(ur[k]) > 0 else float(np.linalg.norm(u[k])) for k in range(len(ts))]
    metrics = {"u_rel_l2": M.rel_l2(u, ur), "velocity_rel_l2": M.velocity_rel_l2(u, v, ur, vr),
               "v_max_abs": float(np.abs(v).max()), "u_max_abs_err": M.max_abs(u, ur),
               "u_rel_l2_final": per_t[-1], "u_rel_l2_max_over_t": float(np.max(per_t[1:])),
               "p_spread_max": float(max(np.ptp(p[k]) for k in range(len(ts))))}
    metrics.update(mean_residuals(model, problem))
    metrics["u_rel_l2_vs_t"] = {f"{t:.3f}": e for t, e in zip(ts, per_t)}
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    i0 = len(xs) // 2
    for k in np.linspace(0, len(ts) - 1, 5).astype(int):
        ax[0].plot(ys, ur[k, :, i0], "k-", lw=2)
        ax[0].plot(ys, u[k, :, i0], "r--", lw=1.5)
        ax[0].text(0.5, ur[k, len(ys) // 2, i0], f"t={ts[k]:.2f}", fontsize=7)
    ax[0].set_xlabel("y")
    ax[0].set_ylabel("u")
    ax[0].set_title("u(y) at x = %.2f: exact (black), PINN (red)" % xs[i0], fontsize=9)
    ax[1].semilogy(ts[1:], per_t[1:], "o-")
    ax[1].set_xlabel("t")
    ax[1].set_title("relative L2 of u at each time", fontsize=9)
    fig.tight_layout()
    path = out / "transient.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return metrics, {"Profiles and error over time vs the exact solution": path}
