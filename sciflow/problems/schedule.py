"""Parameter curriculum: a problem parameter that follows a schedule over training steps.

In a spec, ``problem.schedule`` maps parameter names to stages ``[[step, value], ...]``::

    problem:
      name: cavity
      Re: 1000                        # the problem's value: reference, evaluation, last stage
      schedule: {Re: [[0, 100], [2000, 400], [5000, 1000]]}

reads: Re = 100 for steps 0-1999, 400 for steps 2000-4999, 1000 from step 5000 on
(piecewise constant; Reynolds continuation as in Wang, Sankaran, Wang & Perdikaris 2023,
"An expert's guide to training PINNs"). Rules, each a ``SciflowError`` naming the key:
the first stage starts at step 0, stage steps increase strictly, values are numbers, the
parameter is one the problem declares in ``schedulable_params``, and the last value equals
the problem's own value (so the reference and the evaluation are at the trained value).

The schedule is a pure function of the step: the physics objective applies it at the start
of every step (``Problem.apply_schedule``), the checkpoint records it with the current
values, and a resumed run therefore sees the same parameter at every step as an
uninterrupted one.

The same stage format schedules other quantities over training steps: :class:`StepSchedule`
parses and evaluates one ``[[step, value], ...]`` list (the rollout objective's
``horizon_schedule`` is one, with integer values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sciflow.errors import SciflowError


@dataclass(frozen=True)
class StepSchedule:
    """One quantity, piecewise constant over training steps: ``stages = ((0, v_0), (s_1, v_1), ...)``,
    v = v_k for s_k ≤ step < s_{k+1}."""

    stages: tuple[tuple[int, float], ...]

    @classmethod
    def parse(cls, seq, key: str, integer: bool = False, minimum: float | None = None) -> "StepSchedule":
        """Validate a spec list ``[[step, value], ...]`` at spec key ``key`` (module docstring rules);
        ``integer``: values must be integers; ``minimum``: values must be ≥ it."""
        if not isinstance(seq, (list, tuple)) or not seq:
            raise SciflowError(f"{key}: expected a non-empty list of [step, value] pairs, got {seq!r}")
        out = []
        for i, pair in enumerate(seq):
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2 or isinstance(pair[0], bool)
                    or not isinstance(pair[0], int) or isinstance(pair[1], bool)
                    or not isinstance(pair[1], (int, float)) or not math.isfinite(pair[1])):
                raise SciflowError(f"{key}.{i}: expected [step (integer), value (finite number)], got {pair!r}")
            if integer and not isinstance(pair[1], int):
                raise SciflowError(f"{key}.{i}: the value must be an integer, got {pair[1]!r}")
            if minimum is not None and pair[1] < minimum:
                raise SciflowError(f"{key}.{i}: the value must be >= {minimum:g}, got {pair[1]!r}")
            if i == 0 and pair[0] != 0:
                raise SciflowError(f"{key}.0: the first stage must start at step 0, got step {pair[0]}")
            if i > 0 and pair[0] <= out[-1][0]:
                raise SciflowError(f"{key}.{i}: stage steps must increase, got {pair[0]} after {out[-1][0]}")
            out.append((int(pair[0]), int(pair[1]) if integer else float(pair[1])))
        return cls(tuple(out))

    def value_at(self, step: int) -> float:
        """The value of the last stage starting at or before ``step``."""
        value = self.stages[0][1]
        for start, v in self.stages:
            if start > step:
                break
            value = v
        return value

    @property
    def final(self) -> float:
        """The last stage's value."""
        return self.stages[-1][1]

    def to_list(self) -> list[list]:
        """The spec form ``[[step, value], ...]``."""
        return [[s, v] for s, v in self.stages]


@dataclass(frozen=True)
class ParameterSchedule:
    """Piecewise-constant stages per parameter: ``stages[name] = ((step_0=0, value_0), (step_1, value_1), ...)``."""

    stages: dict[str, tuple[tuple[int, float], ...]]

    @classmethod
    def from_spec(cls, raw, problem) -> "ParameterSchedule":
        """Validate ``problem.schedule`` against ``problem`` (its ``schedulable_params`` and values)."""
        if not isinstance(raw, dict) or not raw:
            raise SciflowError(f"problem.schedule: expected a mapping {{parameter: [[step, value], ...]}}, got {raw!r}")
        allowed = tuple(problem.schedulable_params)
        stages = {}
        for name, seq in raw.items():
            key = f"problem.schedule.{name}"
            if name not in allowed:
                raise SciflowError(f"{key}: problem '{problem.name}' lets no schedule vary '{name}'; "
                                   f"schedulable: {list(allowed) or 'none'}")
            one = StepSchedule.parse(seq, key)
            final = float(problem.params[name])
            if one.final != final:
                raise SciflowError(f"{key}: the last stage's value {one.final:g} must equal problem.{name} = "
                                   f"{final:g} (the value the reference and the evaluation use)")
            if name in problem.parametric:
                lo, hi = problem.parametric[name]
                outside = [v for _, v in one.stages if not lo <= v <= hi]
                if outside:
                    raise SciflowError(f"{key}: value {outside[0]:g} lies outside problem.parametric.{name} "
                                       f"[{lo:g}, {hi:g}] (a schedule of a parametric input caps the range drawn from)")
            stages[name] = one.stages
        return cls(stages)

    def values_at(self, step: int) -> dict[str, float]:
        """Each scheduled parameter's value at ``step`` (the last stage starting at or before it)."""
        return {name: StepSchedule(seq).value_at(step) for name, seq in self.stages.items()}

    def to_dict(self) -> dict[str, list[list]]:
        """The spec form ``{name: [[step, value], ...]}`` (recorded in checkpoints)."""
        return {name: [[s, v] for s, v in seq] for name, seq in self.stages.items()}
