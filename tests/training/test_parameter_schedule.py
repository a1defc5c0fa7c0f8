"""Parameter curriculum (problem.schedule): stages, checkpoint record, exact resume, clear errors."""

import csv

import pytest
import torch

from sciflow.api import build, train
from sciflow.errors import SciflowError
from sciflow.problems.base import build_problem
from sciflow.spec import spec_from_dict

SPEC = {
    "name": "tiny_poiseuille_curriculum",
    "dtype": "float64",
    # Re 5 for steps 0-7, 10 for 8-21 (Adam → L-BFGS), 20 from step 22 (inside L-BFGS)
    "problem": {"name": "poiseuille", "Re": 20, "schedule": {"Re": [[0, 5], [8, 10], [22, 20]]}},
    "model": {"name": "pinn", "width": 12, "depth": 2},
    "objective": {"name": "physics", "interior_points": 128},
    "training": {"phases": [{"optimizer": "adam", "steps": 20, "lr": 3e-3, "schedule": "cosine"},
                            {"optimizer": "lbfgs", "steps": 6, "lr": 1.0, "max_iter": 3}],
                 "checkpoint_every": 4, "log_every": 1, "tensorboard": False},
}


def _losses(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}


def test_stages_are_piecewise_constant_and_end_at_the_problem_value():
    problem = build_problem({"name": "cavity", "Re": 1000, "schedule": {"Re": [[0, 100], [2000, 400], [5000, 1000]]}})
    s = problem.schedule
    assert [s.values_at(k)["Re"] for k in (0, 1999, 2000, 4999, 5000, 10**6)] == [100, 100, 400, 400, 1000, 1000]
    assert problem.Re == 1000  # built at the declared value: reference and evaluation use it
    assert problem.apply_schedule(2500) and problem.Re == 400 and problem.params["Re"] == 400
    assert not problem.apply_schedule(2600)  # same stage: nothing changed


def test_schedule_changes_the_residual_the_objective_sees():
    """At each step the physics loss is the one of the staged Re: the Poiseuille momentum
    residual of u = 4y(1−y), p = 0 (hard BC lift, raw net output zeroed) is 8/Re exactly."""
    spec = spec_from_dict(SPEC)
    problem, model, objective = build(spec)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    model.double()
    objective.setup(torch.device("cpu"), torch.float64, torch.Generator().manual_seed(0))
    for step, Re in ((0, 5.0), (7, 5.0), (8, 10.0), (21, 10.0), (22, 20.0)):
        _, terms = objective.loss(model, step)
        assert problem.Re == Re
        assert float(terms["momentum_x"].detach()) == pytest.approx((8.0 / Re) ** 2, rel=1e-12)


@pytest.mark.parametrize("stop", [5, 13, 22])  # first stage, middle stage (mid-Adam), at the L-BFGS stage change
def test_resume_reproduces_uninterrupted_curriculum(tmp_path, stop):
    spec = spec_from_dict(SPEC)
    ref = _losses(train(spec, out=tmp_path / "full", progress=False))
    assert len(ref) == 26
    d = tmp_path / "interrupted"
    train(spec, out=d, progress=False, stop_after=stop)
    ck = torch.load(d / "checkpoints" / "last.pt", weights_only=False)
    assert ck["step"] == stop
    assert ck["objective"]["schedule"] == {"Re": [[0, 5.0], [8, 10.0], [22, 20.0]]}
    assert ck["objective"]["problem_params"] == {"Re": 5.0 if stop < 8 else 10.0}  # in force at the last step run
    train(spec, out=d, resume=True, progress=False)
    got = _losses(d)
    assert sorted(got) == sorted(ref)
    for step in ref:
        assert got[step] == ref[step], (step, got[step], ref[step])


def test_resume_refuses_a_different_schedule(tmp_path):
    spec = spec_from_dict(SPEC)
    d = tmp_path / "run"
    train(spec, out=d, progress=False, stop_after=3)
    _, _, objective = build(spec_from_dict(SPEC, overrides={"problem.schedule": {"Re": [[0, 7], [8, 20]]}}))
    objective.setup(torch.device("cpu"), torch.float64, torch.Generator())
    ck = torch.load(d / "checkpoints" / "last.pt", weights_only=False)
    with pytest.raises(SciflowError, match="problem.schedule"):
        objective.load_state_dict(ck["objective"])


@pytest.mark.parametrize("schedule, message", [
    ({"nu": [[0, 0.1]]}, r"problem.schedule.nu: problem 'cavity' lets no schedule vary 'nu'; schedulable: \['Re'\]"),
    ({"Re": [[10, 100], [20, 1000]]}, r"problem.schedule.Re.0: the first stage must start at step 0"),
    ({"Re": [[0, 100], [0, 1000]]}, r"problem.schedule.Re.1: stage steps must increase"),
    ({"Re": [[0, 100], [50, 400]]}, r"problem.schedule.Re: the last stage's value 400 must equal problem.Re = 1000"),
    ({"Re": [[0, 100], [50.5, 1000]]}, r"problem.schedule.Re.1: expected \[step \(integer\), value"),
    ({"Re": [[0, 0], [50, 1000]]}, r"problem.Re must be positive"),
    ([[0, 100]], r"problem.schedule: expected a mapping"),
])
def test_bad_schedules_name_the_key(schedule, message):
    with pytest.raises(SciflowError, match=message):
        p = build_problem({"name": "cavity", "Re": 1000, "schedule": schedule})
        p.apply_schedule(0)


def test_problem_without_schedulable_parameters_says_so():
    with pytest.raises(SciflowError, match=r"lets no schedule vary 'c'; schedulable: none"):
        build_problem({"name": "convection", "c": 50, "schedule": {"c": [[0, 10], [100, 50]]}})
