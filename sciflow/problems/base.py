"""The shared PDE-problem abstraction every model family reads from.

A :class:`Problem` is a PDE on a domain with its conditions, parameters and reference
data. Models and objectives ask it only for what they need:

======================  ==========================================================
``fields``              output fields (name, units)
``params``              physical parameters (Re, ν, ...) and ``scales`` (nondimensionalisation)
``residual(x, out)``    named pointwise residuals from a :class:`~sciflow.autodiff.jet.Jet`
``sample(region, n)``   collocation points, (n, D)
``ansatz(x)``           hard constraints: ``out = lift + distance * raw`` per field
``boundary_targets``    (points, values, mask) for soft boundary conditions
``reference()``         an ``xarray.Dataset`` from CFD, an exact solution or a table
``constraints(grid)``   linear conservation constraints ``G u = b`` (where declared)
``dataset(split)``      trajectories for operator learning (where declared)
======================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import torch

from sciflow.errors import SciflowError
from sciflow.registry import Registry
from sciflow.autodiff.jet import Jet
from sciflow.autodiff.jet3 import Jet3

PROBLEMS = Registry("problem", "problem.name", (
    "sciflow.problems.navier_stokes",
    "sciflow.problems.convection",
    "sciflow.problems.porous_medium",
    "sciflow.problems.periodic2d",
    "sciflow.problems.channel",
    "sciflow.problems.cylinder",
    "sciflow.problems.sinusoidal_pipe",
    "sciflow.problems.transient",
))
register_problem = PROBLEMS.register
problem_class = PROBLEMS.get


def build_problem(config: dict) -> "Problem":
    """Build a problem from its spec section ``{"name": ..., "schedule": ..., **kwargs}``;
    ``schedule`` (optional) is a parameter curriculum (``sciflow.problems.schedule``)."""
    from sciflow.problems.schedule import ParameterSchedule

    config = dict(config)
    name = config.pop("name")
    schedule = config.pop("schedule", None)
    cls = problem_class(name)
    try:
        problem = cls(**config)
    except TypeError as exc:
        raise SciflowError(f"problem ({name}): {exc}") from exc
    if schedule is not None:
        problem.schedule = ParameterSchedule.from_spec(schedule, problem)
    return problem


@dataclass(frozen=True)
class Field:
    """An output field of a problem: name, physical units and a description."""

    name: str
    units: str = "1"
    description: str = ""


@dataclass
class Ansatz:
    """Hard constraint ``out = lift + distance * raw`` (all Jets with C channels).

    ``distance`` vanishes where a field's Dirichlet data is imposed and ``lift`` meets
    that data there, so the output satisfies it exactly whatever the network's ``raw``.
    """

    lift: Jet
    distance: Jet

    def apply(self, raw: Jet) -> Jet:
        return self.lift + self.distance * raw


@dataclass
class StreamAnsatz:
    """Hard constraint of a stream-function output (ψ, p) (all Jet3s, see models/pinn.py eq. 1):

    ``(ψ, p) = lift + distance * raw + Σ_k a_k modes[k] e_ψ``; ``modes`` (channels K) or None.
    """

    lift: Jet3
    distance: Jet3
    modes: Jet3 | None = None

    def apply(self, raw: Jet3, coeffs: torch.Tensor | None = None) -> Jet3:
        out = self.lift + self.distance * raw
        if self.modes is None or coeffs is None:
            return out
        psi = out.d[..., :1] + (self.modes.d @ coeffs.to(self.modes.d))[..., None]
        return Jet3(torch.cat([psi, out.d[..., 1:]], -1), out.dim)


@dataclass
class BoundaryTargets:
    """Soft boundary conditions: at ``points`` (N, D), ``values`` (N, C) hold where ``mask`` (N, C) is 1."""

    points: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor


@dataclass
class Problem:
    """Base class of PDE problems. Subclasses set ``inputs``, ``fields`` and implement the hooks."""

    inputs: tuple[str, ...] = ("x", "y")
    fields: tuple[Field, ...] = ()
    params: dict = field(default_factory=dict)
    scales: dict = field(default_factory=dict)
    #: Parameter curriculum over training steps (``problem.schedule`` in a spec), or None.
    schedule: "ParameterSchedule | None" = None

    #: Parameters a schedule may vary. A problem lists here exactly the entries of ``params``
    #: that its residuals, lifts and weights read from ``params`` at call time.
    schedulable_params: ClassVar[tuple[str, ...]] = ()

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def name(self) -> str:
        return getattr(self, "registry_name", type(self).__name__)

    # --- parameter curriculum ----------------------------------------------------
    def set_params(self, **values: float) -> None:
        """Set schedulable parameters in place; the next residual, ansatz and weight use them."""
        unknown = set(values) - set(self.schedulable_params)
        if unknown:
            raise SciflowError(f"problem '{self.name}': parameter(s) {sorted(unknown)} cannot be changed; "
                               f"schedulable: {list(self.schedulable_params) or 'none'}")
        self.params.update({k: float(v) for k, v in values.items()})

    def apply_schedule(self, step: int) -> bool:
        """Set the scheduled parameters to their values at ``step``; True if any value changed
        (cached ansatz jets and residual weights must then be rebuilt)."""
        if self.schedule is None:
            return False
        values = self.schedule.values_at(step)
        if all(self.params[k] == v for k, v in values.items()):
            return False
        self.set_params(**values)
        return True

    # --- physics-informed hooks -------------------------------------------------
    def residual(self, x: torch.Tensor, out: Jet) -> dict[str, torch.Tensor]:
        """Named residuals, each (N,), of the governing equations at x (N, D)."""
        raise NotImplementedError(f"{self.name} declares no pointwise residual")

    def sample(self, region: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points (n, D) in ``region`` ("interior", "boundary", ...)."""
        raise NotImplementedError(f"{self.name} has no sampler")

    def hard_constraint(self, output: str = "primitive"):
        """Functions (lift, distance), each x (N, D) → (N, C), for ``out = lift + distance * raw``.

        ``output`` is "primitive" (the problem's fields) or "stream" (a stream function and
        pressure, where the problem supports it). None when the problem has no hard constraint.
        A stream form may return a third function, ``modes``: x (N, D) → (N, K), the ψ-modes
        whose coefficients the model learns (see :class:`StreamAnsatz`).
        """
        return None

    def stream_modes(self) -> int:
        """K, the number of learnable ψ-modes of the stream-function ansatz (0: none)."""
        fns = self.hard_constraint("stream")
        if fns is None or len(fns) < 3:
            return 0
        return int(fns[2](torch.zeros(1, len(self.inputs), dtype=torch.float64)).shape[1])

    def ansatz(self, x: torch.Tensor, output: str = "primitive") -> Ansatz | StreamAnsatz | None:
        """Hard-constraint transform at x as detached jets; None when the problem has none."""
        fns = self.hard_constraint(output)
        if fns is None:
            return None
        if output == "stream":
            from sciflow.autodiff.jet3 import autograd_jet3

            modes = autograd_jet3(fns[2], x) if len(fns) > 2 else None
            return StreamAnsatz(autograd_jet3(fns[0], x), autograd_jet3(fns[1], x), modes)
        lift, dist = fns
        return Ansatz(jet_from_function(lift, x), jet_from_function(dist, x))

    def residual_weight(self, x: torch.Tensor) -> torch.Tensor | None:
        """Optional pointwise weights (N,) of the residuals; None for uniform weighting."""
        return None

    def boundary_targets(self, n: int, generator: torch.Generator | None = None) -> BoundaryTargets:
        raise NotImplementedError(f"{self.name} has no soft boundary conditions")

    def exact(self, x: torch.Tensor) -> torch.Tensor | None:
        """Exact solution (N, C) where one is known, else None."""
        return None

    # --- data hooks ---------------------------------------------------------------
    def reference(self, progress: bool = True):
        """Reference solution as an ``xarray.Dataset``."""
        raise NotImplementedError(f"{self.name} has no reference data")

    def constraints(self, grid):
        """Linear conservation constraints (G, b) with G u = b on ``grid``."""
        raise NotImplementedError(f"{self.name} declares no conservation constraint")

    def dataset(self, split: str):
        raise NotImplementedError(f"{self.name} has no trajectory dataset")


def jet_from_function(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Jet:
    """Detached jet of a fixed (parameter-free) function, for lifts and distance functions."""
    from sciflow.autodiff.jet import autograd_jet

    return autograd_jet(fn, x, create_graph=False)
