"""1D periodic reference solvers: exact Fourier convection-diffusion, pseudo-spectral Burgers vs Cole-Hopf."""

import numpy as np
import pytest

from sciflow.cfd.burgers1d import burgers_cole_hopf, convection_diffusion_fourier, grid, solve_burgers


def test_fourier_convection_diffusion_matches_closed_form_for_several_modes():
    x = grid(64)
    u0 = np.sin(x) + 0.5 * np.cos(3 * x) + 0.2
    t = np.array([0.0, 0.3, 1.0])
    u = convection_diffusion_fourier(u0, c=7.0, nu=0.05, t=t)
    for i, ti in enumerate(t):
        exact = (np.exp(-0.05 * ti) * np.sin(x - 7 * ti) + 0.5 * np.exp(-0.45 * ti) * np.cos(3 * (x - 7 * ti)) + 0.2)
        assert np.abs(u[i] - exact).max() < 1e-13


def test_cole_hopf_quadrature_is_converged_and_starts_from_u0():
    x = grid(128)
    for t in (0.05, 0.7):
        a = burgers_cole_hopf(x, t, nu=0.01, amplitude=1.0, offset=0.5)
        b = burgers_cole_hopf(x, t, nu=0.01, amplitude=1.0, offset=0.5, h=1e-3)
        assert np.abs(a - b).max() < 1e-12
    small = burgers_cole_hopf(x, 1e-7, nu=0.05, amplitude=1.0, offset=0.5)
    assert np.abs(small - (0.5 + np.sin(x))).max() < 1e-6


def _burgers_error(n, nu, t=1.0, dt=1e-3):
    x = grid(n)
    u = solve_burgers(0.5 + np.sin(x), nu, [t], dt=dt)[-1]
    return np.abs(u - burgers_cole_hopf(x, t, nu, 1.0, 0.5)).max(), u


def test_pseudo_spectral_burgers_converges_to_cole_hopf():
    errs = []
    for n in (32, 64, 128):
        err, u = _burgers_error(n, nu=0.05)
        errs.append(err)
        assert abs(u.mean() - 0.5) < 1e-13  # ∫u dx is conserved (the k = 0 mode never changes)
    assert errs[0] > 10 * errs[1] > 100 * errs[2]  # spectral convergence in n
    assert errs[2] < 1e-5


@pytest.mark.slow
def test_pseudo_spectral_burgers_resolves_the_steep_front_at_nu_0_01():
    errs = [_burgers_error(n, nu=0.01)[0] for n in (128, 256, 512, 1024)]
    assert all(a > b for a, b in zip(errs, errs[1:]))
    assert errs[-1] < 1e-8


def test_burgers_recipe_writes_a_dataset_with_provenance(tmp_path):
    from pathlib import Path

    from sciflow.data.io import read_dataset
    from sciflow.data.recipes import make_dataset

    recipe = Path(__file__).resolve().parents[2] / "datasets" / "burgers_nu0.01.yaml"
    path = make_dataset(recipe, {"nu": 0.05, "n": 128, "nx": 64, "nt": 4}, out=tmp_path / "b.nc", progress=False)
    ds = read_dataset(path, required=("u",))
    assert ds.u.shape == (5, 64) and ds.attrs["case"] == "burgers1d"
    exact = burgers_cole_hopf(ds.x.values, 1.0, 0.05, 1.0, 0.5)
    assert np.abs(ds.u.values[-1] - exact).max() < 1e-5
