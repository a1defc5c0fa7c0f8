"""The evaluation protocol of the ProbConserv paper (Hansen et al., ICML 2023, Table 1 and Sec. 4).

Source: the authors' public code, amazon-science/probconserv: ``deep_pdes/experiments/analyze.py``
(``analyze_mean_squared_error``, ``analyze_conservation``, ``analyze_shocks``) and the experiment
configs ``conf/experiments/{3b_heat_var_c,1b_pme_var_m,2b_stefan_var_p}.yaml``. Protocol:

* test values of the parameter: heat k ∈ {1, 5}, PME m ∈ {1, 3, 6}, Stefan p* ∈ {0.5, 0.6}
  (0.5 outside the training range); ``functions`` = 50 test functions per value (the paper's 100
  or 150 test functions split evenly over the values), each with its own random context set
  drawn as in training (``contexts_t`` stratified times × ``contexts_x`` sorted uniform x);
* prediction on the 201-point uniform x grid at the time slice t = ``t_of_interest`` (0.5 heat
  and PME, 0.05 Stefan; the 201 × 201 (t, x) grid of the paper contains it), the ANP moments
  averaged over ``samples`` = 100 draws of the latent z (law of total variance);
* per test function, on that slice:
  MSE = mean_x (μ − u)²,  LL = mean_x log N(u | μ, σ²),
  CE = ∫ μ dx − U(t) with the trapezoidal rule (the paper's CE is this signed difference; the
  magnitude |CE| is reported beside it);
* table entry: the mean over the test functions and its standard error sd/√functions.
  Beside the LL: its value with σ clipped at 0.01 (``log_likelihood_sigma_floor_0.01``) and the
  fraction of points whose σ lies below 0.01 — what a variance floor of 0.01 would cost.

Because G (one trapezoid row per time) is block-diagonal in t and the ANP covariance is
diagonal, the ProbConserv update at one time slice only involves that slice: evaluating the
slice alone gives the same μ̃, σ̃² as updating the whole (t, x) grid.

Downstream task (PME and Stefan, the paper's Fig. 4 / shock-position plots): the distribution of
the front position at t. ``front_samples`` = 500 draws of u(·, t) from the predictive
distribution — ANP and HardC: N(μ, diag σ²); ProbConserv: the posterior N(μ̃, Σ̃) of Eq. (6)
(:func:`sciflow.models.conservation_update.posterior_samples`); ProbConserv-bounded: Eq. (6)'s draws on
its free points around the bounded state
(:func:`~sciflow.models.conservation_update.bounded_posterior_samples`) — each gives a front at the first
grid x where the draw is ≤ ``front_level`` (0 in the paper: the region the front has not reached
holds u = 0). ``front_error`` = |mean of the draws' fronts − exact front|, ``front_sd`` their
spread. The predictive variance is used for every variant. The public code draws the ANP (and
HardC) front samples with covariance diag σ instead of diag σ² (``analyze.py``, ``_get_loc_and_cov``:
``cov = scale * eye``), and ProbConserv's from its posterior covariance built on σ²; the same
fronts drawn that way are reported beside as ``front_error_public_code`` (for ProbConserv it equals
``front_error``), so the paper's front comparison can be read with either convention.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciflow.errors import SciflowError
from sciflow.models.conservation_update import bounded_posterior_samples, gaussian_log_likelihood, posterior_samples
from sciflow.models.probconserv import Variant, apply_update, variant_prior
from sciflow.problems.base import ValueBounds
from sciflow.problems.porous_medium import trapezoid_weights

#: the paper's protocol constants (see the module docstring for their source)
PAPER_FUNCTIONS = 50
PAPER_NX = 201
PAPER_SAMPLES = 100
PAPER_FRONT_SAMPLES = 500
#: sciflow's earlier σ_min: the LL is also reported with σ clipped there (the floor's share of the LL)
OLD_FLOOR = 0.01


def first_crossing(draws: np.ndarray, x: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Front of each draw (S, nx): the first grid x where the draw is ≤ ``level`` (x[-1] if none), (S,)."""
    below = draws <= level
    idx = np.where(below.any(1), below.argmax(1), len(x) - 1)
    return x[idx]


def _stats(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else float("nan")
    return float(a.mean()), se


@torch.no_grad()
def evaluate_paper_protocol(model, problem, variants: dict, test_values=None, functions: int = PAPER_FUNCTIONS,
                            nx: int = PAPER_NX, samples: int = PAPER_SAMPLES, front_samples: int = PAPER_FRONT_SAMPLES,
                            front_level: float = 0.0, t: float | None = None, seed: int = 2023,
                            keep_fronts: int = 1) -> tuple[list[dict], dict]:
    """Rows {test_value, variant, mse, mse_se, log_likelihood, log_likelihood_se, conservation_error,
    conservation_error_se, conservation_error_signed, conservation_error_max, latent_variance_share
    (Σ Var_z μ_z / Σ σ² at t: how much of the ANP's variance its latent draws carry, which is what the
    latent covariance adds to the diagonal)[, front_error, front_error_se, front_sd]} and, per test
    value, the front draws of the first ``keep_fronts`` functions for figures.

    ``variants``: {label: Variant or (update, σ_G[, covariance])} as
    :func:`sciflow.evaluation.probconserv_eval.variants_for`.
    """
    if functions < 2:
        raise SciflowError(f"evaluation.paper.functions must be ≥ 2 (a standard error needs two), got {functions}")
    values = tuple(problem.test_values if test_values is None else test_values)
    t = problem.t_of_interest if t is None else float(t)
    x = torch.linspace(*problem.x_range, nx, dtype=torch.float64)
    xt = torch.stack([torch.full_like(x, t), x], 1)
    w = trapezoid_weights(x)
    G = w[None, :]
    p = next(model.parameters())
    has_front = problem.front(torch.tensor([t], dtype=torch.float64), problem.param) is not None
    rows, fronts = [], {}
    for vi, theta in enumerate(values):
        gen = torch.Generator().manual_seed(seed + 7919 * vi)
        data = problem.draw_functions(functions, generator=gen, theta=torch.full((functions,), float(theta)))
        u = problem.solution(xt[:, 0], xt[:, 1], torch.tensor(float(theta), dtype=torch.float64))
        b = problem.mass(torch.tensor([t], dtype=torch.float64), torch.tensor(float(theta), dtype=torch.float64))
        true_front = float(problem.front(torch.tensor(t, dtype=torch.float64), float(theta))) if has_front else None
        bounds = problem.value_bounds(xt[:, 0], theta) if isinstance(problem, ValueBounds) else None
        acc = {k: {"mse": [], "ll": [], "ll_floor": [], "below": [], "ce": [], "front": [], "front_sd": [],
                   "front_public_code": []} for k in variants}
        kept = {k: [] for k in variants}
        latent_share = []  # the share of the predictive variance the z draws' means carry (Cov_z μ_z)
        for i in range(functions):
            zgen = torch.Generator().manual_seed(seed + 100_003 * (vi + 1) + i)
            mean, var, ms = model.predict(data["xc"][i:i + 1].to(p.dtype), data["yc"][i:i + 1].to(p.dtype),
                                          xt[None].to(p.dtype), samples, zgen, return_samples=True)
            mean, var, ms = mean[0, :, 0].double(), var[0, :, 0].double(), ms[0, :, :, 0].double()
            latent_share.append(float(ms.var(0, unbiased=False).sum() / var.sum()))
            for label, variant in variants.items():
                update, sigma_g, _ = variant = Variant(*variant)
                diag, factor = variant_prior(variant, mean, var, ms)
                mu, v = apply_update(mean, diag, G, b, update, sigma_g, factor, bounds)
                a = acc[label]
                a["mse"].append(float(((mu - u) ** 2).mean()))
                a["ll"].append(float(gaussian_log_likelihood(u, mu, v)))
                a["ll_floor"].append(float(gaussian_log_likelihood(u, mu, v.clamp(min=OLD_FLOOR ** 2))))
                a["below"].append(float((v < OLD_FLOOR ** 2).double().mean()))
                a["ce"].append(float(w @ mu - b[0]))
                if has_front:
                    fgen = torch.Generator().manual_seed(seed + 31 * i + 1)
                    if update == "probconserv":
                        draws = posterior_samples(mean, diag, G, b, front_samples, sigma_g, fgen, factor)
                        draws_public = draws
                    elif update == "bounded":
                        draws = bounded_posterior_samples(mean, diag, G, b, *bounds, front_samples, fgen)
                        draws_public = draws
                    else:
                        noise = torch.randn(front_samples, nx, generator=fgen, dtype=torch.float64)
                        draws = mu + var.sqrt() * noise
                        draws_public = mu + var.sqrt().sqrt() * noise  # the public code's diag σ covariance
                    xf = first_crossing(draws.numpy(), x.numpy(), front_level)
                    a["front"].append(abs(float(xf.mean()) - true_front))
                    a["front_sd"].append(float(xf.std()))
                    xf_public = first_crossing(draws_public.numpy(), x.numpy(), front_level)
                    a["front_public_code"].append(abs(float(xf_public.mean()) - true_front))
                    if i < keep_fronts:
                        kept[label].append(xf)
        for label, a in acc.items():
            ce = np.asarray(a["ce"])
            row = {"test_value": float(theta), "variant": label, "t": t, "functions": functions, "nx": nx,
                   "samples": samples}
            row["mse"], row["mse_se"] = _stats(a["mse"])
            row["log_likelihood"], row["log_likelihood_se"] = _stats(a["ll"])
            row["log_likelihood_sigma_floor_0.01"] = float(np.mean(a["ll_floor"]))
            row["fraction_sigma_below_0.01"] = float(np.mean(a["below"]))
            row["conservation_error"], row["conservation_error_se"] = _stats(np.abs(ce))
            row["conservation_error_signed"] = float(ce.mean())
            row["conservation_error_max"] = float(np.abs(ce).max())
            row["latent_variance_share"] = float(np.mean(latent_share))
            if has_front:
                row["front_error"], row["front_error_se"] = _stats(a["front"])
                row["front_sd"] = float(np.mean(a["front_sd"]))
                row["front_error_public_code"], row["front_error_public_code_se"] = _stats(a["front_public_code"])
                row["true_front"] = true_front
            rows.append(row)
        if has_front:
            fronts[float(theta)] = {"true": true_front, "draws": kept}
    return rows, fronts


def front_density_figure(fronts: dict, path, title: str = "", x_range=None, param_name: str = ""):
    """Histogram density of the predicted front position per variant (rows) and test value (columns), truth as a line.

    Fronts lie on the evaluation grid, so the bins are whole grid cells centred on the grid points
    (a finer bin would leave empty combs between the cells)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = list(fronts)
    labels = list(next(iter(fronts.values()))["draws"])
    fig, axes = plt.subplots(len(labels), len(values), figsize=(3.6 * len(values), 1.9 * len(labels)),
                             squeeze=False, sharex="col")
    for j, theta in enumerate(values):
        f = fronts[theta]
        lo = min([f["true"]] + [float(np.min(np.concatenate(f["draws"][k]))) for k in labels])
        hi = max([f["true"]] + [float(np.max(np.concatenate(f["draws"][k]))) for k in labels])
        allx = np.unique(np.concatenate([np.concatenate(f["draws"][k]) for k in labels]))
        steps = np.diff(allx)
        dx = float(steps[steps > 1e-12].min()) if (steps > 1e-12).any() else 1e-3
        cell = dx * max(1, int(np.ceil((hi - lo) / dx / 60)))  # at most ~60 bins, each a whole number of cells
        bins = np.arange(lo - cell / 2, hi + cell, cell)
        for i, label in enumerate(labels):
            ax = axes[i][j]
            ax.hist(np.concatenate(f["draws"][label]), bins=bins, density=True, color=f"C{i}", alpha=0.75)
            ax.axvline(f["true"], color="k", lw=1.2, ls="--", label="exact front")
            if j == 0:
                ax.set_ylabel(f"{label}\ndensity", fontsize=9)
            if i == 0:
                ax.set_title(f"{param_name} = {theta:g}" if param_name else f"{theta:g}", fontsize=10)
        axes[-1][j].set_xlabel("front position x")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
