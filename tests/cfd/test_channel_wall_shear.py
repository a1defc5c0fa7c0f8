"""Skin friction and flow rate of a mean channel profile on a stretched grid (sciflow.cfd.channel_profiles)."""

import numpy as np

from sciflow.cfd.channel_profiles import wall_shear_and_bulk, wall_slope_weights


def _tanh_grid(n: int = 33, stretch: float = 1.9) -> np.ndarray:
    return np.tanh(stretch * np.linspace(-1, 1, n)) / np.tanh(stretch)


def test_the_wall_slope_is_exact_for_a_quadratic_profile_laminar_poiseuille():
    """U = 1 − y² (plane Poiseuille): dU/dη = 2 at both walls; the one-sided stencil through the wall and two
    rows off it is exact for a quadratic, on any grid."""
    y = _tanh_grid()
    assert abs(wall_slope_weights(y) @ (1 - y ** 2) - 2.0) < 1e-12
    assert abs(wall_slope_weights(np.linspace(-1, 1, 9)) @ (1 - np.linspace(-1, 1, 9) ** 2) - 2.0) < 1e-12


def test_wall_shear_and_bulk_ratios_of_two_laminar_profiles():
    """U = A (1 − y²) against U = 1 − y²: wall shear and bulk velocity both scale by A (τ_w = 2νA, U_b = 2A/3);
    a profile with the same flow rate but a blunter (turbulent-like) shape has the larger wall shear."""
    y = _tanh_grid(65)
    lam = 1 - y ** 2
    m = wall_shear_and_bulk(1.3 * lam, lam, y)
    assert abs(m["wall_shear_ratio"] - 1.3) < 1e-12 and abs(m["wall_shear_rel_err"] - 0.3) < 1e-12
    assert abs(m["bulk_velocity_ratio"] - 1.3) < 1e-12
    blunt = 1 - y ** 8
    blunt *= np.trapezoid(lam, y) / np.trapezoid(blunt, y)
    m = wall_shear_and_bulk(blunt, lam, y)
    assert abs(m["bulk_velocity_ratio"] - 1) < 1e-12 and m["wall_shear_ratio"] > 2.0  # 3 for the continuous profiles
