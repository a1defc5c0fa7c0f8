"""The training loop: resume reproduces an uninterrupted run; NaN stops with a named term."""

import csv

import pytest
import torch

from sciflow.api import evaluate, train
from sciflow.errors import SciflowError
from sciflow.spec import spec_from_dict

SPEC = {
    "name": "tiny_poiseuille",
    "dtype": "float64",
    "problem": {"name": "poiseuille", "Re": 20},
    "model": {"name": "pinn", "width": 12, "depth": 2},
    "objective": {"name": "physics", "interior_points": 128, "resample_every": 7},
    "training": {"phases": [{"optimizer": "adam", "steps": 20, "lr": 3e-3, "schedule": "cosine"},
                            {"optimizer": "lbfgs", "steps": 6, "lr": 1.0, "max_iter": 3}],
                 "checkpoint_every": 4, "log_every": 1, "tensorboard": False},
}


def _losses(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}


@pytest.mark.parametrize("stop", [13, 23])  # mid-Adam (off a checkpoint multiple), mid-L-BFGS
def test_resume_reproduces_uninterrupted_run(tmp_path, stop):
    spec = spec_from_dict(SPEC)
    ref = _losses(train(spec, out=tmp_path / "full", progress=False))
    assert len(ref) == 26
    d = tmp_path / "interrupted"
    train(spec, out=d, progress=False, stop_after=stop)
    assert torch.load(d / "checkpoints" / "last.pt", weights_only=False)["step"] == stop
    assert max(_losses(d)) == stop
    train(spec, out=d, resume=True, progress=False)
    got = _losses(d)
    assert sorted(got) == sorted(ref)
    for step in ref:
        assert got[step] == ref[step], (step, got[step], ref[step])


@pytest.mark.parametrize("optimizer", ["bfgs", "ssbroyden"])
def test_resume_mid_dense_quasi_newton_reproduces_the_run(tmp_path, optimizer):
    """The dense inverse Hessian, the last step and its direction are checkpointed: stopping in the
    middle of a bfgs / ssbroyden phase and resuming gives the uninterrupted losses exactly."""
    spec = spec_from_dict(SPEC, overrides={"training.phases.1.optimizer": optimizer, "objective.resample_every": 0})
    ref = _losses(train(spec, out=tmp_path / "full", progress=False))
    d = tmp_path / "interrupted"
    train(spec, out=d, progress=False, stop_after=23)
    train(spec, out=d, resume=True, progress=False)
    got = _losses(d)
    assert sorted(got) == sorted(ref) and all(got[k] == ref[k] for k in ref)
    assert ref[26] < ref[20]  # the quasi-Newton phase lowers the loss


def test_step_clocks_wall_and_cpu_seconds_across_a_resume(tmp_path):
    """metrics.csv logs the wall (elapsed_s) and process CPU (cpu_s) seconds of the training steps:
    both grow step by step, on one thread CPU time does not exceed wall time, and a resumed run
    continues both clocks from its checkpoint instead of restarting them at zero."""
    spec = spec_from_dict({**SPEC, "threads": 1})
    d = tmp_path / "run"
    train(spec, out=d, progress=False, stop_after=12)
    ck = torch.load(d / "checkpoints" / "last.pt", weights_only=False)
    assert 0 < ck["cpu_elapsed"] and 0 < ck["elapsed"]
    train(spec, out=d, resume=True, progress=False)
    with open(d / "metrics.csv") as f:
        rows = [(int(r["step"]), float(r["elapsed_s"]), float(r["cpu_s"])) for r in csv.DictReader(f)]
    assert [s for s, _, _ in rows] == list(range(1, 27))
    for (_, w0, c0), (_, w1, c1) in zip(rows, rows[1:]):
        assert w1 >= w0 and c1 >= c0
    assert rows[12][2] >= ck["cpu_elapsed"] and rows[12][1] >= ck["elapsed"]
    for _, wall, cpu in rows:
        assert cpu <= wall + 0.05, (wall, cpu)


def test_nan_loss_names_step_and_term(tmp_path):
    # in float32, ν = 1/Re = 1e200 overflows: the momentum residuals become non-finite at the first step
    spec = spec_from_dict(SPEC, overrides={"problem.Re": 1e-200, "dtype": "float32"})
    with pytest.raises(SciflowError, match=r"step \d+: loss term '\w+' is (nan|inf)"):
        train(spec, out=tmp_path / "nan", progress=False)
    assert (tmp_path / "nan" / "spec.yaml").exists()


def test_short_run_learns_poiseuille(tmp_path):
    """A short float64 run learns plane Poiseuille flow (exact solution) to < 1e-3."""
    spec = spec_from_dict(SPEC, overrides={"training.phases.0.steps": 300, "training.phases.1.steps": 60,
                                           "training.phases.1.max_iter": 10, "objective.resample_every": 0,
                                           "training.log_every": 10})
    m = evaluate(train(spec, out=tmp_path / "p", progress=False), progress=False)
    assert m["velocity_rel_l2"] < 1e-3
    assert m["p_rel_l2"] < 1e-2


def test_resampling_draws_once_per_step():
    """An L-BFGS line search evaluates the loss several times in one step: the points must not change
    between those evaluations, only when a resampling step is first reached."""
    from sciflow.models.registry import build_model
    from sciflow.problems.base import build_problem
    from sciflow.training.objectives import build_objective

    problem = build_problem({"name": "poiseuille", "Re": 20})
    model = build_model({"name": "pinn", "width": 8, "depth": 2}, problem).double()
    obj = build_objective({"name": "physics", "interior_points": 64, "resample_every": 5}, problem, model)
    obj.setup(torch.device("cpu"), torch.float64, torch.Generator().manual_seed(0))
    x0 = obj.x.clone()
    assert not obj.resample(4) and torch.equal(obj.x, x0)
    obj.loss(model, 5)
    x5 = obj.x.clone()
    assert not torch.equal(x5, x0)
    obj.loss(model, 5)
    assert not obj.resample(5) and torch.equal(obj.x, x5)
    assert obj.resample(10) and not torch.equal(obj.x, x5)
