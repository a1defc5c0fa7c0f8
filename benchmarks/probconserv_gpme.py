"""ProbConserv on the GPME family at the paper's size and protocol (Hansen et al., ICML 2023, Table 1).

For each problem (heat, PME, Stefan) it trains — or reuses, when a run of the same spec is cached
under ``runs/probconserv_gpme/<name>-<spec hash>`` — the ANP of
configs/probconserv_<problem>_paper.yaml (``--size cpu``: configs/probconserv_<problem>.yaml),
and with ``--softc`` the SoftC-ANP (same config with ``objective.residual_weight``), then
evaluates ANP, HardC-ANP (projection of the ANP mean), ProbConserv-ANP (Eq. 6, σ_G = 0, on the
ANP) and SoftC-ANP with two protocols:

* ``paper``: t = 0.5 (heat, PME) / 0.05 (Stefan), every test value of the parameter, 50 test
  functions, mean ± standard error, front-position distribution (PME, Stefan)
  (:mod:`sciflow.evaluation.probconserv_protocol`);
* ``grid``: means over the whole (nt, nx) grid at the problem's own test value
  (:func:`sciflow.evaluation.probconserv_eval.evaluate_gpme`).

    python benchmarks/probconserv_gpme.py [--problems heat pme stefan] [--size paper|cpu] [--softc]
                                          [--steps N] [--grid NT NX] [--grid-functions F]

Writes benchmarks/results/probconserv_gpme.json (rows {problem, model, protocol, test_value, mse,
conservation_error, log_likelihood, front_error, train_steps, train_seconds, seeds, ...}; rows
of problems not run this time are kept), .meta.json, .md and the front-position density figures
probconserv_gpme_<problem>_fronts.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, machine, markdown_table, write_results  # noqa: E402

PROBLEMS = ("heat", "pme", "stefan")
NAME = "probconserv_gpme"


def _rows_for(problem_name, problem, model_label_runs, args, fronts_path):
    """Paper- and grid-protocol rows for one problem; model_label_runs: [(run, variants, train info)]."""
    from sciflow.evaluation.probconserv_eval import evaluate_gpme
    from sciflow.evaluation.probconserv_protocol import evaluate_paper_protocol, front_density_figure

    rows, all_fronts = [], {}
    for run, variants, info in model_label_runs:
        paper = dict(run.spec.evaluation.get("paper") or {})
        res, fronts = evaluate_paper_protocol(run.model, problem, variants, **paper)
        for theta, f in fronts.items():
            all_fronts.setdefault(theta, {"true": f["true"], "draws": {}})["draws"].update(f["draws"])
        for r in res:
            rows.append({"problem": problem_name, "model": r.pop("variant"), "protocol": "paper",
                         "test_value": f"{problem.param_name}={r.pop('test_value'):g}", **r, **info})
        grid = tuple(args.grid)
        m, _ = evaluate_gpme(run.model, problem, variants, args.grid_functions, grid, run.model.samples)
        quad = m.pop("exact_quadrature_error")
        for label, v in m.items():
            rows.append({"problem": problem_name, "model": label, "protocol": "grid",
                         "test_value": f"{problem.param_name}={problem.param:g}", "mse": v["mse"],
                         "conservation_error": v["conservation_error"],
                         "conservation_error_max": v["conservation_error_max"],
                         "log_likelihood": v["log_likelihood"], "front_error": v.get("front_error"),
                         "grid": f"{grid[0]}x{grid[1]}", "functions": args.grid_functions,
                         "exact_quadrature_error": quad, **info})
    if all_fronts:
        front_density_figure(all_fronts, fronts_path,
                             f"{problem_name}: front position at t = {problem.t_of_interest:g} "
                             f"(density of {len(next(iter(all_fronts.values()))['draws'])} predictors' draws, "
                             "first test function)")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    ap.add_argument("--size", choices=("paper", "cpu"), default="paper")
    ap.add_argument("--softc", action="store_true", help="also train and evaluate the SoftC-ANP")
    ap.add_argument("--softc-weight", type=float, default=1.0, help="SoftC residual weight λ")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the config's)")
    ap.add_argument("--grid", type=int, nargs=2, default=(201, 201), help="grid protocol (nt, nx)")
    ap.add_argument("--grid-functions", type=int, default=20, help="grid protocol test functions")
    ap.add_argument("--runs", default=str(ROOT / "runs" / NAME), help="cache of trained runs")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)

    from sciflow.evaluation.probconserv_eval import variants_for
    from sciflow.spec import load_spec
    from sciflow.api import cached_run

    old = RESULTS / f"{NAME}.json"
    rows = [r for r in (json.loads(old.read_text()) if old.exists() else []) if r.get("protocol") and r["problem"] not in args.problems]
    old_meta = RESULTS / f"{NAME}.meta.json"
    per_problem = (json.loads(old_meta.read_text()).get("problems", {}) if old_meta.exists() else {})
    started = time.time()
    for name in args.problems:
        cfg = ROOT / "configs" / (f"probconserv_{name}_paper.yaml" if args.size == "paper" else f"probconserv_{name}.yaml")
        kinds = [("anp", [])] + ([("softc", [f"objective.residual_weight={args.softc_weight}"])] if args.softc else [])
        runs = []
        for kind, extra in kinds:
            ov = list(extra) + ([f"training.phases.0.steps={args.steps}"] if args.steps else [])
            if kind == "softc":
                ov.append(f"name={load_spec(cfg).name}_softc")
            spec = load_spec(cfg, ov)
            t0 = time.time()
            run, reused = cached_run(spec, Path(args.runs), progress=not args.quiet)
            print(f"== {name} {kind}: {'reused' if reused else 'trained'} {run.path} "
                  f"({time.time() - t0:.0f} s)", flush=True)
            obj = spec.section("objective")
            info = {"train_steps": run.step, "train_seconds": float(run.metrics()["elapsed_s"][-1]),
                    "batch_size": int(obj.get("batch_size")), "training_functions": int(obj.get("functions", 0)),
                    "seeds": 1, "seed": spec.seed, "run": str(Path(run.path).relative_to(ROOT))
                    if Path(run.path).is_relative_to(ROOT) else str(run.path)}
            variants = {"SoftC": ("none", 0.0)} if kind == "softc" else variants_for(run.model)
            runs.append((run, variants, info))
        problem = runs[0][0].problem
        fig = RESULTS / f"{NAME}_{name}_fronts.png"
        rows += _rows_for(name, problem, runs, args, fig)
        per_problem[name] = {"config": str(cfg.relative_to(ROOT)), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                             "load_average": list(__import__("os").getloadavg()),
                             "lr_schedule": [p.model_dump(mode="json") for p in runs[0][0].spec.training.phases]}
        print(markdown_table([r for r in rows if r["problem"] == name and r["protocol"] == "paper"],
                             ["model", "test_value", "mse", "mse_se", "conservation_error", "log_likelihood",
                              "front_error"]), flush=True)
    order = {p: i for i, p in enumerate(PROBLEMS)}
    rows.sort(key=lambda r: (order[r["problem"]], r["protocol"] != "paper", r["test_value"]))
    meta = {**machine(), "wall_seconds": time.time() - started, "size": args.size, "grid": list(args.grid),
            "grid_functions": args.grid_functions, "problems": per_problem}
    write_results(NAME, rows, meta, _markdown(rows, meta))
    print(_markdown(rows, meta))


def _markdown(rows, meta) -> str:
    out = ["# ProbConserv on the GPME family: the paper's protocol and the whole-grid metric", "",
           "`python benchmarks/probconserv_gpme.py` (cached runs under runs/probconserv_gpme/ are reused when their "
           "spec matches). One training seed per problem (paper size on one CPU core); the standard errors are "
           "over the 50 test functions (context draws) of the paper's protocol, not over training seeds.", ""]
    for name in PROBLEMS:
        pr = [r for r in rows if r["problem"] == name]
        if not pr:
            continue
        r0 = pr[0]
        info = meta["problems"].get(name, {})
        out += [f"## {name}", "",
                f"Budget: {r0['train_steps']} steps × {r0['batch_size']} functions from a set of "
                f"{r0['training_functions']}, {r0['train_seconds']:.0f} s of training on one thread "
                f"(load average {info.get('load_average')}); config {info.get('config')}.", "",
                "Paper protocol (mean ± se over test functions):", "",
                markdown_table([{**r, "mse": f"{r['mse']:.3g} ± {r['mse_se']:.2g}",
                                 "log_likelihood": f"{r['log_likelihood']:.3f} ± {r['log_likelihood_se']:.2g}",
                                 "conservation_error": f"{r['conservation_error']:.2g}",
                                 "front_error": (f"{r['front_error']:.3g} ± {r['front_error_se']:.2g}"
                                                 if r.get("front_error") is not None else "")}
                                for r in pr if r["protocol"] == "paper"],
                               ["test_value", "model", "mse", "conservation_error", "log_likelihood", "front_error"]),
                f"Grid protocol ({pr[-1].get('grid')} grid, {pr[-1].get('functions')} test functions):", "",
                markdown_table([r for r in pr if r["protocol"] == "grid"],
                               ["test_value", "model", "mse", "conservation_error", "log_likelihood", "front_error"])]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
