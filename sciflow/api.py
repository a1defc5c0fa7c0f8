"""The public API, used by the CLI and notebooks alike: ``train``, ``evaluate``, ``load_run``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from sciflow.errors import SciflowError
from sciflow.spec import Spec, load_spec, save_spec, spec_from_dict

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def build_problem_model(spec: Spec, device=None):
    """Problem and model (on device, in the spec's dtype) of a spec; the model's needs are checked."""
    from sciflow.models.base import PointwiseModel
    from sciflow.models.registry import build_model
    from sciflow.problems.base import build_problem

    from sciflow.training.memory import check_model_fits

    device = device or torch.device("cpu")
    problem = build_problem(spec.section("problem"))
    check_model_fits(lambda: build_model(spec.section("model"), problem), spec.section("model"), DTYPES[spec.dtype],
                     device)
    model = build_model(spec.section("model"), problem).to(device=device, dtype=DTYPES[spec.dtype])
    if problem.user_reference is not None and not isinstance(model, PointwiseModel):
        raise SciflowError(f"problem.reference: a reference file is compared with pointwise models (PINNs); "
                           f"model '{spec.section('model')['name']}' is judged on its dataset (problem.dataset.path)")
    return problem, model


def build(spec: Spec, device=None):
    """Problem, model (on device, in the spec's dtype) and objective of a spec."""
    from sciflow.training.objectives import build_objective

    problem, model = build_problem_model(spec, device)
    objective = build_objective(spec.section("objective"), problem, model)
    return problem, model, objective


def _seed_all(seed: int):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(spec: Spec | dict | str | os.PathLike, overrides: dict | list | None = None, out: str | os.PathLike | None = None,
          resume: bool = False, progress: bool = True, stop_after: int | None = None,
          overwrite: bool = False) -> Path:
    """Train the model a spec describes; returns the run directory (``runs/<name>`` or ``out``).

    A run directory belongs to one run: training into one that holds a run is refused unless
    ``resume`` (continue it) or ``overwrite`` (delete it first). While training, ``<run>/.lock``
    keeps a second process out.

    With ``resume=True`` the run continues from ``<run>/checkpoints/last.pt`` with the spec
    saved in the run directory (a resumed run reproduces the uninterrupted losses); overrides
    that may change mid-run (more steps, new phases, lower lr, cadences) are applied and recorded
    in ``spec_history.yaml``, others are refused naming the key.
    ``stop_after`` stops the run after that many steps, leaving a resumable checkpoint.
    A signal (SIGINT, SIGTERM, SIGUSR1) stops it the same way and raises ``Interrupted``
    (``exit_code`` 130, 143, 138), so a caller never mistakes a partial run for a finished one.
    """
    from sciflow.training.checkpoint import remove_stale_temporaries
    from sciflow.training.run_directory import RunLock, check_writable, claim_new

    if resume and overwrite:
        raise SciflowError("--resume and --overwrite exclude each other")
    if isinstance(spec, dict):
        from sciflow.spec import parse_overrides

        spec = spec_from_dict(spec, "<spec>", parse_overrides(overrides) if isinstance(overrides, list) else overrides)
    elif not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    elif overrides:
        spec = spec_from_dict(spec.to_dict(), "<spec>", _as_dict(overrides))
    run_dir = Path(out) if out else Path("runs") / spec.name
    if resume:
        spec = _resume_spec(run_dir, overrides)
    first_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 owns the directory
    with _out_of_memory_as_error("building the model"):
        setup = _set_up(spec)  # a spec refused here leaves nothing behind: no directory is made before
    if first_rank:
        check_writable(run_dir, "run directory")
    with RunLock(run_dir) if first_rank else contextlib.nullcontext():
        if first_rank:
            if not resume:
                claim_new(run_dir, overwrite)
            check_writable(run_dir / "checkpoints", "checkpoint directory")
            remove_stale_temporaries(run_dir / "checkpoints")
        with _out_of_memory_as_error("training"):
            _train_locked(spec, setup, run_dir, resume, progress, stop_after)
    return run_dir


def _as_dict(overrides) -> dict:
    from sciflow.spec import parse_overrides

    return parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides)


def _resume_spec(run_dir: Path, overrides) -> Spec:
    """The run's saved spec with the overrides a resume accepts; refuses any other change."""
    from sciflow.training.run_directory import record_spec_change
    from sciflow.spec import check_resume_changes
    from sciflow.training.checkpoint import resume_checkpoint

    _, ck, note = resume_checkpoint(run_dir / "checkpoints")
    if note:
        print(note, file=sys.stderr, flush=True)
    saved_path = run_dir / "spec.yaml"
    spec = load_spec(saved_path, overrides)
    changes = check_resume_changes(ck["spec"], spec.to_dict(), int(ck["phase"]), int(ck["step"]), str(saved_path))
    if changes:
        record_spec_change(run_dir, int(ck["step"]), changes)
    return spec


@dataclass
class _Setup:
    """What a spec builds before any file is written: device, threads, process group, problem, model, objective."""

    device: torch.device
    threads: dict
    rank: int
    world: int
    problem: object
    model: torch.nn.Module
    objective: object


def _set_up(spec: Spec) -> _Setup:
    """Resolve the device and threads, join the process group, seed, and build the problem, model and
    objective: every check of the spec that needs them runs here, before the run directory exists."""
    from sciflow.training.allocator import keep_freed_memory
    from sciflow.training.device_switches import check_device_switches
    from sciflow.training.distributed import init_distributed, resolve_device
    from sciflow.training.threads import apply_threads

    device = resolve_device(spec.device)
    check_device_switches(spec.amp, spec.compile, device)
    threads = apply_threads(spec.threads) | {"malloc": keep_freed_memory()}
    rank, world = init_distributed(device)
    _seed_all(spec.seed)
    problem, model, objective = build(spec, device)
    from sciflow.evaluation.report import check_evaluation_keys

    check_evaluation_keys(spec.evaluation, problem.evaluator)  # a misspelt key fails now, not after training
    return _Setup(device, threads, rank, world, problem, model, objective)


def _train_locked(spec: Spec, setup: _Setup, run_dir: Path, resume: bool, progress: bool, stop_after: int | None):
    from sciflow.models.base import CompilesJets
    from sciflow.problems.base import ReferenceSolution
    from sciflow.training.distributed import barrier, wrap_ddp
    from sciflow.training.trainer import Trainer

    device, rank, world, problem = setup.device, setup.rank, setup.world, setup.problem
    if rank == 0:
        save_spec(spec, run_dir / "spec.yaml")
        _write_environment(run_dir, device, setup.threads, progress)
    # make reference data before training so a missing file is made (with a progress bar) up front
    if rank == 0 and isinstance(problem, ReferenceSolution):
        problem.reference(progress=progress)
    barrier(world)
    generator = torch.Generator().manual_seed(spec.seed + 1000 * rank)
    setup.objective.setup(device, DTYPES[spec.dtype], generator, rank, world)
    if spec.compile and isinstance(setup.model, CompilesJets):
        setup.model.compile_jets()  # the jet kernels, which module-level tracing does not fuse
    net = wrap_ddp(setup.model, device, world)
    if spec.compile:
        net = torch.compile(net)
    trainer = Trainer(spec, net, setup.objective, run_dir, device, DTYPES[spec.dtype], generator, rank, world, progress)
    trainer.fit(resume=resume, stop_after=stop_after)
    barrier(world)


def _write_environment(run_dir: Path, device, threads: dict, progress: bool):
    """``environment.json``: device, threads (and why), allocator setting, host, library versions of the
    last (re)start."""
    import json
    import socket
    import sys

    from sciflow.data.io import atomic_write_text
    from sciflow.training.checkpoint import library_versions

    env = {"device": str(device), **threads, "host": socket.gethostname(), "versions": library_versions()}
    atomic_write_text(run_dir / "environment.json", json.dumps(env, indent=2))
    if progress:
        print(f"device {device}, {threads['threads']} torch thread(s) ({threads['why']})", file=sys.stderr)


@contextlib.contextmanager
def _out_of_memory_as_error(what: str):
    """An allocation failure becomes one SciflowError naming the step that needed the memory."""
    try:
        yield
    except (RuntimeError, MemoryError) as exc:
        text = str(exc)
        if isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text:
            first = text.splitlines()[0] if text else "MemoryError"
            raise SciflowError(f"out of memory during {what}: {first[:300]}; reduce the sizes in the spec") from None
        raise


@dataclass
class Run:
    """A trained run: its directory, spec, problem, model (weights loaded) and metrics history."""

    path: Path
    spec: Spec
    problem: object
    model: torch.nn.Module
    step: int

    def metrics(self):
        """metrics.csv as a dict of numpy columns (empty when nothing was logged)."""
        import numpy as np

        from sciflow.training.metrics_csv import read_metrics

        header, rows = read_metrics(self.path / "metrics.csv")
        return {k: np.array([r[k] for r in rows], dtype=float) for k in header}

    def evaluation(self) -> dict:
        import json

        return json.loads((self.path / "evaluation" / "metrics.json").read_text())


def load_run(path: str | os.PathLike, checkpoint: str = "last.pt", device: str = "cpu") -> Run:
    """Load a run directory (its spec and the weights of ``checkpoints/<checkpoint>``), or an
    exported model directory (``config.json`` + ``model.safetensors``, see ``export_model``).

    The spec stored in the checkpoint must agree with ``spec.yaml`` on every key that shapes the
    weights or the physics (problem, model, dtype); otherwise one error names the keys.
    """
    from sciflow.spec import shaping_changes
    from sciflow.training.checkpoint import load_checkpoint

    path = Path(path)
    if (path / EXPORT_CONFIG).exists() and not (path / "spec.yaml").exists():
        return _load_export(path, device)
    if not (path / "spec.yaml").is_file():
        raise SciflowError(f"{path} is not a run directory (no spec.yaml)")
    spec = load_spec(path / "spec.yaml")
    ck = load_checkpoint(path / "checkpoints" / checkpoint, map_location=device)
    changed = shaping_changes(ck["spec"], spec.to_dict())
    if changed:
        what = "; ".join(f"{k}: {old!r} in the checkpoint, {new!r} in spec.yaml" for k, old, new in changed[:3])
        raise SciflowError(f"{path / 'spec.yaml'} was edited after training ({what}); the weights belong to the "
                           "checkpoint's spec: restore it, or train a new run")
    problem, model = build_problem_model(spec, torch.device(device))
    _load_weights(model, ck["model"], path / "checkpoints" / checkpoint)
    model.eval()
    return Run(path, spec, problem, model, ck["step"])


def _load_weights(model: torch.nn.Module, state: dict, source: Path):
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        raise SciflowError(f"{source}: the weights do not fit the model the spec builds "
                           f"({' '.join(first[1:2]).strip() or first[0]})") from None


def evaluate(path: str | os.PathLike, progress: bool = True, params: dict | None = None,
             evaluation: dict | None = None) -> dict:
    """Evaluate a run against its problem's reference; writes ``<run>/evaluation/``; returns metrics.

    ``params`` (e.g. ``{"Re": 400}``) evaluates a parametric run (``problem.parametric``) at other
    values of its parametric inputs, against the reference at those values; it writes
    ``<run>/evaluation_Re400/`` (``<run>/evaluation/`` at the spec's own values) and the metrics
    carry ``params``.

    ``evaluation`` (e.g. ``{"constraints": ["bulk_flow"]}``) replaces keys of the spec's
    ``evaluation`` section for this evaluation only (the same weights, evaluated another way); it
    writes ``<run>/evaluation_<key>=<value>[,...]/`` (``evaluation_constraints=bulk_flow/``, see
    :func:`~sciflow.evaluation.report.evaluation_subdir`) so the spec's own evaluation and those with
    other values are kept. A key the problem's evaluator does not read is refused by name.

    A run whose weights are not finite (it diverged) is refused; a metric that comes out
    non-finite is written as ``null`` in metrics.json and raises after the files are written.
    """
    import math

    from sciflow.data.io import check_writable
    from sciflow.evaluation.report import evaluate_run
    from sciflow.training.allocator import keep_freed_memory
    from sciflow.training.checkpoint import non_finite_weights

    from sciflow.evaluation.report import check_evaluation_keys, evaluation_subdir

    run = load_run(path)
    subdir = "evaluation"
    if evaluation:
        check_evaluation_keys(evaluation, run.problem.evaluator)
        run.spec = run.spec.model_copy(update={"evaluation": {**run.spec.evaluation, **evaluation}})
        subdir = evaluation_subdir(evaluation)
    if params:
        unknown = sorted(set(params) - set(run.problem.parametric))
        if unknown:
            raise SciflowError(f"{path}: --param {unknown[0]}: not a parametric input of this run "
                               f"(problem.parametric: {list(run.problem.parametric) or 'none'})")
        params = {k: float(v) for k, v in params.items() if float(v) != run.problem.params[k]}
    if params:  # values other than the spec's own
        run.problem.set_params(**params)
        subdir += "_" + "_".join(f"{k}{v:g}" for k, v in sorted(params.items()))
    check_writable(Path(path) / subdir, "evaluation directory")  # before the reference is made
    bad = non_finite_weights(run.model.state_dict())
    if bad:
        raise SciflowError(f"{path}: the weights {bad[:3]} are not finite (the run diverged at or before step "
                           f"{run.step}); nothing to evaluate")
    keep_freed_memory()  # a rollout allocates the same tensors every step, as training does
    with _out_of_memory_as_error("evaluation"):
        metrics = evaluate_run(run, progress=progress, subdir=subdir)
    non_finite = sorted(k for k, v in metrics.items() if v is None or (isinstance(v, float) and not math.isfinite(v)))
    if non_finite:
        raise SciflowError(f"{path}: evaluation gave non-finite {non_finite} (written as null in "
                           f"{Path(path) / subdir / 'metrics.json'})")
    return metrics


# ------------------------------------------------------------------------------------ export
EXPORT_CONFIG, EXPORT_WEIGHTS = "config.json", "model.safetensors"


def export_model(run_path: str | os.PathLike, out: str | os.PathLike, checkpoint: str = "last.pt") -> Path:
    """Write a shareable, weights-only model: ``out/model.safetensors`` + ``out/config.json``
    (the resolved spec, step and versions). ``load_run(out)`` builds the model from it."""
    import json

    from safetensors.torch import save_file

    from sciflow.data.io import atomic_write_text
    from sciflow.training.run_directory import check_writable
    from sciflow.training.checkpoint import library_versions

    run = load_run(run_path, checkpoint)
    out = check_writable(out, "export directory")
    state = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    tmp = out / (EXPORT_WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format": "sciflow-model-1"})
    os.replace(tmp, out / EXPORT_WEIGHTS)
    config = {"format": "sciflow-model-1", "spec": run.spec.to_dict(), "step": run.step,
              "source": str(run_path), "checkpoint": checkpoint, "versions": library_versions()}
    atomic_write_text(out / EXPORT_CONFIG, json.dumps(config, indent=2))
    return out


def _load_export(path: Path, device: str) -> Run:
    import json

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        config = json.loads((path / EXPORT_CONFIG).read_text())
        raw_spec = config["spec"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SciflowError(f"{path / EXPORT_CONFIG}: not a sciflow model config ({exc})") from None
    spec = spec_from_dict(raw_spec, str(path / EXPORT_CONFIG))
    try:
        state = load_file(str(path / EXPORT_WEIGHTS), device=device)
    except (OSError, SafetensorError) as exc:
        raise SciflowError(f"cannot read {path / EXPORT_WEIGHTS}: {exc}") from None
    problem, model = build_problem_model(spec, torch.device(device))
    _load_weights(model, state, path / EXPORT_WEIGHTS)
    model.eval()
    return Run(path, spec, problem, model, int(config.get("step", 0)))


# ---------------------------------------------------------------- a cache of trained runs
# ``cached_run(spec, root)`` looks in ``root/<name>-<hash>`` (hash: the first 8 hex digits of the
# SHA-256 of the canonical JSON of the spec's training part — every key and default except the
# ``evaluation`` section, which does not change the weights): a complete run
# (``checkpoints/last.pt`` at the spec's total step count, its saved spec equal to ``spec``) is
# loaded, an interrupted one resumed, anything else trained. A changed spec (budget, seed, width)
# lands in another directory and never reuses weights trained under other settings.

def _training_part(spec: Spec) -> dict:
    return {k: v for k, v in spec.to_dict().items() if k != "evaluation"}


def spec_hash(spec: Spec) -> str:
    """8 hex digits of the SHA-256 of the canonical JSON of the spec without its evaluation section."""
    return hashlib.sha256(json.dumps(_training_part(spec), sort_keys=True).encode()).hexdigest()[:8]


def total_steps(spec) -> int:
    """Optimiser steps over all training phases."""
    return sum(int(p.steps) for p in spec.training.phases)


def cache_dir(spec, root) -> Path:
    return Path(root) / f"{spec.name}-{spec_hash(spec)}"


def cached_run(spec, root, progress: bool = True):
    """(Run, reused) for ``spec``: loaded from the cache when complete, else resumed or trained there."""
    run_dir = cache_dir(spec, root)
    last = run_dir / "checkpoints" / "last.pt"
    if last.exists() and _training_part(load_spec(run_dir / "spec.yaml")) == _training_part(spec):
        run = load_run(run_dir)
        if run.step >= total_steps(spec):
            return run, True
        train(spec, out=run_dir, resume=True, progress=progress)
    else:  # nothing finished here: partial files are this spec's own, so start over
        train(spec, out=run_dir, progress=progress, overwrite=True)
    return load_run(run_dir), False
