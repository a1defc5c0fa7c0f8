"""Parametric problems (``problem.parametric``): a parameter as a network input, read point by point."""

import pytest
import torch

from sciflow.autodiff.jet import autograd_jet
from sciflow.errors import SciflowError
from sciflow.models.pinn import PINN
from sciflow.problems.base import build_problem


def test_poiseuille_exact_solution_solves_the_equations_at_every_re_of_its_points():
    """u = 4y(1−y), v = 0, p = −(8/Re)(x − L) is exact at each point's own Re: residuals vanish to round-off."""
    problem = build_problem({"name": "poiseuille", "Re": 500.0, "parametric": {"Re": [10.0, 500.0]}})
    assert problem.inputs == ("x", "y", "Re")
    g = torch.Generator().manual_seed(0)
    x = problem.sample_points("interior", 256, g).double()
    assert x.shape == (256, 3) and float(x[:, 2].min()) >= 10 and float(x[:, 2].max()) <= 500
    res = problem.residual(x, autograd_jet(problem.exact, x, create_graph=False))
    for name, r in res.items():
        assert float(r.abs().max()) < 1e-12, name
    # the same points at one fixed Re (the column dropped): the pressure gradient of that Re
    out = autograd_jet(problem.exact, problem.complete_inputs(x[:, :2]), create_graph=False)
    assert torch.allclose(out.d1[:, 0, 2], torch.full((256,), -8.0 / 500, dtype=torch.float64))


def test_cavity_residual_per_point_equals_the_fixed_re_problem():
    """One parametric cavity PINN at points carrying Re 100 and 1000: each point's residual and hard
    constraint are the fixed-Re problem's (same weights), and the lid/wall velocity holds exactly."""
    torch.manual_seed(0)
    par = build_problem({"name": "cavity", "Re": 1000.0, "parametric": {"Re": [100.0, 1000.0]},
                         "corner_weight_radius": 0.03})
    model = PINN(par, width=16, depth=2).double()
    g = torch.Generator().manual_seed(1)
    x2 = par.sample("interior", 64, g).double()
    for re in (100.0, 1000.0):
        x = torch.cat([x2, torch.full((64, 1), re, dtype=torch.float64)], 1)
        got = par.residual(x, model(x, model.make_ansatz(x)))
        par.set_params(Re=re)
        want = par.residual(x2, model(x2, model.make_ansatz(x2)))  # completed with the current Re
        for k in got:
            torch.testing.assert_close(got[k], want[k], rtol=1e-12, atol=1e-12)
    walls = torch.tensor([[0.3, 1.0, 400.0], [0.0, 0.4, 700.0], [1.0, 0.6, 150.0], [0.5, 0.0, 999.0]],
                         dtype=torch.float64)
    uv = model.predict(walls)[:, :2]
    assert torch.allclose(uv, torch.tensor([[1.0, 0], [0, 0], [0, 0], [0, 0]], dtype=torch.float64), atol=1e-14)


def test_schedule_of_a_parametric_input_caps_the_range_drawn_from():
    problem = build_problem({"name": "cavity", "Re": 1000.0, "parametric": {"Re": [100.0, 1000.0]},
                             "schedule": {"Re": [[0, 400], [10, 1000]]}})
    problem.apply_schedule(0)
    re = problem.sample_points("interior", 500, torch.Generator().manual_seed(0))[:, 2]
    assert float(re.min()) >= 100 and float(re.max()) <= 400
    problem.apply_schedule(10)
    re = problem.sample_points("interior", 500, torch.Generator().manual_seed(0))[:, 2]
    assert float(re.max()) > 900


@pytest.mark.parametrize("section, words", [
    ({"name": "kovasznay", "Re": 40.0, "parametric": {"Re": [20.0, 40.0]}}, "cannot take 'Re'"),
    ({"name": "cavity", "Re": 1000.0, "parametric": {"Re": [100.0]}}, "problem.parametric.Re"),
    ({"name": "cavity", "Re": 1000.0, "parametric": {"Re": [1000.0, 100.0]}}, "lo < hi"),
    ({"name": "cavity", "Re": 400.0, "parametric": {"Re": [100.0, 1000.0]}}, "must equal the range's upper end"),
    ({"name": "cavity", "Re": 1000.0, "parametric": {"Re": [100.0, 1000.0]},
      "schedule": {"Re": [[0, 50], [10, 1000]]}}, "outside problem.parametric.Re"),
])
def test_bad_parametric_spec_names_the_key(section, words):
    with pytest.raises(SciflowError, match=words):
        build_problem(section)


def test_parametric_run_evaluates_at_any_value_of_its_input(tmp_path):
    """Train a parametric Poiseuille PINN briefly, then evaluate it at Re = 20 and at its spec value:
    each evaluation compares with the exact solution at that Re, in its own directory."""
    import json

    from sciflow.api import evaluate, train

    spec = {"name": "par", "dtype": "float64",
            "problem": {"name": "poiseuille", "Re": 100.0, "parametric": {"Re": [10.0, 100.0]}},
            "model": {"name": "pinn", "width": 10, "depth": 2},
            "objective": {"name": "physics", "interior_points": 128},
            "training": {"phases": [{"optimizer": "adam", "steps": 5}], "tensorboard": False}}
    run = train(spec, out=tmp_path / "run", progress=False)
    at20 = evaluate(run, progress=False, params={"Re": 20})
    own = evaluate(run, progress=False)
    assert at20["params"] == {"Re": 20.0} and own["params"] == {"Re": 100.0}
    assert json.loads((run / "evaluation_Re20" / "metrics.json").read_text())["reference"]["Re"] == "20.0"
    assert at20["p_rel_l2"] != own["p_rel_l2"]
    with pytest.raises(SciflowError, match="not a parametric input"):
        evaluate(run, progress=False, params={"Pr": 1.0})
