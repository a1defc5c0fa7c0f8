"""Training objectives: what a loss is, given a model and a problem. The Trainer knows no PDE.

An objective is an :class:`Objective`, registered by name (the spec's ``objective.name``); its
constructor takes ``(problem, model, **spec keys)``; it declares the problem capabilities
(``problem_needs``) and the model interface (``model_type``) it needs, which ``build_objective``
checks first. It exposes

    setup(device, dtype, generator, rank, world)   place its points/data
    loss(model, step) -> (total, {term: value})    one evaluation of the loss
    state_dict() / load_state_dict(d)              what resuming needs (points, data position)
    validate(model) -> {metric: value} | None      validation for checkpoint selection (default none)
    resample(step) -> bool                         new points at this step? (default no)

``physics`` is the PINN objective: mean squared residuals of the problem's equations at
collocation points, plus mean squared boundary mismatch when boundary conditions are soft.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from sciflow.errors import SciflowError
from sciflow.models.base import Model, PointwiseModel, unwrap
from sciflow.problems.base import PointwisePhysics, require
from sciflow.registry import Registry
from sciflow.bounds import Every, OptionalPoints, Points

OBJECTIVES = Registry("objective", "objective.name", packages=("sciflow.training",))
register_objective = OBJECTIVES.register


class Objective(ABC):
    """A training loss over a model and a problem (module docstring)."""

    problem_needs: ClassVar[tuple[type, ...]] = ()
    model_type: ClassVar[type] = Model

    @abstractmethod
    def setup(self, device, dtype, generator: torch.Generator, rank: int = 0, world: int = 1) -> None:
        """Place the objective's points or data on ``device`` in ``dtype``."""

    @abstractmethod
    def loss(self, model, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(total, {term: value}) at ``step``."""

    @abstractmethod
    def state_dict(self) -> dict:
        """What resuming needs."""

    @abstractmethod
    def load_state_dict(self, d: dict) -> None:
        """Restore :meth:`state_dict`."""

    def validate(self, model) -> dict | None:
        """Validation metrics for checkpoint selection; None: no validation."""
        return None

    def resample(self, step: int) -> bool:
        """Draw new points if ``step`` calls for it; True if it drew (the trainer then restarts L-BFGS)."""
        return False


def build_objective(config: dict, problem, model) -> Objective:
    """Build ``objective.name`` once the problem and model are found to have what it needs."""
    config = dict(config)
    name = config.pop("name")
    cls = OBJECTIVES.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Objective)):
        raise SciflowError(f"objective.name: '{name}' is not a sciflow objective "
                           "(a subclass of sciflow.training.objectives.Objective)")
    require(problem, cls.problem_needs, f"objective '{name}'")
    if not isinstance(unwrap(model), cls.model_type):
        raise SciflowError(f"objective '{name}' needs a {cls.model_type.__name__}; model "
                           f"'{type(unwrap(model)).__name__}' is not one")
    try:
        return cls(problem, model, **config)
    except TypeError as exc:
        raise SciflowError(f"objective ({name}): {exc}") from None


@register_objective("physics")
class PhysicsObjective(Objective):
    """Σ_k w_k mean(ω(x) r_k(x)²) over the problem's residuals r_k at interior points,
    + w_bc mean(mask (u − g)²) at boundary points when the model's boundary conditions are soft.

    ``resample_every`` > 0 draws new collocation points every that many steps (from a
    generator whose state is checkpointed, so resuming reproduces the same points), once per
    step however often the loss is evaluated in it (an L-BFGS line search evaluates it several
    times); the trainer restarts L-BFGS's curvature memory after a draw, since its pairs were
    measured on the old points.

    A parameter curriculum (``problem.schedule``) is applied at the start of every step
    (``resample``, which the loss calls first): a change of a parameter rebuilds the cached
    ansatz jets and residual weights (draws new points when the parameter is a network input,
    ``problem.parametric``: its range moved) and, like a draw, restarts L-BFGS's memory. The current
    parameters and the schedule are part of ``state_dict``.
    """

    problem_needs = (PointwisePhysics,)
    model_type = PointwiseModel

    def __init__(self, problem, model, interior_points: Points = 2000, boundary_points: OptionalPoints = 400,
                 resample_every: Every = 0, weights: dict | None = None, bc_weight: float = 1.0):
        self.problem = problem
        self.interior_points = int(interior_points)
        self.boundary_points = int(boundary_points)
        self.resample_every = int(resample_every)
        self.weights = dict(weights or {})
        self.bc_weight = float(bc_weight)
        self.soft = unwrap(model).boundary == "soft"

    def setup(self, device, dtype, generator: torch.Generator, rank: int = 0, world: int = 1):
        self.device, self.dtype, self.generator = device, dtype, generator
        self.rank, self.world = rank, world
        self._drawn_at = 0
        self._draw()

    def _draw(self):
        n = -(-self.interior_points // self.world)  # each rank takes its own share
        self.x = self.problem.sample_points("interior", n, self.generator).to(self.device, self.dtype)
        self.ansatz = None
        self.residual_weight = self.problem.residual_weight(self.x)
        if self.soft:
            bt = self.problem.boundary_targets(-(-self.boundary_points // self.world), self.generator)
            self.xb = self.problem.draw_parameters(bt.points, self.generator).to(self.device, self.dtype)
            self.gb = bt.values.to(self.device, self.dtype)
            self.mb = bt.mask.to(self.device, self.dtype)

    def _ansatz(self, model):
        if self.ansatz is None:
            self.ansatz = unwrap(model).make_ansatz(self.x)
        return self.ansatz

    def resample(self, step: int) -> bool:
        """Start step ``step``: apply the parameter schedule, and draw new points if ``step`` is a
        resampling step not drawn for yet. True if the loss function changed (new parameters or
        points), so that curvature information of earlier steps no longer describes it."""
        changed = self.problem.apply_schedule(step)
        if changed and self.problem.parametric:  # the range drawn from moved: draw the points again
            self._drawn_at = step
            self._draw()
            return True
        if changed:
            self.ansatz = None
            self.residual_weight = self.problem.residual_weight(self.x)
        if not self.resample_every or step == 0 or step % self.resample_every or step == self._drawn_at:
            return changed
        self._drawn_at = step
        self._draw()
        return True

    def loss(self, model, step: int):
        self.resample(step)
        out = model(self.x, self._ansatz(model))
        residuals = self.problem.residual(self.x, out)
        terms = {}
        total = 0.0
        for name, r in residuals.items():
            sq = r * r
            if self.residual_weight is not None:
                sq = sq * self.residual_weight
            terms[name] = sq.mean()
            total = total + self.weights.get(name, 1.0) * terms[name]
        if self.soft:
            ob = model(self.xb, None).value
            terms["boundary"] = ((ob - self.gb) ** 2 * self.mb).sum() / self.mb.sum().clamp(min=1)
            total = total + self.bc_weight * terms["boundary"]
        return total, terms

    def state_dict(self):
        d = {"x": self.x.cpu(), "drawn_at": self._drawn_at}
        if self.problem.schedule is not None:
            d["schedule"] = self.problem.schedule.to_dict()
            d["problem_params"] = {k: self.problem.params[k] for k in self.problem.schedule.stages}
        if self.soft:
            d.update(xb=self.xb.cpu(), gb=self.gb.cpu(), mb=self.mb.cpu())
        return d

    def load_state_dict(self, d):
        self.x = d["x"].to(self.device, self.dtype)
        self._drawn_at = int(d.get("drawn_at", 0))
        own = self.problem.schedule.to_dict() if self.problem.schedule is not None else None
        if d.get("schedule") != own:
            from sciflow.errors import SciflowError

            raise SciflowError(f"checkpoint: it was trained with problem.schedule {d.get('schedule')}, "
                               f"the spec now gives {own}; resume with the run's own spec.yaml")
        if "problem_params" in d:
            self.problem.set_params(**d["problem_params"])
        self.ansatz = None
        self.residual_weight = self.problem.residual_weight(self.x)
        if self.soft:
            self.xb, self.gb, self.mb = (d[k].to(self.device, self.dtype) for k in ("xb", "gb", "mb"))

    def validate(self, model):
        return None
