"""ProbConserv on the GPME family: the paper's Table 1 layout (Hansen et al., ICML 2023).

For each problem (heat k=1, PME m=3, Stefan p*=0.6) it trains, through ``sciflow.train``,
the ANP of configs/probconserv_<problem>.yaml and the SoftC-ANP (same config with
``objective.residual_weight``), then evaluates ANP, SoftC-ANP, HardC-ANP (projection of the ANP
mean) and ProbConserv-ANP (Eq. 6, σ_G = 0, on the ANP) on the same test functions and grid.

    python benchmarks/probconserv_gpme.py [--steps N] [--functions F] [--grid NT NX] [--out DIR]

Writes benchmarks/results/probconserv_gpme.json: flat rows {problem, model, mse,
conservation_error, log_likelihood, train_seconds, ...} + .meta.json + a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, markdown_table, write_results  # noqa: E402

PROBLEMS = ("heat", "pme", "stefan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the config's)")
    ap.add_argument("--functions", type=int, default=20, help="test functions per problem")
    ap.add_argument("--grid", type=int, nargs=2, default=(101, 101), help="evaluation grid (nt, nx)")
    ap.add_argument("--softc-weight", type=float, default=1.0, help="SoftC residual weight λ")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "runs" / "probconserv_gpme"))
    ap.add_argument("--name", default="probconserv_gpme")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    from sciflow.api import load_run, train
    from sciflow.evaluation.probconserv_eval import evaluate_gpme, variants_for

    rows, started = [], time.time()
    for name in PROBLEMS:
        cfg = ROOT / "configs" / f"probconserv_{name}.yaml"
        runs = {}
        for kind, extra in (("anp", []), ("softc", [f"objective.residual_weight={args.softc_weight}"])):
            ov = [f"name=probconserv_{name}_{kind}", "training.validate_every=0"] + extra
            if args.steps:
                ov.append(f"training.phases.0.steps={args.steps}")
            print(f"== training {name} {kind}", flush=True)
            run_dir = train(cfg, overrides=ov, out=Path(args.out) / f"{name}_{kind}", progress=True, overwrite=True)
            run = load_run(run_dir)
            runs[kind] = (run, float(run.metrics()["elapsed_s"][-1]))
        anp_run, anp_s = runs["anp"]
        soft_run, soft_s = runs["softc"]
        problem = anp_run.problem
        m_anp, _ = evaluate_gpme(anp_run.model, problem, variants_for(anp_run.model), args.functions, tuple(args.grid),
                                 anp_run.model.samples)
        m_soft, _ = evaluate_gpme(soft_run.model, problem, {"SoftC": ("none", 0.0)}, args.functions,
                                  tuple(args.grid), soft_run.model.samples)
        quad = m_anp.pop("exact_quadrature_error")
        m_soft.pop("exact_quadrature_error")
        results = {"ANP": (m_anp["ANP"], anp_s), "SoftC": (m_soft["SoftC"], soft_s),
                   "HardC": (m_anp["HardC"], anp_s), "ProbConserv": (m_anp["ProbConserv"], anp_s)}
        for model, (m, secs) in results.items():
            rows.append({"problem": name, "model": model, "parameter": f"{problem.param_name}={problem.param:g}",
                         "mse": m["mse"], "conservation_error": m["conservation_error"],
                         "conservation_error_max": m["conservation_error_max"],
                         "log_likelihood": m["log_likelihood"], "front_error": m.get("front_error"),
                         "train_seconds": secs, "exact_quadrature_error": quad,
                         "steps": anp_run.step, "grid": f"{args.grid[0]}x{args.grid[1]}"})
        print(markdown_table([r for r in rows if r["problem"] == name],
                             ["problem", "model", "mse", "conservation_error", "log_likelihood", "front_error"]), flush=True)
    cols = ["problem", "parameter", "model", "mse", "conservation_error", "log_likelihood", "front_error", "train_seconds"]
    meta = {**machine(), "wall_seconds": time.time() - started, "functions": args.functions, "grid": list(args.grid),
            "softc_weight": args.softc_weight, "steps": args.steps, "threads": args.threads}
    md = ("# ProbConserv on the GPME family (CPU size)\n\n"
          f"Test functions: {args.functions} per problem, grid {args.grid[0]}×{args.grid[1]} (t, x); "
          "conservation_error = mean over functions of max_t |G μ − b|. "
          f"Machine: {meta['cpu_count']} cores, load average {meta.get('load_average')}.\n\n"
          + markdown_table(rows, cols))
    write_results(args.name, rows, meta, md)
    print(md)


if __name__ == "__main__":
    main()
