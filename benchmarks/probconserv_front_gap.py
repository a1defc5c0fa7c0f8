"""Where ProbConserv's front-position error comes from (PME, Stefan), measured on the cached GPME runs.

For every seed of ``benchmarks/probconserv_gpme.py`` (runs under runs/probconserv_gpme/, the same specs)
and every test value it redraws the paper protocol's 50 test functions with the protocol's seeds
(so the numbers pair with the ``front_error`` rows of probconserv_gpme.json) and measures, per
function at t = t_of_interest, averaged over the functions:

* ``defect``: the ANP's mass error ∫μ dx − U(t) (what the update puts back);
* ``correction_beyond_front``: the share of the moved mass ∫|μ̃ − μ| dx that lands beyond the exact
  front, and the mass of μ and μ̃ there (exact: 0) — Eq. (6) distributes the defect ∝ w_i σ_i²
  (:mod:`sciflow.evaluation.probconserv_fronts`);
* ``correction_near_front``: the share of ∫|μ̃ − μ| dx within 0.1 of the exact front, beside
  ``correction_near_front_uniform``, the same share for a uniform σ;
* ``shift_defect_correlation``: over the functions, the correlation of the defect with the move of
  the mean's front by the update (front of μ̃ minus front of μ);
* ``context_sensitivity`` (per seed): ‖μ̄(θ_lo) − μ̄(θ_hi)‖ / ‖u(θ_lo) − u(θ_hi)‖ for the mean ANP
  profiles of the extreme test values: 1 when the ANP's predictions differ as much as the exact
  solutions do, 0 when it predicts the same profile whatever its contexts;
* ``dry_target_fraction``, ``loglik_dry``, ``loglik_wet`` (per seed, on 64 training draws): the share
  of training targets where the exact u is 0 and the ANP's mean log-likelihood there and elsewhere;
* the MSE split (:func:`sciflow.evaluation.probconserv_fronts.mse_decomposition`): the trapezoid rule's
  ``quadrature_defect`` on the exact slice, ``mse_update_of_exact`` (the update applied to the exact
  solution with the ANP's σ²), ``mse_probconserv_grid_mass`` (the update towards the grid-consistent
  mass wᵀu, an oracle) beside ``mse_anp`` and ``mse_probconserv``, and ``correction_at_peak_variance``;
* ``sigma_at_floor_beyond_front``: the share of the grid beyond the front where σ ≤ 1.5 σ_min;
* the signed front bias (mean over draws of the front, minus the exact one) of the ANP draws
  N(μ, diag σ²) and of the ProbConserv posterior draws, at the paper's level 0 and at the problem's
  ``front_level`` (PME 0.1, Stefan p*/2: the middle of the jump), against the exact front (level 0,
  as the protocol's ``front_error``) and the exact solution's crossing of that level on the same grid
  (front_level), and the front of the means alone.

    python benchmarks/probconserv_front_gap.py [--problems pme stefan] [--seeds 0 1 2]

Writes benchmarks/results/probconserv_front_gap.{json,meta.json,md} (rows of problems not measured this
time are kept).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, machine, markdown_table, write_results  # noqa: E402

NAME = "probconserv_front_gap"
SEED = 2023  # the paper protocol's seed (sciflow.evaluation.probconserv_protocol)
KEYS = ("defect", "correction_beyond_front", "correction_near_front", "correction_near_front_uniform", "mass_beyond_front_anp", "mass_beyond_front_probconserv",
        "sigma_at_floor_beyond_front", "front_of_mean_anp", "front_of_mean_probconserv",
        "bias_anp_level0", "bias_probconserv_level0", "error_anp_level0", "error_probconserv_level0",
        "bias_anp_front_level", "bias_probconserv_front_level", "error_anp_front_level",
        "error_probconserv_front_level", "shift_defect_correlation", "context_sensitivity",
        "dry_target_fraction", "loglik_dry", "loglik_wet", "quadrature_defect", "mse_anp", "mse_probconserv",
        "mse_probconserv_grid_mass", "mse_update_of_exact", "correction_at_peak_variance",
        "defect_continuous", "mse_probconserv_fine", "mse_probconserv_bounded", "mse_best_amplitude")
#: the finer x grid (REFINE·(nx − 1) + 1 points, the protocol's nodes among them) on which the ANP's own mass
#: ∫μ dx and the update on a finer grid are measured
REFINE = 4


@torch.no_grad()
def measure(run, problem, theta: float, vi: int, functions: int = 50, nx: int = 201, samples: int = 100,
            front_samples: int = 500) -> dict:
    """Means over the protocol's test functions of one test value (index vi) of the quantities in KEYS."""
    from sciflow.evaluation.probconserv_fronts import front_decomposition, mse_decomposition
    from sciflow.evaluation.probconserv_protocol import first_crossing
    from sciflow.models.conservation_update import bounded_update, conservation_update, posterior_samples
    from sciflow.problems.porous_medium import StefanProblem, trapezoid_weights

    model = run.model
    t = problem.t_of_interest
    x = torch.linspace(*problem.x_range, nx, dtype=torch.float64)
    xf = torch.linspace(*problem.x_range, REFINE * (nx - 1) + 1, dtype=torch.float64)
    xt = torch.stack([torch.full_like(xf, t), xf], 1)  # the ANP's targets do not interact: nodes = xf[::REFINE]
    G, Gf = trapezoid_weights(x)[None, :], trapezoid_weights(xf)[None, :]
    th = torch.tensor(float(theta), dtype=torch.float64)
    b = problem.mass(torch.tensor([t], dtype=torch.float64), th)
    true_front = float(problem.front(torch.tensor(t, dtype=torch.float64), float(theta)))
    level = float(theta) / 2 if isinstance(problem, StefanProblem) else float(problem.front_level)
    u = problem.solution(torch.full_like(x, t), x, th).numpy()
    lo, hi = problem.value_bounds(torch.full_like(x, t), theta)
    # level 0: the exact front, as the protocol's front_error; front_level: the exact solution's crossing of
    # that level on the same grid
    truth = {"level0": true_front,
             "front_level": float(first_crossing(u[None], x.numpy(), level)[0])}
    gen = torch.Generator().manual_seed(SEED + 7919 * vi)
    data = problem.draw_functions(functions, generator=gen, theta=torch.full((functions,), float(theta)))
    p = next(model.parameters())
    acc = {k: [] for k in KEYS}
    xs = x.numpy()
    means = []
    for i in range(functions):
        zgen = torch.Generator().manual_seed(SEED + 100_003 * (vi + 1) + i)
        mean, var = model.predict(data["xc"][i:i + 1].to(p.dtype), data["yc"][i:i + 1].to(p.dtype),
                                  xt[None].to(p.dtype), samples, zgen)
        mean_f, var_f = mean[0, :, 0].double(), var[0, :, 0].double()
        mean, var = mean_f[::REFINE], var_f[::REFINE]
        means.append(mean)
        exact = torch.as_tensor(u)
        acc["defect_continuous"].append(float(Gf[0] @ mean_f - b[0]))
        fine = conservation_update(mean_f, var_f, Gf, b).mean[::REFINE]
        acc["mse_probconserv_fine"].append(float(((fine - exact) ** 2).mean()))
        bounded = bounded_update(mean, var, G, b, lo, hi)[0].mean
        acc["mse_probconserv_bounded"].append(float(((bounded - exact) ** 2).mean()))
        s = G[0] * var  # Eq. (6) moves the mean along w ⊙ σ²; the amplitude that fits u best (an oracle):
        best = mean + float(s @ (exact - mean) / (s @ s)) * s
        acc["mse_best_amplitude"].append(float(((best - exact) ** 2).mean()))
        d = front_decomposition(mean, var, x, float(b[0]), true_front, 0.0, model.anp.min_std)
        d.update(mse_decomposition(mean, var, x, float(b[0]), torch.as_tensor(u)))
        for k, v in d.items():
            acc[k].append(v)
        # the protocol's draws (same generator seeds): ANP N(μ, diag σ²), ProbConserv posterior of Eq. (6)
        fgen = torch.Generator().manual_seed(SEED + 31 * i + 1)
        pc = posterior_samples(mean, var, G, b, front_samples, 0.0, fgen).numpy()
        fgen = torch.Generator().manual_seed(SEED + 31 * i + 1)
        anp = (mean + var.sqrt() * torch.randn(front_samples, nx, generator=fgen, dtype=torch.float64)).numpy()
        for name, draws in (("anp", anp), ("probconserv", pc)):
            for tag, lev in (("level0", 0.0), ("front_level", level)):
                bias = float(first_crossing(draws, xs, lev).mean()) - truth[tag]
                acc[f"bias_{name}_{tag}"].append(bias)
                acc[f"error_{name}_{tag}"].append(abs(bias))
    for k in ("context_sensitivity", "dry_target_fraction", "loglik_dry", "loglik_wet"):
        acc.pop(k)
    # across the functions: does the front of the mean move with the ANP's mass defect?
    shift = np.asarray(acc["front_of_mean_probconserv"]) - np.asarray(acc["front_of_mean_anp"])
    defect = np.asarray(acc["defect"])
    corr = float(np.corrcoef(defect, shift)[0, 1]) if shift.std() > 0 and defect.std() > 0 else None
    acc.pop("shift_defect_correlation")
    out = {k: (float(np.mean(v)) if v and v[0] is not None else None) for k, v in acc.items()}
    out["shift_defect_correlation"] = corr
    out.update({"anp_mean_profile": torch.stack(means).mean(0).tolist(), "exact_profile": u.tolist(),
                "exact_mass": float(b[0]), "true_front": true_front, "front_level": level, "true_crossing_front_level": truth["front_level"]})
    return out


@torch.no_grad()
def dry_targets(run, functions: int = 64) -> dict:
    """On training draws (θ from the training range, the training targets): the share of targets where the
    exact u is 0 (beyond the front), and the mean log-likelihood of the ANP there and at the wet targets."""
    problem, model = run.problem, run.model
    data = problem.draw_functions(functions, 10, 10, torch.Generator().manual_seed(SEED))
    p = next(model.parameters())
    mean, var = model.predict(*(data[k].to(p.dtype) for k in ("xc", "yc", "xt")), 32, torch.Generator().manual_seed(1))
    y = data["yt"]
    ll = -0.5 * (torch.log(2 * torch.pi * var.double()) + (y - mean.double()) ** 2 / var.double())
    dry = y == 0
    return {"dry_target_fraction": float(dry.double().mean()), "loglik_dry": float(ll[dry].mean()),
            "loglik_wet": float(ll[~dry].mean())}


def _reading(summary) -> list[str]:
    """One sentence per (problem, test value), from the medians: where the update moved the mass and the front."""
    out = []
    for r in summary:
        floor = r.get("sigma_at_floor_beyond_front")
        worse = r["error_probconserv_level0"] > r["error_anp_level0"]
        out.append(
            f"- {r['problem']} {r['test_value']}: level-0 front error ProbConserv {r['error_probconserv_level0']:.3g} "
            f"vs ANP {r['error_anp_level0']:.3g} ({'worse' if worse else 'better'}). ANP mass defect "
            f"{r['defect']:+.3g} ({r['defect'] / r['exact_mass']:+.0%} of U(t) = {r['exact_mass']:.3g}); "
            f"{r['correction_beyond_front']:.1%} of the correction lands beyond the front and "
            f"{r['correction_near_front']:.0%} within 0.1 of it ({r['correction_near_front_uniform']:.0%} for a "
            f"uniform σ)" + (f"; σ at the floor on {floor:.0%} of the grid beyond the front" if floor is not None else "")
            + f"; the mean's level-0 front moves from {r['front_of_mean_anp']:+.3f} (ANP) to "
            f"{r['front_of_mean_probconserv']:+.3f} (ProbConserv) of the exact one. At the level "
            f"{'u = 0.1' if r['problem'] == 'pme' else 'u = p*/2'}: ANP {r['error_anp_front_level']:.3g}, "
            f"ProbConserv {r['error_probconserv_front_level']:.3g}. Context sensitivity of the ANP "
            f"{r['context_sensitivity']:.3g}; {r['dry_target_fraction']:.0%} of the training targets lie where u = 0, "
            f"mean log-likelihood {r['loglik_dry']:.2f} there against {r['loglik_wet']:.2f} elsewhere.")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="+", default=["pme", "stefan"], choices=["pme", "stefan"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--runs", default=str(ROOT / "runs" / "probconserv_gpme"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from sciflow.api import cache_dir, load_run
    from sciflow.spec import load_spec

    rows = []
    for name in args.problems:
        cfg = ROOT / "configs" / f"probconserv_{name}_paper.yaml"
        for seed in args.seeds:
            spec = load_spec(cfg, [f"seed={seed}", "threads=1"])
            path = cache_dir(spec, args.runs)
            if not (path / "checkpoints" / "last.pt").exists():
                print(f"{name} seed {seed}: no cached run at {path}; skipped", flush=True)
                continue
            run = load_run(path)
            problem = run.problem
            seed_rows = []
            for vi, theta in enumerate(problem.test_values):
                r = measure(run, problem, theta, vi)
                seed_rows.append({"problem": name, "seed": seed, "test_value": f"{problem.param_name}={theta:g}",
                                  "train_steps": run.step, **r})
                print(name, seed, theta, {k: round(v, 4) for k, v in r.items() if isinstance(v, float)}, flush=True)
            # does the ANP tell the test values apart from its contexts? ‖μ̄(θ_lo) − μ̄(θ_hi)‖ / ‖u(θ_lo) − u(θ_hi)‖
            # over the mean profiles of the extreme test values (1: as far apart as the truth, 0: ignores them)
            lo, hi = (np.asarray(seed_rows[i]["anp_mean_profile"]) for i in (0, -1))
            ulo, uhi = (np.asarray(seed_rows[i]["exact_profile"]) for i in (0, -1))
            sens = float(np.linalg.norm(lo - hi) / np.linalg.norm(ulo - uhi))
            dry = dry_targets(run)
            for r in seed_rows:
                r.update(dry)
                r["context_sensitivity"] = sens
                del r["anp_mean_profile"], r["exact_profile"]
            rows += seed_rows
    # rows of problems not measured this time are kept: read at the end, so that runs of different problems in
    # parallel processes do not drop each other's rows
    old = RESULTS / f"{NAME}.json"
    kept = [r for r in (json.loads(old.read_text()) if old.exists() else []) if r["problem"] not in args.problems]
    rows = [r for r in kept if r.get("statistic") != "median_of_seeds"] + rows
    summary = []
    for key in dict.fromkeys((r["problem"], r["test_value"]) for r in rows):
        rs = [r for r in rows if (r["problem"], r["test_value"]) == key]
        summary.append({"problem": key[0], "test_value": key[1], "seeds": len(rs), "exact_mass": rs[0]["exact_mass"],
                        **{k: statistics.median([r[k] for r in rs if r.get(k) is not None]) for k in KEYS
                           if any(r.get(k) is not None for r in rs)}})
    cols = ["problem", "test_value", "context_sensitivity", "dry_target_fraction", "loglik_dry", "loglik_wet", "defect", "correction_beyond_front", "correction_near_front",
            "correction_near_front_uniform", "shift_defect_correlation", "mass_beyond_front_probconserv",
            "sigma_at_floor_beyond_front", "front_of_mean_anp", "front_of_mean_probconserv", "bias_anp_level0",
            "bias_probconserv_level0", "error_anp_level0", "error_probconserv_level0", "error_anp_front_level",
            "error_probconserv_front_level"]
    md = ["# Where the front-position error of ProbConserv comes from (PME, Stefan)", "",
          "`python benchmarks/probconserv_front_gap.py`: the paper protocol's 50 test functions per test value "
          "(same draws as benchmarks/results/probconserv_gpme.json), means over functions, median over seeds. "
          "defect = ∫μ dx − U(t) of the ANP; correction_beyond_front = share of ∫|μ̃ − μ| dx beyond the exact "
          "front; mass_beyond_front_probconserv = ∫_{x > x_f} μ̃ dx (exact 0); sigma_at_floor_beyond_front = "
          "share of the grid beyond the front with σ ≤ 1.5 σ_min; front_of_mean_* = first zero of the mean "
          "minus the exact front; bias_* = mean front of the draws minus the exact front (level 0: the "
          "paper's shock position); error_* = |bias| (level 0: the `front_error` of probconserv_gpme; "
          "front_level: the first crossing of PME u = 0.1, Stefan u = p*/2, against the exact solution's crossing "
          "of that level).", "",
          markdown_table(summary, cols), "", *_reading(summary), "",
          "## The MSE of ProbConserv against the ANP's, split", "",
          "quadrature_defect = wᵀu − U(t): the trapezoid rule on the exact slice (the constraint Eq. (6) enforces "
          "holds for the continuous solution, not for its grid values); mse_update_of_exact: the update applied "
          "to the exact solution with the ANP's σ²; mse_probconserv_grid_mass: the update towards wᵀu (an oracle, "
          "it needs u); correction_at_peak_variance: the share of ∫|μ̃ − μ| dx at the node of largest σ.", "",
          markdown_table(summary, ["problem", "test_value", "quadrature_defect", "mse_anp", "mse_probconserv",
                                   "mse_probconserv_grid_mass", "mse_update_of_exact",
                                   "correction_at_peak_variance"]), "",
          f"defect = wᵀμ − U(t) on the nodes; defect_continuous = ∫μ dx − U(t) of the ANP's prediction on the "
          f"{REFINE}× finer grid (its own mass, nearly free of the rule's error); mse_probconserv_fine: Eq. (6) "
          f"applied on that finer grid, read at the nodes (a diagonal prior is white noise: its correction at a "
          f"node grows as 1/h when the grid is refined); mse_probconserv_bounded: the update within the maximum "
          f"principle's bounds; mse_best_amplitude: the mean moved along Eq. (6)'s direction w ⊙ σ² by the "
          f"amplitude that fits u best (an oracle: how much of the ANP's error lies along σ²).", "",
          markdown_table(summary, ["problem", "test_value", "quadrature_defect", "defect", "defect_continuous",
                                   "mse_anp", "mse_probconserv", "mse_probconserv_fine", "mse_probconserv_bounded",
                                   "mse_best_amplitude"])]
    write_results(NAME, rows + [{**s, "statistic": "median_of_seeds"} for s in summary],
                  {**machine(), "seeds": args.seeds}, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
