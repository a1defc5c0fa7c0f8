"""Dense BFGS (sciflow/training/bfgs.py): convergence on problems with known minimisers."""

import pytest
import torch

from sciflow.errors import SciflowError
from sciflow.training.bfgs import DenseBFGS


def _minimise(f, x, steps):
    opt = DenseBFGS([x], lr=1.0)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return opt


def test_rosenbrock_minimum_found():
    """f = (1 − a)² + 100 (b − a²)²: minimum 0 at (1, 1), from the classical start (−1.2, 1)."""
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    _minimise(lambda z: (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2, x, 80)
    assert torch.allclose(x.detach(), torch.ones(2, dtype=torch.float64), atol=1e-8)


def test_ill_conditioned_quadratic_and_the_inverse_hessian():
    """f = ½ xᵀAx − bᵀx with cond(A) = 1e4 in 30 dimensions: x → A⁻¹b."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(30, 30, generator=g, dtype=torch.float64))
    A = q @ torch.diag(torch.logspace(0, 4, 30, dtype=torch.float64)) @ q.T
    b = torch.randn(30, generator=g, dtype=torch.float64)
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    _minimise(lambda z: 0.5 * z @ A @ z - b @ z, x, 200)
    exact = torch.linalg.solve(A, b)
    assert float((x.detach() - exact).norm() / exact.norm()) < 1e-6  # the line search stops at 1e-9 changes


def test_too_many_weights_is_one_clear_error():
    with pytest.raises(SciflowError, match="use lbfgs"):
        DenseBFGS([torch.zeros(30_000, requires_grad=True)])
