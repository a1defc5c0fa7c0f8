"""Checkpoints: weights, optimiser, step, RNG states, objective state, resolved spec, versions.

A checkpoint holds tensors and plain data only (dicts, lists, numbers, strings): RNG states are
stored as tensors and versions as strings, so it loads with ``torch.load(weights_only=True)``,
which refuses any pickled object that could run code. A file that is not what sciflow wrote is
refused with one error.

A save writes the new checkpoint to a temporary file in the same directory and flushes it to
disk, links the current ``last.pt`` to ``last.prev.pt`` (through a temporary name, then a rename)
and only then renames the new file onto ``last.pt``: at every instant ``last.pt`` exists and is
complete, so a kill or a second Ctrl-C during a save loses at most that save. Only finite weights
are ever written.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from sciflow.data.torch_files import safe_torch_load
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
    """Write a checkpoint so that ``path`` is complete at every instant; keep the old one as ``*.prev.pt``.

    Refuses non-finite weights. Order: new file → temporary name (fsync); old ``path`` → hard link
    (or copy) under a temporary name → renamed to ``*.prev.pt``; new file renamed onto ``path``.
    """
    path = Path(path)
    bad = non_finite_weights(payload["model"])
    if bad:
        raise SciflowError(f"step {payload.get('step')}: weights {bad[:3]} are not finite; "
                           f"not writing {path} (the previous checkpoint is kept)")
    payload = dict(payload, versions=library_versions(), format=FORMAT)
    tmp = _temporary_beside(path)
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if keep_previous and path.exists():
            _keep_as_previous(path)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(exc, KeyboardInterrupt) and _interrupted(exc):
            # torch's zip writer, closed while a Ctrl-C unwinds it, raises its own error over the interrupt
            raise KeyboardInterrupt from exc
        raise
    _fsync_directory(path.parent)


def _interrupted(exc: BaseException) -> bool:
    """True when ``exc`` was raised while a KeyboardInterrupt was being handled."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


def _temporary_beside(path: Path) -> str:
    """A new empty file ``<name>.<random>.tmp`` in ``path``'s directory (removed by the caller on failure)."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp


def _keep_as_previous(path: Path):
    """Make ``*.prev.pt`` a second name (or a copy) of ``path`` without ``path`` ever disappearing."""
    link_or_copy(path, previous_path(path))


def link_or_copy(src: Path, dst: Path):
    """Give ``src`` the second name ``dst`` (a hard link, or a copy where links are not possible),
    through a temporary name and a rename, so ``dst`` is complete whenever it exists."""
    tmp = _temporary_beside(Path(dst))
    try:
        os.unlink(tmp)
        try:
            os.link(src, tmp)
        except OSError:  # a filesystem without hard links
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path):
    """Flush a directory's entries (the renames) to disk where the OS allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Delete ``*.tmp`` files a killed save left in a checkpoint directory (call only while holding the
    run's lock, so no other process is writing there); returns what was removed."""
    directory = Path(directory)
    gone = [p for p in directory.glob("*.pt.*.tmp") if p.is_file()] if directory.is_dir() else []
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


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


def resume_checkpoint(ckpt_dir: str | Path, map_location="cpu") -> tuple[Path, dict, str | None]:
    """(path, checkpoint, note) to resume from in ``ckpt_dir``: ``last.pt``, or ``last.prev.pt`` when
    ``last.pt`` is missing (``note`` then says so). A ``last.pt`` that cannot be read is refused,
    never skipped silently: the error names ``last.prev.pt`` and its step when that one is intact."""
    last = Path(ckpt_dir) / "last.pt"
    prev = previous_path(last)
    if last.exists():
        try:
            return last, load_checkpoint(last, map_location), None
        except SciflowError as exc:
            try:
                step = load_checkpoint(prev)["step"] if prev.is_file() else None
            except SciflowError:
                step = None
            if step is None:
                raise
            raise SciflowError(f"{exc}; the previous checkpoint {prev} (step {step}) is intact: move "
                               f"{last.name} aside (e.g. to {last.name}.bad) and resume again to continue from "
                               f"step {step}") from None
    if prev.is_file():
        ck = load_checkpoint(prev, map_location)
        return prev, ck, f"no {last}: resuming from the previous checkpoint {prev} (step {ck['step']})"
    raise SciflowError(f"--resume: no checkpoint at {last}; nothing was saved in this run directory, "
                       "so train without --resume to start it")


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
