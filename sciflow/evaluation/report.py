"""``sciflow evaluate RUN``: metrics.json, figures and report.md under ``RUN/evaluation/``.

The evaluation a run gets is chosen by its problem's ``evaluator`` attribute (default
``steady_flow``); model families register their own with :func:`register_evaluator`.
Each evaluator returns (metrics, figures) where figures maps a caption to a PNG path.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sciflow.data.io import atomic_write_text, json_ready
from sciflow.registry import Registry

EVALUATORS = Registry("evaluator", "evaluator", (
    "sciflow.evaluation.rollout",
    "sciflow.evaluation.lpinn_eval",
    "sciflow.evaluation.probconserv_eval",
    "sciflow.evaluation.channel_eval",
    "sciflow.evaluation.cylinder_eval",
))
register_evaluator = EVALUATORS.register


def use_best_checkpoint(run) -> str:
    """Load ``checkpoints/best.pt`` (chosen on validation) into ``run.model`` when it exists.

    Returns the name of the checkpoint the evaluation uses; the model is left in eval mode.
    """
    from sciflow.training.checkpoint import load_checkpoint

    best = Path(run.path) / "checkpoints" / "best.pt"
    selected = "last.pt"
    if best.exists():
        run.model.load_state_dict(load_checkpoint(best, map_location="cpu")["model"])
        selected = "best.pt"
    run.model.eval()
    return selected


@register_evaluator("steady_flow")
def _steady_flow(run, out: Path, progress=True):
    from sciflow.evaluation import plots
    from sciflow.evaluation.flow_fields import evaluate_steady_flow

    ref = run.problem.reference(progress=progress)
    metrics, arrays = evaluate_steady_flow(run, ref, progress)
    figs = {"Prediction | reference | error": plots.field_comparison(
        arrays["x"], arrays["y"], arrays["pred"], arrays["ref"], out / "fields.png",
        f"{run.spec.name}: velocity rel. L2 {metrics['velocity_rel_l2']:.2e}",
        singular=[(0.0, 1.0), (1.0, 1.0)] if run.problem.name == "cavity" else None)}
    if run.problem.name == "cavity" and not arrays["scattered"]:
        figs["Centreline profiles vs FEM and Ghia et al. (1982)"] = plots.cavity_centerlines(arrays, out / "centerlines.png")
    metrics["reference"] = {k: str(v) for k, v in ref.attrs.items() if k in ("case", "solver", "Re", "mesh", "resolution", "source")}
    from sciflow.evaluation.export import prediction_dataset, write_prediction

    if arrays["scattered"]:
        coords, dims = {"x": (("point",), arrays["x"]), "y": (("point",), arrays["y"])}, ("point",)
    else:
        coords, dims = {"x": arrays["x"], "y": arrays["y"]}, ("y", "x")
    write_prediction(out, prediction_dataset(
        arrays["pred"], arrays["ref"], coords, dims,
        {"case": f"{run.problem.name} prediction", "solver": f"sciflow model {run.spec.model.name}, run {run.path}",
         "pressure": "p and p_reference shifted to zero mean (p is defined up to a constant)",
         "nondimensionalisation": ", ".join(f"{f.name} in {f.units}" for f in run.problem.fields)}))
    return metrics, figs


def evaluate_run(run, progress: bool = True) -> dict:
    from sciflow.evaluation import plots

    out = Path(run.path) / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    kind = getattr(run.problem, "evaluator", "steady_flow")
    metrics, figs = EVALUATORS.get(kind)(run, out, progress)
    history = run.metrics() if (Path(run.path) / "metrics.csv").exists() else None
    if history is not None:
        figs["Loss history"] = plots.loss_history(history, out / "loss_history.png")
        import numpy as np

        metrics["train_seconds"] = float(np.nanmax(history["elapsed_s"]))
        finite = history["loss"][np.isfinite(history["loss"])]
        metrics["final_loss"] = float(finite[-1]) if finite.size else float("nan")
    metrics.update(run=str(run.path), step=run.step, model=run.spec.model.name, problem=run.problem.name,
                   evaluate_seconds=time.perf_counter() - t0)
    metrics = json_ready(metrics)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False))
    atomic_write_text(out / "report.md", _report_md(run, metrics, figs))
    return metrics


PROVENANCE_KEYS = ("run", "step", "model", "problem", "checkpoint", "parameters", "train_seconds", "evaluate_seconds",
                   "final_loss", "device", "test_samples", "rollout_trajectories")


def _unit(key: str) -> str:
    """The unit of a metric, from its name (relative errors are dimensionless ratios)."""
    if any(t in key for t in ("rel_l2", "nrmse", "vrmse", "_dev_rel", "correlation")):
        return "1 (relative)"
    if "seconds" in key:
        return "s"
    if key.endswith(("_points", "_samples", "_steps")):
        return "count"
    if any(t in key for t in ("max_error", "max_abs", "rmse", "ghia", "residual")):
        return "field units"
    return ""


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _report_md(run, metrics, figs) -> str:
    """report.md: case and reference, headline metrics (with units and targets), figures, provenance."""
    targets = dict((run.spec.evaluation or {}).get("targets", {}) or {})
    lines = [f"# {run.spec.name}", "", "## Case and reference", "",
             f"- problem `{run.problem.name}`: " + ", ".join(f"{k} = {v}" for k, v in run.problem.params.items()),
             f"- model `{run.spec.model.name}`, {run.step} training steps"]
    ref = metrics.get("reference")
    if isinstance(ref, dict) and ref:
        lines.append("- reference: " + "; ".join(f"{k}: {v}" for k, v in ref.items()))
    lines += ["", "## Headline metrics", "", "| metric | value | unit | target | met |", "|---|---|---|---|---|"]
    for k in sorted(metrics):
        v = metrics[k]
        if k in PROVENANCE_KEYS or not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        t = targets.get(k)
        met = "" if t is None else ("yes" if float(v) <= float(t) else "no")
        lines.append(f"| {k} | {_fmt(v)} | {_unit(k)} | {'' if t is None else _fmt(float(t))} | {met} |")
    lines.append("")
    for caption, path in figs.items():
        lines += [f"## {caption}", "", f"![{caption}]({Path(path).name})", ""]
    lines += ["## Provenance", "", "| item | value |", "|---|---|"]
    for k in PROVENANCE_KEYS:
        if k in metrics:
            lines.append(f"| {k} | {_fmt(metrics[k])} |")
    from sciflow import __version__

    lines += [f"| sciflow | {__version__} |", "",
              "Predicted, reference and error fields: `prediction.nc` (+ `prediction.vtu`/`.xdmf`) where written.", ""]
    return "\n".join(lines)
