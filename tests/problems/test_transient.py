"""Start-up Poiseuille flow: the exact series solves the PDE; the hard constraint holds IC/BCs."""

import math

import pytest
import torch

from sciflow.models.pinn import PINN
from sciflow.problems.base import build_problem
from sciflow.autodiff.jet import autograd_jet

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def problem():
    return build_problem({"name": "poiseuille_startup", "Re": 10.0, "t_end": 1.0})


def test_exact_solution_has_zero_residual(problem):
    x = problem.sample("interior", 400, torch.Generator().manual_seed(0))
    res = problem.residual(x, autograd_jet(problem.exact, x))
    for name, r in res.items():
        assert r.abs().max() < 1e-11, name
    # not trivially zero: the flow accelerates (u_t = G at the centre at t = 0+) and is nonzero
    assert problem.exact(x)[:, 0].abs().max() > 0.3


def test_exact_solution_meets_initial_wall_and_steady_conditions(problem):
    g = torch.Generator().manual_seed(1)
    u0 = problem.exact(problem.sample("initial", 2000, g))[:, 0]
    assert problem.series_tail_bound() < 1e-6
    assert u0.abs().max() <= problem.series_tail_bound()
    uw = problem.exact(problem.sample("walls", 2000, g))[:, 0]
    assert uw.abs().max() < 1e-13
    # late times: steady Poiseuille 4y(1−y); first mode decays like exp(−νπ²t)
    y = torch.linspace(0, 1, 33, dtype=torch.float64)
    late = problem.exact(torch.stack([0 * y, y, torch.full_like(y, 200.0)], 1))[:, 0]
    assert torch.allclose(late, 4 * y * (1 - y), atol=1e-13)
    t = 0.8
    centre = problem.exact(torch.tensor([[0.0, 0.5, t]], dtype=torch.float64))[0, 0]
    first = 32 / math.pi ** 3 * math.exp(-problem.nu * math.pi ** 2 * t)
    higher = 32 / (3 * math.pi) ** 3 * math.exp(-problem.nu * 9 * math.pi ** 2 * t)
    assert float(centre) == pytest.approx(1 - first + higher, abs=1e-4)


def test_hard_constraint_holds_initial_condition_walls_and_periodicity(problem):
    torch.manual_seed(0)
    model = PINN(problem, width=16, depth=2).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    g = torch.Generator().manual_seed(2)
    for region in ("initial", "walls"):
        out = model.predict(problem.sample(region, 1000, g))
        assert out[:, :2].abs().max() < 1e-15, region
    x = problem.sample("interior", 500, g)
    shifted = x.clone()
    shifted[:, 0] += problem.length
    # exact up to the float32 rounding of 2π/length inside the MLP's periodic embedding
    assert torch.allclose(model.predict(x), model.predict(shifted), atol=1e-5)
    out = model(x)
    assert torch.allclose(out.d1[:, 0], model(shifted).d1[:, 0], atol=1e-4)
    assert model.predict(x)[:, 0].abs().max() > 1e-3


@pytest.mark.slow
def test_trained_pinn_meets_the_exact_solution(tmp_path):
    """The shipped config (Adam + L-BFGS, a few minutes on one CPU thread) reaches u rel. L2 ≤ 5e-2."""
    from pathlib import Path

    from sciflow.api import evaluate, train

    cfg = Path(__file__).resolve().parents[2] / "configs" / "transient_poiseuille_startup_pinn.yaml"
    run = train(cfg, overrides=["training.tensorboard=false"], out=tmp_path / "run", progress=False)
    metrics = evaluate(run, progress=False)
    assert metrics["u_rel_l2"] <= 5e-2
    assert metrics["v_max_abs"] < 0.05  # the exact v is zero
