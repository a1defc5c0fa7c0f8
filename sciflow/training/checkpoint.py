"""Checkpoints: weights, optimiser, step, RNG states, objective state, resolved spec, versions.

A checkpoint holds tensors and plain data only (dicts, lists, numbers, strings): RNG states are
stored as tensors and versions as strings, so it loads with ``torch.load(weights_only=True)``,
which refuses any pickled object that could run code. A file that is not what sciflow wrote is
refused with one error.

Writes go to a temporary file in the same directory, then are renamed, so a crash or Ctrl-C
during a write never leaves a torn file; the previous ``last.pt`` is kept as ``last.prev.pt``.
Only finite weights are ever written.
"""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

from sciflow.data.torch_files import atomic_torch_save, safe_torch_load
from sciflow.errors import SciflowError

FORMAT = "sciflow-checkpoint-2"
REQUIRED_KEYS = ("step", "phase", "model", "optimizer", "rng", "objective", "best", "spec")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a run, as plain strings."""
    import sciflow

    v = {"sciflow": str(sciflow.__version__), "torch": str(torch.__version__), "numpy": str(np.__version__),
         "python": platform.python_version()}
    try:
        import neuralop

        v["neuraloperator"] = str(getattr(neuralop, "__version__", "unknown"))
    except Exception:
        pass
    return v


def rng_state(generator: torch.Generator | None = None) -> dict:
    """torch, numpy, python (and CUDA, generator) RNG states, as tensors and plain numbers."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": None if py_gauss is None else float(py_gauss)},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None):
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


def non_finite_weights(state_dict: dict) -> list[str]:
    """Names of the floating-point tensors of a state dict that hold NaN or inf."""
    return [k for k, v in state_dict.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all()]


def save_checkpoint(path: str | Path, payload: dict, keep_previous: bool = True):
    """Write a checkpoint atomically. Refuses non-finite weights; keeps the old file as ``*.prev.pt``."""
    path = Path(path)
    bad = non_finite_weights(payload["model"])
    if bad:
        raise SciflowError(f"step {payload.get('step')}: weights {bad[:3]} are not finite; "
                           f"not writing {path} (the previous checkpoint is kept)")
    payload = dict(payload, versions=library_versions(), format=FORMAT)
    if keep_previous and path.exists():
        os.replace(path, previous_path(path))
    atomic_torch_save(payload, path)


def previous_path(path: str | Path) -> Path:
    """``last.pt`` → ``last.prev.pt``: the checkpoint written before the current one."""
    path = Path(path)
    return path.with_name(path.stem + ".prev" + path.suffix)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """A checkpoint written by sciflow; anything else is refused with one error naming the file."""
    ck = safe_torch_load(path, "checkpoint", map_location)
    if not isinstance(ck, dict):
        raise SciflowError(f"cannot read checkpoint {path}: not a sciflow checkpoint (a {type(ck).__name__})")
    missing = [k for k in REQUIRED_KEYS if k not in ck]
    if missing:
        raise SciflowError(f"cannot read checkpoint {path}: not a sciflow checkpoint (missing {missing})")
    if not isinstance(ck["model"], dict) or not all(isinstance(v, torch.Tensor) for v in ck["model"].values()):
        raise SciflowError(f"cannot read checkpoint {path}: 'model' is not a state dict of tensors")
    if not isinstance(ck["step"], int) or ck["step"] < 0:
        raise SciflowError(f"cannot read checkpoint {path}: 'step' is not a step count")
    ck["rng"] = _upgrade_rng(ck["rng"])
    return ck


def _upgrade_rng(state: dict) -> dict:
    """RNG states of checkpoints written before the tensor format (numpy tuple, python tuple)."""
    if isinstance(state.get("numpy"), tuple):
        name, keys, pos, has_gauss, gauss = state["numpy"]
        state["numpy"] = {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                          "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}
    if isinstance(state.get("python"), tuple):
        version, py_state, gauss = state["python"]
        state["python"] = {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                           "gauss": gauss}
    return state
