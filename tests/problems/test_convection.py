"""Periodic transport problems: exact solutions, Lagrangian residuals, hard constraints, references."""

import math

import numpy as np
import pytest
import torch

from sciflow.models.registry import build_model
from sciflow.problems.base import build_problem
from sciflow.autodiff.jet import autograd_jet

TWO_PI = 2 * math.pi


def _points(problem, n=400, seed=0):
    return problem.sample("interior", n, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("config", [{"name": "convection", "c": 50.0},
                                    {"name": "convection_diffusion", "c": 30.0, "nu": 0.05}])
def test_exact_solution_has_zero_eulerian_residual(config):
    p = build_problem(config)
    x = _points(p)
    r = p.residual(x, autograd_jet(p.exact, x, create_graph=False))["pde"]
    assert r.abs().max() < 1e-11 * p.c
    # a wrong speed is caught: the residual is (c' − c) u_x, O(1)
    wrong = build_problem({**config, "c": config["c"] + 1.0})
    assert wrong.residual(x, autograd_jet(p.exact, x, create_graph=False))["pde"].abs().max() > 0.5


def test_exact_characteristics_have_zero_lagrangian_residual():
    c, nu = 50.0, 0.05
    p = build_problem({"name": "convection_diffusion", "c": c, "nu": nu})
    x = _points(p)

    def lagrangian(xi):  # x = x0 + ct, u = e^{−νt} sin x0
        return torch.cat([xi[:, :1] + c * xi[:, 1:], torch.exp(-nu * xi[:, 1:]) * torch.sin(xi[:, :1])], 1)

    res = p.lagrangian_residual(x, autograd_jet(lagrangian, x, create_graph=False))
    assert res["characteristic"].abs().max() < 1e-14 and res["state"].abs().max() < 1e-14
    slow = p.lagrangian_residual(x, autograd_jet(lambda xi: lagrangian(xi) * torch.tensor([0.9, 1.0], dtype=xi.dtype),
                                                 x, create_graph=False))
    assert slow["characteristic"].abs().min() > 0.09  # 10 % slower characteristics: |Δa|/a = 0.1 everywhere


def test_lagrangian_diffusion_uses_the_chain_rule_through_the_characteristic_map():
    """u(x0, t) = sin 2X with X = x0 + 0.3 t sin x0: ∂²_x u must be −4 sin 2X, not ∂²_{x0} u."""
    nu = 0.1
    p = build_problem({"name": "burgers", "nu": nu})
    x = _points(p)

    def fields(xi):
        X = xi[:, :1] + 0.3 * xi[:, 1:] * torch.sin(xi[:, :1])
        return torch.cat([X, torch.sin(2 * X)], 1)

    jet = autograd_jet(fields, x, create_graph=False)
    X = jet.value[:, 0]
    u_t = 2 * torch.cos(2 * X) * 0.3 * torch.sin(x[:, 0])  # Lagrangian time derivative
    state = p.lagrangian_residual(x, jet)["state"]
    jac = 1 + 0.3 * x[:, 1] * torch.cos(x[:, 0])  # ∂X/∂x0 > 0: the residual is multiplied by J³
    torch.testing.assert_close(state, jac ** 3 * (u_t + 4 * nu * torch.sin(2 * X)), rtol=0, atol=1e-12)
    # Burgers characteristic speed is u itself
    char = p.lagrangian_residual(x, jet)["characteristic"] * p.speed_scale
    torch.testing.assert_close(char, 0.3 * torch.sin(x[:, 0]) - jet.value[:, 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("model", ["pinn", "lpinn"])
@pytest.mark.parametrize("problem", [{"name": "convection", "c": 50.0}, {"name": "burgers", "nu": 0.01}])
def test_hard_constraints_hold_to_round_off(model, problem):
    torch.manual_seed(3)
    p = build_problem(problem)
    m = build_model({"name": model, "width": 16, "depth": 3}, p).double()
    with torch.no_grad():  # random weights everywhere (the LPINN starts its last layers at zero)
        for prm in m.parameters():
            prm.normal_(0.0, 0.5)
    s = torch.rand(64, 1, dtype=torch.float64)
    at = lambda xx, tt: torch.cat([xx, tt], 1)  # noqa: E731
    zero, period = torch.zeros_like(s), torch.full_like(s, TWO_PI)
    if model == "pinn":
        # initial data exact, and u, u_x, u_xx periodic at x = 0 ≡ 2π for all t
        u0 = m.predict(at(TWO_PI * s, zero))[:, 0]
        torch.testing.assert_close(u0, p.initial(TWO_PI * s[:, 0]), rtol=0, atol=1e-14)
        a, b = m(at(zero, s)), m(at(period, s))
        for fa, fb in ((a.value, b.value), (a.d1, b.d1), (a.d2, b.d2)):
            assert (fa - fb).abs().max() < 1e-12
        assert m(at(zero, s)).value.std() > 1e-3  # the network is not trivially constant
    else:
        xl, ul = m.lagrangian(at(TWO_PI * s, zero))
        torch.testing.assert_close(xl, TWO_PI * s[:, 0], rtol=0, atol=1e-14)
        torch.testing.assert_close(ul, p.initial(TWO_PI * s[:, 0]), rtol=0, atol=1e-14)
        (xa, ua), (xb, ub) = m.lagrangian(at(zero, s)), m.lagrangian(at(period, s))
        assert (xb - xa - TWO_PI).abs().max() < 1e-12 and (ub - ua).abs().max() < 1e-12
        assert (xa - 0.0).abs().max() > 1e-3  # characteristics do move


def test_convection_diffusion_reference_is_the_exact_solution():
    p = build_problem({"name": "convection_diffusion", "c": 10.0, "nu": 0.1, "reference_nx": 64, "reference_nt": 20})
    ref = p.reference(progress=False)
    xx, tt = np.meshgrid(ref.x.values, ref.t.values)
    exact = p.exact(torch.as_tensor(np.stack([xx.ravel(), tt.ravel()], 1)))[:, 0].numpy().reshape(xx.shape)
    assert np.abs(ref.u.values - exact).max() < 1e-13
    assert ref.attrs["case"] == "convection_diffusion" and "parameters" in ref.attrs
