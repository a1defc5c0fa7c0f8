"""Fault injection: a tiny, fast spec and a CLI runner for the reliability tests."""

import os
import subprocess
import sys

import pytest
import yaml

TINY = {
    "name": "tiny",
    "dtype": "float64",
    "device": "cpu",
    "problem": {"name": "poiseuille", "Re": 20},
    "model": {"name": "pinn", "width": 8, "depth": 2},
    "objective": {"name": "physics", "interior_points": 64},
    "training": {"phases": [{"optimizer": "adam", "steps": 12, "lr": 3e-3}], "checkpoint_every": 4,
                 "log_every": 1, "tensorboard": False},
}


@pytest.fixture
def tiny_spec(tmp_path):
    """Write TINY (with optional top-level overrides) to tmp_path/<file>; returns its path."""

    def write(file="spec.yaml", **changes):
        spec = {**TINY, **changes}
        path = tmp_path / file
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    return write


def run_cli(*args, cwd, timeout=300, **popen):
    """``python -m sciflow ARGS`` in ``cwd`` with one thread; returns CompletedProcess."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sciflow", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **popen)
