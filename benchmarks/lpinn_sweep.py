"""Vanilla PINN vs Lagrangian PINN on periodic convection: relative L2 against the convection speed c.

For c ∈ {1, 10, 30, 50, 70} (u_t + c u_x = 0, u0 = sin x, x ∈ [0, 2π), t ∈ [0, 1]) both models
train with the same budget: the same network size per branch, collocation points, Adam phase
and L-BFGS phase, in float64 on one CPU thread. Then convection-diffusion (c = 50, ν = 0.01) and
viscous Burgers (ν = 0.01, u0 = 0.5 + sin x) with the same budget. Errors are relative L2 on the
reference grid (101 t × 256 x; exact Fourier solution, or the pseudo-spectral Burgers solver).

    python benchmarks/lpinn_sweep.py            # default size (~25 min on a busy 2-core CPU)
    python benchmarks/lpinn_sweep.py --quick    # a smoke run with a tiny budget

Writes benchmarks/results/lpinn_sweep.json: flat rows
{"problem", "c", "nu", "model", "rel_l2", "train_seconds"}, plus .meta.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, markdown_table, write_results  # noqa: E402

MODELS = (("pinn", "physics"), ("lpinn", "lagrangian"))


def cases(speeds):
    out = [{"name": "convection", "c": float(c)} for c in speeds]
    out.append({"name": "convection_diffusion", "c": 50.0, "nu": 0.01})
    out.append({"name": "burgers", "nu": 0.01, "amplitude": 1.0, "offset": 0.5})
    return out


def budget(quick: bool) -> dict:
    if quick:
        return {"width": 16, "depth": 2, "points": 256, "adam": 50, "lbfgs": 10, "max_iter": 10}
    return {"width": 32, "depth": 3, "points": 1000, "adam": 300, "lbfgs": 100, "max_iter": 10}


def spec_dict(problem: dict, model: str, objective: str, b: dict) -> dict:
    return {"name": f"sweep_{problem['name']}_{model}", "seed": 0, "dtype": "float64", "device": "cpu",
            "problem": problem, "model": {"name": model, "width": b["width"], "depth": b["depth"]},
            "objective": {"name": objective, "interior_points": b["points"]},
            "training": {"phases": [
                {"optimizer": "adam", "steps": b["adam"], "lr": 1e-2, "schedule": "cosine", "final_lr_ratio": 0.1},
                {"optimizer": "lbfgs", "steps": b["lbfgs"], "max_iter": b["max_iter"], "lr": 1.0, "history": 50}],
                "log_every": 10, "checkpoint_every": 100000, "tensorboard": False}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny budget smoke run (results not written)")
    ap.add_argument("--speeds", type=float, nargs="+", default=[1, 10, 30, 50, 70])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--problems", nargs="+", default=None,
                    help="run only these problems and replace their rows in the existing results")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    from sciflow.api import evaluate, train
    from sciflow.spec import spec_from_dict

    b = budget(args.quick)
    rows, t_start = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for problem in cases(args.speeds):
            if args.problems and problem["name"] not in args.problems:
                continue
            for model, objective in MODELS:
                spec = spec_from_dict(spec_dict(problem, model, objective, b))
                run = train(spec, out=Path(tmp) / f"{problem['name']}_{problem.get('c', 0)}_{model}", progress=False)
                m = evaluate(run, progress=False)
                row = {"problem": problem["name"], "c": problem.get("c", 0.0), "nu": problem.get("nu", 0.0),
                       "model": model, "rel_l2": m["rel_l2"], "train_seconds": m["train_seconds"]}
                rows.append(row)
                print(row, flush=True)
    if args.problems and not args.quick:  # merge: keep the other problems' rows from the last full sweep
        import json

        from common import RESULTS

        old = json.loads((RESULTS / "lpinn_sweep.json").read_text())
        rows = [r for r in old if r["problem"] not in args.problems] + rows
        previous = json.loads((RESULTS / "lpinn_sweep.meta.json").read_text())
    meta = {"machine": machine(), "budget": b, "dtype": "float64", "total_seconds": time.perf_counter() - t_start,
            "reference_grid": "101 t x 256 x", "burgers": {"amplitude": 1.0, "offset": 0.5},
            "optimiser": "Adam lr 1e-2 cosine to 1e-3, then L-BFGS (strong Wolfe)"}
    if args.problems and not args.quick:
        meta["rerun_problems"] = args.problems
        meta["previous_run"] = previous
    cols = ["problem", "c", "nu", "model", "rel_l2", "train_seconds"]
    md = (f"# PINN vs LPINN (same budget: {b})\n\n" + markdown_table(rows, cols)
          + f"\nTotal {meta['total_seconds']:.0f} s; load average {meta['machine'].get('load_average')}.\n")
    if not args.quick:
        write_results("lpinn_sweep", rows, meta, md)
    print(md)
    return rows


if __name__ == "__main__":
    main()
