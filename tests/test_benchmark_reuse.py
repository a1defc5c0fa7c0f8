"""benchmarks/pinn_cases.py --reuse: a finished run is reused only when its spec matches."""

import importlib.util
from pathlib import Path

import pytest

from sciflow.api import train
from sciflow.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "transient_poiseuille_startup_pinn.yaml"
SHORT = ["training.phases.0.steps=3", "training.phases.1.steps=2", "training.tensorboard=false"]


def _pinn_cases():
    spec = importlib.util.spec_from_file_location("pinn_cases", ROOT / "benchmarks" / "pinn_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reuse_accepts_only_a_finished_run_of_the_same_spec(tmp_path):
    bench = _pinn_cases()
    run = tmp_path / "transient"
    assert not bench.finished_run(run, load_spec(CONFIG, overrides=SHORT))  # nothing there yet
    train(CONFIG, overrides=SHORT, out=run, progress=False)
    # logging cadence and device do not shape the weights: still the same run
    assert bench.finished_run(run, load_spec(CONFIG, overrides=SHORT + ["training.log_every=7", "device=cpu"]))
    # the same spec stopped early (Ctrl-C): not finished, so the benchmark trains again
    stopped = tmp_path / "stopped"
    train(CONFIG, overrides=SHORT, out=stopped, progress=False, stop_after=2)
    assert not bench.finished_run(stopped, load_spec(CONFIG, overrides=SHORT))
    # a key that changes the weights (a learning rate, a step count): refused, naming the run
    for other in (["training.phases.0.lr=1e-3"], ["training.phases.1.steps=5"]):
        with pytest.raises(SystemExit, match="transient/spec.yaml differs from the config"):
            bench.finished_run(run, load_spec(CONFIG, overrides=SHORT + other))
