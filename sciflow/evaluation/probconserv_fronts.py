"""Where a front-position error of ProbConserv comes from: its correction at one time slice, split at the front.

At a time slice the prediction is N(μ, diag σ²) on the x grid (nx,), the constraint one trapezoid
row w (∫u dx = U(t)). With σ_G = 0, Eq. (6) of Hansen et al. (2023) moves the mean by

    Δ = μ̃ − μ = −σ² ⊙ w · (wᵀμ − U) / Σ_j w_j² σ_j²                                  (6, one row)

so the mass defect d = wᵀμ − U is put back point by point in proportion to w_i σ_i²: where the
ANP is uncertain, not where the mass is missing. For the porous-medium and Stefan solutions the
exact u is 0 beyond the front x_f, so every share of Δ that lands at x > x_f smears the front
downstream (d < 0) or digs a negative trough there (d > 0); the front of a draw — the first x where
the draw is ≤ level (the paper's shock position, level 0) — moves with it.

:func:`front_decomposition` measures, for one slice prediction: the defect d; the share of the moved
mass ∫|Δ| dx that lands beyond the exact front; the share within a band around the front; the mass of μ and of μ̃ beyond the front (exact: 0);
the signed front of the mean μ and of μ̃ (first crossing of the mean, minus x_f); and the share of
the grid beyond the front whose σ sits at the network's floor σ_min (there the update cannot move
the mean: σ² ≈ σ_min² ≪ σ² behind the front).
"""

from __future__ import annotations

import torch

from sciflow.evaluation.probconserv_protocol import first_crossing
from sciflow.models.conservation_update import conservation_update
from sciflow.problems.porous_medium import trapezoid_weights


@torch.no_grad()
def front_decomposition(mean, var, x, mass: float, true_front: float, level: float = 0.0,
                        min_std: float | None = None, near_front: float = 0.1) -> dict:
    """Diagnostics of the ProbConserv correction at one slice: mean, var, x (nx,) float64; ``mass`` = U(t).

    Returns {defect, correction_beyond_front, correction_near_front (share of ∫|Δ| dx within ``near_front`` of
    the exact front) and correction_near_front_uniform (the same share for a uniform σ: where σ² piles up
    near the front it exceeds this), mass_beyond_front_anp, mass_beyond_front_probconserv,
    front_of_mean_anp, front_of_mean_probconserv (signed, minus the exact front), sigma_at_floor_beyond_front
    (None without ``min_std``)}.
    """
    mean, var, x = (torch.as_tensor(a, dtype=torch.float64) for a in (mean, var, x))
    w = trapezoid_weights(x)
    post = conservation_update(mean, var, w[None], torch.tensor([float(mass)], dtype=torch.float64))
    delta = post.mean - mean
    beyond = x > true_front
    near = (x - true_front).abs() <= near_front
    moved = w * delta.abs()
    xs = x.numpy()
    out = {
        "defect": float(w @ mean - mass),
        "correction_beyond_front": float(moved[beyond].sum() / moved.sum()) if float(moved.sum()) > 0 else 0.0,
        "correction_near_front": float(moved[near].sum() / moved.sum()) if float(moved.sum()) > 0 else 0.0,
        "correction_near_front_uniform": float((w[near] ** 2).sum() / (w ** 2).sum()),
        "mass_beyond_front_anp": float((w * mean)[beyond].sum()),
        "mass_beyond_front_probconserv": float((w * post.mean)[beyond].sum()),
        "front_of_mean_anp": float(first_crossing(mean.numpy()[None], xs, level)[0]) - true_front,
        "front_of_mean_probconserv": float(first_crossing(post.mean.numpy()[None], xs, level)[0]) - true_front,
        "sigma_at_floor_beyond_front": None,
    }
    if min_std is not None and bool(beyond.any()):
        out["sigma_at_floor_beyond_front"] = float((var[beyond].sqrt() <= 1.5 * min_std).double().mean())
    return out


@torch.no_grad()
def mse_decomposition(mean, var, x, mass: float, exact) -> dict:
    """Where ProbConserv's MSE at one slice comes from: mean, var, exact (nx,) float64 on x; ``mass`` = U(t).

    The constraint row w (trapezoid) holds for the continuous solution, ∫u dx = U(t), but not exactly
    for its grid values: ``quadrature_defect`` = wᵀu − U(t) (0 for a solution the rule integrates
    exactly; not 0 where u has a steep front between nodes). Eq. (6) enforces wᵀμ̃ = U(t), so it moves
    even the exact solution: ``mse_update_of_exact`` is the MSE of the update applied to u itself with
    the ANP's σ², the part of ProbConserv's error that no base model can remove on this grid.
    ``mse_probconserv_grid_mass`` is the update with the grid-consistent target wᵀu (an oracle: it needs
    u) — the rest of the gap is the ANP's own defect landing where its σ² is largest:
    ``correction_at_peak_variance`` is the share of ∫|μ̃ − μ| dx at the single node of largest σ.

    Returns {quadrature_defect, mse_anp, mse_probconserv, mse_probconserv_grid_mass, mse_update_of_exact,
    correction_at_peak_variance}.
    """
    mean, var, x, exact = (torch.as_tensor(a, dtype=torch.float64) for a in (mean, var, x, exact))
    w = trapezoid_weights(x)
    target = torch.tensor([float(mass)], dtype=torch.float64)
    post = conservation_update(mean, var, w[None], target).mean
    grid_mass = conservation_update(mean, var, w[None], (w @ exact)[None]).mean
    of_exact = conservation_update(exact, var, w[None], target).mean
    moved = w * (post - mean).abs()
    mse = lambda f: float(((f - exact) ** 2).mean())  # noqa: E731
    return {"quadrature_defect": float(w @ exact - float(mass)), "mse_anp": mse(mean), "mse_probconserv": mse(post),
            "mse_probconserv_grid_mass": mse(grid_mass), "mse_update_of_exact": mse(of_exact),
            "correction_at_peak_variance": float(moved[var.argmax()] / moved.sum()) if float(moved.sum()) > 0 else 0.0}
