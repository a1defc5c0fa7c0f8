"""The GPU smoke script on the CPU (``--small``), and the accelerator switches it exercises: ``amp: bf16``
is refused off CUDA with one error naming the key, ``compile`` is refused on MPS."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sciflow.errors import SciflowError
from sciflow.training.device_switches import check_device_switches

ROOT = Path(__file__).resolve().parents[1]


def test_bf16_autocast_is_refused_off_cuda_and_compile_on_mps():
    with pytest.raises(SciflowError, match=r"^amp: bf16 autocasts on CUDA devices only; this run's device is 'cpu'"):
        check_device_switches("bf16", False, torch.device("cpu"))
    with pytest.raises(SciflowError, match=r"^compile: torch.compile has no backend for device 'mps'"):
        check_device_switches("none", True, torch.device("mps"))
    check_device_switches("none", True, torch.device("cpu"))  # compile on a CPU: allowed


def test_training_with_bf16_on_a_cpu_stops_before_writing(tmp_path):
    from sciflow.api import train
    from sciflow.spec import spec_from_dict

    spec = spec_from_dict({"name": "bf16_cpu", "device": "cpu", "amp": "bf16",
                           "problem": {"name": "poiseuille", "Re": 10}, "model": {"name": "pinn", "width": 8, "depth": 2},
                           "objective": {"name": "physics", "interior_points": 16},
                           "training": {"phases": [{"optimizer": "adam", "steps": 1, "lr": 1e-3}]}})
    with pytest.raises(SciflowError, match="amp: bf16"):
        train(spec, out=tmp_path / "run", progress=False)
    written = [p.name for p in (tmp_path / "run").rglob("*") if p.is_file() and p.name != ".lock"]
    assert written == []  # refused before the spec, a checkpoint or metrics were written


@pytest.mark.slow
def test_gpu_smoke_small_runs_on_the_cpu(tmp_path):
    """``bash benchmarks/gpu_smoke.sh --small``: the four workloads on the CPU, every check passes (device
    path = CPU path here, so the differences are zero up to compiled-kernel round-off)."""
    env = {**os.environ, "PYTHON": sys.executable, "SCIFLOW_DATA": str(tmp_path / "data")}
    res = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_smoke.sh"), "--small", "--out", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads((tmp_path / "gpu_smoke.json").read_text())
    assert out["meta"]["small"] and len(out["rows"]) == 4 and all(r["pass"] for r in out["rows"])
    assert all(r["speed"] > 0 for r in out["rows"])
    assert "4/4 checks passed" in res.stdout
