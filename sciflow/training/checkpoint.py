"""Checkpoints: weights, optimiser, step, RNG states, objective state, resolved spec, versions.

Written with ``torch.save`` to a temporary file in the same directory, then renamed, so a
crash or Ctrl-C during a write never leaves a torn file nor destroys the previous one.
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from sciflow.errors import SciflowError


def library_versions() -> dict:
    import sciflow

    v = {"sciflow": sciflow.__version__, "torch": torch.__version__, "numpy": np.__version__,
         "python": platform.python_version()}
    try:
        import neuralop

        v["neuraloperator"] = getattr(neuralop, "__version__", "unknown")
    except Exception:
        pass
    return v


def rng_state(generator: torch.Generator | None = None) -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None):
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


def save_checkpoint(path: str | Path, payload: dict):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(payload, versions=library_versions())
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise SciflowError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise SciflowError(f"cannot read checkpoint {path}: {exc}") from None
