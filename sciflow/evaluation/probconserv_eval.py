"""Evaluation of ProbConserv runs (evaluator ``probconserv``; GPME problems select it).

Two protocols, chosen by ``evaluation.protocols`` (default both):

* ``grid`` (below): metrics averaged over the whole uniform (nt, nx) grid, test parameter
  ``problem.param``;
* ``paper``: the ProbConserv paper's protocol (time slice, every test value, 50 test functions,
  mean ± standard error, front-position distribution), :mod:`sciflow.evaluation.probconserv_protocol`,
  options under ``evaluation.paper`` (``functions``, ``nx``, ``samples``, ``front_samples``,
  ``test_values``, ``seed``).

``grid``: for the run's test parameter θ it draws ``functions`` test functions with
random contexts (fixed seed), predicts on a uniform (nt, nx) grid and applies each variant:

* ``ANP`` (or ``SoftC`` when the run trained with a residual penalty): the raw prediction,
* ``HardC``: orthogonal projection of the mean onto G u = b (variance unchanged),
* ``ProbConserv``: the update (Hansen et al. Eq. 6) with the model's σ_G on the prior diag σ²,
* ``ProbConserv-latent``: the same update on the ANP's latent covariance E_z diag σ_z² + Cov_z μ_z
  (:func:`sciflow.models.probconserv.latent_covariance`);
* ``ProbConserv-bounded`` (problems with value bounds): Eq. (6)'s projection kept within the maximum
  principle's bounds (:func:`sciflow.models.conservation_update.bounded_update`).

Metrics per variant (means over test functions): ``mse`` of the mean against the exact
solution, ``conservation_error`` max_t |G μ − b| (its maximum over functions for the bars),
``log_likelihood`` mean pointwise log N(u | μ, σ²), ``front_error`` |x_f(μ) − x_f(u)| at
``problem.t_of_interest`` (PME, Stefan: the front located by the crossing of
``problem.front_level``, the same estimator on the exact solution), and the consistency of the
discretised law itself, max_t |G u_exact − b| (quadrature error of the grid).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from sciflow.evaluation.report import register_evaluator
from sciflow.models.conservation_update import gaussian_log_likelihood
from sciflow.models.probconserv import Variant, apply_update, variant_prior
from sciflow.problems.base import ValueBounds


def front_position(profile: np.ndarray, x: np.ndarray, level: float) -> float:
    """First x where ``profile`` (nx,) drops below ``level``, linearly interpolated (x[-1] if never)."""
    below = np.nonzero(profile < level)[0]
    if below.size == 0:
        return float(x[-1])
    i = int(below[0])
    if i == 0:
        return float(x[0])
    f0, f1 = profile[i - 1] - level, profile[i] - level
    return float(x[i - 1] + (x[i] - x[i - 1]) * f0 / (f0 - f1))


def variants_for(model, softc: bool = False) -> dict:
    """{label: Variant} evaluated for a ProbConserv-ANP model: the ANP (or SoftC), HardC, ProbConserv
    (Eq. 6 on diag σ², as the paper), ProbConserv-latent (Eq. 6 on the ANP's latent covariance) and,
    for a problem with value bounds, ProbConserv-bounded (Eq. 6's projection within the bounds)."""
    out = {("SoftC" if softc else "ANP"): Variant("none"), "HardC": Variant("hardc"),
           "ProbConserv": Variant("probconserv", float(model.sigma_g)),
           "ProbConserv-latent": Variant("probconserv", float(model.sigma_g), "latent")}
    if isinstance(model.problem, ValueBounds):
        out["ProbConserv-bounded"] = Variant("bounded")
    return out


@torch.no_grad()
def evaluate_gpme(model, problem, variants: dict, functions: int = 20, grid=(101, 101), samples: int = 32,
                  seed: int = 2023, theta: float | None = None, keep: int = 1) -> tuple[dict, dict]:
    """Metrics {variant: {metric: value}} and arrays for figures (the first ``keep`` functions)."""
    theta = problem.param if theta is None else float(theta)
    g = problem.grid(*grid)
    G, b = problem.constraints(g, theta)
    bounds = problem.value_bounds(g.points[:, 0], theta) if isinstance(problem, ValueBounds) else None
    gen = torch.Generator().manual_seed(seed)
    data = problem.draw_functions(functions, generator=gen, theta=torch.full((functions,), theta), grid=g)
    p = next(model.parameters())
    nt, nx = g.shape
    it = int(torch.argmin((g.t - problem.t_of_interest).abs()))
    level = problem.front_level
    acc = {k: {"mse": [], "conservation_error": [], "log_likelihood": [], "front_error": []} for k in variants}
    arrays = {"t": g.t.numpy(), "x": g.x.numpy(), "b": b.numpy(), "it": it, "theta": theta, "functions": []}
    update_seconds = {k: 0.0 for k in variants}
    truth_cons = []
    for i in range(functions):
        zgen = torch.Generator().manual_seed(seed + 1 + i)
        mean, var, ms = model.predict(data["xc"][i:i + 1].to(p.dtype), data["yc"][i:i + 1].to(p.dtype),
                                      g.points[None].to(p.dtype), samples, zgen, return_samples=True)
        mean, var, ms = mean[0, :, 0].double(), var[0, :, 0].double(), ms[0, :, :, 0].double()
        y = data["yt"][i, :, 0]
        truth_cons.append(float((G @ y - b).abs().max()))
        fn_arrays = {"exact": y.reshape(nt, nx).numpy(), "xc": data["xc"][i].numpy()}
        for label, variant in variants.items():
            t0 = time.perf_counter()
            update, sigma_g, _ = variant = Variant(*variant)
            diag, factor = variant_prior(variant, mean, var, ms)
            mu, v = apply_update(mean, diag, G, b, update, sigma_g, factor, bounds)
            update_seconds[label] += time.perf_counter() - t0
            a = acc[label]
            a["mse"].append(float(((mu - y) ** 2).mean()))
            a["conservation_error"].append(float((G @ mu - b).abs().max()))
            a["log_likelihood"].append(float(gaussian_log_likelihood(y, mu, v)))
            if level is not None:
                xs = g.x.numpy()
                a["front_error"].append(abs(front_position(mu.reshape(nt, nx)[it].numpy(), xs, level)
                                            - front_position(fn_arrays["exact"][it], xs, level)))
            fn_arrays[label] = (mu.reshape(nt, nx).numpy(), v.reshape(nt, nx).numpy())
        if i < keep:
            arrays["functions"].append(fn_arrays)
    metrics = {}
    for label, a in acc.items():
        m = {"mse": float(np.mean(a["mse"])), "conservation_error": float(np.mean(a["conservation_error"])),
             "conservation_error_max": float(np.max(a["conservation_error"])),
             "log_likelihood": float(np.mean(a["log_likelihood"])),
             "update_seconds": update_seconds[label] / functions}
        if a["front_error"]:
            m["front_error"] = float(np.mean(a["front_error"]))
        metrics[label] = m
    metrics["exact_quadrature_error"] = float(np.max(truth_cons))
    return metrics, arrays


def profile_figure(arrays: dict, path, title: str = "") -> Path:
    """u(x) at t_of_interest for each variant (mean ± 2σ) against the exact solution, one function."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fn = arrays["functions"][0]
    it, x = arrays["it"], arrays["x"]
    labels = [k for k in fn if k not in ("exact", "xc")]
    fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.4), sharey=True, squeeze=False)
    for ax, label in zip(axes[0], labels):
        mu, v = fn[label]
        sd = np.sqrt(v[it])
        ax.fill_between(x, mu[it] - 2 * sd, mu[it] + 2 * sd, color="C0", alpha=0.25, label="±2σ")
        ax.plot(x, mu[it], "C0-", label="mean")
        ax.plot(x, fn["exact"][it], "k--", lw=1, label="exact")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("x")
    axes[0][0].set_ylabel(f"u(x, t={arrays['t'][it]:.3g})")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def mass_figure(arrays: dict, G_weights_x: np.ndarray, path, title: str = "") -> Path:
    """Total mass ∫ μ dx (trapezoid) against t for each variant, with the exact U(t)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fn = arrays["functions"][0]
    fig, (a, c) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(arrays["t"], arrays["b"], "k-", lw=2, label="exact U(t)")
    for label, val in fn.items():
        if label in ("exact", "xc"):
            continue
        mass = val[0] @ G_weights_x
        a.plot(arrays["t"], mass, "--", label=label)
        c.semilogy(arrays["t"], np.abs(mass - arrays["b"]) + 1e-18, label=label)
    a.set_xlabel("t"), a.set_ylabel("∫ u dx"), a.legend(fontsize=8)
    c.set_xlabel("t"), c.set_ylabel("|G μ − b|"), c.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


PROTOCOLS = ("grid", "paper")
PAPER_KEYS = ("functions", "nx", "samples", "front_samples", "test_values", "seed")


@register_evaluator("probconserv", keys=("protocols", "paper", "grid", "functions", "samples", "seed"))
def evaluate_probconserv(run, out: Path, progress: bool = True, fields=None):
    from sciflow.errors import SciflowError
    from sciflow.evaluation.probconserv_protocol import evaluate_paper_protocol, front_density_figure
    from sciflow.problems.porous_medium import trapezoid_weights

    ev = run.spec.evaluation
    problem, model = run.problem, run.model
    softc = float(run.spec.section("objective").get("residual_weight", 0.0) or 0.0) > 0
    variants = variants_for(model, softc)
    protocols = ev.get("protocols", list(PROTOCOLS))
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise SciflowError(f"evaluation.protocols: {bad or protocols} — expected a non-empty list from {PROTOCOLS}")
    paper = dict(ev.get("paper") or {})
    unknown = sorted(set(paper) - set(PAPER_KEYS))
    if unknown:
        raise SciflowError(f"evaluation.paper: unknown key(s) {unknown} (known: {list(PAPER_KEYS)})")
    flat, figs = {}, {}
    title = f"{problem.name}, {problem.param_name} = {problem.param:g}"
    if "paper" in protocols:
        rows, fronts = evaluate_paper_protocol(model, problem, variants, **paper)
        for r in rows:
            key = f"paper/{problem.param_name}={r['test_value']:g}/{r['variant']}"
            for k, v in r.items():
                if k not in ("test_value", "variant"):
                    flat[f"{key}/{k}"] = v
        if fronts:
            figs["Front position at t of interest: predicted density against the exact front"] = front_density_figure(
                fronts, out / "front_density.png", f"{problem.name}: front position at t = {problem.t_of_interest:g}")
    if "grid" not in protocols:
        return flat, figs
    grid = tuple(ev.get("grid", (101, 101)))
    metrics, arrays = evaluate_gpme(model, problem, variants, int(ev.get("functions", 20)), grid,
                                    int(ev.get("samples", model.samples)), int(ev.get("seed", 2023)))
    flat.update({"grid/exact_quadrature_error": metrics.pop("exact_quadrature_error"),
                 "grid/test_parameter": problem.param, "grid/grid": f"{grid[0]}x{grid[1]}"})
    for label, m in metrics.items():
        for k, v in m.items():
            flat[f"grid/{label}/{k}"] = v
    w = trapezoid_weights(torch.as_tensor(arrays["x"], dtype=torch.float64)).numpy()
    figs["Solution profile with uncertainty (mean ± 2σ)"] = profile_figure(arrays, out / "profile.png", title)
    figs["Total mass and conservation error"] = mass_figure(arrays, w, out / "mass.png", title)
    _export_first_function(run, arrays, out)
    return flat, figs


def _export_first_function(run, arrays: dict, out: Path) -> None:
    """``prediction.nc`` + ``.xdmf`` of the first grid-protocol test function on (t, x): ``u`` and ``u_std``
    of every variant (``u`` = ProbConserv's, ``u_<variant>`` the others', e.g. ``u_ProbConserv_latent``),
    the exact ``u_reference`` and ``u_error`` = ProbConserv − exact."""
    from sciflow.evaluation.export import prediction_dataset, write_prediction

    fn = arrays["functions"][0]
    mean, var = fn["ProbConserv"]
    ds = prediction_dataset({"u": mean}, {"u": fn["exact"]}, {"t": arrays["t"], "x": arrays["x"]}, ("t", "x"),
                            {"case": f"{run.problem.name}, {run.problem.param_name} = {arrays['theta']:g}, first test "
                                     "function of the grid protocol",
                             "solver": f"sciflow model {run.spec.model.name}, run {run.path}"})
    ds["u_std"] = (("t", "x"), np.sqrt(var), {"long_name": "ProbConserv predictive standard deviation", "units": "1"})
    for label, value in fn.items():
        if label not in ("ProbConserv", "exact", "xc"):
            name = f"u_{label.replace('-', '_')}"  # a plain identifier for netCDF/XDMF readers
            ds[name] = (("t", "x"), value[0], {"long_name": f"{label} predictive mean", "units": "1"})
            ds[f"{name}_std"] = (("t", "x"), np.sqrt(value[1]),
                                    {"long_name": f"{label} predictive standard deviation", "units": "1"})
    write_prediction(out, ds)
