"""Validation of operator training by rollouts: pointwise error over the stored frames and the problem's statistics.

From the first ``t_in`` frames of every validation trajectory (windows ``val``: input (B, t_in, ...), target
(B, F', ...), F' the frames the trajectory holds after its input, up to ``steps``) the model forecasts
``steps`` frames autoregressively (optionally through the rollout constraint layer); ``rollouts`` = N forecasts
from the first N trajectories only (a long forecast of a stationary flow costs N× less; the statistics
reference stays the stored frames of every validation trajectory). Returned metrics:

    rel_l2 = mean_b ‖û_b − u_b‖₂ / ‖u_b‖₂  over the first F' forecast frames, physical units;

and, for a problem with :class:`~sciflow.problems.base.RolloutStatistics`, its statistics errors of all
``steps`` forecast frames against the F' stored frames after the input (the same time window when
``steps`` ≤ F'; for a statistically stationary flow such as the channel the forecast may run longer than
the stored trajectories, for a decaying one such as 2D turbulence from random initial vorticity it should
not, since earlier or later frames have other statistics).
"""

from __future__ import annotations

import torch

from sciflow.problems.base import RolloutStatistics
from sciflow.training.unroll import relative_error, rollout


def validation_rollout_metrics(model, problem, val, steps: int, batch: int, device, dtype,
                               project=None, rollouts: int | None = None) -> dict[str, float]:
    """The metrics of the module docstring; ``val`` a :class:`~sciflow.data.loaders.TrajectoryWindows` with
    one window per validation trajectory (``stride=None``); ``rollouts`` None: every trajectory."""
    forecast = len(val) if rollouts is None else min(int(rollouts), len(val))
    errs, preds, truths = [], [], []
    with torch.no_grad():
        for lo in range(0, forecast, batch):
            items = [val[i] for i in range(lo, min(lo + batch, forecast))]
            x = torch.stack([a for a, _ in items]).to(device, dtype)
            y = torch.stack([b for _, b in items]).to(device, dtype)
            pred = rollout(model, x, steps, project=project)
            pf = val.as_frames(val.denormalise(pred.double()))
            tf = val.as_frames(val.denormalise(y.double()))
            errs.append(relative_error(pf[:, :tf.shape[1]], tf))
            preds.append(pf.cpu())
            truths.append(tf.cpu())
    metrics = {"rel_l2": float(torch.cat(errs).mean())}
    if isinstance(problem, RolloutStatistics):
        stored = [val.as_frames(val.denormalise(val[i][1].double()[None])) for i in range(forecast, len(val))]
        metrics.update(problem.rollout_statistics(torch.cat(preds), torch.cat(truths + stored)))
    return metrics
