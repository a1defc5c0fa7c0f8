"""The fused activation jets (one autograd function per layer) against the op-by-op jet rules, and
their compiled twins (``compile: true``) against them.

The op-by-op path (``Jet.linear`` then ``Jet.tanh``, autograd recording every product) is the
formula the fused functions replace: same values and same parameter gradients to round-off,
and PINN training steps that give the same losses.
"""

import copy

import pytest
import torch

from sciflow.autodiff.compiled_activation import CompiledActivationJet2, CompiledActivationJet3
from sciflow.autodiff.fused_activation import ActivationJet2, ActivationJet3, activation_derivatives
from sciflow.autodiff.jet3 import multi_indices
from sciflow.models.layers import MLP
from sciflow.models.pinn import PINN
from sciflow.problems.navier_stokes import LidDrivenCavity
from sciflow.training.objectives import PhysicsObjective


def op_by_op_jet(net: MLP, x: torch.Tensor, order: int):
    return net.jet_op_by_op(x, order)


@pytest.mark.parametrize("name", ["tanh", "sin"])
def test_activation_derivatives_match_autograd(name):
    a = torch.linspace(-3, 3, 41, dtype=torch.float64, requires_grad=True)
    s = activation_derivatives(name, a, 4)
    for k in range(4):
        (g,) = torch.autograd.grad(s[k].sum(), a, create_graph=True)
        assert torch.allclose(g, s[k + 1], atol=1e-13), (name, k)


@pytest.mark.parametrize("name", ["tanh", "sin"])
def test_fused_backward_passes_gradcheck(name):
    gen = torch.Generator().manual_seed(0)
    for dim in (1, 2, 3):
        z = torch.randn(1 + 2 * dim, 5, 3, dtype=torch.float64, generator=gen, requires_grad=True)
        b = torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True)
        assert torch.autograd.gradcheck(lambda z, b: ActivationJet2.apply(z, b, name), (z, b))
        k = len(multi_indices(dim))
        z = torch.randn(k, 4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
        assert torch.autograd.gradcheck(lambda z, b: ActivationJet3.apply(z, b, name, dim), (z, b))


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_mlp_jet_values_and_gradients_equal_op_by_op(order, act):
    torch.manual_seed(0)
    embedding = {"periodic": [None, 0.7]} if act == "sin" else {"fourier_features": 4 if order == 3 else 0}
    net = MLP(2, 3, width=16, depth=3, activation=act, input_scale=[2.0, 1.5], input_shift=[0.5, 0.1],
              **embedding).double()
    x = torch.rand(40, 2, dtype=torch.float64)

    def loss(jet):
        rows = jet.stacked()
        return (rows * torch.linspace(0.5, 1.5, rows.shape[0], dtype=rows.dtype)[:, None, None]).square().sum()

    fused, ref = loss(net.jet(x, order)), loss(op_by_op_jet(net, x, order))
    assert torch.allclose(fused, ref, rtol=1e-13, atol=0)
    g_fused = torch.autograd.grad(fused, list(net.parameters()))
    g_ref = torch.autograd.grad(ref, list(net.parameters()))
    for a, b in zip(g_fused, g_ref):
        assert torch.allclose(a, b, rtol=1e-11, atol=1e-13 * b.abs().max())


def _train(model, objective, steps):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        total, _ = objective.loss(model, k)
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
    return torch.tensor(losses, dtype=torch.float64), [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("dtype,output,rtol", [(torch.float64, "primitive", 1e-12), (torch.float64, "stream", 1e-12),
                                               (torch.float32, "primitive", 1e-5)])
def test_cavity_training_steps_give_the_same_losses(dtype, output, rtol):
    """Five Adam steps of the hard-BC cavity PINN: fused and op-by-op jets give the same losses."""
    problem = LidDrivenCavity(Re=100)
    torch.manual_seed(0)
    fused = PINN(problem, width=20, depth=3, output=output).to(dtype)
    ref = copy.deepcopy(fused)
    order = 3 if output == "stream" else 2
    ref.net.jet = lambda x, order=order, net=ref.net: op_by_op_jet(net, x, order)
    runs = []
    for model in (fused, ref):
        objective = PhysicsObjective(problem, model, interior_points=256)
        objective.setup(torch.device("cpu"), dtype, torch.Generator().manual_seed(1))
        runs.append(_train(model, objective, 5))
    (l_fused, p_fused), (l_ref, p_ref) = runs
    assert torch.allclose(l_fused, l_ref, rtol=rtol, atol=0), (l_fused, l_ref)
    for a, b in zip(p_fused, p_ref):
        assert torch.allclose(a, b, rtol=rtol, atol=rtol * 1e-3)


# --- the compiled kernels (compile: true): the same jets and gradients to round-off (Inductor reorders products)
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
        losses.append(_train(model, objective, 4)[0])
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


def test_compiled_lpinn_gives_the_same_loss_and_gradient():
    """The Lagrangian PINN's two networks (characteristic and state) through the compiled kernels."""
    from sciflow.api import build
    from sciflow.spec import spec_from_dict

    spec = spec_from_dict({"name": "lpinn", "device": "cpu", "dtype": "float64",
                           "problem": {"name": "convection", "c": 50},
                           "model": {"name": "lpinn", "width": 12, "depth": 2},
                           "objective": {"name": "lagrangian", "interior_points": 64},
                           "training": {"phases": [{"optimizer": "adam", "steps": 1, "lr": 1e-3}]}})
    torch.manual_seed(0)
    _, eager, objective = build(spec, torch.device("cpu"))
    objective.setup(torch.device("cpu"), torch.float64, torch.Generator().manual_seed(0))
    compiled = copy.deepcopy(eager)
    compiled.compile_jets()
    assert compiled.characteristic_net.compiled_jets and compiled.state_net.compiled_jets
    results = []
    for model in (eager, compiled):
        total, _ = objective.loss(model, 0)
        results.append((total.detach(), torch.autograd.grad(total, list(model.parameters()))))
    (l0, g0), (l1, g1) = results
    assert torch.allclose(l1, l0, rtol=1e-12, atol=0)
    for a, b in zip(g1, g0):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12 * b.abs().max())
