"""Torch files (checkpoints, solver restarts) that hold tensors and plain data only.

``safe_torch_load`` reads with ``torch.load(weights_only=True)``, which refuses any pickled
object that could run code; ``atomic_torch_save`` writes to a temporary file beside the target
and renames it, so a crash never leaves a torn file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from sciflow.data.io import atomic_write
from sciflow.errors import SciflowError


def atomic_torch_save(obj, path: str | os.PathLike):
    """``torch.save`` to a temporary file beside ``path``, then rename (never torn); mode 0644."""
    atomic_write(Path(path), lambda tmp: torch.save(obj, tmp))


def safe_torch_load(path: str | os.PathLike, what: str, map_location="cpu"):
    """``torch.load`` with ``weights_only=True``: tensors and plain data only, never code.

    Files written before RNG states were stored as tensors hold numpy arrays; exactly the numpy
    array-reconstruction types are allowed for those (they build arrays, nothing else).
    """
    path = Path(path)
    if not path.is_file():
        raise SciflowError(f"{what} not found: {path}")
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # UnpicklingError for foreign objects; RuntimeError/EOFError for torn files
        text = str(exc)
        msg = text.splitlines()[0] if text else type(exc).__name__
        if "weights_only" in text or "Unsupported global" in text or "is blocked" in text:
            msg = "it holds objects other than tensors and plain data, which sciflow never writes (refused, not run)"
        elif "Invalid argument" in text or "Ran out of input" in text or "PytorchStreamReader" in text:
            msg = f"the file is truncated or not a torch file ({msg})"
        raise SciflowError(f"cannot read {what} {path}: {msg}") from None


def _numpy_array_globals() -> list:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return [_reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType, np.dtypes.Int64DType,
            np.dtypes.Float64DType, np.dtypes.Float32DType]
