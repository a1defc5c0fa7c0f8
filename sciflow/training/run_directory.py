"""A run directory belongs to one run: ownership, a lock, writability, the spec history.

``runs/<name>/`` holds ``spec.yaml``, ``checkpoints/``, ``metrics.csv``, ``evaluation/`` and,
while a process trains in it, ``.lock`` (the owner's pid, host and start time). Training into a
directory that already holds a run is refused unless the caller resumes it or asks to overwrite
it (which removes every old file, ``evaluation/`` and ``best.pt`` included): a silently reused
directory mixes two runs' artifacts. A lock left by a dead process on this host is stale and
taken over; one from another host is reported, never broken.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import yaml

from sciflow.data.io import check_writable  # noqa: F401 (part of this module's API)
from sciflow.errors import SciflowError

LOCK = ".lock"
HISTORY = "spec_history.yaml"


# What a start of training writes, in the order it writes it; a directory holding only these and
# no checkpoint is a start that ended before its first save (e.g. Ctrl-C while the reference was made).
RUN_FILES = (LOCK, "checkpoints", "spec.yaml", "environment.json", "spec_history.yaml", "metrics.csv",
             "tensorboard", "evaluation")


def checkpoints_in(run_dir: Path) -> list[Path]:
    """The checkpoints (``checkpoints/*.pt``, temporaries of an unfinished save left out) of ``run_dir``."""
    d = Path(run_dir) / "checkpoints"
    return sorted(p for p in d.glob("*.pt") if p.is_file()) if d.is_dir() else []


def holds_run(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a run: at least one checkpoint, something to resume or evaluate."""
    return bool(checkpoints_in(run_dir))


def claim_new(run_dir: Path, overwrite: bool):
    """Make ``run_dir`` ready for a new run: refuse an existing run unless ``overwrite``.

    A directory with no checkpoint but only the files an earlier, interrupted start wrote is
    emptied of them; one with any other file is refused. Only a directory that sciflow wrote
    (it has ``spec.yaml``) is ever emptied by ``overwrite``.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise SciflowError(f"run directory {run_dir} is a file")
    if not run_dir.is_dir():
        return
    entries = [p for p in run_dir.iterdir() if p.name != LOCK]
    if not holds_run(run_dir):
        foreign = sorted(p.name for p in entries if p.name not in RUN_FILES)
        if foreign:
            raise SciflowError(f"{run_dir} is not a sciflow run directory (it holds {foreign[:3]}"
                               f"{' …' if len(foreign) > 3 else ''}, which sciflow did not write); "
                               "refusing to train into it: choose another `--out`")
        if entries:
            print(f"{run_dir} holds no checkpoint (an earlier start ended before its first save): "
                  "starting the run afresh", file=sys.stderr, flush=True)
        _empty(run_dir)
        return
    if not overwrite:
        raise SciflowError(f"run directory {run_dir} already holds a run; continue it with "
                           f"`sciflow train {run_dir} --resume`, or replace it (deleting its checkpoints and "
                           f"evaluation) with `--overwrite`, or choose another `--out`")
    if not (run_dir / "spec.yaml").exists():
        raise SciflowError(f"--overwrite: {run_dir} is not a sciflow run directory (no spec.yaml); "
                           "refusing to delete its contents")
    _empty(run_dir)


def _empty(run_dir: Path):
    """Remove everything in ``run_dir`` but the lock (which this process holds)."""
    for p in run_dir.iterdir():
        if p.name == LOCK:
            continue
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``with RunLock(run_dir):`` holds ``run_dir/.lock`` for this process, or raises SciflowError."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK
        self.held = False

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._handle_existing()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise SciflowError(f"could not take the lock {self.path}")

    def _handle_existing(self):
        try:
            owner = json.loads(self.path.read_text())
            pid, host = int(owner["pid"]), str(owner["host"])
        except (OSError, ValueError, KeyError, TypeError):
            raise SciflowError(f"{self.path} exists but is not a sciflow lock; if no run is using "
                               f"{self.path.parent}, delete it") from None
        if host == socket.gethostname() and not _alive(pid):
            self.path.unlink(missing_ok=True)  # stale: its process is gone
            return
        raise SciflowError(f"run directory {self.path.parent} is in use by process {pid} on {host} "
                           f"(since {owner.get('started', '?')}); wait for it to end, or use another `--out`"
                           + (f" (if that process is gone, delete {self.path})" if host != socket.gethostname() else ""))

    def __exit__(self, *exc):
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
        return False


def record_spec_change(run_dir: Path, step: int, changes: list[tuple[str, object, object]]):
    """Append one resume's accepted changes to ``spec_history.yaml`` (step, time, key: old → new)."""
    from sciflow.data.io import atomic_write_text

    path = run_dir / HISTORY
    history = yaml.safe_load(path.read_text()) if path.exists() else []
    history = history if isinstance(history, list) else []
    history.append({"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "changes": [{"key": k, "old": old, "new": new} for k, old, new in changes]})
    atomic_write_text(path, yaml.safe_dump(history, sort_keys=False))
