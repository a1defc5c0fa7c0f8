"""The differentiable plane profiles of single channel states (sciflow.cfd.channel_profiles.plane_statistics)."""

import math

import numpy as np
import pytest
import torch

from sciflow.cfd.channel_profiles import PLANE_STATISTICS, ProfileAccumulator, plane_statistics


def wave_state(nx: int = 8, ny: int = 7, nz: int = 6) -> tuple[torch.Tensor, dict]:
    """One state (X, Y, Z, 3) float64: u = U(y) + a(y) sin(2πx), v = b(y) sin(2πx), w = c(y) cos(2πz) on a
    periodic grid; over whole periods ⟨sin²⟩ = ½, so u'_rms = a/√2, v'_rms = b/√2, w'_rms = c/√2, ⟨u'v'⟩ = ab/2."""
    y = torch.linspace(-1, 1, ny, dtype=torch.float64)
    big_u, a, b, c = 1 - y ** 2, 0.3 + 0.1 * y, 0.2 - 0.05 * y, 0.1 + 0.2 * y ** 2
    sx = torch.sin(2 * math.pi * torch.arange(nx, dtype=torch.float64) / nx)[:, None, None]
    cz = torch.cos(2 * math.pi * torch.arange(nz, dtype=torch.float64) / nz)[None, None, :]
    u = big_u[None, :, None] + a[None, :, None] * sx + 0 * cz
    v = b[None, :, None] * sx + 0 * cz
    w = c[None, :, None] * cz + 0 * sx
    exact = {"U": big_u, "u_rms": a / math.sqrt(2), "v_rms": b / math.sqrt(2), "w_rms": c / math.sqrt(2),
             "uv": a * b / 2}
    return torch.stack([u, v, w], dim=-1), {k: e[1:-1] for k, e in exact.items()}


def test_plane_profiles_of_a_wave_state_are_exact():
    state, exact = wave_state()
    stats = plane_statistics(state[None, None])  # (1, 1, 5, Y − 2)
    assert stats.shape == (1, 1, len(PLANE_STATISTICS), 5)
    for k, name in enumerate(PLANE_STATISTICS):
        torch.testing.assert_close(stats[0, 0, k], exact[name], rtol=0, atol=1e-14)


def test_plane_profiles_agree_with_the_profile_accumulator_of_the_evaluation():
    """For one state, the training statistics are the evaluation's profiles (ProfileAccumulator) on the interior rows."""
    g = torch.Generator().manual_seed(0)
    state = torch.randn(6, 9, 5, 3, generator=g, dtype=torch.float64) + torch.linspace(0, 2, 9)[None, :, None, None]
    acc = ProfileAccumulator()
    acc.add(state[None].numpy())
    mean, rms = acc.profiles()
    s = plane_statistics(state[None, None])[0, 0].numpy()
    np.testing.assert_allclose(s[0], mean[0, 1:-1], rtol=1e-13)
    np.testing.assert_allclose(s[1:4], rms[:, 1:-1], rtol=1e-12)
    np.testing.assert_allclose(s[4], acc.shear_stress()[1:-1], rtol=1e-12, atol=1e-15)


def test_plane_profiles_are_differentiable_and_refuse_a_wrong_shape():
    state, _ = wave_state()
    state.requires_grad_(True)
    plane_statistics(state[None, None])[0, 0, 1].sum().backward()  # Σ_y u'_rms: ∂/∂u = u'/(N u'_rms)
    assert torch.isfinite(state.grad).all() and state.grad[..., 0].abs().sum() > 0
    with pytest.raises(ValueError, match="plane_statistics"):
        plane_statistics(state.detach()[None])
