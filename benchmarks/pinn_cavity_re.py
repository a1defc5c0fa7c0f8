"""Data-free hard-BC cavity PINNs at high Re, over seeds, against the graded-mesh FEM reference.

Each config (default ``configs/cavity_re1000_pinn.yaml``) is trained for every seed (one
process at a time, ``--threads`` torch threads), then evaluated with ``sciflow.evaluate``
against its FEM reference. Rows of benchmarks/results/pinn_cavity_re.json:
``{"Re", "config", "seed", "velocity_rel_l2", "train_seconds", "threads", ...}`` plus the
steps run and planned, the error away from the lid corners, the core's residual-to-viscous-force
ratio (``core_residual_to_viscous``, :func:`sciflow.evaluation.flow_fields.core_force_balance`),
the reference mesh and the load.
The markdown table gives median and worst over the seeds that ran.

While it trains, the 1-minute load average is sampled every minute into ``<run>.loadavg.csv`` beside
the run directory (``unix_time,load`` lines; a run directory holds only what sciflow writes), and each row
gives its median and range as ``loadavg_1min_training``.

``--reuse`` evaluates a finished run already at ``<out>/<config>_seed<k>`` instead of training
again, provided its saved spec equals the config's in every key that shapes the weights;
with ``--partial`` a run of that spec stopped before its last step (Ctrl-C) is evaluated as it
stands, and its row records the steps it ran.

A parametric config (``problem.parametric: {Re: [lo, hi]}``: one network for a range of Re) gives
one row per Re of ``--parametric-re`` (default 100 250 400 700 1000), each against the FEM at that Re.

Usage: python benchmarks/pinn_cavity_re.py [--configs configs/cavity_re1000_pinn.yaml] [--seeds 0 1 2]
       [--threads 1] [--reuse [--partial]] [--merge] [--parametric-re 100 250 400 700 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, LoadSampler, load_file, machine, markdown_table, training_load, write_results  # noqa: E402
from pinn_cases import finished_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
def run_one(config: str, seed: int, out_root: Path, threads: int, reuse: bool, partial: bool,
            parametric_re: list[float]) -> list[dict]:
    """Train (or reuse) one seed of ``config`` and evaluate it: one row, or for a parametric config
    (``problem.parametric: {Re: ...}``) one row per Re of ``parametric_re``."""
    from sciflow.api import build, evaluate, load_run, train
    from sciflow.spec import load_spec

    overrides = [f"seed={seed}", f"threads={threads}", "training.tensorboard=false"]  # the spec's auto would override --threads
    spec = load_spec(ROOT / config, overrides=overrides)
    problem, _, _ = build(spec)
    values = parametric_re if "Re" in problem.parametric else [problem.Re]
    for re in values:  # references made first: their cost is not training time
        problem.set_params(Re=re)
        problem.reference(progress=True)
    run_dir = out_root / f"{Path(config).stem}_seed{seed}"
    planned = sum(ph.steps for ph in spec.training.phases)
    done = reuse and finished_run(run_dir, spec)
    if not done and not (reuse and partial and (run_dir / "checkpoints" / "last.pt").exists()):
        with LoadSampler(load_file(run_dir)):
            train(ROOT / config, overrides=overrides, out=run_dir, progress=True)
    steps = load_run(run_dir).step
    rows = []
    for re in values:
        metrics = evaluate(run_dir, progress=True, params={"Re": re} if problem.parametric else None)
        rows.append({
            "Re": re, "config": config, "seed": seed, "velocity_rel_l2": metrics["velocity_rel_l2"],
            "velocity_rel_l2_away_from_lid_corners": metrics.get("velocity_rel_l2_away_from_lid_corners"),
            "p_rel_l2_away_from_lid_corners": metrics.get("p_rel_l2_away_from_lid_corners"),
            "core_residual_to_viscous": metrics.get("core_residual_to_viscous"),
            "train_seconds": metrics.get("train_seconds"), "threads": threads, "steps": steps,
            "steps_planned": planned, "reference": f"FEM P2/P1 {problem.reference_mesh}^2 graded "
                                                  f"{problem.reference_grading:g}",
            "parametric": f"Re in {list(problem.parametric['Re'])}" if problem.parametric else "",
            "loadavg_1min_training": training_load(run_dir),
            "loadavg_1min_at_evaluation": os.getloadavg()[0], "run": str(run_dir)})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["configs/cavity_re1000_pinn.yaml"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_pinn_cavity_re"))
    ap.add_argument("--reuse", action="store_true", help="evaluate finished runs of the same spec instead of training")
    ap.add_argument("--partial", action="store_true", help="with --reuse: evaluate a stopped run as it stands")
    ap.add_argument("--merge", action="store_true", help="keep the rows of other (config, seed) pairs already recorded")
    ap.add_argument("--parametric-re", type=float, nargs="+", default=[100, 250, 400, 700, 1000],
                    help="the Re at which a parametric config is evaluated")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for config in args.configs:
        for seed in args.seeds:
            got = run_one(config, seed, Path(args.out), args.threads, args.reuse, args.partial, args.parametric_re)
            rows += got
            print(got, flush=True)
    old = RESULTS / "pinn_cavity_re.json"
    if args.merge and old.exists():
        done = {(r["config"], r["seed"]) for r in rows}  # every Re of a (config, seed) is replaced
        rows = [r for r in json.loads(old.read_text()) if (r["config"], r["seed"]) not in done] + rows
    lines = ["# Cavity PINNs at high Re (data-free, hard BCs) vs graded-mesh FEM", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M')}, {args.threads} torch thread(s), "
             f"{os.cpu_count()} CPU cores shared (1-min load average while training: median (range) in the "
             "rows). Budget: the steps in each row (steps < planned: stopped early, evaluated as it stood). "
             "Seeds: the rows' seeds only; a median over fewer than 3 seeds is not the bar's median.", ""]
    for config, re in dict.fromkeys((r["config"], r["Re"]) for r in rows):
        errs = sorted(r["velocity_rel_l2"] for r in rows if (r["config"], r["Re"]) == (config, re))
        lines.append(f"- {config} at Re {re:g}: {len(errs)} seed(s); velocity rel. L2 median "
                     f"{statistics.median(errs):.4g}, worst {errs[-1]:.4g}")
    lines += ["", markdown_table(rows, ["Re", "config", "parametric", "seed", "velocity_rel_l2", "velocity_rel_l2_away_from_lid_corners",
                                        "core_residual_to_viscous", "train_seconds", "steps", "steps_planned", "threads",
                                        "loadavg_1min_training", "reference"])]
    write_results("pinn_cavity_re", rows, {"machine": machine(), "threads": args.threads}, "\n".join(lines))


if __name__ == "__main__":
    main()
