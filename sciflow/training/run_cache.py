"""A cache of trained runs keyed by their spec: train once, reuse while the spec is unchanged.

``cached_run(spec, root)`` looks in ``root/<name>-<hash>``, where hash is the first 8 hex digits
of the SHA-256 of the spec's canonical JSON (every key, defaults included): a complete run
(``checkpoints/last.pt`` at the spec's total step count, its saved spec equal to ``spec``) is
loaded, an interrupted one is resumed from its last checkpoint, anything else is trained. A
changed spec (another budget, seed, width, ...) therefore lands in another directory and never
reuses weights trained under different settings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def spec_hash(spec) -> str:
    """8 hex digits of the SHA-256 of the spec's canonical JSON."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()[:8]


def total_steps(spec) -> int:
    """Optimiser steps over all training phases."""
    return sum(int(p.steps) for p in spec.training.phases)


def cache_dir(spec, root) -> Path:
    return Path(root) / f"{spec.name}-{spec_hash(spec)}"


def cached_run(spec, root, progress: bool = True):
    """(Run, reused) for ``spec``: loaded from the cache when complete, else resumed or trained there."""
    from sciflow.api import load_run, train
    from sciflow.spec import load_spec

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
