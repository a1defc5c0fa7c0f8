"""The shared PDE-problem abstraction every model family reads from.

A :class:`Problem` is a PDE on a domain with its conditions, parameters and reference data.
What a problem *is* (inputs, fields, parameters, input bounds, input symmetries, the case
evaluator that adds to the generic field comparison) is declared on :class:`Problem` with
defaults. What a problem *can do* is a capability (:mod:`sciflow.problems.capabilities`, re-exported
here): a problem has a capability when it defines that capability's hooks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

import torch

from sciflow.autodiff.jet import Jet
from sciflow.autodiff.jet3 import Jet3
from sciflow.errors import SciflowError
from sciflow.problems.capabilities import (  # noqa: F401 (re-exported: problems and plugins import them from here)
    Conservation, ExactSolution, FunctionSamples, HardConstraints, LagrangianForm, PointwisePhysics,
    ReferenceSolution, RolloutStatistics, SoftBoundary, StateConstraints, StateStatistics, StructuredGrid,
    Trajectories, ValueBounds,
)
from sciflow.registry import Registry

PROBLEMS = Registry("problem", "problem.name", packages=("sciflow.problems",))
register_problem = PROBLEMS.register
problem_class = PROBLEMS.get


def build_problem(config: dict) -> "Problem":
    """Build a problem from its spec section ``{"name": ..., "schedule": ..., "parametric": ..., **kwargs}``;
    ``schedule`` (optional) is a parameter curriculum (``sciflow.problems.schedule``), ``parametric``
    (optional) makes parameters inputs of the network (:meth:`Problem.set_parametric`)."""
    from sciflow.problems.schedule import ParameterSchedule

    config = dict(config)
    name = config.pop("name")
    schedule = config.pop("schedule", None)
    parametric = config.pop("parametric", None)
    reference = config.pop("reference", None)
    cls = problem_class(name)
    try:
        problem = cls(**config)
    except TypeError as exc:
        raise SciflowError(f"problem ({name}): {exc}") from exc
    if parametric is not None:
        problem.set_parametric(parametric)
    if schedule is not None:
        problem.schedule = ParameterSchedule.from_spec(schedule, problem)
    if reference is not None:
        problem.use_reference_file(reference)
    return problem


@dataclass(frozen=True)
class Field:
    """An output field of a problem: name, physical units and a description."""

    name: str
    units: str = "1"
    description: str = ""
    up_to_constant: bool = False  # defined up to an additive constant (e.g. an incompressible pressure)


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
    """Hard constraint in third-order jets: of a stream-function output (ψ, p) (all Jet3s, see
    models/pinn.py eq. 1), or of primitive fields when a problem declares ``derivative_order = 3``:

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


class Problem:
    """Base class of PDE problems: declared attributes with their defaults.

    Subclasses call ``super().__init__(inputs=..., fields=..., params=..., scales=...)`` and
    define the hooks of their capabilities (module docstring). Declared attributes:

    * ``domain``: the spatial :class:`~sciflow.problems.geometry.Rectangle` (x, y) or None;
    * ``extra_input_bounds_lo/hi``: bounds of the inputs after (x, y) (e.g. time), one per input;
      together with ``domain`` they give :meth:`input_bounds`, which a model uses to scale its
      inputs to [-1, 1] (override :meth:`input_bounds` for any other domain);
    * ``periodic_inputs``: one entry per input, a period or None (exact periodicity in the network);
      ``keep_periodic_inputs``: keep those inputs as well as their embedding;
    * ``even_inputs``: indices of inputs in which the network is exactly even (mirror symmetry);
    * ``derivative_order``: 2 gives ``residual`` a :class:`~sciflow.autodiff.jet.Jet` (value, first and
      pure second derivatives); 3 gives a :class:`~sciflow.autodiff.jet3.Jet3` with every partial
      derivative up to third order (mixed ones such as u_xy included: ``out.partial(0, 1)``);
    * ``evaluator``: the name of a case evaluator that adds its metrics to the generic field
      comparison (None: the generic comparison alone);
    * ``singular_points``: points of the inputs where the solution is singular (the lid corners of the
      cavity); error maps circle them with radius ``singular_radius``, and evaluators may report errors
      away from those discs.
    """

    registry_name: ClassVar[str | None] = None
    evaluator: ClassVar[str | None] = None
    derivative_order: ClassVar[int] = 2
    domain = None
    extra_input_bounds_lo: Sequence[float] = ()
    extra_input_bounds_hi: Sequence[float] = ()
    periodic_inputs: Sequence[float | None] | None = None
    keep_periodic_inputs: bool = False
    even_inputs: Sequence[int] | None = None
    singular_points: Sequence[tuple[float, ...]] = ()
    singular_radius: float = 0.1
    #: Parameter curriculum over training steps (``problem.schedule`` in a spec), or None.
    schedule: "ParameterSchedule | None" = None
    #: The user's reference fields (``problem.reference: {path, variables}`` in a spec), or None:
    #: evaluation compares with it instead of the problem's own reference or exact solution.
    user_reference: "xr.Dataset | None" = None

    #: Parameters a schedule may vary. A problem lists here exactly the entries of ``params``
    #: that its residuals, lifts and weights read from ``params`` at call time.
    schedulable_params: ClassVar[tuple[str, ...]] = ()
    #: Parameters that may become network inputs (``problem.parametric``): those its residuals, lifts
    #: and weights read point by point through :meth:`param`.
    parametric_params: ClassVar[tuple[str, ...]] = ()
    #: The parameters that are network inputs, in input order after the problem's own inputs:
    #: name → (lo, hi), the range training draws from (set by :meth:`set_parametric`).
    parametric: "dict[str, tuple[float, float]]" = {}

    def __init__(self, inputs: Sequence[str] = ("x", "y"), fields: Sequence[Field] = (), params: dict | None = None,
                 scales: dict | None = None):
        self.inputs = tuple(inputs)
        self.fields = tuple(fields)
        self.params = dict(params or {})
        self.scales = dict(scales or {})

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def name(self) -> str:
        """The registered name (``problem.name`` of the spec), else the class name."""
        return self.registry_name or type(self).__name__

    def residual_weight(self, x: torch.Tensor) -> torch.Tensor | None:
        """Pointwise weights (N,) of the residuals at x (N, D); None for uniform weighting."""
        return None

    def input_bounds(self) -> tuple[list[float], list[float]] | None:
        """(lo, hi), one entry per input, from ``domain`` and ``extra_input_bounds_lo/hi``; None when
        the problem declares no domain (inputs then enter the network unscaled)."""
        lo, hi = list(self.extra_input_bounds_lo), list(self.extra_input_bounds_hi)
        if self.domain is not None:
            lo = [self.domain.x0, self.domain.y0] + lo
            hi = [self.domain.x1, self.domain.y1] + hi
        elif not lo:
            return None
        lo += [a for a, _ in self.parametric.values()]
        hi += [b for _, b in self.parametric.values()]
        if len(lo) != len(self.inputs) or len(hi) != len(self.inputs):
            raise SciflowError(
                f"problem '{self.name}': inputs {self.inputs} need {len(self.inputs)} bounds, the problem declares "
                f"{len(lo)} (domain: 2, extra_input_bounds_lo: {len(self.extra_input_bounds_lo)}, extra_input_bounds_hi: "
                f"{len(self.extra_input_bounds_hi)}); set extra_input_bounds_lo/hi for the inputs after (x, y) "
                f"or override input_bounds()")
        return lo, hi

    def use_reference_file(self, spec: dict) -> None:
        """Take the reference from a user's file ``{path, variables}`` (see
        :mod:`sciflow.data.reference_file`): every field of the problem on a grid whose dims are its
        inputs, or at scattered points with the inputs as coordinates. Read and checked now (fields,
        dims, recorded parameters such as ``Re``), before any training; grids are stored in reverse
        input order ((y, x) for inputs (x, y))."""
        from sciflow.data.reference_file import load_reference_file

        space = [i for i in self.inputs if i in ("x", "y", "z")]
        ds, layout = load_reference_file(spec, "problem.reference", self.field_names, self.params,
                                         spatial=len(space) or None)
        if layout.kind == "grid":
            dims = ds[self.field_names[0]].dims
            strange = [d for d in dims if d not in self.inputs]
            if strange:
                raise SciflowError(f"problem.reference.path {spec['path']}: dim(s) {strange} are not inputs of "
                                   f"'{self.name}' {self.inputs}")
            ds = ds.transpose(..., *[i for i in self.inputs[::-1] if i in dims])
        self.user_reference = ds

    # --- parametric problems: parameters as network inputs ------------------------------
    def set_parametric(self, ranges) -> None:
        """Make parameters inputs of the network (``problem.parametric: {Re: [100, 1000]}``): one
        model then answers for any value in the range without retraining.

        Each named parameter is appended to ``inputs`` (network input order); training draws it
        uniformly in [lo, min(hi, current value)] at every collocation point, so a schedule of it
        (``problem.schedule``) widens the range drawn from over training (continuation); the spec's
        own value must be ``hi``. Residuals, lifts and weights read it point by point through
        :meth:`param`; points given without the column (a grid for evaluation) take the current
        value (:meth:`complete_inputs`; ``sciflow evaluate --param Re=400`` sets it)."""
        if not isinstance(ranges, dict) or not ranges:
            raise SciflowError(f"problem.parametric: expected a mapping {{parameter: [lo, hi]}}, got {ranges!r}")
        out = {}
        for name, pair in ranges.items():
            key = f"problem.parametric.{name}"
            if name not in self.parametric_params:
                raise SciflowError(f"{key}: problem '{self.name}' cannot take '{name}' as an input; "
                                   f"parametric: {list(self.parametric_params) or 'none'}")
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in pair)
                    or not pair[0] < pair[1]):
                raise SciflowError(f"{key}: expected [lo, hi] with lo < hi (finite numbers), got {pair!r}")
            if float(self.params[name]) != float(pair[1]):
                raise SciflowError(f"{key}: problem.{name} = {self.params[name]:g} must equal the range's upper "
                                   f"end {pair[1]:g} (the value training ends at and evaluation uses by default)")
            out[name] = (float(pair[0]), float(pair[1]))
        self.parametric = out
        self.inputs = self.inputs + tuple(out)

    @property
    def coordinate_inputs(self) -> tuple[str, ...]:
        """The inputs a reference's fields are given on: ``inputs`` less the parametric ones."""
        return tuple(i for i in self.inputs if i not in self.parametric)

    def param(self, name: str, x: torch.Tensor):
        """The value of parameter ``name`` at points x (N, D): x's own column (N,) when ``name`` is
        an input and x carries every input, else the current value (a float)."""
        if name in self.parametric and x.shape[1] == len(self.inputs):
            return x[:, self.inputs.index(name)]
        return self.params[name]

    def complete_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, D) with the parametric inputs it lacks appended at their current values → (N, D + P)."""
        if not self.parametric or x.shape[1] == len(self.inputs):
            return x
        if x.shape[1] != len(self.inputs) - len(self.parametric):
            raise SciflowError(f"problem '{self.name}': points with {x.shape[1]} coordinates; inputs are {self.inputs}")
        values = torch.tensor([self.params[n] for n in self.parametric], dtype=x.dtype, device=x.device)
        return torch.cat([x, values.expand(x.shape[0], -1)], 1)

    def draw_parameters(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        """x (N, D) with each parametric input drawn uniformly in [lo, min(hi, current value)] → (N, D + P)."""
        if not self.parametric:
            return x
        cols = []
        for name, (lo, hi) in self.parametric.items():
            top = min(hi, self.params[name])
            cols.append(lo + (top - lo) * torch.rand(x.shape[0], 1, generator=generator, dtype=x.dtype))
        return torch.cat([x] + cols, 1)

    def sample_points(self, region: str, n: int, generator=None) -> torch.Tensor:
        """n training points (n, D + P) in ``region``: :meth:`sample`, then the parametric inputs drawn."""
        return self.draw_parameters(self.sample(region, n, generator), generator)

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


def missing_hooks(problem, capability: type) -> list[str]:
    """The hooks of ``capability`` that ``problem`` does not define (empty: it has the capability)."""
    names = [n for n in capability.__dict__.get("__annotations__", {})] + [
        n for n, v in capability.__dict__.items() if callable(v) and not n.startswith("_")]
    return [n for n in names if not _defines(problem, n)]


def _defines(problem, name: str) -> bool:
    """Whether ``problem`` (its instance dict, then its classes) holds ``name`` with a value other than None."""
    for scope in (vars(problem), *(c.__dict__ for c in type(problem).__mro__)):
        if name in scope:
            return scope[name] is not None
    return False


def require(problem, capabilities: Sequence[type], who: str) -> None:
    """Raise one SciflowError naming the first capability (and its hooks) that ``problem`` lacks."""
    for cap in capabilities:
        missing = missing_hooks(problem, cap)
        if missing:
            raise SciflowError(f"{who} needs a problem with {cap.__name__} ({', '.join(missing)}); "
                               f"problem '{_name(problem)}' does not define {', '.join(missing)}")


def _name(problem) -> str:
    return problem.name if isinstance(problem, Problem) else type(problem).__name__


def stream_modes(problem) -> int:
    """K, the number of learnable ψ-modes of the problem's stream-function ansatz (0: none)."""
    fns = problem.hard_constraint("stream")
    if fns is None or len(fns) < 3:
        return 0
    return int(fns[2](torch.zeros(1, len(problem.inputs), dtype=torch.float64)).shape[1])


def ansatz(problem, x: torch.Tensor, output: str = "primitive", order: int = 2) -> "Ansatz | StreamAnsatz | None":
    """The problem's hard-constraint transform at x as detached jets (third-order :class:`Jet3`
    for the stream form or ``order`` 3); None when it has none."""
    fns = problem.hard_constraint(output)
    if fns is None:
        return None
    if output == "stream" or order == 3:
        from sciflow.autodiff.jet3 import autograd_jet3

        modes = autograd_jet3(fns[2], x) if len(fns) > 2 else None
        return StreamAnsatz(autograd_jet3(fns[0], x), autograd_jet3(fns[1], x), modes)
    lift, dist = fns
    return Ansatz(jet_from_function(lift, x), jet_from_function(dist, x))


def jet_from_function(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Jet:
    """Detached jet of a fixed (parameter-free) function, for lifts and distance functions."""
    from sciflow.autodiff.jet import autograd_jet

    return autograd_jet(fn, x, create_graph=False)
