"""The public API, used by the CLI and notebooks alike: ``train``, ``evaluate``, ``load_run``."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from sciflow.errors import SciflowError
from sciflow.spec import Spec, load_spec, save_spec, spec_from_dict

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def build(spec: Spec, device=None):
    """Problem, model (on device, in the spec's dtype) and objective of a spec."""
    from sciflow.models.registry import build_model
    from sciflow.problems.base import build_problem
    from sciflow.training.objectives import build_objective

    device = device or torch.device("cpu")
    problem = build_problem(spec.section("problem"))
    model = build_model(spec.section("model"), problem).to(device=device, dtype=DTYPES[spec.dtype])
    objective = build_objective(spec.section("objective"), problem, model)
    return problem, model, objective


def _seed_all(seed: int):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(spec: Spec | str | os.PathLike, overrides: dict | list | None = None, out: str | os.PathLike | None = None,
          resume: bool = False, progress: bool = True, stop_after: int | None = None) -> Path:
    """Train the model a spec describes; returns the run directory (``runs/<name>`` or ``out``).

    With ``resume=True`` the run continues from ``<run>/checkpoints/last.pt`` using the spec
    saved in the run directory (a resumed run reproduces the uninterrupted losses).
    ``stop_after`` interrupts the run after that many steps, leaving a resumable checkpoint.
    """
    from sciflow.training.distributed import barrier, init_distributed, resolve_device, wrap_ddp
    from sciflow.training.trainer import Trainer

    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    elif overrides:
        from sciflow.spec import parse_overrides

        ov = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        spec = spec_from_dict(spec.to_dict(), "<spec>", ov)
    run_dir = Path(out) if out else Path("runs") / spec.name
    if resume:
        saved = run_dir / "spec.yaml"
        if not (run_dir / "checkpoints" / "last.pt").exists():
            raise SciflowError(f"--resume: no checkpoint at {run_dir / 'checkpoints' / 'last.pt'}")
        spec = load_spec(saved)
    device = resolve_device(spec.device)
    rank, world = init_distributed(device)
    _seed_all(spec.seed)
    problem, model, objective = build(spec, device)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_spec(spec, run_dir / "spec.yaml")
    # make reference data before training so a missing file is made (with a progress bar) up front
    if rank == 0 and hasattr(problem, "reference"):
        try:
            problem.reference(progress=progress)
        except NotImplementedError:
            pass
    barrier(world)
    generator = torch.Generator().manual_seed(spec.seed + 1000 * rank)
    objective.setup(device, DTYPES[spec.dtype], generator, rank, world)
    net = wrap_ddp(model, device, world)
    if spec.compile:
        net = torch.compile(net)
    trainer = Trainer(spec, net, objective, run_dir, device, DTYPES[spec.dtype], generator, rank, world, progress)
    trainer.fit(resume=resume, stop_after=stop_after)
    barrier(world)
    return run_dir


@dataclass
class Run:
    """A trained run: its directory, spec, problem, model (weights loaded) and metrics history."""

    path: Path
    spec: Spec
    problem: object
    model: torch.nn.Module
    step: int

    def metrics(self):
        """metrics.csv as a dict of numpy columns."""
        import numpy as np

        import csv

        with open(self.path / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]}

    def evaluation(self) -> dict:
        import json

        return json.loads((self.path / "evaluation" / "metrics.json").read_text())


def load_run(path: str | os.PathLike, checkpoint: str = "last.pt", device: str = "cpu") -> Run:
    """Load a run directory: its saved spec and the model weights from ``checkpoints/<checkpoint>``."""
    from sciflow.training.checkpoint import load_checkpoint

    path = Path(path)
    if not (path / "spec.yaml").exists():
        raise SciflowError(f"{path} is not a run directory (no spec.yaml)")
    spec = load_spec(path / "spec.yaml")
    problem, model, _ = build(spec, torch.device(device))
    ck = load_checkpoint(path / "checkpoints" / checkpoint, map_location=device)
    model.load_state_dict(ck["model"])
    model.eval()
    return Run(path, spec, problem, model, ck["step"])


def evaluate(path: str | os.PathLike, progress: bool = True) -> dict:
    """Evaluate a run against its problem's reference; writes ``<run>/evaluation/``; returns metrics."""
    from sciflow.evaluation.report import evaluate_run

    return evaluate_run(load_run(path), progress=progress)


# ---------------------------------------------------------------- a cache of trained runs
# ``cached_run(spec, root)`` looks in ``root/<name>-<hash>`` (hash: the first 8 hex digits of the
# SHA-256 of the spec's canonical JSON, every key and default included): a complete run
# (``checkpoints/last.pt`` at the spec's total step count, its saved spec equal to ``spec``) is
# loaded, an interrupted one resumed, anything else trained. A changed spec (budget, seed, width)
# lands in another directory and never reuses weights trained under other settings.

def spec_hash(spec: Spec) -> str:
    """8 hex digits of the SHA-256 of the spec's canonical JSON."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()[:8]


def total_steps(spec) -> int:
    """Optimiser steps over all training phases."""
    return sum(int(p.steps) for p in spec.training.phases)


def cache_dir(spec, root) -> Path:
    return Path(root) / f"{spec.name}-{spec_hash(spec)}"


def cached_run(spec, root, progress: bool = True):
    """(Run, reused) for ``spec``: loaded from the cache when complete, else resumed or trained there."""
    run_dir = cache_dir(spec, root)
    last = run_dir / "checkpoints" / "last.pt"
    if last.exists() and load_spec(run_dir / "spec.yaml").to_dict() == spec.to_dict():
        run = load_run(run_dir)
        if run.step >= total_steps(spec):
            return run, True
        train(spec, out=run_dir, resume=True, progress=progress)
    else:
        train(spec, out=run_dir, progress=progress)
    return load_run(run_dir), False
