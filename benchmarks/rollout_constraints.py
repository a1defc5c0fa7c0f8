"""The rollout constraint layer measured: the same trained operator forecast with and without it.

    python benchmarks/rollout_constraints.py [--seeds 0 1 2] [--steps 600] [--threads 1]

2D turbulence (ν = 1e-5, ``datasets/ns2d_nu1e-5_cpu.yaml`` at a reduced size: 40 train / 5 validation /
10 test trajectories solved at 64², trained at 32²). Per seed an FNO (the ``operators_ns2d`` size: width
12, 8 modes, 4 layers) is trained with the rollout objective and a horizon curriculum (1 frame, then 2
from half-way), best checkpoint on the validation rollout; then every test trajectory is forecast from
its first 10 frames for the 11 frames it holds (t = 10 … 20), in float64, twice: as trained
(``constraints: none``) and with every frame projected onto zero-mean vorticity
(``[zero_mean_vorticity]``, ProbConserv's update with Σ = I: ω ← ω − mean ω). Rows: test relative L2 over
the 10-frame horizon, energy-spectrum error at the last horizon frame (the ``rollout`` evaluator's
metrics), the enstrophy and spectrum errors of the whole forecast (``PeriodicNS2D.rollout_statistics``),
and the largest relative constraint residual |mean ω| / max |ω| of the forecasts. Summary rows: median and
worst over the seeds. → ``results/rollout_constraints.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

DATA = {"n_train": 40, "n_validation": 5, "n_test": 10}
MODEL = {"name": "fno", "width": 12, "modes": 8, "layers": 4}
METRICS = ("test_rel_l2", "spectrum_error", "rollout_spectrum_error", "rollout_enstrophy_rel_err",
           "constraint_residual_zero_mean_vorticity")


def spec_for(seed: int, steps: int):
    from sciflow.spec import spec_from_dict

    return spec_from_dict({
        "name": f"ns2d_constraints_fno_s{seed}", "seed": seed, "dtype": "float32",
        "problem": {"name": "ns2d", "dataset": "ns2d_nu1e-5_cpu", "params": DATA, "t_in": 10, "horizon": 10,
                    "subsample": 2},
        "model": MODEL,
        "objective": {"name": "rollout", "horizon_schedule": [[0, 1], [steps // 2, 2]], "batch_size": 16,
                      "loss": "rel_l2"},
        "training": {"phases": [{"optimizer": "adam", "steps": steps, "lr": 2e-3, "schedule": "cosine",
                                 "final_lr_ratio": 0.01, "weight_decay": 1e-4}],
                     "log_every": 25, "checkpoint_every": max(1, steps // 4), "validate_every": max(1, steps // 4),
                     "tensorboard": False}})


def measure(run_dir: Path, constraints) -> dict:
    from sciflow.api import load_run
    from sciflow.evaluation.rollout import constraint_residuals, forecast_test, rollout_metrics

    best = "best.pt" if (run_dir / "checkpoints" / "best.pt").exists() else "last.pt"
    run = load_run(run_dir, checkpoint=best)
    run.model.double()
    pred, truth, times = forecast_test(run, constraints=constraints)
    m = rollout_metrics(pred, truth, times, run.problem.horizon)
    stats = run.problem.rollout_statistics(torch.from_numpy(pred)[..., None], torch.from_numpy(truth)[..., None])
    return {"test_rel_l2": m["test_rel_l2"], "spectrum_error": m["spectrum_error"],
            "rollout_spectrum_error": stats["spectrum_error"], "rollout_enstrophy_rel_err": stats["enstrophy_rel_err"],
            **constraint_residuals(run.problem, pred, constraints)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/bench_constraints")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    import sciflow

    rows = []
    for seed in a.seeds:
        t0 = time.perf_counter()
        run_dir = sciflow.train(spec_for(seed, a.steps), out=Path(a.out) / f"fno_s{seed}", progress=False,
                                overwrite=True)
        train_seconds = time.perf_counter() - t0
        for constraints in (None, ["zero_mean_vorticity"]):
            m = measure(run_dir, constraints)
            rows.append({"model": "fno", "seed": seed, "constraints": constraints or "none", **m,
                         "train_steps": a.steps, "train_seconds": round(train_seconds, 1),
                         "train_trajectories": DATA["n_train"]})
            print(rows[-1], flush=True)
    for label in ("none", ["zero_mean_vorticity"]):
        sel = [r for r in rows if r["constraints"] == label]
        for agg, fn in (("median", statistics.median), ("worst", max)):
            rows.append({"model": "fno", "seed": agg, "constraints": label,
                         **{k: fn(r[k] for r in sel) for k in METRICS}, "train_steps": a.steps,
                         "train_seconds": statistics.median(r["train_seconds"] for r in sel),
                         "train_trajectories": DATA["n_train"]})
    meta = {"machine": machine(), "load_average": os.getloadavg(), "threads": a.threads, "steps": a.steps,
            "data": {"recipe": "ns2d_nu1e-5_cpu", **DATA, "solve_resolution": 64, "trained_at": 32},
            "model": MODEL, "objective": "rollout, horizon_schedule [[0, 1], [steps/2, 2]]"}
    cols = ["model", "seed", "constraints", *METRICS, "train_steps", "train_seconds", "train_trajectories"]
    write_results("rollout_constraints", rows, meta, markdown_table(rows, cols))


if __name__ == "__main__":
    main()
