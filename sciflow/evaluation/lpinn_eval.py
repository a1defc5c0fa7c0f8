"""Evaluator ``lpinn``: Eulerian and Lagrangian PINNs on the periodic 1D transport problems.

Metrics (on the problem's reference grid, t (T,) × x (X,)):

    rel_l2          ‖u − u_ref‖₂ / ‖u_ref‖₂ over the whole x–t grid
    rel_l2_final    the same at t = t_final
    max_abs         max |u − u_ref|
    characteristic_max_error   (LPINN only) max |x(x0, t) − x_ref(x0, t)| over the plotted curves

Figures: x–t maps of prediction | reference | |error|; characteristic curves over the
reference solution — the reference ones (dx/dt = a(u_ref), integrated by RK4 on the grid with
periodic interpolation; x0 + ct exactly for linear convection) and, for an LPINN, the learned ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sciflow.evaluation.metrics import max_abs, rel_l2
from sciflow.evaluation.report import register_evaluator
from sciflow.models.lpinn import LagrangianPINN

TWO_PI = 2.0 * np.pi


def predict_on_grid(model, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """u (T, X) of ``model.predict`` on the grid t (T,) × x (X,)."""
    xx, tt = np.meshgrid(x, t)
    p = next(model.parameters())
    pts = torch.as_tensor(np.stack([xx.ravel(), tt.ravel()], 1), dtype=p.dtype, device=p.device)
    return model.predict(pts)[:, 0].cpu().double().numpy().reshape(xx.shape)


def reference_characteristics(problem, ref, x0: np.ndarray, substeps: int = 8) -> np.ndarray:
    """Unwrapped x (T, K) of dx/dt = a(u_ref(x, t)) from x0 (K,) at the reference times (RK4)."""
    x, t, u = ref.x.values, ref.t.values, ref.u.values
    if not problem.nonlinear:
        return x0[None, :] + problem.c * t[:, None]

    def speed(pos, i, w):  # a(u) at positions pos, time between rows i and i+1 with weight w
        ui = np.interp(np.mod(pos, TWO_PI), x, u[i], period=TWO_PI)
        uj = np.interp(np.mod(pos, TWO_PI), x, u[min(i + 1, len(t) - 1)], period=TWO_PI)
        return (1 - w) * ui + w * uj

    out = np.empty((len(t), len(x0)))
    out[0] = pos = np.array(x0, float)
    for i in range(len(t) - 1):
        h = (t[i + 1] - t[i]) / substeps
        for s in range(substeps):
            w0, wm, w1 = s / substeps, (s + 0.5) / substeps, (s + 1) / substeps
            k1 = speed(pos, i, w0)
            k2 = speed(pos + 0.5 * h * k1, i, wm)
            k3 = speed(pos + 0.5 * h * k2, i, wm)
            k4 = speed(pos + h * k3, i, w1)
            pos = pos + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        out[i + 1] = pos
    return out


def _xt_maps(x, t, pred, ref, path, title):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    lo, hi = ref.min(), ref.max()
    for ax, data, label in zip(axes, (pred, ref, np.abs(pred - ref)), ("prediction", "reference", "|error|")):
        kw = {"vmin": lo, "vmax": hi, "cmap": "RdBu_r"} if label != "|error|" else {"cmap": "magma"}
        im = ax.pcolormesh(t, x, data.T, shading="auto", **kw)
        ax.set_xlabel("t"), ax.set_ylabel("x"), ax.set_title(f"u: {label}", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.85)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _wrapped_lines(ax, t, xs, **kw):
    """Plot unwrapped curves x (T, K) modulo 2π, breaking the line where it wraps."""
    for k in range(xs.shape[1]):
        w = np.mod(xs[:, k], TWO_PI)
        w = np.where(np.abs(np.diff(w, prepend=w[0])) > np.pi, np.nan, w)
        ax.plot(t, w, **kw)
        kw.pop("label", None)


def _characteristics_figure(x, t, ref, ref_curves, model_curves, path, title):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    im = ax.pcolormesh(t, x, ref.T, shading="auto", cmap="RdBu_r")
    fig.colorbar(im, ax=ax, label="reference u")
    _wrapped_lines(ax, t, ref_curves, color="k", lw=1.0, ls="--", label="reference characteristics")
    if model_curves is not None:
        _wrapped_lines(ax, t, model_curves, color="gold", lw=1.2, label="learned characteristics (LPINN)")
    ax.set_xlabel("t"), ax.set_ylabel("x mod 2π"), ax.set_ylim(0, TWO_PI), ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


@register_evaluator("lpinn")
def evaluate_transport(run, out: Path, progress: bool = True, fields=None):
    """Metrics and figures of a PINN or LPINN run on ``convection``/``convection_diffusion``/``burgers``."""
    problem, model = run.problem, run.model
    ref = problem.reference(progress=progress)
    x, t, u_ref = ref.x.values, ref.t.values, ref.u.values
    pred = predict_on_grid(model, x, t)
    metrics = {"rel_l2": rel_l2(pred, u_ref), "rel_l2_final": rel_l2(pred[-1], u_ref[-1]),
               "max_abs": max_abs(pred, u_ref), "grid": f"{len(t)}x{len(x)} (t, x)",
               "reference_solver": str(ref.attrs.get("solver", ""))}
    x0 = TWO_PI * (np.arange(8) + 0.5) / 8
    ref_curves = reference_characteristics(problem, ref, x0)
    model_curves = None
    if isinstance(model, LagrangianPINN):
        p = next(model.parameters())
        pts = torch.as_tensor(np.stack([np.tile(x0, len(t)), np.repeat(t, len(x0))], 1), dtype=p.dtype, device=p.device)
        xl, _ = model.lagrangian(pts)
        model_curves = xl.cpu().double().numpy().reshape(len(t), len(x0))
        metrics["characteristic_max_error"] = float(np.abs(model_curves - ref_curves).max())
    name = run.spec.name
    figs = {
        "u(x, t): prediction | reference | error": _xt_maps(
            x, t, pred, u_ref, out / "xt_maps.png", f"{name}: rel. L2 {metrics['rel_l2']:.2e}"),
        "Characteristic curves over the reference solution": _characteristics_figure(
            x, t, u_ref, ref_curves, model_curves, out / "characteristics.png", f"{problem.name} {problem.params}"),
    }
    return metrics, figs
