"""Steady flow in a channel with sinusoidal walls: Re condition, mass conservation, no-slip, convergence."""

from __future__ import annotations

import numpy as np
import pytest
from skfem import ElementTriP2, FacetBasis

from sciflow.cfd.fem_unsteady import probe
from sciflow.cfd.sinusoidal_pipe import solve_pipe
from sciflow.data.recipes import run_recipe

NU_FIXED = 2.65e-4  # close to the Re = 100 viscosity; used where ν must not vary with the mesh


@pytest.fixture(scope="module")
def flow():
    return solve_pipe(h=0.01)


def test_viscosity_meets_reynolds_condition_and_exceeds_straight_channel_resistance(flow):
    info = flow.info
    assert info["Re"] == pytest.approx(100.0, rel=1e-6)
    assert info["U_mean"] * 2 * 0.05 / info["nu"] == pytest.approx(100.0, rel=1e-6)
    # straight channel of half-width R0 at the same Δp and Re: ν = sqrt(2 G R0³ / (3 Re));
    # the wavy walls add resistance, so a smaller ν is needed for the same Re
    nu_straight = np.sqrt(2 * 0.1 * 0.05**3 / 300.0)
    assert 0.85 * nu_straight < info["nu"] < 0.97 * nu_straight


def test_flow_rate_is_the_same_through_every_section(flow):
    Q = flow.info["Q"]
    assert flow.info["Q_in"] == pytest.approx(Q, rel=1e-10)  # (1, ∇·u_h) = 0 exactly with no-slip walls
    for x0 in (0.13, 0.25, 0.5, 0.77):
        assert flow.section_flux(x0) == pytest.approx(Q, rel=2e-4), x0


def test_no_slip_on_curved_walls(flow):
    fb = FacetBasis(flow.gm.mesh, ElementTriP2(), facets=flow.gm.boundaries["wall"], intorder=6)
    ux, uy, _ = flow.th.split(flow.x)
    assert np.hypot(np.asarray(fb.interpolate(ux)), np.asarray(fb.interpolate(uy))).max() <= 1e-13
    xq = np.asarray(fb.global_coordinates())
    assert np.abs(np.abs(xq[1]) - flow.radius(xq[0])).max() <= 2e-6  # edges follow the sine wall


def test_flow_rate_and_velocity_converge_under_mesh_refinement(flow):
    """h = 0.014, 0.01, 0.007 at the Re-100 viscosity of the h = 0.01 solution: differences shrink."""
    pts = np.array([[0.5, 0.5, 0.25, 0.9], [0.0, 0.03, -0.02, 0.01]])
    nu = flow.info["nu"]
    runs = [solve_pipe(h=0.014, nu=nu), flow, solve_pipe(h=0.007, nu=nu)]
    Q = np.array([r.info["Q"] for r in runs])
    U = np.array([probe(r.th.sb, pts) @ r.th.split(r.x)[0] for r in runs])
    dQ, dU = np.abs(np.diff(Q)), np.abs(np.diff(U, axis=0)).max(axis=1)
    assert dQ[1] < 0.5 * dQ[0] and dQ[1] / Q[-1] < 5e-3
    assert dU[1] < 0.5 * dU[0] and dU[1] / np.abs(U[-1]).max() < 5e-3


def test_dataset_carries_fields_and_attrs():
    ds = run_recipe("sinusoidal_pipe_fem", {"h": 0.02, "nu": NU_FIXED, "nx": 101, "ny": 23}, progress=False)
    for key in ("flow_rate", "nu", "Re", "U_mean", "case", "parameters", "wall_time_s"):
        assert key in ds.attrs, key
    assert ds.attrs["Re"] == pytest.approx(ds.attrs["flow_rate"] / NU_FIXED, rel=1e-12)
    X, Y = np.meshgrid(ds.x.values, ds.y.values)
    R = 0.05 + 0.005 * np.sin(2 * np.pi * 6 * X)
    outside = np.abs(Y) > R
    assert outside.any() and np.isnan(ds["u"].values[outside]).all()
    assert np.isfinite(ds["u"].values[np.abs(Y) < R - 1e-6]).all()
    # the pressure falls from inlet to outlet and the flow goes in +x
    assert np.nanmean(ds["p"].sel(x=0.1, method="nearest")) > np.nanmean(ds["p"].sel(x=0.9, method="nearest"))
    assert np.nanmin(ds["u"].values) > -1e-3 * np.nanmax(ds["u"].values)


def test_periodic_ends_reduce_to_plane_poiseuille_for_flat_walls():
    """Eq. (P) with A → 0: u = G (R0² − y²)/(2ν), v = 0, p = −G x + const with zero mean at x = L (P2/P1
    holds the parabola exactly; the 1e-9 wall amplitude and round-off are all that is left)."""
    G, nu = 0.1, NU_FIXED
    flow = solve_pipe(A=1e-9, h=0.01, nu=nu, ends="periodic")
    xs, ys = np.array([0.0, 0.05, 0.4, 1.0]), np.linspace(-0.049, 0.049, 9)
    s = flow.sample(xs, ys)
    u_exact = G * (0.05**2 - ys**2) / (2 * nu)
    assert np.abs(s["u"] - u_exact[:, None]).max() < 1e-6 * u_exact.max()
    assert np.abs(s["v"]).max() < 1e-6 * u_exact.max()
    assert np.abs(s["p"] - (0.1 - G * xs)[None, :]).max() < 1e-8
    assert flow.info["Q"] == pytest.approx(2 * G * 0.05**3 / (3 * nu), rel=1e-7)


def test_periodic_ends_hold_the_pressure_drop_at_every_height_and_conserve_mass():
    flow = solve_pipe(h=0.01, nu=NU_FIXED, ends="periodic")
    ys = np.linspace(-0.049, 0.049, 15)
    s = flow.sample(np.array([0.0, 1.0]), ys)
    assert np.abs(s["p"][:, 0] - s["p"][:, 1] - 0.1).max() < 1e-12  # p(0, y) − p(L, y) = p_in − p_out
    assert np.abs(s["u"][:, 0] - s["u"][:, 1]).max() < 1e-12
    assert flow.info["Q_in"] == pytest.approx(flow.info["Q"], rel=1e-10)
    for x0 in (0.03, 0.1, 0.5):
        assert flow.section_flux(x0) == pytest.approx(flow.info["Q"], rel=2e-4), x0
