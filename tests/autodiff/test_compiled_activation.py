"""The compiled activation jets (``compile: true`` for a PINN) against the eager fused ones.

Same jets and the same parameter gradients to round-off (TorchInductor reorders the products),
training steps with the same losses, and ``compile: true`` in a spec reaching the jet kernels.
"""

import copy

import pytest
import torch

from sciflow.autodiff.compiled_activation import CompiledActivationJet2, CompiledActivationJet3
from sciflow.autodiff.fused_activation import ActivationJet2, ActivationJet3
from sciflow.autodiff.jet3 import multi_indices
from sciflow.models.pinn import PINN
from sciflow.problems.navier_stokes import LidDrivenCavity
from sciflow.training.objectives import PhysicsObjective


@pytest.mark.parametrize("order", [2, 3])
def test_compiled_kernels_equal_the_eager_ones(order):
    """Values, ∂L/∂Z and ∂L/∂bias of eqs. (1)-(3) for 2 inputs, tanh and sin, float64, at two numbers of
    points (the second recompiles with the size dynamic)."""
    gen = torch.Generator().manual_seed(0)
    dim = 2
    k = 1 + 2 * dim if order == 2 else len(multi_indices(dim))
    for name in ("tanh", "sin"):
        for n in (37, 50):
            z = torch.randn(k, n, 6, dtype=torch.float64, generator=gen, requires_grad=True)
            b = torch.randn(6, dtype=torch.float64, generator=gen, requires_grad=True)
            g = torch.randn(k, n, 6, dtype=torch.float64, generator=gen)
            if order == 2:
                eager, compiled = ActivationJet2.apply(z, b, name), CompiledActivationJet2.apply(z, b, name)
            else:
                eager, compiled = ActivationJet3.apply(z, b, name, dim), CompiledActivationJet3.apply(z, b, name, dim)
            assert torch.allclose(compiled, eager, rtol=1e-13, atol=1e-14), (name, n)
            ge = torch.autograd.grad(eager, (z, b), g)
            gc = torch.autograd.grad(compiled, (z, b), g)
            for a, e in zip(gc, ge):
                assert torch.allclose(a, e, rtol=1e-12, atol=1e-13 * e.abs().max()), (name, n)


def _train(model, objective, steps):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        total, _ = objective.loss(model, k)
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
    return torch.tensor(losses, dtype=torch.float64)


def test_compiled_stream_function_pinn_trains_with_the_same_losses():
    """Four Adam steps of the hard-BC cavity PINN with stream-function output (third-order jets)."""
    problem = LidDrivenCavity(Re=100)
    torch.manual_seed(0)
    eager = PINN(problem, width=16, depth=3, output="stream").double()
    compiled = copy.deepcopy(eager)
    compiled.compile_jets()
    losses = []
    for model in (eager, compiled):
        objective = PhysicsObjective(problem, model, interior_points=128)
        objective.setup(torch.device("cpu"), torch.float64, torch.Generator().manual_seed(1))
        losses.append(_train(model, objective, 4))
    assert torch.allclose(losses[1], losses[0], rtol=1e-12, atol=0), losses


def test_compile_true_in_a_spec_compiles_the_pinn_jets(tmp_path, monkeypatch):
    """``compile: true`` reaches the PINN's jet kernels, and wraps the module in ``torch.compile``."""
    import sciflow
    from sciflow.models.layers import MLP
    from sciflow.spec import spec_from_dict

    compiled_nets, wrapped = [], []
    original = MLP.compile_jets
    monkeypatch.setattr(MLP, "compile_jets", lambda net: (compiled_nets.append(net), original(net)))
    monkeypatch.setattr(torch, "compile", lambda module, *a, **k: wrapped.append(module) or module)
    spec = spec_from_dict({"name": "compiled", "device": "cpu", "compile": True,
                           "problem": {"name": "poiseuille", "Re": 10},
                           "model": {"name": "pinn", "width": 8, "depth": 2},
                           "objective": {"name": "physics", "interior_points": 16},
                           "training": {"phases": [{"optimizer": "adam", "steps": 2, "lr": 1e-3}]}})
    sciflow.train(spec, out=tmp_path / "run", progress=False)
    assert len(compiled_nets) == 1 and compiled_nets[0].compiled_jets
    assert len(wrapped) == 1 and isinstance(wrapped[0], PINN) and wrapped[0].net is compiled_nets[0]
