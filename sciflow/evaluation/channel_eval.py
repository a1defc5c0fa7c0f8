"""Evaluator ``channel``: one-step error, long rollouts, turbulence statistics and cost of a channel surrogate.

For a run on the ``channel`` problem (weights of ``checkpoints/best.pt`` when present):

* ``one_step_rel_l2``: mean over every test window of ‖û(t+Δt) − u(t+Δt)‖₂ / ‖u(t+Δt)‖₂ (u, v, w together,
  physical units, teacher-forced input); ``persistence_rel_l2``: the same for û(t+Δt) = u(t);
* autoregressive rollout of ``evaluation.rollout_steps`` steps (default 100 on CPU) from the first state of
  every test trajectory; ``rollout_steps_stable``: the steps made before the state became non-finite or its
  kinetic energy left [0.1, 10] × that of the filtered DNS (``rollout_steps`` when it never did);
* statistics of the rollout states after ``evaluation.stats_skip`` steps vs those of the filtered DNS (all
  trajectories, all snapshots), both on the coarse grid: mean streamwise velocity U(y) = ⟨u⟩_{x,z,t}
  (U⁺ in wall units) and rms u'_i(y) = ⟨(u_i − ⟨u_i⟩)²⟩^{1/2}; ``U_plus_max_rel_err`` = max_y |Û − U| / max_y U,
  ``rms_max_rel_err`` = max over i, y of |û'_i − u'_i| / max_y u'_i (errors folded onto both channel halves);
* ``seconds_per_time_unit``: wall time of the model per h/u_τ of simulated time (batch 1, no grad),
  against ``les_seconds_per_time_unit`` of the sciflow LES solver (Smagorinsky) on the same device, on
  the recipe's coarse grid in x, z with ``evaluation.les_ny`` (default 32) points in y at the largest
  stable step ``evaluation.les_dt`` (default 0.01 h/u_τ).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from sciflow.evaluation.report import register_evaluator


def profiles(fields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fields (N, X, Y, Z, 3) → mean (3, Y) and rms (3, Y) over samples, x and z."""
    mean = fields.mean(axis=(0, 1, 3))  # (Y, 3)
    rms = np.sqrt(((fields - mean[None, None, :, None, :]) ** 2).mean(axis=(0, 1, 3)))
    return mean.T, rms.T


def profile_errors(pred: np.ndarray, ref: np.ndarray) -> dict:
    """Max relative profile errors of pred vs ref states (N, X, Y, Z, 3) (module docstring)."""
    mp, rp = profiles(pred)
    mr, rr = profiles(ref)
    fold = lambda a: 0.5 * (a + a[..., ::-1])  # noqa: E731  (symmetric halves of the channel)
    u_err = float(np.max(np.abs(fold(mp[0]) - fold(mr[0]))) / np.max(np.abs(mr[0])))
    rms_err = float(max(np.max(np.abs(fold(rp[i]) - fold(rr[i]))) / np.max(rr[i]) for i in range(3)))
    return {"U_plus_max_rel_err": u_err, "rms_max_rel_err": rms_err, "U_pred": fold(mp[0]).tolist(),
            "U_ref": fold(mr[0]).tolist(), "rms_pred": fold(rp).tolist(), "rms_ref": fold(rr).tolist()}


def rollout_states(model, x0: torch.Tensor, steps: int, energy_ref: float, denorm, progress: bool = False):
    """Roll out x0 (B, t_in, X, Y, Z, 3) normalised for ``steps`` steps; returns (states (steps, B, X, Y, Z, 3)
    physical numpy, stable steps, seconds per step)."""
    from tqdm.auto import tqdm

    x, out, stable = x0, [], steps
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in tqdm(range(steps), desc="channel rollout", disable=not progress):
            y = model(x)  # (B, 1, X, Y, Z, 3)
            phys = denorm(y[:, 0]).double().cpu().numpy()
            e = float(0.5 * (phys ** 2).sum(-1).mean()) if np.all(np.isfinite(phys)) else float("nan")
            if not (np.isfinite(e) and 0.1 * energy_ref <= e <= 10 * energy_ref):
                stable = s
                break
            out.append(phys)
            x = torch.cat([x, y], dim=1)[:, -x.shape[1]:]
    sec = (time.perf_counter() - t0) / max(1, len(out))
    return np.stack(out) if out else np.zeros((0,)), stable, sec


def les_seconds_per_time_unit(ds, device: str = "cpu", ny: int = 32, dt: float = 0.01, steps: int = 10) -> float:
    """Wall time per h/u_τ of the Smagorinsky LES (sciflow.cfd.channel_dns) on the coarse x, z grid."""
    from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
    from sciflow.cfd.channel_initial import turbulent_initial_condition

    nx, nz = int(ds.sizes["x"]), int(ds.sizes["z"])
    lx, _, lz = (float(b) for b in ds.attrs["box"])
    cfg = ChannelConfig(nx=nx, ny=ny, nz=nz, lx=lx, lz=lz, nu=1.0 / float(ds.attrs.get("re_tau_nominal", 178.12)),
                        dt=dt, sgs="smagorinsky", dtype="float32", device=device, cfl_max=5.0)
    s = ChannelSolver(cfg)
    turbulent_initial_condition(s, 1.0, seed=0)
    s.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        s.step()
    return (time.perf_counter() - t0) / steps / dt


def evaluate_channel_run(run, steps: int = 100, stats_skip: int = 0, les_ny: int = 32, les_dt: float = 0.01,
                         progress: bool = False) -> dict:
    """All metrics of the module docstring for a loaded run (no figures)."""
    problem, model = run.problem, run.model
    param = next(model.parameters())
    ds = problem.reference(progress=False)
    one = problem.dataset("test", t_out=1, stride=1)
    errs, stay = [], []
    with torch.no_grad():
        for i in range(len(one)):
            a, b = one[i]
            p = model(a[None].to(param.device, param.dtype)).float().cpu()
            d, r = one.denormalise(p[0]), one.denormalise(b)
            errs.append(float((d - r).norm() / r.norm()))
            stay.append(float((one.denormalise(a[-1:]) - r).norm() / r.norm()))
    test = problem.dataset("test", t_out=1, stride=None)
    x0 = torch.stack([test[i][0] for i in range(len(test))]).to(param.device, param.dtype)
    ref = np.stack([ds[v].values for v in ("u", "v", "w")], axis=-1).astype(np.float64)  # (S, T, X, Y, Z, 3)
    ref = ref.reshape(-1, *ref.shape[2:])
    energy = float(0.5 * (ref ** 2).sum(-1).mean())
    states, stable, sec = rollout_states(model, x0, steps, energy, lambda y: test.denormalise(y.float().cpu()),
                                         progress)
    dt_snap = float(ds.attrs["dt_snapshot"])
    m = {"one_step_rel_l2": float(np.mean(errs)), "persistence_rel_l2": float(np.mean(stay)),
         "rollout_steps": int(steps), "rollout_steps_stable": int(stable),
         "rollout_time": float(stable * dt_snap), "dt_snapshot": dt_snap,
         "seconds_per_time_unit": float(sec / x0.shape[0] / dt_snap), "device": str(param.device)}
    if len(states) > stats_skip:
        m.update(profile_errors(states[stats_skip:].reshape(-1, *states.shape[2:]), ref))
    m["les_seconds_per_time_unit"] = les_seconds_per_time_unit(ds, str(param.device), les_ny, les_dt)
    m["speedup_vs_les"] = m["les_seconds_per_time_unit"] / m["seconds_per_time_unit"]
    m["y"] = np.asarray(ds["y"].values).tolist()
    return m


@register_evaluator("channel")
def evaluate_channel(run, out: Path, progress: bool = True):
    from sciflow.models.baselines import real_parameter_count
    from sciflow.evaluation.report import use_best_checkpoint

    selected = use_best_checkpoint(run)
    cfg = dict(run.spec.evaluation or {})
    m = evaluate_channel_run(run, int(cfg.get("rollout_steps", 100)), int(cfg.get("stats_skip", 0)),
                             int(cfg.get("les_ny", 32)), float(cfg.get("les_dt", 0.01)), progress)
    m.update(checkpoint=selected, parameters=real_parameter_count(run.model))
    figs = {}
    if "U_pred" in m:
        figs["Mean velocity and rms profiles: rollout vs filtered DNS"] = _profiles_figure(m, out / "channel_profiles.png")
    return m, figs


def _profiles_figure(m, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(m["y"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(y, m["U_ref"], "k-", label="filtered DNS")
    axes[0].plot(y, m["U_pred"], "r--", label="surrogate rollout")
    axes[0].set_xlabel("y/h"), axes[0].set_ylabel("U⁺"), axes[0].legend(fontsize=8)
    for i, (c, lab) in enumerate(zip("brg", ("u'", "v'", "w'"))):
        axes[1].plot(y, m["rms_ref"][i], c + "-", label=f"{lab} DNS")
        axes[1].plot(y, m["rms_pred"][i], c + "--", label=f"{lab} rollout")
    axes[1].set_xlabel("y/h"), axes[1].set_ylabel("rms⁺"), axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
