"""DistributedDataParallel on CPU (gloo, 2 processes): ranks stay in lock-step and train."""

import subprocess
import sys
from pathlib import Path

import torch
import yaml


def test_torchrun_two_processes_gloo(tmp_path):
    spec = {
        "name": "ddp_poiseuille", "dtype": "float64", "device": "cpu",
        "problem": {"name": "poiseuille", "Re": 20},
        "model": {"name": "pinn", "width": 12, "depth": 2},
        "objective": {"name": "physics", "interior_points": 256},
        "training": {"phases": [{"optimizer": "adam", "steps": 40, "lr": 3e-3},
                                {"optimizer": "lbfgs", "steps": 3, "max_iter": 5}],
                     "log_every": 5, "checkpoint_every": 20, "tensorboard": False}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           "-m", "sciflow", "train", str(path), "--out", str(out), "--quiet"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                                "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1].endswith(str(out.name))
    ck = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert ck["step"] == 43
    lines = (out / "metrics.csv").read_text().strip().splitlines()
    first, last = float(lines[1].split(",")[3]), float(lines[-1].split(",")[3])
    assert last < 0.1 * first
    assert Path(out / "spec.yaml").exists()
