"""The rollout constraint layer: every predicted state projected onto the problem's exact linear constraints.

A problem with :class:`~sciflow.problems.base.StateConstraints` declares, through its ``constraints(grid,
names)`` hook, linear constraints ``G u = b`` (G (M, N), b (M,)) that each physical state u (N,) of its
trajectories satisfies. Any operator's prediction ŷ is mapped to

    ũ = u − Gᵀ (G Gᵀ)⁻¹ (G u − b),     u = denormalise(ŷ)                                   (1)

the HardC projection, i.e. ProbConserv's constrained posterior mean (Hansen et al., ICML 2023, Eq. 6)
μ̃ = μ − Σ Gᵀ (G Σ Gᵀ)⁻¹ (G μ − b) with Σ = I and σ_G = 0: a deterministic operator gives no variance, so
the correction is the smallest one in the Euclidean norm of physical units. It is computed by the one
implementation of Eq. 6, :class:`sciflow.models.conservation_update.ConservationGain`, built once per
rollout (K = Gᵀ and the Cholesky factor of G Gᵀ) and applied to every state. Two reductions keep the
factorisation small and are exact for Σ = I: entries of u that no constraint touches (zero columns of
G) are left as they are, and quantities that act on disjoint entries are projected one after the other. The map is linear in ŷ, so gradients flow through it (training rollouts).

After (1), G ũ = b to round-off in float64 (one step of iterative refinement); a state that already
satisfies the constraints is returned unchanged (to round-off).
"""

from __future__ import annotations

from typing import Sequence

import torch

from sciflow.errors import SciflowError
from sciflow.models.conservation_update import ConservationGain
from sciflow.problems.base import StateConstraints


class ConstraintBlock:
    """One named quantity: G restricted to its support columns ``cols`` (dense (M, |cols|)), b (M,), and the
    Eq. (6) gain with Σ = I on that support."""

    def __init__(self, name: str, G, b, n: int):
        G = G.coalesce() if G.is_sparse else G
        if G.dim() != 2 or G.shape[1] != n or b.shape != (G.shape[0],):
            raise SciflowError(f"constraints '{name}': G {tuple(G.shape)}, b {tuple(b.shape)} for states of {n} entries")
        if G.is_sparse:
            idx, val = G.indices(), G.values().to(torch.float64)
            self.cols = torch.unique(idx[1][val != 0])
            where = torch.full((n,), -1, dtype=torch.long)
            where[self.cols] = torch.arange(len(self.cols))
            dense = torch.zeros(G.shape[0], len(self.cols), dtype=torch.float64)
            keep = val != 0
            dense.index_put_((idx[0][keep], where[idx[1][keep]]), val[keep], accumulate=True)
        else:
            G = G.to(torch.float64)
            self.cols = torch.nonzero(G.abs().sum(0) > 0)[:, 0]
            dense = G[:, self.cols]
        self.name, self.G, self.b = name, dense, b.to(torch.float64)
        self.gain = ConservationGain(torch.ones(len(self.cols), dtype=torch.float64), self.G)


class StateProjection:
    """Projects batches of predicted frames (model output layout, normalised units) onto G u = b, Eq. (1).

    Each named quantity is one block (its rows of G, from ``problem.constraints(shape, names=[name])``); the
    blocks must act on disjoint entries (checked), so that projecting block by block is the projection onto
    all of them at once (Σ = I).

    Args:
        problem: a problem with :class:`~sciflow.problems.base.StateConstraints`.
        windows: the problem's :class:`~sciflow.data.loaders.TrajectoryWindows` (layout and normalisation of
            the model's inputs and outputs).
        names: the quantities to hold, a non-empty subset of ``problem.conserved_quantities``.
    """

    def __init__(self, problem, windows, names: Sequence[str]):
        if not isinstance(problem, StateConstraints):
            raise SciflowError(f"constraints: problem '{problem.name}' declares no state constraints "
                               "(conserved_quantities, constraints(grid, names))")
        names = list(names)
        unknown = [n for n in names if n not in problem.conserved_quantities]
        if not names or unknown or len(set(names)) != len(names):
            raise SciflowError(f"constraints: {unknown or names} is not a list of distinct quantities problem "
                               f"'{problem.name}' can hold: {list(problem.conserved_quantities)}")
        self.names, self.windows = tuple(names), windows
        self.shape = tuple(int(windows.data.shape[2 + i]) for i in range(len(windows.spatial_dims)))
        self.n = len(windows.variables)
        for s in self.shape:
            self.n *= s
        self.blocks = []
        seen = torch.zeros(self.n, dtype=torch.bool)
        for name in self.names:
            G, b = problem.constraints(self.shape, names=[name])
            block = ConstraintBlock(name, G, torch.as_tensor(b, dtype=torch.float64), self.n)
            if seen[block.cols].any():
                raise SciflowError(f"constraints: '{name}' acts on entries another listed quantity acts on; "
                                   f"the quantities {self.names} must act on disjoint entries")
            seen[block.cols] = True
            self.blocks.append(block)

    def residuals(self, states: torch.Tensor) -> dict[str, float]:
        """Largest |(G u − b)_i| / max(|b_i|, Σ_j |G_ij| ‖u‖_∞) per named quantity over physical frames
        (B, F, *S, V), ‖u‖_∞ the largest entry of the frame (round-off scale of the constraint's terms)."""
        u = states.reshape(-1, self.n).to(torch.float64)
        out = {}
        for blk in self.blocks:
            us = u.index_select(1, blk.cols.to(u.device)).cpu()
            scale = torch.maximum(blk.b.abs(), u.abs().amax(1, keepdim=True).cpu() * blk.G.abs().sum(1))
            out[blk.name] = float(((us @ blk.G.T - blk.b).abs() / scale.clamp_min(1e-300)).max())
        return out

    def project_physical(self, states: torch.Tensor) -> torch.Tensor:
        """Eq. (1) on physical frames (B, F, *S, V), float64."""
        shape = states.shape
        u = states.reshape(-1, self.n).to(torch.float64)
        for blk in self.blocks:
            cols = blk.cols.to(u.device)
            u = u.index_copy(1, cols, blk.gain.mean(u.index_select(1, cols), blk.b.to(u.device)))
        return u.reshape(shape)

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        """A batch of model outputs y (normalised, the windows' layout) projected, same dtype and layout."""
        w = self.windows
        frames = w.as_frames(w.denormalise(y.to(torch.float64)))
        return w.normalise(w.from_frames(self.project_physical(frames))).to(y.dtype)


def state_projection(problem, windows, names: Sequence[str] | None) -> StateProjection | None:
    """The projection of ``names`` (None or empty: no projection, None returned)."""
    return StateProjection(problem, windows, names) if names else None
