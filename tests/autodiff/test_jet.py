"""Forward jets through the MLP and the hard-constraint ansatz equal reverse-mode autograd."""

import torch

from sciflow.models.layers import MLP
from sciflow.models.pinn import PINN
from sciflow.autodiff.jet import autograd_jet
from sciflow.problems.navier_stokes import Kovasznay, LidDrivenCavity


def _close(a, b, tol=1e-11):
    assert torch.allclose(a.value, b.value, atol=tol, rtol=tol)
    assert torch.allclose(a.d1, b.d1, atol=tol, rtol=tol)
    assert torch.allclose(a.d2, b.d2, atol=tol, rtol=tol)


def test_mlp_jet_matches_autograd_tanh_sin_fourier():
    torch.manual_seed(0)
    x = torch.rand(64, 3, dtype=torch.float64)
    for act, ff in (("tanh", 0), ("sin", 0), ("tanh", 8)):
        net = MLP(3, 4, width=16, depth=3, activation=act, fourier_features=ff, fourier_sigma=2.0,
                  input_scale=[2.0, 1.0, 0.5], input_shift=[0.1, 0.0, -0.2]).double()
        _close(net.jet(x), autograd_jet(net, x))


def test_pinn_hard_ansatz_jet_matches_autograd():
    torch.manual_seed(0)
    for prob in (LidDrivenCavity(Re=100), Kovasznay()):
        model = PINN(prob, width=20, depth=3).double()
        x = prob.sample("interior", 128, torch.Generator().manual_seed(3))
        fast = model(x)
        ref = autograd_jet(lambda q: _composed(model, q), x)
        _close(fast, ref, 1e-9)


def _composed(model, x):
    lift, dist = model.problem.hard_constraint("primitive")
    return lift(x) + dist(x) * model.net(x)


def test_third_order_jets_match_nested_autograd():
    """Jet3 (all partials to order 3) through the MLP and through products equals nested autograd."""
    from sciflow.autodiff.jet3 import autograd_jet3

    torch.manual_seed(0)
    for dim, act, ff, periodic in ((2, "tanh", 0, None), (2, "sin", 0, [0.5, None]), (3, "tanh", 4, None)):
        net = MLP(dim, 2, width=12, depth=3, activation=act, fourier_features=ff, periodic=periodic,
                  input_scale=[2.0] * dim, input_shift=[0.1] * dim).double()
        x = torch.rand(32, dim, dtype=torch.float64)
        fast, ref = net.jet(x, order=3).d, autograd_jet3(net, x).d
        assert fast.shape == (32, 10 if dim == 2 else 20, 2)
        assert torch.allclose(fast, ref, atol=1e-11, rtol=1e-11)

    def f(x):
        return torch.stack([torch.sin(x[:, 0]) * x[:, 1] ** 3, torch.exp(x[:, 0] * x[:, 1])], 1)

    def g(x):
        return torch.stack([torch.cos(2 * x[:, 0]) + x[:, 1], x[:, 0] ** 2 * x[:, 1]], 1)

    x = torch.rand(16, 2, dtype=torch.float64)
    prod = (autograd_jet3(f, x) * autograd_jet3(g, x)).d
    assert torch.allclose(prod, autograd_jet3(lambda q: f(q) * g(q), x).d, atol=1e-13)


def test_stream_pinn_velocity_jet_matches_autograd():
    """u = ψ_y, v = −ψ_x and their derivatives from the Jet3 path equal autograd of the composed fields."""
    prob = LidDrivenCavity(Re=100)
    torch.manual_seed(0)
    model = PINN(prob, width=12, depth=2, output="stream").double()
    x = prob.sample("interior", 64, torch.Generator().manual_seed(1))
    lift, dist = prob.hard_constraint("stream")

    def fields(q):
        psi_p = lift(q) + dist(q) * model.net(q)
        (g,) = torch.autograd.grad(psi_p[:, 0].sum(), q, create_graph=True)
        return torch.cat([g[:, 1:2], -g[:, 0:1], psi_p[:, 1:2]], 1)

    _close(model(x), autograd_jet(fields, x), 1e-9)
