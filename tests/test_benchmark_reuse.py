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


def test_cavity_re_benchmark_records_the_load_while_training(tmp_path):
    """pinn_cavity_re.py samples the 1-min load average into <run>.loadavg.csv beside the run
    directory (a run directory holds only what sciflow writes), and each row states the samples'
    median and range."""
    import sys
    import time

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("pinn_cavity_re", ROOT / "benchmarks" / "pinn_cavity_re.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    run_dir = tmp_path / "cavity_run"
    assert bench.load_file(run_dir) == tmp_path / "cavity_run.loadavg.csv"
    assert bench.training_load(run_dir) is None  # no samples: no claim
    with bench.LoadSampler(bench.load_file(run_dir), every=0.05):
        time.sleep(0.3)
    lines = bench.load_file(run_dir).read_text().splitlines()
    assert len(lines) >= 3
    assert all(len(line.split(",")) == 2 and float(line.split(",")[1]) >= 0 for line in lines)
    assert not run_dir.exists()  # nothing written into the run directory
    bench.load_file(run_dir).write_text("1,2.0\n2,4.0\n3,9.5\n")
    assert bench.training_load(run_dir) == "4.0 (2.0-9.5), 3 samples"


def test_pinn_cases_summarises_each_case_over_its_seeds():
    """The seed summary gives median and worst of the bar metric over the seeds recorded and how
    many meet the bar (here the entrance pipe: 2 of 3 seeds fail 1e-2)."""
    bench = _pinn_cases()
    case = "pipe (sinusoidal_pipe_pinn)"
    rows = [{"case": case, "seed": s, "metric": m, "value": v}
            for s, v in ((0, 8.5e-3), (1, 0.63), (2, 0.16)) for m in ("velocity_rel_l2", "p_rel_l2")]
    rows.append({"case": "transient (transient_poiseuille_startup_pinn)", "seed": 0, "metric": "u_rel_l2", "value": 3e-3})
    assert bench.seed_summary(rows) == [
        "- pipe: velocity_rel_l2 over 3 seed(s) [0, 1, 2]: median 0.16, worst 0.63; 1 of 3 meet <= 0.01",
        "- transient: u_rel_l2 over 1 seed(s) [0]: median 0.003, worst 0.003; 1 of 1 meet <= 0.05"]
