"""Evaluator ``channel``: one-step error, long rollouts, turbulence statistics and cost of a channel surrogate.

For a run on the ``channel`` problem (weights of ``checkpoints/best.pt`` when present):

* ``one_step_rel_l2``: mean over every test window of ‖û(t+Δt) − u(t+Δt)‖₂ / ‖u(t+Δt)‖₂ (u, v, w together,
  physical units, teacher-forced input); ``persistence_rel_l2``: the same for û(t+Δt) = u(t);
* autoregressive rollout of ``evaluation.rollout_steps`` steps (default 100; the configs use 1000) from the first state of
  every test trajectory; ``rollout_steps_stable``: the steps made before the state became non-finite or its
  kinetic energy left [0.1, 10] × that of the filtered DNS (``rollout_steps`` when it never did);
* statistics of the rollout states after ``evaluation.stats_skip`` steps vs those of the filtered DNS (all
  trajectories, all snapshots), both on the coarse grid (:mod:`sciflow.cfd.channel_profiles`): mean
  streamwise velocity U(y) = ⟨u⟩_{x,z,t} (U⁺ in wall units) and rms u'_i(y) = ⟨(u_i − ⟨u_i⟩)²⟩^{1/2};
  ``U_plus_max_rel_err`` = max_y |Û − U| / max_y U, ``rms_max_rel_err`` = max over i, y of
  |û'_i − u'_i| / max_y u'_i (errors folded onto both channel halves); ``uv_plus_max_rel_err`` of the
  Reynolds shear stress ⟨u'v'⟩ (odd fold); skin friction and flow rate, ``wall_shear_ratio`` = τ̂_w / τ_w
  (``wall_shear_rel_err`` = |ratio − 1|) and ``bulk_velocity_ratio`` = Û_b / U_b
  (:func:`~sciflow.cfd.channel_profiles.wall_shear_and_bulk`);
* one-dimensional spectra E_ii(k_x), E_ii(k_z) and two-point correlations R_ii(Δx), R_ii(Δz) at y⁺ ≈ 15 and the
  centreline over the same rollout states and filtered-DNS states (:mod:`sciflow.cfd.channel_spectra1d`):
  ``E_k{x,z}_log_err_{y15,center}`` (mean |log10 Ê/E| over modes and components) and
  ``R_uu_d{x,z}_max_err_{y15,center}`` (max |R̂_uu − R_uu| over separations);
* forecasts of the test trajectories over their recorded length (the first ``t_in`` states in, every later
  snapshot out, autoregressively, physical units): for each velocity component f ∈ {u, v, w} the metrics of
  :mod:`sciflow.evaluation.metrics` over the first ``problem.horizon`` forecast states (``<f>_rel_l2``,
  ``<f>_nrmse``, ``<f>_vrmse``, ``<f>_rmse``, ``<f>_brmse``, ``<f>_crmse``, ``<f>_frmse_low|mid|high``,
  ``<f>_max_error``; Fourier shells on the index grid with lengths (l_x, 2, l_z), as PDEBench does on any grid)
  and per forecast state ``<f>_<metric>_vs_time`` at ``forecast_times``; the forecasts, the filtered DNS and
  their difference go to ``prediction.nc`` (u, v, w ``(sample, t, z, y, x)``) and ``prediction.xdmf``
  (the first test trajectory, hexahedra on the coarse grid, every snapshot) (:mod:`sciflow.evaluation.export`);
* ``seconds_per_time_unit``: wall time of the model per h/u_τ of simulated time and per trajectory (all
  test trajectories rolled out as one batch, no grad), against ``les_seconds_per_time_unit`` of the sciflow
  LES solver (Smagorinsky) on the same device and the same resolved scales
  (:func:`sciflow.evaluation.channel_les_rollout.les_solver_for`) at the step ``evaluation.les_dt``
  (default 0.005 h/u_τ, the largest stable step of the LES on this grid; see
  :data:`sciflow.evaluation.channel_les_rollout.LES_DT`); a user's file whose y points are not the faces of
  the solver's tanh grid has no LES on the same grid: ``les_comparison`` then says why and the two LES
  numbers are left out;
* with ``evaluation.constraints: [no_slip, plane_mean_v, bulk_flow]`` (any subset; ``momentum_balance`` in place of
  ``bulk_flow`` holds the balance of each state with the one before it) every predicted state, one
  step and rollout, goes through the rollout constraint layer (:mod:`sciflow.models.state_projection`);
  ``constraints`` records the list (or "none") and ``constraint_residual_<name>`` the largest relative
  residual |G u − b| over the rollout states of every quantity the problem can hold, held or not.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from sciflow.evaluation.channel_les_rollout import LES_DT
from sciflow.cfd.channel_profiles import ProfileAccumulator, profile_errors, wall_shear_and_bulk
from sciflow.cfd.channel_spectra1d import LevelSpectraAccumulator, spectra_errors
from sciflow.evaluation.report import register_evaluator


def rollout_states(model, x0: torch.Tensor, steps: int, energy_ref: float, denorm, skip: int = 0,
                   progress: bool = False, project=None, monitor=None, residuals: dict | None = None,
                   extra=()):
    """Roll out x0 (B, t_in, X, Y, Z, 3) normalised for ``steps`` steps, each state through ``project`` (the
    rollout constraint layer, :class:`~sciflow.models.state_projection.StateProjection`) when given; returns
    (ProfileAccumulator of the physical states after ``skip`` steps, stable steps, seconds per step).
    ``residuals`` (a dict) receives the largest residual per quantity of ``monitor`` (a StateProjection whose
    ``residuals`` are read, not applied) over the rollout states.  ``extra``: further accumulators whose
    ``add`` receives the same physical states (N, X, Y, Z, 3) as the profiles."""
    from tqdm.auto import tqdm

    x, acc, stable, made = x0, ProfileAccumulator(), steps, 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in tqdm(range(steps), desc="channel rollout", disable=not progress):
            y = model(x)  # (B, 1, X, Y, Z, 3)
            if project is not None:
                y = project(y, x)
            if monitor is not None and residuals is not None:
                for k, v in monitor.residuals(denorm(y), denorm(x[:, -1:])).items():
                    residuals[k] = max(residuals.get(k, 0.0), v)
            phys = denorm(y[:, 0]).double().cpu().numpy()
            e = float(0.5 * (phys ** 2).sum(-1).mean()) if np.all(np.isfinite(phys)) else float("nan")
            if not (np.isfinite(e) and 0.1 * energy_ref <= e <= 10 * energy_ref):
                stable = s
                break
            made += 1
            if s >= skip:
                acc.add(phys)
                for a in extra:
                    a.add(phys)
            x = torch.cat([x, y], dim=1)[:, -x.shape[1]:]
    sec = (time.perf_counter() - t0) / max(1, made)
    return acc, stable, sec


def les_seconds_per_time_unit(ds, device: str = "cpu", dt: float = LES_DT, steps: int = 10) -> float:
    """Wall time per h/u_τ of the Smagorinsky LES on the resolved scales of the coarse grid
    (:func:`~sciflow.evaluation.channel_les_rollout.les_solver_for`), from a turbulent start."""
    from sciflow.cfd.channel_initial import turbulent_initial_condition
    from sciflow.evaluation.channel_les_rollout import les_solver_for

    s = les_solver_for(ds, "smagorinsky", dt, device)
    turbulent_initial_condition(s, 1.0, seed=0)
    s.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        s.step()
    return (time.perf_counter() - t0) / steps / dt


def reference_profiles(ds) -> tuple[ProfileAccumulator, float]:
    """Profiles of every filtered-DNS state (all trajectories and snapshots) and its mean kinetic energy."""
    ref = np.stack([ds[v].values for v in ("u", "v", "w")], axis=-1).astype(np.float64)  # (S, T, X, Y, Z, 3)
    ref = ref.reshape(-1, *ref.shape[2:])
    acc = ProfileAccumulator()
    acc.add(ref)
    return acc, float(0.5 * (ref ** 2).sum(-1).mean())


def channel_spectra(ds, re_tau: float) -> LevelSpectraAccumulator:
    """Empty spectra accumulator at y⁺ ≈ 15 and the centreline of the coarse grid of ``ds``."""
    box = ds.attrs["box"]
    return LevelSpectraAccumulator(np.asarray(ds["y"].values), re_tau, (float(box[0]), float(box[2])))


def reference_spectra(ds, re_tau: float) -> LevelSpectraAccumulator:
    """Spectra of every filtered-DNS state (all trajectories and snapshots)."""
    acc = channel_spectra(ds, re_tau)
    for i in range(ds.sizes["trajectory"]):
        acc.add(np.stack([ds[v].values[i] for v in ("u", "v", "w")], axis=-1))  # (T, X, Y, Z, 3)
    return acc


def evaluate_channel_run(run, steps: int = 100, stats_skip: int = 0, les_dt: float = LES_DT,
                         progress: bool = False, constraints=None) -> dict:
    """All metrics of the module docstring for a loaded run (no figures); ``constraints``: quantities the
    rollout constraint layer holds in every predicted state (one-step and rollout), None: none."""
    from sciflow.models.state_projection import StateProjection, state_projection
    from sciflow.problems.base import StateConstraints

    problem, model = run.problem, run.model
    param = next(model.parameters())
    ds = problem.reference(progress=False)
    one = problem.dataset("test", t_out=1, stride=1)
    project = state_projection(problem, one, constraints)
    monitor = (StateProjection(problem, one, problem.conserved_quantities, disjoint=False)
               if isinstance(problem, StateConstraints) else None)
    errs, stay = [], []
    with torch.no_grad():
        for i in range(len(one)):
            a, b = one[i]
            p = model(a[None].to(param.device, param.dtype))
            p = (project(p, a[None].to(p)) if project is not None else p).float().cpu()
            d, r = one.denormalise(p[0]), one.denormalise(b)
            errs.append(float((d - r).norm() / r.norm()))
            stay.append(float((one.denormalise(a[-1:]) - r).norm() / r.norm()))
    test = problem.dataset("test", t_out=1, stride=None)
    x0 = torch.stack([test[i][0] for i in range(len(test))]).to(param.device, param.dtype)
    ref, energy = reference_profiles(ds)
    residuals = {}
    re_tau = float(problem.params["re_tau"])
    spectra = channel_spectra(ds, re_tau)
    acc, stable, sec = rollout_states(model, x0, steps, energy, lambda y: test.denormalise(y.double().cpu()),
                                      stats_skip, progress, project, monitor, residuals, extra=(spectra,))
    dt_snap = float(ds.attrs["dt_snapshot"])
    m = {"one_step_rel_l2": float(np.mean(errs)), "persistence_rel_l2": float(np.mean(stay)),
         "rollout_steps": int(steps), "rollout_steps_stable": int(stable),
         "rollout_time": float(stable * dt_snap), "dt_snapshot": dt_snap, "rollout_trajectories": int(x0.shape[0]),
         "seconds_per_time_unit": float(sec / x0.shape[0] / dt_snap), "device": str(param.device),
         "constraints": list(constraints) if constraints else "none",
         **{f"constraint_residual_{k}": v for k, v in residuals.items()}}
    if acc.n:
        m.update(profile_errors(acc, ref))
        m.update(wall_shear_and_bulk(np.asarray(m["U_pred"]), np.asarray(m["U_ref"]), np.asarray(ds["y"].values)))
        m.update(spectra_errors(spectra.result(), reference_spectra(ds, re_tau).result()))
    from sciflow.errors import SciflowError

    try:
        m["les_seconds_per_time_unit"] = les_seconds_per_time_unit(ds, str(param.device), les_dt)
        m["speedup_vs_les"] = m["les_seconds_per_time_unit"] / m["seconds_per_time_unit"]
    except SciflowError as exc:  # a user's grid the LES solver cannot be put on
        m["les_comparison"] = f"not made: {exc}"
    m["y"] = np.asarray(ds["y"].values).tolist()
    return m


def forecast_test(run, constraints=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forecasts of every test trajectory over its recorded length: (pred, truth) (S, F, X, Y, Z, 3) physical
    (float64) and the forecast times (F,), from the first ``t_in`` states, each state through the rollout
    constraint layer when ``constraints`` names quantities."""
    from sciflow.models.state_projection import state_projection
    from sciflow.training.unroll import rollout

    problem, model = run.problem, run.model
    param = next(model.parameters())
    ds = problem.reference(progress=False)
    frames = ds.sizes["t"] - problem.t_in
    test = problem.dataset("test", t_out=frames, stride=None)
    project = state_projection(problem, test, constraints)
    x = torch.stack([test[i][0] for i in range(len(test))]).to(param.device, param.dtype)
    with torch.no_grad():
        p = rollout(model, x, frames, project=project)
    pred = test.denormalise(p.double().cpu()).numpy()
    # the truth as stored (not through the float32 normalised copy of the windows)
    later = ds.isel(trajectory=test.indices, t=slice(problem.t_in, None))
    truth = np.stack([np.asarray(later[v].transpose("trajectory", "t", "x", "y", "z").values, dtype=np.float64)
                      for v in ("u", "v", "w")], axis=-1)
    return pred, truth, np.asarray(ds["t"].values, dtype=np.float64)[problem.t_in:]


def forecast_metrics(pred: np.ndarray, truth: np.ndarray, times: np.ndarray, horizon: int, grid: dict) -> dict:
    """The metrics of :mod:`sciflow.evaluation.metrics` per component of forecasts (S, F, X, Y, Z, 3): scalars
    over the first ``horizon`` states, series ``<f>_<metric>_vs_time`` over all (module docstring)."""
    from sciflow.evaluation import metrics as M

    lengths = (grid["lx"], 2.0, grid["lz"])
    h = max(1, min(int(horizon), pred.shape[1]))
    out = {"forecast_times": [float(t) for t in times], "forecast_horizon": h}
    for c, f in enumerate(("u", "v", "w")):
        p, r = pred[..., c], truth[..., c]
        out.update(M.field_metrics(p[:, :h], r[:, :h], f, n_space=3, lengths=lengths))
        out.update({f"{f}_{k}": v for k, v in M.rollout_series(p, r, n_space=3, lengths=lengths).items()})
    return out


def export_forecasts(run, out: Path, pred: np.ndarray, truth: np.ndarray, times: np.ndarray) -> dict:
    """``prediction.nc`` and ``prediction.xdmf`` of forecasts (S, F, X, Y, Z, 3) (:mod:`sciflow.evaluation.export`)."""
    from sciflow.evaluation.export import prediction_dataset, write_prediction

    ds = run.problem.reference(progress=False)
    cf = (0, 1, 4, 3, 2)  # (S, F, X, Y, Z) → (sample, t, z, y, x)
    names = ("u", "v", "w")
    return write_prediction(out, prediction_dataset(
        {f: pred[..., c].transpose(cf) for c, f in enumerate(names)},
        {f: truth[..., c].transpose(cf) for c, f in enumerate(names)},
        {"sample": np.arange(pred.shape[0]), "t": times,
         **{a: np.asarray(ds[a].values, dtype=np.float64) for a in ("z", "y", "x")}},
        ("sample", "t", "z", "y", "x"),
        {"case": f"{run.problem.name} test-split forecasts", "solver": f"sciflow model {run.spec.model.name}",
         "forecast": f"autoregressive from the first {run.problem.t_in} states of each test trajectory",
         "nondimensionalisation": "wall units: lengths h, velocity u_tau, time h/u_tau"},
        {f.name: f.units for f in run.problem.fields}))


@register_evaluator("channel", keys=("rollout_steps", "stats_skip", "les_dt", "constraints"))
def evaluate_channel(run, out: Path, progress: bool = True, fields=None):
    from sciflow.models.baselines import real_parameter_count
    from sciflow.evaluation.report import use_best_checkpoint

    selected = use_best_checkpoint(run)
    cfg = dict(run.spec.evaluation or {})
    m = evaluate_channel_run(run, int(cfg.get("rollout_steps", 100)), int(cfg.get("stats_skip", 0)),
                             float(cfg.get("les_dt", LES_DT)), progress, cfg.get("constraints"))
    m.update(checkpoint=selected, parameters=real_parameter_count(run.model))
    pred, truth, times = forecast_test(run, cfg.get("constraints"))
    m.update(forecast_metrics(pred, truth, times, run.problem.horizon, run.problem.grid()))
    export_forecasts(run, out, pred, truth, times)
    figs = {}
    if "U_pred" in m:
        figs["Mean velocity and rms profiles: rollout vs filtered DNS"] = _profiles_figure(m, out / "channel_profiles.png",
                                                                                            float(run.problem.params["re_tau"]))
    if "E_kx_y15_pred" in m:
        figs["Shear stress, 1D spectra and two-point correlations: rollout vs filtered DNS"] = _two_point_figure(
            m, out / "channel_spectra.png", float(run.problem.params["re_tau"]))
    return m, figs


def _profiles_figure(m, path, re_tau: float) -> Path:
    """U⁺ and rms⁺ against log y⁺ (both walls folded, y⁺ = (1 − |y|) Re_τ): filtered DNS, rollout, MKM (1999)
    points, the viscous sublayer U⁺ = y⁺ and the log law U⁺ = ln(y⁺)/0.41 + 5.2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciflow.evaluation.turbulence import load_mkm

    y = np.asarray(m["y"])
    yp = (1 - np.abs(y)) * re_tau
    keep = yp > 0  # the wall points (y⁺ = 0) do not show on a log axis
    lower, upper = keep & (y < 0), keep & (y >= 0)
    mkm = load_mkm()
    mkm = {k: v[mkm["y_plus"] > 0] for k, v in mkm.items()}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    a = axes[0]
    for sel, tag in ((lower, "lower wall"), (upper, "upper wall")):
        ls = "-" if tag == "lower wall" else ":"
        a.semilogx(yp[sel], np.asarray(m["U_ref"])[sel], "k" + ls, label=f"filtered DNS ({tag})")
        a.semilogx(yp[sel], np.asarray(m["U_pred"])[sel], "r" + ("--" if ls == "-" else ":"),
                   label=f"surrogate rollout ({tag})")
    a.semilogx(mkm["y_plus"], mkm["U_plus"], "o", mfc="none", color="tab:blue", ms=4, label="MKM 1999, Re_τ 178")
    ys = np.logspace(-1, np.log10(max(re_tau, 10)), 100)
    a.semilogx(ys[ys < 12], ys[ys < 12], color="grey", lw=0.8, ls="--", label="U⁺ = y⁺")
    a.semilogx(ys[ys > 8], np.log(ys[ys > 8]) / 0.41 + 5.2, color="grey", lw=0.8, ls="-.", label="ln(y⁺)/0.41 + 5.2")
    a.set_xlabel("y⁺"), a.set_ylabel("U⁺"), a.legend(fontsize=7), a.grid(alpha=0.3, which="both")
    b = axes[1]
    for i, (c, lab, col) in enumerate(zip("brg", ("u'", "v'", "w'"), ("u_rms_plus", "v_rms_plus", "w_rms_plus"))):
        b.semilogx(yp[lower], np.asarray(m["rms_ref"][i])[lower], c + "-", label=f"{lab} DNS")
        b.semilogx(yp[lower], np.asarray(m["rms_pred"][i])[lower], c + "--", label=f"{lab} rollout")
        b.semilogx(mkm["y_plus"], mkm[col], c + "o", mfc="none", ms=3, label=f"{lab} MKM 1999")
    b.set_xlabel("y⁺ (lower wall)"), b.set_ylabel("rms⁺"), b.legend(fontsize=6, ncol=3), b.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _two_point_figure(m, path, re_tau: float) -> Path:
    """uv⁺ against log y⁺ (lower wall, with MKM (1999) points), E_ii(k_x) and E_ii(k_z) at y⁺ ≈ 15 and the centreline,
    R_uu(Δx) and R_uu(Δz) at both levels: filtered DNS (solid) against the rollout (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciflow.evaluation.turbulence import load_mkm

    y = np.asarray(m["y"])
    yp = (1 - np.abs(y)) * re_tau
    lower = (yp > 0) & (y < 0)
    mkm = load_mkm()
    fig, axes = plt.subplots(2, 4, figsize=(17, 7.5))
    a = axes[0, 0]
    a.semilogx(yp[lower], -np.asarray(m["uv_ref"])[lower], "k-", label="filtered DNS")
    a.semilogx(yp[lower], -np.asarray(m["uv_pred"])[lower], "r--", label="surrogate rollout")
    a.semilogx(mkm["y_plus"][1:], -mkm["uv_plus"][1:], "o", mfc="none", color="tab:blue", ms=4, label="MKM 1999")
    a.set_xlabel("y⁺ (lower wall)"), a.set_ylabel("−uv⁺"), a.legend(fontsize=7), a.grid(alpha=0.3, which="both")
    levels = m["spectra_levels_y_plus"]
    for row, name in enumerate(levels):
        for col, d in ((1, "x"), (2, "z")):
            a = axes[row, col]
            k = np.asarray(m[f"spectra_k{d}"])[1:-1]  # the mean and Nyquist modes are not in the error either
            for i, (c, lab) in enumerate(zip("brg", ("uu", "vv", "ww"))):
                a.loglog(k, np.asarray(m[f"E_k{d}_{name}_ref"])[i, 1:-1], c + "-", label=f"E_{lab} DNS")
                a.loglog(k, np.asarray(m[f"E_k{d}_{name}_pred"])[i, 1:-1], c + "--", label=f"E_{lab} rollout")
            a.set_xlabel(f"k_{d} (1/h)"), a.set_ylabel("E_ii⁺ per mode")
            a.set_title(f"y⁺ = {levels[name]:.1f} ({name}): log err {m[f'E_k{d}_log_err_{name}']:.2f}", fontsize=9)
            a.legend(fontsize=6, ncol=2), a.grid(alpha=0.3, which="both")
    for row, d in enumerate("xz"):
        a = axes[row, 3] if row == 0 else axes[1, 0]
        sep = np.asarray(m[f"correlation_d{d}"])
        for name, c in zip(levels, ("C0", "C3")):
            a.plot(sep, np.asarray(m[f"R_d{d}_{name}_ref"])[0], "-", color=c, label=f"DNS y⁺ = {levels[name]:.0f}")
            a.plot(sep, np.asarray(m[f"R_d{d}_{name}_pred"])[0], "--", color=c, label=f"rollout y⁺ = {levels[name]:.0f}")
        a.axhline(0, color="grey", lw=0.6)
        a.set_xlabel(f"Δ{d} (h)"), a.set_ylabel(f"R_uu(Δ{d})"), a.legend(fontsize=7), a.grid(alpha=0.3)
    axes[1, 3].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
