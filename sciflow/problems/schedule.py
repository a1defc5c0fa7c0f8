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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sciflow.errors import SciflowError


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
            if not isinstance(seq, (list, tuple)) or not seq:
                raise SciflowError(f"{key}: expected a non-empty list of [step, value] pairs, got {seq!r}")
            out = []
            for i, pair in enumerate(seq):
                if (not isinstance(pair, (list, tuple)) or len(pair) != 2 or isinstance(pair[0], bool)
                        or not isinstance(pair[0], int) or isinstance(pair[1], bool)
                        or not isinstance(pair[1], (int, float)) or not math.isfinite(pair[1])):
                    raise SciflowError(f"{key}.{i}: expected [step (integer), value (finite number)], got {pair!r}")
                if i == 0 and pair[0] != 0:
                    raise SciflowError(f"{key}.0: the first stage must start at step 0, got step {pair[0]}")
                if i > 0 and pair[0] <= out[-1][0]:
                    raise SciflowError(f"{key}.{i}: stage steps must increase, got {pair[0]} after {out[-1][0]}")
                out.append((int(pair[0]), float(pair[1])))
            final = float(problem.params[name])
            if out[-1][1] != final:
                raise SciflowError(f"{key}: the last stage's value {out[-1][1]:g} must equal problem.{name} = "
                                   f"{final:g} (the value the reference and the evaluation use)")
            stages[name] = tuple(out)
        return cls(stages)

    def values_at(self, step: int) -> dict[str, float]:
        """Each scheduled parameter's value at ``step`` (the last stage starting at or before it)."""
        out = {}
        for name, seq in self.stages.items():
            value = seq[0][1]
            for start, v in seq:
                if start > step:
                    break
                value = v
            out[name] = value
        return out

    def to_dict(self) -> dict[str, list[list]]:
        """The spec form ``{name: [[step, value], ...]}`` (recorded in checkpoints)."""
        return {name: [[s, v] for s, v in seq] for name, seq in self.stages.items()}
