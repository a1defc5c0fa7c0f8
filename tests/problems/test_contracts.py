"""Declared problem contracts: a missing hook is one SciflowError naming it; a constant lift and
3-input problems work (or say what to declare); mixed and third derivatives match autograd."""

import math

import pytest
import torch

import sciflow
from sciflow.autodiff.jet import autograd_jet
from sciflow.autodiff.jet3 import Jet3, autograd_jet3
from sciflow.errors import SciflowError
from sciflow.models.pinn import PINN
from sciflow.models.registry import build_model
from sciflow.problems.base import require, PointwisePhysics
from sciflow.problems.geometry import Rectangle
from sciflow.training.objectives import build_objective


class Plate(sciflow.Problem):
    """Δu = 0 on the unit square with u = 0 on the walls (constant zero lift)."""

    def __init__(self, inputs=("x", "y")):
        super().__init__(inputs=inputs, fields=(sciflow.Field("u"),))
        self.domain = Rectangle(0.0, 1.0, 0.0, 1.0)

    def residual(self, x, out):
        return {"laplace": out.d2[:, 0, 0] + out.d2[:, 1, 0]}

    def sample(self, region, n, generator=None):
        return torch.rand(n, len(self.inputs), generator=generator, dtype=torch.float64)

    def hard_constraint(self, output="primitive"):
        if output != "primitive":
            return None
        return (lambda x: torch.zeros_like(x[:, :1]),
                lambda x: x[:, :1] * (1 - x[:, :1]) * x[:, 1:2] * (1 - x[:, 1:2]))


class NoConstraint(Plate):
    hard_constraint = None


def test_a_constant_lift_just_works():
    torch.manual_seed(0)
    model = build_model({"name": "pinn", "width": 8, "depth": 2}, Plate()).double()
    x = torch.rand(32, 2, dtype=torch.float64)
    out = model(x)
    ref = autograd_jet(lambda z: z[:, :1] * (1 - z[:, :1]) * z[:, 1:2] * (1 - z[:, 1:2]) * model.net(z), x)
    for a, b in ((out.value, ref.value), (out.d1, ref.d1), (out.d2, ref.d2)):
        assert torch.allclose(a, b, atol=1e-12)
    wall = torch.tensor([[0.0, 0.3], [1.0, 0.7], [0.4, 0.0], [0.6, 1.0]], dtype=torch.float64)
    assert model.predict(wall).abs().max() == 0
    zero = autograd_jet(lambda z: torch.zeros_like(z[:, :1]), x)
    assert zero.d1.abs().max() == 0 and zero.d2.abs().max() == 0


def test_a_missing_hook_is_one_error_naming_it():
    with pytest.raises(SciflowError) as exc:
        build_model({"name": "pinn"}, NoConstraint())
    assert str(exc.value) == ("model 'pinn' needs a problem with HardConstraints (hard_constraint); "
                              "problem 'NoConstraint' does not define hard_constraint")
    with pytest.raises(SciflowError) as exc:
        build_model({"name": "pinn", "boundary": "soft"}, Plate())
    assert str(exc.value) == ("model 'pinn' needs a problem with SoftBoundary (boundary_targets); "
                              "problem 'Plate' does not define boundary_targets")
    with pytest.raises(SciflowError) as exc:
        build_model({"name": "fno"}, Plate())
    assert str(exc.value) == ("model 'fno' needs a problem with Trajectories (t_in, horizon, dataset); "
                              "problem 'Plate' does not define t_in, horizon, dataset")
    with pytest.raises(SciflowError) as exc:
        require(sciflow.Problem(), (PointwisePhysics,), "objective 'physics'")
    assert "does not define residual, sample" in str(exc.value)


def test_an_objective_checks_the_model_interface():
    from sciflow.models.dymixop import DyMixOp

    with pytest.raises(SciflowError) as exc:
        build_objective({"name": "physics"}, Plate(), DyMixOp(None))
    assert str(exc.value) == "objective 'physics' needs a PointwiseModel; model 'DyMixOp' is not one"


def test_three_inputs_need_declared_bounds():
    p = Plate(inputs=("x", "y", "t"))
    with pytest.raises(SciflowError) as exc:
        PINN(p, width=4, depth=1)
    assert str(exc.value) == (
        "problem 'Plate': inputs ('x', 'y', 't') need 3 bounds, the problem declares 2 (domain: 2, "
        "extra_input_bounds_lo: 0, extra_input_bounds_hi: 0); set extra_input_bounds_lo/hi for the inputs "
        "after (x, y) or override input_bounds()")
    p.extra_input_bounds_lo, p.extra_input_bounds_hi = (0.0,), (2.0,)
    model = PINN(p, width=4, depth=1).double()
    assert model.net.in_scale.tolist() == [2.0, 2.0, 1.0]
    assert model(torch.rand(5, 3, dtype=torch.float64)).d2.shape == (5, 3, 1)


class Biharmonic(Plate):
    """A residual with a mixed second (u_xy) and a mixed third (u_xxy) derivative."""

    derivative_order = 3

    def residual(self, x, out):
        return {"mixed": out.partial(0, 1)[:, 0] + out.partial(0, 0, 1)[:, 0]}


def test_mixed_and_third_derivatives_match_autograd():
    torch.manual_seed(1)
    p = Biharmonic()
    model = PINN(p, width=8, depth=2).double()
    x = torch.rand(16, 2, dtype=torch.float64)
    out = model(x)
    assert isinstance(out, Jet3)
    lift, dist = p.hard_constraint()
    ref = autograd_jet3(lambda z: lift(z) + dist(z) * model.net(z), x)
    assert torch.allclose(out.d, ref.d, atol=1e-11)
    for axes in ((0, 1), (0, 0, 1), (1, 1, 1)):
        assert torch.allclose(out.partial(*axes), ref.partial(*axes), atol=1e-11)
    res = p.residual(x, out)["mixed"]
    assert torch.allclose(res, ref.partial(0, 1)[:, 0] + ref.partial(0, 0, 1)[:, 0], atol=1e-11)
    # the first and pure second derivatives read as from a second-order jet
    jet = autograd_jet(lambda z: lift(z) + dist(z) * model.net(z), x)
    assert torch.allclose(out.d1, jet.d1, atol=1e-12) and torch.allclose(out.d2, jet.d2, atol=1e-11)
    with pytest.raises(SciflowError, match="declare derivative_order = 3"):
        jet.partial(0, 1)


def test_public_api_is_exported():
    assert sciflow.Problem.__module__ == "sciflow.problems.base"
    assert sciflow.Field("p", up_to_constant=True).up_to_constant
    assert sciflow.register_problem.__self__.kind == "problem"
    assert sciflow.register_model.__self__.kind == "model"
    assert sciflow.register_objective.__self__.kind == "objective"
    assert math.isfinite(float(sciflow.__version__.split(".")[0]))
