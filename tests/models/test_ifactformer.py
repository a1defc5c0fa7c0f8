"""IFactFormer and its factorized attention: quadrature, symmetries, rotary embedding, implicit iteration."""

import math

import pytest
import torch

from sciflow.models.factorized_attention import (FactorizedAttention, RotaryEmbedding, apply_axis_kernel,
                                                 axis_phase, quadrature_weights)
from sciflow.models.ifactformer import IFactFormer

torch.set_num_threads(1)


def stretched_y(n=17, stretch=1.9):
    """tanh-stretched wall-normal points in [−1, 1], walls included (as the channel grid)."""
    s = torch.linspace(-1, 1, n, dtype=torch.float64)
    return torch.tanh(stretch * s) / math.tanh(stretch)


def test_quadrature_weights_integrate_exactly_on_nonuniform_y():
    y = stretched_y()
    w = quadrature_weights(y)
    assert float(w.sum()) == pytest.approx(2.0, abs=1e-14)  # ∫ 1 dy over [−1, 1]
    assert float((w * (3 + 5 * y)).sum()) == pytest.approx(6.0, abs=1e-13)  # linear: exact
    assert float((w * y.abs()).sum()) == pytest.approx(1.0, abs=1e-13)  # piecewise linear, node at 0
    # periodic rectangle rule is exact for trig polynomials of degree < n: ∫_0^L sin²(2πx/L) dx = L/2
    lx = math.pi
    x = torch.arange(12, dtype=torch.float64) * lx / 12
    wx = quadrature_weights(x, period=lx)
    assert float((wx * torch.sin(2 * math.pi * x / lx) ** 2).sum()) == pytest.approx(lx / 2, abs=1e-14)
    # a smooth non-polynomial integrand converges at second order on the stretched grid
    errs = [abs(float((quadrature_weights(stretched_y(n)) * torch.exp(stretched_y(n))).sum()) - (math.e - 1 / math.e))
            for n in (17, 33, 65)]
    assert errs[0] / errs[1] > 3.5 and errs[1] / errs[2] > 3.5


def test_axis_kernel_is_the_quadrature_integral_on_the_actual_y_points():
    """With q ≡ k ≡ 1 the y kernel (q_i k_j ŵ_j, the module's weights) applied to f gives (1/2)∫ f dy at
    every point, exactly for a piecewise-linear f on the stretched grid."""
    y = stretched_y(17)
    fa = FactorizedAttention(dim=4, heads=1, dim_head=2, variant="o", periods=(1.0, None, 1.0)).double()
    w = fa.weights((torch.arange(3.0).double() / 3, y, torch.arange(2.0).double() / 2))[1]
    g, f = 1 + y, 2 - 3 * y.abs()  # f piecewise linear with a kink at the node y = 0
    kernel = torch.ones(1, 1, 17, 17, dtype=torch.float64) * w  # q_i k_j ŵ_j with q = k = 1
    v = f.view(1, 1, 1, 17, 1, 1).expand(1, 1, 3, 17, 2, 1)
    out = apply_axis_kernel(kernel, v, axis=1)
    exact = 0.5 * (2 * 2 - 3 * 1.0)  # (1/|Ω|) ∫_{-1}^{1} (2 − 3|y|) dy = (4 − 3)/2
    assert torch.allclose(out, torch.full_like(out, exact), atol=1e-14)
    assert float((w * g).sum()) == pytest.approx(1.0, abs=1e-14)  # mean of 1 + y


def test_rotary_preserves_norm_and_depends_on_coordinate_difference():
    torch.manual_seed(0)
    rot = RotaryEmbedding(8).double()
    q, k = torch.randn(5, 8, dtype=torch.float64), torch.randn(5, 8, dtype=torch.float64)
    y = stretched_y(5)
    phase = axis_phase(y, None)
    assert torch.allclose(rot(q, phase).norm(dim=-1), q.norm(dim=-1), atol=1e-13)
    # same q, k at every point: (R(φ_i) q)·(R(φ_j) k) is a function of φ_i − φ_j only
    qq, kk = q[:1].expand(5, 8), k[:1].expand(5, 8)
    dots = rot(qq, phase) @ rot(kk, phase).T
    shift = 0.37
    dots_shifted = rot(qq, phase + shift) @ rot(kk, phase + shift).T
    assert torch.allclose(dots, dots_shifted, atol=1e-13)
    assert not torch.allclose(dots, dots.T, atol=1e-3)  # it does depend on the difference (sign included)


def _tiny_attention(variant):
    torch.manual_seed(1)
    return FactorizedAttention(dim=6, heads=2, dim_head=4, variant=variant, periods=(2 * math.pi, None, math.pi)).double()


def _coords():
    return (torch.arange(5).double() * 2 * math.pi / 5, stretched_y(7), torch.arange(4).double() * math.pi / 4)


@pytest.mark.parametrize("variant", ["m", "o"])
def test_factorized_attention_equivariant_to_batch_permutation(variant):
    fa = _tiny_attention(variant)
    u = torch.randn(4, 5, 7, 4, 6, dtype=torch.float64)
    perm = torch.tensor([2, 0, 3, 1])
    assert torch.allclose(fa(u[perm], _coords()), fa(u, _coords())[perm], atol=1e-13)


def test_axis_reduction_equals_mlp_then_weighted_mean():
    """FactFormer eq. 7: r_a = Σ_other ŵ MLP_a(u); the fused form (second layer after the mean) is the same."""
    fa = _tiny_attention("m")
    u = torch.randn(2, 5, 7, 4, 6, dtype=torch.float64)
    w = fa.weights(_coords())
    fused = fa.axis_features(u, w)
    for a in range(3):
        f = fa.reduce[a](u)  # (B, X, Y, Z, H·d), the MLP on every grid point
        for other in (o for o in range(3) if o != a):
            shape = [1, 1, 1, 1, 1]
            shape[1 + other] = -1
            f = (f * w[other].view(shape)).sum(1 + other, keepdim=True)
        assert torch.allclose(fused[a], f.reshape(2, -1, f.shape[-1]), atol=1e-13)


@pytest.mark.parametrize("variant", ["m", "o"])
def test_factorized_attention_invariant_to_axis_order(variant):
    fa = _tiny_attention(variant)
    u = torch.randn(2, 5, 7, 4, 6, dtype=torch.float64)
    ref = fa(u, _coords(), ("x", "y", "z"))
    for axes in (("z", "x", "y"), ("y", "z", "x")):
        assert torch.allclose(fa(u, _coords(), axes), ref, atol=1e-12)
    # and the attention is not trivial: a change at one point moves the output at a point far along each axis
    # by a fair fraction of the attention signal (the output less its value at u = 0)
    u2 = u.clone()
    u2[:, 0, 3, 0] += 1.0  # an interior y point (wall points carry tiny quadrature weight)
    diff = (fa(u2, _coords()) - ref).abs()
    assert float(diff[:, 3, 5, 2].detach().max()) > 1e-2 * float((ref - fa(0 * u, _coords()))[:, 3, 5, 2].detach().abs().max())


def _grid():
    return {"x": torch.arange(4) * math.pi / 4, "y": stretched_y(5).float(), "z": torch.arange(4) * (math.pi / 2) / 4,
            "lx": math.pi, "lz": math.pi / 2}


@pytest.mark.parametrize("variant", ["m", "o"])
def test_shared_weight_iteration_is_u_plus_fa_over_k(variant):
    torch.manual_seed(2)
    model = IFactFormer(None, variant=variant, dim=8, heads=2, dim_head=4, iterations=1, fourier_features=4,
                        no_slip=False, grid=_grid()).double()
    x = torch.randn(2, 4, 5, 4, 3, dtype=torch.float64)
    h0 = model.lift(x.unsqueeze(1))
    f0 = model.block(h0, model.coords())
    assert torch.allclose(model.iterate(h0), h0 + f0, atol=1e-13)  # K = 1: one residual block
    out = model(x)
    assert torch.allclose(out, x + model.head(h0 + f0), atol=1e-12)
    model.iterations = 3
    h = h0
    for _ in range(3):
        h = h + model.block(h, model.coords()) / 3
    assert torch.allclose(model.iterate(h0), h, atol=1e-13)
    assert float((model.iterate(h0) - (h0 + f0)).abs().max().detach()) > 1e-6  # K changes the output


def test_no_slip_holds_exactly_at_the_walls_in_physical_units():
    stats = {"u": (10.0, 4.0), "v": (0.1, 0.5), "w": (-0.2, 0.7)}
    torch.manual_seed(3)
    model = IFactFormer(None, variant="m", dim=8, heads=2, dim_head=4, iterations=2, fourier_features=4,
                        grid={**_grid(), "stats": stats})
    x = torch.randn(2, 4, 5, 4, 3)
    out = model(x)
    mean, std = torch.tensor([10.0, 0.1, -0.2]), torch.tensor([4.0, 0.5, 0.7])
    phys = out * std + mean
    assert float(phys[:, :, [0, -1]].abs().max()) < 1e-6
    assert float((phys[:, :, 2] - mean).abs().max()) > 1e-3  # interior rows are the model's own
    with pytest.raises(Exception, match="walls"):
        IFactFormer(None, grid={**_grid(), "y": torch.linspace(-0.9, 0.9, 5)})


def test_tiny_model_overfits_one_channel_snapshot_pair():
    """A tiny IFactFormer-m fits one (state, next state) pair of a turbulent channel: loss drops 10×."""
    from sciflow.problems.channel import TurbulentChannel

    problem = TurbulentChannel(params={"spinup": 0.1, "n_snapshots": 3, "snapshot_every": 80, "gap": 0, "nx": 16, "ny": 24, "nz": 16,
                                       "coarse": [8, 13, 8], "n_trajectories": 3, "threads": 1})
    x, y = problem.dataset("train")[0]  # (1, 8, 13, 8, 3) each, normalised
    torch.manual_seed(0)
    model = IFactFormer(problem, variant="m", dim=16, heads=2, dim_head=8, iterations=2, fourier_features=8,
                        residual=False)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss():
        return ((model(x[None]) - y[None]).norm() / y.norm())

    first = float(loss())
    for _ in range(250):
        opt.zero_grad()
        lv = loss()
        lv.backward()
        opt.step()
    assert float(loss()) < first / 10
