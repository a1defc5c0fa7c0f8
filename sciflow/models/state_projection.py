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

A quantity may link a state to the one before it (a balance over one time step, e.g. the channel's
``momentum_balance``): its G has 2N columns, G = [G⁺ | G⁻], and (1) corrects the new state u⁺ only,
onto G⁺ u⁺ = b − G⁻ u⁻, with u⁻ the state before it (the last input frame, or the frame before in a
multi-frame output), which is data or already projected and is not changed.
"""

from __future__ import annotations

from typing import Sequence

import torch

from sciflow.errors import SciflowError
from sciflow.models.conservation_update import ConservationGain
from sciflow.problems.base import StateConstraints


def _support(G, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns lo ≤ j < hi of G (sparse or dense (M, ·)) that hold a nonzero, shifted by −lo, and G on them
    (dense float64 (M, |cols|))."""
    if G.is_sparse:
        idx, val = G.indices(), G.values().to(torch.float64)
        keep = (val != 0) & (idx[1] >= lo) & (idx[1] < hi)
        cols = torch.unique(idx[1][keep]) - lo
        where = torch.full((hi - lo,), -1, dtype=torch.long)
        where[cols] = torch.arange(len(cols))
        dense = torch.zeros(G.shape[0], len(cols), dtype=torch.float64)
        dense.index_put_((idx[0][keep], where[idx[1][keep] - lo]), val[keep], accumulate=True)
        return cols, dense
    G = G[:, lo:hi].to(torch.float64)
    cols = torch.nonzero(G.abs().sum(0) > 0)[:, 0]
    return cols, G[:, cols]


class ConstraintBlock:
    """One named quantity: G restricted to its support columns ``cols`` (dense (M, |cols|)), b (M,), and the
    Eq. (6) gain with Σ = I on that support. A quantity that links a state to the one before (G (M, 2N) =
    [G⁺ | G⁻]) keeps G⁻ on its support ``prev_cols`` as ``G_prev`` (None for a constraint of one state)."""

    def __init__(self, name: str, G, b, n: int):
        G = G.coalesce() if G.is_sparse else G
        if G.dim() != 2 or G.shape[1] not in (n, 2 * n) or b.shape != (G.shape[0],):
            raise SciflowError(f"constraints '{name}': G {tuple(G.shape)}, b {tuple(b.shape)} for states of {n} "
                               f"entries (G has N columns, or 2N for a balance between a state and the one before)")
        self.cols, dense = _support(G, 0, n)
        self.prev_cols, self.G_prev = _support(G, n, 2 * n) if G.shape[1] == 2 * n else (None, None)
        self.name, self.G, self.b = name, dense, b.to(torch.float64)
        self.gain = ConservationGain(torch.ones(len(self.cols), dtype=torch.float64), self.G)

    @property
    def stepwise(self) -> bool:
        """Whether the quantity links a state to the one before it."""
        return self.G_prev is not None

    def target(self, previous: torch.Tensor | None) -> torch.Tensor:
        """The right-hand side for the new states: b (M,), or b − G⁻ u⁻ (R, M) for previous states u⁻ (R, N)."""
        if not self.stepwise:
            return self.b
        if previous is None:
            raise SciflowError(f"constraints '{self.name}' links a state to the one before it: the constraint "
                               "layer needs the previous state (the model's input window)")
        return self.b.to(previous.device) - previous.index_select(1, self.prev_cols.to(previous.device)) @ \
            self.G_prev.to(previous.device).T


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
        disjoint: refuse quantities that act on the same entries (needed to project); False for a monitor
            that only reads :meth:`residuals` of every quantity a problem declares.
    """

    def __init__(self, problem, windows, names: Sequence[str], disjoint: bool = True):
        if not isinstance(problem, StateConstraints):
            raise SciflowError(f"constraints: problem '{problem.name}' declares no state constraints "
                               "(conserved_quantities, constraints(grid, names))")
        names = list(names)
        unknown = [n for n in names if n not in problem.conserved_quantities]
        if not names or unknown or len(set(names)) != len(names):
            raise SciflowError(f"constraints: {unknown or names} is not a list of distinct quantities problem "
                               f"'{problem.name}' can hold: {list(problem.conserved_quantities)}")
        self.names, self.windows, self.disjoint = tuple(names), windows, bool(disjoint)
        self.shape = tuple(int(windows.data.shape[2 + i]) for i in range(len(windows.spatial_dims)))
        self.n = len(windows.variables)
        for s in self.shape:
            self.n *= s
        self.blocks = []
        seen = torch.zeros(self.n, dtype=torch.bool)
        for name in self.names:
            G, b = problem.constraints(self.shape, names=[name])
            block = ConstraintBlock(name, G, torch.as_tensor(b, dtype=torch.float64), self.n)
            if disjoint and seen[block.cols].any():
                raise SciflowError(f"constraints: '{name}' acts on entries another listed quantity acts on; "
                                   f"the quantities {self.names} must act on disjoint entries")
            seen[block.cols] = True
            self.blocks.append(block)

    @property
    def stepwise(self) -> bool:
        """Whether a held quantity links a state to the one before it (then the layer needs the input window)."""
        return any(blk.stepwise for blk in self.blocks)

    def _previous(self, states: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor | None:
        """The state before each frame of ``states`` (B, F, *S, V): ``previous`` (B, 1, *S, V), then the frames
        themselves; flattened (B·F, N). None when no quantity needs it or ``previous`` is not given."""
        if not self.stepwise or previous is None:
            return None
        before = torch.cat([previous.to(states), states[:, :-1]], dim=1)
        return before.reshape(-1, self.n).to(torch.float64)

    def residuals(self, states: torch.Tensor, previous: torch.Tensor | None = None) -> dict[str, float]:
        """Largest |(G u − b)_i| / max(|b_i|, Σ_j |G_ij| ‖u‖_∞) per named quantity over physical frames
        (B, F, *S, V), ‖u‖_∞ the largest entry of the frame (round-off scale of the constraint's terms); for a
        quantity linking a state to the one before, b is b − G⁻ u⁻ with u⁻ from ``previous`` (B, 1, *S, V)
        (:meth:`_previous`), and the scale adds Σ_j |G⁻_ij| ‖u⁻‖_∞."""
        u = states.reshape(-1, self.n).to(torch.float64)
        before = self._previous(states, previous)
        out = {}
        for blk in self.blocks:
            us = u.index_select(1, blk.cols.to(u.device)).cpu()
            b = blk.target(None if before is None else before.cpu())
            scale = torch.maximum(b.abs(), u.abs().amax(1, keepdim=True).cpu() * blk.G.abs().sum(1))
            if blk.stepwise:
                scale = scale + before.abs().amax(1, keepdim=True).cpu() * blk.G_prev.abs().sum(1)
            out[blk.name] = float(((us @ blk.G.T - b).abs() / scale.clamp_min(1e-300)).max())
        return out

    def project_physical(self, states: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. (1) on physical frames (B, F, *S, V), float64; ``previous`` (B, 1, *S, V): the state before the
        first frame, needed when a quantity links a state to the one before (frames are then projected in
        order, each against the projected frame before it)."""
        if self.stepwise and states.shape[1] > 1:
            out, prev = [], previous
            for f in range(states.shape[1]):
                out.append(self.project_physical(states[:, f:f + 1], prev))
                prev = out[-1]
            return torch.cat(out, dim=1)
        shape = states.shape
        u = states.reshape(-1, self.n).to(torch.float64)
        before = self._previous(states, previous)
        if not self.disjoint:
            raise SciflowError(f"constraints: {self.names} may overlap (a residual monitor); it does not project")
        for blk in self.blocks:
            cols = blk.cols.to(u.device)
            u = u.index_copy(1, cols, blk.gain.mean(u.index_select(1, cols), blk.target(before).to(u.device)))
        return u.reshape(shape)

    def __call__(self, y: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """A batch of model outputs y (normalised, the windows' layout) projected, same dtype and layout;
        ``x``: the model's input window (same layout), whose last frame is the state before the first of y."""
        w = self.windows
        frames = w.as_frames(w.denormalise(y.to(torch.float64)))
        previous = None if x is None else w.as_frames(w.denormalise(x.to(torch.float64)))[:, -1:]
        return w.normalise(w.from_frames(self.project_physical(frames, previous))).to(y.dtype)


def state_projection(problem, windows, names: Sequence[str] | None) -> StateProjection | None:
    """The projection of ``names`` (None or empty: no projection, None returned)."""
    return StateProjection(problem, windows, names) if names else None
