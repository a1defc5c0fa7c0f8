"""``sciflow evaluate RUN``: metrics.json, figures and report.md under ``RUN/evaluation/``.

Every run of a pointwise model on a problem with a reference (``reference()`` or ``exact()``)
gets the generic field comparison (:mod:`sciflow.evaluation.field_comparison`: per-field
``<f>_rel_l2`` and ``<f>_max_error``, a prediction | reference | error figure). A problem's
``evaluator`` names a case evaluator (registered with :func:`register_evaluator`) that adds its
metrics and figures: an :class:`Evaluator` ``(run, out, progress, fields) -> (metrics, figures)``
receives the field comparison (None where none applies); figures map a caption to a PNG path.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from sciflow.data.io import atomic_write_text, json_ready
from sciflow.errors import SciflowError
from sciflow.registry import Registry

EVALUATORS = Registry("evaluator", "evaluator", packages=("sciflow.evaluation",))
#: Keys of a spec's ``evaluation`` section that every evaluation reads (:func:`evaluation_targets`).
COMMON_KEYS = ("targets",)
#: The ``evaluation.<key>`` each registered evaluator reads, by evaluator name (see :func:`register_evaluator`).
EVALUATION_KEYS: dict[str, tuple[str, ...]] = {}


def register_evaluator(name: str, keys: tuple[str, ...] = ()):
    """Decorator registering a case evaluator under ``name``. ``keys``: the keys of the spec's ``evaluation``
    section it reads (besides ``targets``); a spec (or ``sciflow evaluate --set``) with any other key is
    refused by :func:`check_evaluation_keys`, so a misspelt key is an error, not a silent default."""
    EVALUATION_KEYS[name] = tuple(keys)
    return EVALUATORS.register(name)


def check_evaluation_keys(evaluation: dict, evaluator: str | None) -> None:
    """Refuse a key of ``evaluation`` (a spec's section) that neither every evaluation nor the problem's
    evaluator (``None``: the generic field comparison only) reads; the error names the key and the known ones."""
    known = COMMON_KEYS
    if evaluator is not None:
        EVALUATORS.get(evaluator)  # imports the evaluator's module, which declares its keys
        known = COMMON_KEYS + EVALUATION_KEYS.get(evaluator, ())
    unknown = sorted(set(evaluation or {}) - set(known))
    if unknown:
        whose = f"evaluator '{evaluator}'" if evaluator else "this problem's evaluation (no case evaluator)"
        raise SciflowError(f"evaluation.{unknown[0]}: not a key {whose} reads (known: {sorted(known)})")


class Evaluator(Protocol):
    """A case evaluator: metrics and figures it adds for ``run`` (written under ``out``)."""

    def __call__(self, run, out: Path, progress: bool = True, fields=None) -> tuple[dict, dict]: ...


SUBDIR_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")


def evaluation_subdir(overrides: dict) -> str:
    """The directory an evaluation with ``overrides`` of the spec's ``evaluation`` section writes:
    ``evaluation_<key>=<value>[,<key>=<value>...]``, keys sorted, a list's items joined by ``+``
    (``{"constraints": ["no_slip", "bulk_flow"]}`` → ``evaluation_constraints=no_slip+bulk_flow``), so
    evaluations with other values do not overwrite each other. A value that is not a plain word or number
    (or a list of them), or a name longer than 120 characters, is written as 8 hex digits of its hash."""
    import hashlib

    def word(v) -> str | None:
        text = str(v).lower() if isinstance(v, bool) else str(v)
        return text if isinstance(v, (str, int, float)) and text and set(text) <= SUBDIR_CHARS else None

    parts = []
    for key in sorted(overrides):
        v = overrides[key]
        items = [word(i) for i in v] if isinstance(v, (list, tuple)) else [word(v)]
        text = "+".join(items) if items and None not in items else None
        if text is None or len(text) > 80:
            text = hashlib.sha256(json.dumps(json_ready(v), sort_keys=True).encode()).hexdigest()[:8]
        parts.append(f"{key}={text}")
    name = "evaluation_" + ",".join(parts)
    if len(name) > 120:
        name = "evaluation_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


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


def evaluate_run(run, progress: bool = True, subdir: str = "evaluation") -> dict:
    """Metrics, figures and report of ``run`` against its reference, written to ``<run>/<subdir>/``."""
    from sciflow.evaluation import plots
    from sciflow.evaluation.field_comparison import compare_fields, field_figures, field_metrics
    from sciflow.models.base import PointwiseModel
    from sciflow.problems.base import ExactSolution, ReferenceSolution

    check_evaluation_keys(run.spec.evaluation, run.problem.evaluator)  # refused before any work
    evaluation_targets(run)
    out = Path(run.path) / subdir
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    metrics, figs, fields = {}, {}, None
    if isinstance(run.model, PointwiseModel) and isinstance(run.problem, (ReferenceSolution, ExactSolution)):
        fields = compare_fields(run.problem, run.model, progress=progress)
        metrics.update(field_metrics(fields))
        figs.update(field_figures(fields, out, run.spec.name, run.problem.singular_points, run.problem.singular_radius))
        metrics["reference"] = {k: str(v) for k, v in fields.attrs.items()
                                if k in ("case", "solver", "Re", "mesh", "resolution", "source")}
        _export_prediction(run, fields, out)
    if run.problem.evaluator is not None:
        evaluator: Evaluator = EVALUATORS.get(run.problem.evaluator)
        extra, extra_figs = evaluator(run, out, progress, fields)
        metrics.update(extra)
        figs.update(extra_figs)
    history = run.metrics() if (Path(run.path) / "metrics.csv").exists() else None
    notes = []
    if history is not None and not len(history.get("step", ())):
        notes.append("Loss history: not drawn, `metrics.csv` holds no logged steps.")
        history = None
    if history is not None:
        figs["Loss history"] = plots.loss_history(history, out / "loss_history.png", run.spec.training.phases)
        import numpy as np

        metrics["train_seconds"] = float(np.nanmax(history["elapsed_s"]))
        finite = history["loss"][np.isfinite(history["loss"])]
        metrics["final_loss"] = float(finite[-1]) if finite.size else float("nan")
    metrics.update(run=str(run.path), step=run.step, model=run.spec.model.name, problem=run.problem.name,
                   evaluate_seconds=time.perf_counter() - t0, evaluation_dir=str(out))
    if run.problem.parametric:
        metrics["params"] = {k: run.problem.params[k] for k in run.problem.parametric}
    metrics = json_ready(metrics)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False))
    atomic_write_text(out / "report.md", _report_md(run, metrics, figs, notes))
    return metrics


PROVENANCE_KEYS = ("run", "evaluation_dir", "step", "model", "problem", "checkpoint", "parameters", "train_seconds",
                   "evaluate_seconds",
                   "final_loss", "device", "test_samples", "rollout_trajectories")


def headline_metrics(metrics: dict) -> dict:
    """The numeric error metrics of ``metrics`` (provenance such as run, step and timings left out), by name."""
    return {k: metrics[k] for k in sorted(metrics) if k not in PROVENANCE_KEYS
            and isinstance(metrics[k], (int, float)) and not isinstance(metrics[k], bool)}


def _unit(key: str, problem=None) -> str:
    """The unit of a metric, from its name: relative errors are dimensionless ratios; an absolute error of a
    field (``<f>_max_error``, ``<f>_rmse``, ``ghia_<f>_max_dev``, ...) is in that field's units (the problem's
    :class:`~sciflow.problems.base.Field` units, e.g. U or u_τ)."""
    if "speedup" in key:
        return "1 (ratio)"
    if any(t in key for t in ("rel_l2", "nrmse", "vrmse", "_dev_rel", "correlation", "rel_err", "constraint_residual")):
        return "1 (relative)"
    if "seconds" in key:
        return "s" + (f" per {problem.scales['T']}" if "per_time_unit" in key and problem is not None
                      and "T" in problem.scales else "")
    if key.endswith(("_points", "_samples", "_steps", "_steps_stable", "_trajectories", "_horizon", "parameters")):
        return "count"
    fields = {f.name: f.units for f in problem.fields} if problem is not None else {}
    for name in sorted(fields, key=len, reverse=True):
        if key.startswith(f"{name}_frmse_"):  # Σ over a shell of |ê(k)|, ê the DFT, times Π L_a / Π n_a
            return f"{fields[name]} × L^d (PDEBench fRMSE scaling)"
        if key.startswith((f"{name}_", f"ghia_{name}_")) and any(t in key for t in ("max_error", "max_abs", "rmse",
                                                                                      "max_dev")):
            return fields[name]
    if problem is not None and "T" in problem.scales and key.endswith(("_time", "dt_snapshot")):
        return str(problem.scales["T"])
    if key.startswith("residual_"):
        return "units of its equation"
    if any(t in key for t in ("max_error", "max_abs", "rmse", "ghia")):
        return "field units"
    return ""


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _export_prediction(run, fields, out: Path) -> None:
    """``prediction.nc`` (+ ``.vtu``/``.xdmf``): prediction, reference and error of a comparison on a grid
    of (t, z, y, x) dims or at scattered (point) reference points, dims put in the schema's order."""
    from sciflow.evaluation.export import prediction_dataset, write_prediction

    order = ("t", "z", "y", "x")
    if fields.dims == ("point",) and {"x", "y"} <= set(fields.coords) <= {"x", "y", "z"}:
        coords, dims = {k: (("point",), v) for k, v in fields.coords.items()}, ("point",)
        move = lambda a: a  # noqa: E731
    elif set(fields.dims) <= set(order) and "x" in fields.dims:
        dims = tuple(d for d in order if d in fields.dims)
        coords = {d: fields.coords[d] for d in dims}
        move = lambda a: np.transpose(a, [fields.dims.index(d) for d in dims])  # noqa: E731
    else:
        return
    shift = {f: (np.nanmean(fields.pred[f]), np.nanmean(fields.ref[f])) if f in fields.up_to_constant else (0.0, 0.0)
             for f in fields.fields}
    pred = {f: move(fields.pred[f] - shift[f][0]) for f in fields.fields}
    ref = {f: move(fields.ref[f] - shift[f][1]) for f in fields.fields}
    attrs = {"case": f"{run.problem.name} prediction", "solver": f"sciflow model {run.spec.model.name}, run {run.path}",
             "nondimensionalisation": ", ".join(f"{f.name} in {f.units}" for f in run.problem.fields)}
    if fields.up_to_constant:
        attrs["up_to_constant"] = f"{', '.join(sorted(fields.up_to_constant))} and references shifted to zero mean"
    write_prediction(out, prediction_dataset(pred, ref, coords, dims, attrs, fields.units))


def evaluation_targets(run) -> dict[str, float]:
    """``evaluation.targets`` of the run's spec: {metric: upper bound}; anything but a number is refused."""
    targets = dict((run.spec.evaluation or {}).get("targets", {}) or {})
    for k, t in targets.items():
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise SciflowError(f"evaluation.targets.{k}: expected an upper bound (a number), got {t!r}")
    return targets


def _report_md(run, metrics, figs, notes=()) -> str:
    """report.md: case and reference, headline metrics (with units and targets), figures, notes (what
    could not be drawn and why), provenance."""
    targets = evaluation_targets(run)
    lines = [f"# {run.spec.name}", "", "## Case and reference", "",
             f"- problem `{run.problem.name}`: " + ", ".join(f"{k} = {v}" for k, v in run.problem.params.items()),
             f"- model `{run.spec.model.name}`, {run.step} training steps"]
    ref = metrics.get("reference")
    if isinstance(ref, dict) and ref:
        lines.append("- reference: " + "; ".join(f"{k}: {v}" for k, v in ref.items()))
    lines += ["", "## Headline metrics", "", "| metric | value | unit | target | met |", "|---|---|---|---|---|"]
    headline = headline_metrics(metrics)
    for k, v in headline.items():
        t = targets.get(k)
        met = "" if t is None else ("yes" if float(v) <= float(t) else "no")
        lines.append(f"| {k} | {_fmt(v)} | {_unit(k, run.problem)} | {'' if t is None else _fmt(float(t))} | {met} |")
    for k in sorted(set(targets) - set(headline)):  # a target whose metric this evaluation did not produce
        lines.append(f"| {k} | not computed | {_unit(k, run.problem)} | {_fmt(float(targets[k]))} | no |")
    lines.append("")
    for caption, path in figs.items():
        lines += [f"## {caption}", "", f"![{caption}]({Path(path).name})", ""]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    lines += ["## Provenance", "", "| item | value |", "|---|---|"]
    for k in PROVENANCE_KEYS:
        if k in metrics:
            lines.append(f"| {k} | {_fmt(metrics[k])} |")
    from sciflow import __version__

    lines += [f"| sciflow | {__version__} |", "",
              "Predicted, reference and error fields: `prediction.nc` (+ `prediction.vtu`/`.xdmf`) where written.", ""]
    return "\n".join(lines)
