"""Forward jets through the MLP and the hard-constraint ansatz equal reverse-mode autograd."""

import torch

from sciflow.models.layers import MLP
from sciflow.models.pinn import PINN
from sciflow.problems.jet import autograd_jet
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
