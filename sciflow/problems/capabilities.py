"""What a problem *can do*: each capability a :class:`typing.Protocol`; a problem (a
:class:`~sciflow.problems.base.Problem` or any object) has a capability when it defines its hooks:

==========================  ===================================================  ==========================
capability                  hooks                                                used by
==========================  ===================================================  ==========================
:class:`PointwisePhysics`   ``residual(x, out) -> {name: (N,)}``, ``sample``      PINN, physics objective
:class:`HardConstraints`    ``hard_constraint(output) -> (lift, dist[, modes])``  PINN (boundary: hard)
:class:`SoftBoundary`       ``boundary_targets(n, generator)``                    PINN (boundary: soft)
:class:`LagrangianForm`     ``lagrangian_residual``, ``speed_scale``, ``initial`` LPINN, lagrangian objective
:class:`Trajectories`       ``t_in``, ``horizon``, ``dataset(split, ...)``        operators, rollout objectives
:class:`StructuredGrid`     ``grid()``, ``stats()``                               channel operators
:class:`Conservation`       ``constraints(grid) -> (G, b)``, ``G u = b``          ProbConserv
:class:`StateConstraints`   ``conserved_quantities``, ``constraints(shape,       rollout constraint layer
                            names) -> (G, b)`` on one state (or on a state
                            and the one before: G = [G⁺ | G⁻], 2N columns)
:class:`RolloutStatistics`  ``statistics_names``, ``rollout_statistics(pred,     rollout validation
                            truth) -> {name: float}``
:class:`FunctionSamples`    ``draw_functions(n, ...)``                            likelihood objective
:class:`ReferenceSolution`  ``reference(progress) -> xarray.Dataset``             evaluation
:class:`ExactSolution`      ``exact(x) -> (N, C)``                                evaluation, tests
==========================  ===================================================  ==========================

Building a run checks the capabilities its model and objective declare they need
(:func:`sciflow.problems.base.require`) and stops with one :class:`~sciflow.errors.SciflowError` naming the missing hook.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import torch

from sciflow.autodiff.jet import Jet


@runtime_checkable
class PointwisePhysics(Protocol):
    """Pointwise equations at collocation points (PINNs)."""

    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Named residuals, each (N,), of the governing equations at x (N, D); ``out`` is a Jet of
        the fields (value (N, C), d1 (N, D, C), d2 (N, D, C); mixed or third derivatives through
        ``out.partial(...)`` when the problem declares ``derivative_order = 3``)."""

    def sample(self, region: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points (n, D) in ``region`` ("interior", "boundary", ...)."""


@runtime_checkable
class HardConstraints(Protocol):
    """Dirichlet data imposed exactly: ``out = lift + distance * raw``."""

    def hard_constraint(self, output: str = "primitive"):
        """Functions (lift, distance), each x (N, D) → (N, C), for ``out = lift + distance * raw``.

        ``output`` is "primitive" (the problem's fields) or "stream" (a stream function and
        pressure, where the problem supports it). None when the problem has no hard constraint
        for that output. A stream form may return a third function, ``modes``: x (N, D) → (N, K),
        the ψ-modes whose coefficients the model learns (see :class:`StreamAnsatz`).
        """


@runtime_checkable
class SoftBoundary(Protocol):
    """Boundary conditions as penalty targets."""

    def boundary_targets(self, n: int, generator: torch.Generator | None = None) -> "BoundaryTargets":
        """(points, values, mask) of n boundary points."""


@runtime_checkable
class LagrangianForm(Protocol):
    """1D transport along characteristics (Mojgani et al. 2023)."""

    speed_scale: float

    def lagrangian_residual(self, x0t: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]: ...

    def initial(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Trajectories(Protocol):
    """Windows of gridded trajectories for operator learning."""

    t_in: int
    horizon: int

    def dataset(self, split: str, t_out: int = 1, stride: int | None = 1): ...


@runtime_checkable
class StructuredGrid(Protocol):
    """A fixed 3D grid and normalisation statistics of gridded fields (the channel)."""

    def grid(self) -> dict:
        """Coordinates {x (X,), y (Y,), z (Z,), lx, lz}."""

    def stats(self) -> dict:
        """{field: (mean, std)} of the training split."""


@runtime_checkable
class Conservation(Protocol):
    """Linear conservation constraints ``G u = b`` on a grid."""

    def constraints(self, grid, *args): ...


@runtime_checkable
class ValueBounds(Protocol):
    """Bounds every solution obeys, lo ≤ u ≤ hi (a maximum principle: the extremes of the initial and
    boundary data up to time t), for the bounded conservation update
    (:func:`sciflow.models.conservation_update.bounded_update`)."""

    def value_bounds(self, t, theta=None):
        """(lo, hi) float64 broadcast to ``t``'s shape, at parameter ``theta`` (None: the problem's own)."""


@runtime_checkable
class StateConstraints(Protocol):
    """Exact linear constraints ``G u = b`` that every state of a trajectory satisfies, through the same
    ``constraints`` hook as :class:`Conservation`, for the rollout constraint layer
    (:mod:`sciflow.models.state_projection`). ``u`` is one physical state, frames layout ``(*S, V)``
    flattened in C order (index ((s_0·S_1 + s_1)…)·V + v). A balance over one time step links a state u⁺
    to the one before it, u⁻: its G has 2N columns, G [u⁺; u⁻] = b (the layer corrects u⁺ only)."""

    #: The names ``constraints`` accepts, e.g. ("no_slip", "bulk_flow").
    conserved_quantities: tuple[str, ...]

    def constraints(self, grid, names: Sequence[str] | None = None):
        """(G (M, N) or (M, 2N), b (M,)) float64 of the named quantities (None: all) for states of spatial
        shape ``grid`` (a tuple S), N = prod(S)·V."""


@runtime_checkable
class RolloutStatistics(Protocol):
    """Statistics by which a problem's autoregressive rollouts are judged (validation of rollout training)."""

    #: The names of the scalar metrics ``rollout_statistics`` returns (all errors: lower is better).
    statistics_names: tuple[str, ...]

    def rollout_statistics(self, pred: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """Errors of the statistics of a rollout ``pred`` (B, F, *S, V) against those of the data ``truth``
        (B', F', *S, V), both physical units; F and F' may differ (statistics, not pointwise errors)."""


@runtime_checkable
class StateStatistics(Protocol):
    """Differentiable statistics of single states, which a rollout objective can match against the data's
    (``objective.statistics_weight``): a model trained on pointwise errors alone regresses towards the
    conditional mean and loses fluctuation energy step by step; matching each predicted state's statistics to
    its target's penalises that loss directly."""

    #: The names of the K profiles ``state_statistics`` returns, in order (e.g. ("U", "u_rms", ...)).
    state_statistics_names: tuple[str, ...]

    def state_statistics(self, frames: torch.Tensor) -> torch.Tensor:
        """Profiles (B, F, K, L) of physical frames (B, F, *S, V): K named profiles of L values each, every
        one a differentiable function of its own frame only."""


@runtime_checkable
class FunctionSamples(Protocol):
    """A family of solutions on (t, x) ∈ t_range × x_range to draw (context, target) sets from (neural processes)."""

    t_range: tuple[float, float]
    x_range: tuple[float, float]

    def draw_functions(self, n: int, targets_t: int = 10, targets_x: int = 10, generator=None, **kw): ...


@runtime_checkable
class ReferenceSolution(Protocol):
    """Reference data as an ``xarray.Dataset``: fields on a rectilinear grid (dims among t, z, y, x)
    or at scattered points (dim ``point`` with coordinates named as the inputs)."""

    def reference(self, progress: bool = True): ...


@runtime_checkable
class ExactSolution(Protocol):
    """A closed-form solution."""

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        """Fields (N, C) at x (N, D)."""
