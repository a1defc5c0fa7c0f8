"""Evaluator ``rollout``: autoregressive forecasts of an operator model on the TEST split.

From the first ``t_in`` frames of every test trajectory the model forecasts the rest of the
trajectory (``T + 1 − t_in`` frames).  Metrics (physical units, vorticity ω):

* ``test_rel_l2``: mean over samples of ‖ω̂ − ω‖₂/‖ω‖₂ over the first ``horizon`` forecast frames
  (the FNO/DyMixOp benchmark number: 10 frames in → 10 out);
* ``vorticity_<metric>`` over the first ``horizon`` forecast frames and ``<metric>_vs_time`` per
  frame for every metric of :mod:`sciflow.evaluation.metrics` (PDEBench's nRMSE = ‖e‖/‖y‖ per frame,
  The Well's VRMSE = RMSE/std, bRMSE, cRMSE, fRMSE bands, max error); ``rel_l2_vs_time`` is the
  sample-mean per-frame ‖e‖/‖y‖ (= ``nrmse_vs_time``); for zero-mean ω VRMSE equals it;
* ``spectrum_error``: mean over shells 1 ≤ |k| < n/3 of |log10 E_pred(k) / E_true(k)| at the last
  horizon frame, where E(k) = Σ_{shell} |ω̂_k|² / (2|2πk|²) is the kinetic-energy spectrum
  (|û|² = |ω̂|²/|2πk|² for a periodic incompressible field);
* ``decorrelation_time``: first forecast time at which the sample-mean Pearson correlation of
  ω̂ and ω falls below ``evaluation.correlation_threshold`` (0.8); the last time + Δt if never;
* statistics of the whole forecast (every frame, all test samples; :mod:`sciflow.cfd.turbulence2d_stats`):
  ``spectrum_rollout_error``, the ``spectrum_error`` of the spectra averaged over all forecast frames;
  ``enstrophy_rel_err`` / ``energy_rel_err``, the mean over frames of |Ẑ(t) − Z(t)| / Z(t) of the sample-mean
  enstrophy Z = ½⟨ω²⟩ (energy E = ½⟨|u|²⟩); ``autocorrelation_time_pred`` / ``_true``, the flow's own
  decorrelation time (its temporal autocorrelation falls below 1/e; the forecast length F·Δt with
  ``autocorrelation_time_<...>_reached`` false when it does not), and ``autocorrelation_time_rel_err`` when
  both are reached.

With ``evaluation.constraints: [zero_mean_vorticity]`` every forecast frame goes through the rollout
constraint layer (:mod:`sciflow.models.state_projection`); ``constraints`` records the list (or "none")
and ``constraint_residual_<name>`` the largest relative residual |G ω − b| of the forecasts, either way.

The weights are those of ``checkpoints/best.pt`` (selected on the validation split) when it
exists, else ``last.pt``.  Figures: prediction | truth | error through time, spectra, error curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sciflow.cfd.energy_spectrum2d import energy_spectrum
from sciflow.cfd.turbulence2d_stats import autocorrelation, decorrelation_time, enstrophy, kinetic_energy
from sciflow.evaluation import metrics as M
from sciflow.evaluation.report import register_evaluator


def rollout_metrics(pred: np.ndarray, truth: np.ndarray, times: np.ndarray, horizon: int,
                    threshold: float = 0.8) -> dict:
    """Metrics of forecasts pred, truth (S, F, n, n) at forecast times (F,) (see the module docstring)."""
    s = pred.shape[0]
    d = (pred - truth).reshape(s, pred.shape[1], -1)
    t = truth.reshape(s, pred.shape[1], -1)
    rel_frame = np.linalg.norm(d, axis=-1) / np.linalg.norm(t, axis=-1)  # (S, F)
    h = min(horizon, pred.shape[1])
    series = M.rollout_series(pred, truth, n_space=2)
    series.pop("rel_l2_vs_time")  # pooled over samples there; here the sample mean of per-frame values
    scalars = M.field_metrics(pred[:, :h], truth[:, :h], "vorticity", n_space=2)
    rel_h = np.linalg.norm(d[:, :h].reshape(s, -1), axis=-1) / np.linalg.norm(t[:, :h].reshape(s, -1), axis=-1)
    p = pred.reshape(s, pred.shape[1], -1)
    pc, tc = p - p.mean(-1, keepdims=True), t - t.mean(-1, keepdims=True)
    den = np.sqrt((pc ** 2).sum(-1) * (tc ** 2).sum(-1))
    corr = np.where(den > 0, (pc * tc).sum(-1) / np.where(den > 0, den, 1.0), 0.0).mean(0)  # (F,); 0 if constant
    below = np.flatnonzero(corr < threshold)
    dt = float(times[1] - times[0]) if len(times) > 1 else 1.0
    decor = float(times[below[0]]) if below.size else float(times[-1] + dt)
    ks, e_pred = energy_spectrum(pred[:, h - 1])
    _, e_true = energy_spectrum(truth[:, h - 1])
    keep = ks < pred.shape[-1] / 3
    ep, et = e_pred.mean(0)[keep], e_true.mean(0)[keep]
    spec_err = float(np.mean(np.abs(np.log10(np.maximum(ep, 1e-300) / np.maximum(et, 1e-300)))))
    stats = rollout_statistics(pred, truth, dt, keep)
    return {**stats, "test_rel_l2": float(rel_h.mean()), "test_rel_l2_std": float(rel_h.std()),
            "rel_l2_vs_time": rel_frame.mean(0).tolist(), **series, **scalars,
            "correlation_vs_time": corr.tolist(), "forecast_times": [float(x) for x in times],
            "decorrelation_time": decor, "correlation_threshold": float(threshold),
            "spectrum_error": spec_err, "final_rel_l2": float(rel_frame.mean(0)[-1]),
            "spectrum_k": ks[keep].tolist(), "spectrum_pred": ep.tolist(), "spectrum_true": et.tolist()}


def rollout_statistics(pred: np.ndarray, truth: np.ndarray, dt: float, shells: np.ndarray) -> dict:
    """Whole-forecast statistics of pred, truth (S, F, n, n) at frame spacing dt (module docstring); ``shells``
    (boolean, over the shells 1 … n/2 − 1 of :func:`energy_spectrum`) selects those in the spectrum error."""
    s, f = pred.shape[:2]
    _, ep = energy_spectrum(pred.reshape(s * f, *pred.shape[2:]))
    _, et = energy_spectrum(truth.reshape(s * f, *truth.shape[2:]))
    ep, et = ep.mean(0)[shells], et.mean(0)[shells]
    out = {"spectrum_rollout_error": float(np.mean(np.abs(np.log10(np.maximum(ep, 1e-300) / np.maximum(et, 1e-300))))),
           "spectrum_rollout_pred": ep.tolist(), "spectrum_rollout_true": et.tolist()}
    for name, fn in (("enstrophy", enstrophy), ("energy", kinetic_energy)):
        qp, qt = fn(pred).mean(0), fn(truth).mean(0)  # (F,)
        out.update({f"{name}_rel_err": float(np.mean(np.abs(qp - qt) / qt)),
                    f"{name}_pred_vs_time": qp.tolist(), f"{name}_true_vs_time": qt.tolist()})
    rp, rt = autocorrelation(pred), autocorrelation(truth)
    out.update(autocorrelation_pred=rp.tolist(), autocorrelation_true=rt.tolist())
    times = {}
    for tag, r in (("pred", rp), ("true", rt)):
        tau = decorrelation_time(r, dt)
        times[tag] = tau
        out[f"autocorrelation_time_{tag}"] = tau if tau is not None else f * dt  # a lower bound when not reached
        out[f"autocorrelation_time_{tag}_reached"] = tau is not None
    if times["pred"] is not None and times["true"]:
        out["autocorrelation_time_rel_err"] = abs(times["pred"] / times["true"] - 1)
    return out


def forecast_test(run, batch: int = 16, constraints=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forecasts on the test split: (pred, truth) (S, F, n, n) in physical units and times (F,);
    ``constraints``: quantities the rollout constraint layer holds in every forecast frame (None: none)."""
    from sciflow.models.state_projection import state_projection
    from sciflow.training.unroll import rollout

    problem = run.problem
    ds = problem.reference(progress=False)
    n_frames = ds.sizes["t"]
    frames = n_frames - problem.t_in
    test = problem.dataset("test", t_out=frames, stride=None)
    project = state_projection(problem, test, constraints)
    model = run.model
    param = next(model.parameters())
    preds = []
    with torch.no_grad():
        for lo in range(0, len(test), batch):
            items = [test[i] for i in range(lo, min(lo + batch, len(test)))]
            x = torch.stack([a for a, _ in items]).to(param.device, param.dtype)
            p = rollout(model, x, frames, project=project)
            preds.append(test.denormalise(p.double().cpu()).numpy())
    times = np.asarray(ds["t"].values)[problem.t_in:]
    # the truth as stored (not through the float32 normalised copy of the windows)
    later = ds["vorticity"].isel(sample=test.indices, t=slice(problem.t_in, None))
    truth = np.asarray(later.transpose("sample", "t", "x", "y").values, dtype=np.float64)
    return np.concatenate(preds), truth, times


def constraint_residuals(problem, pred: np.ndarray, constraints) -> dict:
    """{``constraint_residual_<name>``: largest relative |G ω − b| over the forecast frames pred (S, F, n, n)}
    of every quantity the problem can hold (whether or not the layer held it); {} when it holds none."""
    from sciflow.problems.base import StateConstraints

    if not isinstance(problem, StateConstraints):
        return {}
    from sciflow.models.state_projection import StateProjection

    frames = torch.from_numpy(pred)[..., None]
    proj = StateProjection(problem, problem.dataset("test", t_out=1, stride=None), problem.conserved_quantities,
                           disjoint=False)
    return {f"constraint_residual_{k}": v for k, v in proj.residuals(frames).items()}


@register_evaluator("rollout", keys=("constraints", "batch", "correlation_threshold"))
def evaluate_rollout(run, out: Path, progress: bool = True, fields=None):
    from sciflow.models.baselines import real_parameter_count
    from sciflow.evaluation.report import use_best_checkpoint

    selected = use_best_checkpoint(run)
    cfg = dict(run.spec.evaluation or {})
    constraints = cfg.get("constraints")
    pred, truth, times = forecast_test(run, int(cfg.get("batch", 16)), constraints)
    metrics = rollout_metrics(pred, truth, times, run.problem.horizon, float(cfg.get("correlation_threshold", 0.8)))
    metrics.update(checkpoint=selected, test_samples=int(pred.shape[0]),
                   parameters=real_parameter_count(run.model), constraints=list(constraints) if constraints else "none",
                   **constraint_residuals(run.problem, pred, constraints))
    from sciflow.evaluation.export import prediction_dataset, write_prediction

    grid = run.problem.reference(progress=False)
    write_prediction(out, prediction_dataset(
        {"vorticity": pred.transpose(0, 1, 3, 2)}, {"vorticity": truth.transpose(0, 1, 3, 2)},
        {"sample": np.arange(pred.shape[0]), "t": times, "x": grid["x"].values, "y": grid["y"].values},
        ("sample", "t", "y", "x"),
        {"case": f"{run.problem.name} test-split forecasts", "solver": f"sciflow model {run.spec.model.name}",
         "forecast": f"autoregressive from the first {run.problem.t_in} frames of each test trajectory"}))
    figs = {
        "Vorticity: prediction | truth | error through time": _fields_figure(pred[0], truth[0], times, out / "rollout_fields.png"),
        "Error and correlation vs forecast time": _error_figure(metrics, out / "rollout_error.png"),
        "Kinetic-energy spectra at the last horizon frame": _spectra_figure(metrics, out / "spectra.png"),
        "Whole-forecast statistics: mean spectrum, enstrophy and energy, autocorrelation":
            _statistics_figure(metrics, out / "rollout_statistics.png"),
    }
    return metrics, figs


def _fields_figure(pred, truth, times, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = np.unique(np.linspace(0, len(times) - 1, min(4, len(times))).round().astype(int))
    fig, axes = plt.subplots(3, len(cols), figsize=(3 * len(cols), 8.4), squeeze=False)
    lim = np.abs(truth).max()
    for j, f in enumerate(cols):
        for i, (data, label) in enumerate(((pred[f], "prediction"), (truth[f], "truth"), (pred[f] - truth[f], "error"))):
            ax = axes[i, j]
            im = ax.imshow(data.T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"{label}, t = {times[f]:g}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(im, ax=axes[:, j].tolist(), shrink=0.6)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _error_figure(m, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    t = m["forecast_times"]
    ax.plot(t, m["rel_l2_vs_time"], "o-", label="relative L2 = nRMSE (PDEBench) ≈ VRMSE (zero-mean ω)")
    ax.plot(t, m["correlation_vs_time"], "^-", label="correlation")
    ax.axhline(m["correlation_threshold"], color="grey", lw=0.8, ls=":",
               label=f"correlation threshold {m['correlation_threshold']:g}")
    ax.set_xlabel("forecast time t"), ax.set_ylabel("error / correlation (per frame, mean over test samples)")
    ax.legend(fontsize=8), ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _spectra_figure(m, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(m["spectrum_k"], m["spectrum_true"], "k-", label="CFD (truth)")
    ax.loglog(m["spectrum_k"], m["spectrum_pred"], "r--", label="model")
    ax.set_xlabel("|k|"), ax.set_ylabel("E(k)"), ax.legend(fontsize=8), ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _statistics_figure(m, path) -> Path:
    """Spectrum averaged over the forecast, enstrophy and energy against time, and the temporal autocorrelation
    with its 1/e level: CFD (solid) against the model (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].loglog(m["spectrum_k"], m["spectrum_rollout_true"], "k-", label="CFD (truth)")
    ax[0].loglog(m["spectrum_k"], m["spectrum_rollout_pred"], "r--", label="model")
    ax[0].set_title(f"spectrum over the forecast: log err {m['spectrum_rollout_error']:.3f}", fontsize=9)
    ax[0].set_xlabel("|k|"), ax[0].set_ylabel("E(k)"), ax[0].legend(fontsize=8), ax[0].grid(alpha=0.3, which="both")
    t = m["forecast_times"]
    ax[1].plot(t, m["enstrophy_true_vs_time"], "k-", label="enstrophy Z, CFD")
    ax[1].plot(t, m["enstrophy_pred_vs_time"], "k--", label="Z, model")
    ax1 = ax[1].twinx()
    ax1.plot(t, m["energy_true_vs_time"], "b-", label="energy E, CFD")
    ax1.plot(t, m["energy_pred_vs_time"], "b--", label="E, model")
    ax[1].set_xlabel("forecast time t"), ax[1].set_ylabel("Z = ½⟨ω²⟩"), ax1.set_ylabel("E = ½⟨|u|²⟩", color="b")
    ax[1].set_title(f"rel. err Z {m['enstrophy_rel_err']:.3f}, E {m['energy_rel_err']:.3f}", fontsize=9)
    ax[1].legend(fontsize=7, loc="upper left"), ax1.legend(fontsize=7, loc="upper right"), ax[1].grid(alpha=0.3)
    lags = np.asarray(t) - t[0]
    ax[2].plot(lags, m["autocorrelation_true"], "k-", label="CFD")
    ax[2].plot(lags, m["autocorrelation_pred"], "r--", label="model")
    ax[2].axhline(np.exp(-1), color="grey", lw=0.8, ls=":", label="1/e")

    def fmt(tag):
        v = m[f"autocorrelation_time_{tag}"]
        return f"{v:.3g}" if m[f"autocorrelation_time_{tag}_reached"] else f"> {v:.3g}"
    ax[2].set_title(f"decorrelation time (1/e): CFD {fmt('true')}, model {fmt('pred')}", fontsize=9)
    ax[2].set_xlabel("lag τ"), ax[2].set_ylabel("R(τ)"), ax[2].legend(fontsize=8), ax[2].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
