"""Filters that coarse-grain channel DNS onto training grids."""

from __future__ import annotations

import math

import numpy as np
import torch

from sciflow.cfd.channel_dns import ChannelConfig, ChannelSolver
from sciflow.cfd.filters import ChannelCoarsener, box_matrix_y, coarse_y_points, spectral_coarsen_xz

torch.set_num_threads(1)


def test_spectral_coarsening_keeps_resolved_modes_and_removes_the_rest():
    nx, nz, ncx, ncz = 48, 36, 16, 12
    x = torch.arange(nx, dtype=torch.float64)[None, :, None] * 2 * math.pi / nx
    z = torch.arange(nz, dtype=torch.float64)[None, None, :] * 2 * math.pi / nz
    low = torch.cos(3 * x + 1.0) * torch.sin(2 * z) + 0.5  # |kx| = 3 < 8, kz = 2 < 6: kept
    high = torch.cos(10 * x) + torch.sin(7 * z)  # beyond the coarse grid: removed
    out = spectral_coarsen_xz((low + high).expand(2, nx, nz), ncx, ncz)
    xc = torch.arange(ncx, dtype=torch.float64)[None, :, None] * 2 * math.pi / ncx
    zc = torch.arange(ncz, dtype=torch.float64)[None, None, :] * 2 * math.pi / ncz
    ref = torch.cos(3 * xc + 1.0) * torch.sin(2 * zc) + 0.5
    assert float((out - ref).abs().max()) < 1e-13


def test_box_transfer_function_in_x():
    nx, ncx, k = 64, 16, 5
    x = torch.arange(nx, dtype=torch.float64)[None, :, None] * 2 * math.pi / nx
    f = torch.cos(k * x).expand(1, nx, 1)
    out = spectral_coarsen_xz(f, ncx, 1, box=True)
    delta = 2 * math.pi / ncx
    gain = math.sin(k * delta / 2) / (k * delta / 2)  # top-hat of width Δ
    xc = torch.arange(ncx, dtype=torch.float64) * 2 * math.pi / ncx
    assert torch.allclose(out[0, :, 0], gain * torch.cos(k * xc), atol=1e-13)


def test_wall_normal_box_filter_exact_for_linear_data_and_keeps_no_slip():
    yf = np.tanh(1.8 * np.linspace(-1, 1, 41)) / np.tanh(1.8)
    yc = 0.5 * (yf[1:] + yf[:-1])
    ycoarse = coarse_y_points(17, 1.8)
    width = np.minimum(np.gradient(ycoarse), 2 * (1 - np.abs(ycoarse)))
    W = box_matrix_y(yc, ycoarse, width)
    f = 1.0 - np.abs(yc)  # linear in each half, zero at the walls
    out = W @ f
    inner = np.abs(ycoarse) > 0.2  # box windows that do not straddle the kink at y = 0
    assert np.allclose(out[inner], 1 - np.abs(ycoarse[inner]), atol=1e-12)
    assert out[0] == 0.0 and out[-1] == 0.0
    assert np.allclose(W.sum(1)[1:-1][np.abs(ycoarse[1:-1]) < 0.9], 1.0)  # constants preserved away from walls


def test_coarsener_keeps_wall_values_and_mean_flow_rate():
    s = ChannelSolver(ChannelConfig(nx=24, ny=32, nz=24, lx=math.pi, lz=1.0, nu=1 / 180))
    rng = np.random.default_rng(0)
    U = s.laminar_profile() * 0.2
    s.set_state(U[:, None, None] + rng.standard_normal((32, 24, 24)), rng.standard_normal((33, 24, 24)),
                rng.standard_normal((32, 24, 24)))
    c = ChannelCoarsener(s, 8, 17, 8)
    u, v, w = c()
    for f in (u, v, w):
        assert float(f[0].abs().max()) == 0.0 and float(f[-1].abs().max()) == 0.0
    # x-z mean of the filtered u equals the box-filtered mean profile (filtering commutes with averaging)
    Um = s.mean_profile()
    assert torch.allclose(u.mean((1, 2)), c.Wc @ Um, atol=1e-12)
