"""Dense BFGS and self-scaled Broyden (sciflow/training/bfgs.py): convergence on problems with known
minimisers, and the bookkeeping that saves a gemv per step."""

import pytest
import torch

from sciflow.errors import SciflowError
from sciflow.training.bfgs import DenseBFGS, broyden_parameters


def _minimise(f, x, steps, self_scaled=False):
    opt = DenseBFGS([x], lr=1.0, self_scaled=self_scaled)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return opt


@pytest.mark.parametrize("self_scaled", [False, True])
def test_rosenbrock_minimum_found(self_scaled):
    """f = (1 − a)² + 100 (b − a²)²: minimum 0 at (1, 1), from the classical start (−1.2, 1)."""
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    _minimise(lambda z: (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2, x, 80, self_scaled)
    assert torch.allclose(x.detach(), torch.ones(2, dtype=torch.float64), atol=1e-8)


def _quadratic(n=30, cond=1e4):
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    A = q @ torch.diag(torch.logspace(0, torch.log10(torch.tensor(cond)).item(), n, dtype=torch.float64)) @ q.T
    b = torch.randn(n, generator=g, dtype=torch.float64)
    return A, b


@pytest.mark.parametrize("self_scaled", [False, True])
def test_ill_conditioned_quadratic_and_the_inverse_hessian(self_scaled):
    """f = ½ xᵀAx − bᵀx with cond(A) = 1e4 in 30 dimensions: x → A⁻¹b."""
    A, b = _quadratic()
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    _minimise(lambda z: 0.5 * z @ A @ z - b @ z, x, 200, self_scaled)
    exact = torch.linalg.solve(A, b)
    assert float((x.detach() - exact).norm() / exact.norm()) < 1e-6  # the line search stops at 1e-9 changes


@pytest.mark.parametrize("self_scaled", [False, True])
def test_secant_equation_and_the_kept_direction(self_scaled):
    """After each update H y = s (the secant equation every member of eq. (1) satisfies), and the
    direction kept for the next step is −H g exactly as a gemv would give it."""
    A, b = _quadratic(12, 1e3)
    x = torch.zeros(12, dtype=torch.float64, requires_grad=True)
    opt = DenseBFGS([x], self_scaled=self_scaled)

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ A @ x - b @ x
        loss.backward()
        return loss

    for k in range(6):
        opt.step(closure)
        state = opt.state[x]
        if k >= 1:
            H, s, y = state["H"], prev_s, state["g_prev"] - prev_g
            assert torch.allclose(H @ y, s, rtol=1e-9, atol=1e-12)
            assert torch.allclose(-H @ state["g_prev"], state["d"], rtol=1e-9, atol=1e-12)
        prev_s, prev_g = state["s"].clone(), state["g_prev"].clone()


def test_broyden_parameters_bfgs_limit_and_positive_scaling():
    """a = 0 (s ∥ Hy): θ = 0 and the first τ is h, the Oren-Luenberger scaling; τ > 0 throughout."""
    assert broyden_parameters(0.0, 2.0, 0.5, True, 100) == (0.0, 0.5)
    for a, b, h in [(0.3, 2.0, 0.65), (5.0, 0.5, 12.0), (1e-3, 1.0, 1.001)]:
        for first in (True, False):
            theta, tau = broyden_parameters(a, b, h, first, 1000)
            assert tau > 0 and 1 + a * theta > 0


def test_too_many_weights_is_one_clear_error():
    with pytest.raises(SciflowError, match="use lbfgs"):
        DenseBFGS([torch.zeros(30_000, requires_grad=True)])
