"""Operator-learning objectives: one-step supervised and multi-step rollout on trajectory windows.

A model maps k_in frames to k frames, x (B, t_in, X, Y) → (B, k, X, Y).  Autoregressive rollout
(:func:`sciflow.training.unroll.rollout`) shifts the input window by the k new frames each call::

    x_{s+1} = concat(x_s, ŷ_s)[:, −t_in:],   ŷ_s = P(model(x_s))  (P: the constraint layer, or none).

Losses per sample b and step s (targets y, normalised units):
    rel_l2 :  ‖ŷ_b − y_b‖₂ / ‖y_b‖₂          (the FNO/DyMixOp training and test metric)
    rel_mse:  ‖ŷ_b − y_b‖₂² / ‖y_b‖₂²
averaged over samples and steps.  ``rollout`` with ``pushforward: true`` (Brandstetter et al.,
ICLR 2022, §2.3) detaches the inputs of every step but the last, so only the final step's error
is trained through the model's own predictions; ``pushforward: false`` backpropagates through the
whole unrolled chain.

``input_noise: σ`` > 0 adds Gaussian noise of standard deviation σ (normalised units) to the input frames
of every training window, the targets staying clean (Sanchez-Gonzalez et al., ICML 2020, §4; Stachenfeld
et al., ICLR 2022, for coarse turbulence): the model learns to pull perturbed states back towards the
data, which is what keeps long autoregressive rollouts near the attractor.  The noise of step n is
drawn from a generator seeded with (seed, n), so a resumed run draws the same noise.

``horizon_schedule: [[0, 1], [2000, 2], [4000, 4]]`` (instead of ``steps``) is a curriculum on the
unrolled horizon in the stage format of the parameter curriculum (:mod:`sciflow.problems.schedule`):
1 frame for steps 0-1999, 2 for 2000-3999, 4 from 4000 on (one-step training first, then longer
rollouts once the one-step map is learnt, so early unrolled losses are not dominated by compounding
errors of an untrained model). Each stage trains on every window of its horizon; a stage change starts a new epoch.
The horizon is a pure function of the step, and the window set of the current stage is part of
the objective state, so a run resumed mid-curriculum sees the same batches and losses.

``statistics_weight: λ`` > 0 (a problem with :class:`~sciflow.problems.base.StateStatistics`) adds λ times the
mean relative error of each predicted state's own profiles S_k (channel: U, u'_rms, v'_rms, w'_rms, ⟨u'v'⟩ over
the homogeneous planes) against its target's, over the trained steps:

    L = L_data + λ · mean_{b, s, k} ‖S_k(ŷ_{b,s}) − S_k(y_{b,s})‖₂ / ‖S_k(y_{b,s})‖₂.

A model trained on pointwise errors alone is pulled towards the conditional mean of the next state, which
has less fluctuation energy than any state of the flow; rolled out, it damps the fluctuations step after
step. The term penalises that loss of energy at every step.

``constraints: [name, ...]`` projects every predicted state onto the exact linear constraints the
problem declares (:mod:`sciflow.models.state_projection`, ProbConserv's update with Σ = I), in the
training rollouts and in validation; the projection is linear, so gradients pass through it.

Data order is deterministic and resumable: an epoch's permutation is drawn from a generator
seeded with (seed, epoch); the state is (seed, epoch, position), so a resumed run sees the same
batches.

Validation (:meth:`RolloutObjective.validate`) judges rollouts, not one step: from the first ``t_in``
frames of every validation trajectory the model forecasts ``validation_steps`` frames (default
``problem.horizon``); ``rel_l2`` is the mean relative L2 (physical units) over the forecast frames the
trajectory holds, and a problem with :class:`~sciflow.problems.base.RolloutStatistics` adds the errors
of the rollout's statistics against those of the stored frames after the input (channel: mean and
rms profiles; 2D turbulence: energy spectrum, enstrophy), so for a statistically stationary flow the
forecast may run past the stored frames (:mod:`sciflow.training.rollout_validation`). ``validation_metric`` names the metric that selects ``best.pt`` (default ``rel_l2``).
``validation_rollouts: N`` forecasts from the first N validation trajectories only (default all), so that
a rollout as long as the evaluation's can select the checkpoint at N/n_val of the cost; the statistics
are still judged against the stored frames of every validation trajectory.
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError
from sciflow.models.base import OperatorModel
from sciflow.models.state_projection import state_projection
from sciflow.problems.base import RolloutStatistics, StateConstraints, StateStatistics, Trajectories
from sciflow.problems.schedule import StepSchedule
from sciflow.training.objectives import Objective, register_objective
from sciflow.training.rollout_validation import validation_rollout_metrics
from sciflow.training.unroll import relative_error, rollout


def gather_windows(windows, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Items ``idx`` of a channel-first :class:`~sciflow.data.loaders.TrajectoryWindows` as one batch
    (input (B, t_in·V, X, Y), target (B, t_out·V, X, Y)), gathered in one indexing operation;
    identical to stacking ``windows[i]``."""
    if windows.layout != "channel_first" or windows.data.dim() != 5:
        items = [windows[int(i)] for i in idx]
        return torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])
    idx = torch.as_tensor(idx, dtype=torch.long)
    n_starts = len(windows.starts)
    sample, w = idx // n_starts, idx % n_starts
    start = torch.as_tensor(windows.starts, dtype=torch.long)[w]
    frames = start[:, None] + torch.arange(windows.t_in + windows.t_out)
    data = windows.data[sample[:, None], frames]  # (B, t, X, Y, V)
    b, t, nx, ny, v = data.shape
    data = data.permute(0, 1, 4, 2, 3).reshape(b, t * v, nx, ny)  # channel = frame·V + var
    k = windows.t_in * v
    return data[:, :k], data[:, k:]


@register_objective("rollout")
class RolloutObjective(Objective):
    """Multi-step rollout loss over windows of ``steps`` target frames (see the module docstring).

    Spec keys: steps (frames unrolled) or horizon_schedule ([[step, frames], ...]), batch_size,
    loss (rel_l2 | rel_mse), pushforward, input_noise, statistics_weight, constraints (names the problem
    declares), validation_batch, validation_steps (frames forecast in validation), validation_rollouts
    (trajectories forecast in validation), validation_metric.
    """

    problem_needs = (Trajectories,)
    model_type = OperatorModel

    def __init__(self, problem, model, steps: int | None = None, batch_size: int = 16, loss: str = "rel_l2",
                 pushforward: bool = False, validation_batch: int = 32, input_noise: float = 0.0,
                 horizon_schedule: list | None = None, validation_steps: int | None = None,
                 validation_metric: str = "rel_l2", constraints: list | None = None,
                 statistics_weight: float = 0.0, validation_rollouts: int | None = None):
        if loss not in ("rel_l2", "rel_mse"):
            raise SciflowError(f"objective.loss: must be 'rel_l2' or 'rel_mse', got {loss!r}")
        if horizon_schedule is not None:
            self.schedule = StepSchedule.parse(horizon_schedule, "objective.horizon_schedule", integer=True, minimum=1)
            if steps is not None and steps != self.schedule.final:
                raise SciflowError(f"objective.steps={steps} and objective.horizon_schedule (last stage "
                                   f"{self.schedule.final}) disagree; give one of them")
        else:
            self.schedule = StepSchedule(((0, 4 if steps is None else int(steps)),))
        if self.schedule.final < 1 or batch_size < 1:
            raise SciflowError(f"objective: steps and batch_size must be >= 1, got {self.schedule.final}, {batch_size}")
        self.problem = problem
        self.steps, self.batch_size, self.kind = int(self.schedule.final), int(batch_size), loss
        self.pushforward, self.validation_batch = bool(pushforward), int(validation_batch)
        if input_noise < 0:
            raise SciflowError(f"objective.input_noise must be >= 0, got {input_noise}")
        self.input_noise = float(input_noise)
        if not statistics_weight >= 0:
            raise SciflowError(f"objective.statistics_weight must be >= 0, got {statistics_weight}")
        if statistics_weight > 0 and not isinstance(problem, StateStatistics):
            raise SciflowError(f"objective.statistics_weight: problem '{problem.name}' declares no state statistics "
                               "(state_statistics_names, state_statistics(frames))")
        self.statistics_weight = float(statistics_weight)
        self.validation_steps = int(problem.horizon if validation_steps is None else validation_steps)
        if self.validation_steps < 1:
            raise SciflowError(f"objective.validation_steps must be >= 1, got {validation_steps}")
        if validation_rollouts is not None and not (isinstance(validation_rollouts, int)
                                                    and not isinstance(validation_rollouts, bool) and validation_rollouts >= 1):
            raise SciflowError(f"objective.validation_rollouts must be an integer >= 1, got {validation_rollouts!r}")
        self.validation_rollouts = validation_rollouts
        allowed = ("rel_l2", *(problem.statistics_names if isinstance(problem, RolloutStatistics) else ()))
        if validation_metric not in allowed:
            raise SciflowError(f"objective.validation_metric: '{validation_metric}' is not one of {list(allowed)} "
                               f"(problem '{problem.name}')")
        self.validation_metric = validation_metric
        self.constraints = list(constraints or [])
        if self.constraints:
            held = problem.conserved_quantities if isinstance(problem, StateConstraints) else ()
            unknown = [n for n in self.constraints if n not in held]
            if unknown:
                raise SciflowError(f"objective.constraints: {unknown} not among the quantities problem "
                                   f"'{problem.name}' can hold: {list(held)}")
        self.epoch, self.position, self.seed = 0, 0, 0
        self.horizon = None  # the horizon of the current training windows (set by _use_horizon)

    def setup(self, device, dtype, generator: torch.Generator, rank: int = 0, world: int = 1):
        self.device, self.dtype, self.rank, self.world = device, dtype, rank, world
        self.seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        self.val = None
        self.horizon = None
        self._use_horizon(self.schedule.value_at(0), new_epoch=False)
        self.project = state_projection(self.problem, self.train, self.constraints)

    # ------------------------------------------------------------- horizon curriculum
    def horizon_at(self, step: int) -> int:
        """Frames unrolled at ``step`` (the horizon curriculum; ``steps`` throughout without one)."""
        return int(self.schedule.value_at(step))

    def _use_horizon(self, h: int, new_epoch: bool = True):
        """Train on the windows of ``h`` target frames; a change of horizon starts a new epoch."""
        if h == self.horizon:
            return
        self.train = self.problem.dataset("train", t_out=h, stride=1)
        if new_epoch and self.horizon is not None:
            self.epoch, self.position = self.epoch + 1, 0
        self.horizon, self._perm = h, None

    # ------------------------------------------------------------- data order
    def _permutation(self) -> torch.Tensor:
        if self._perm is None or self._perm[0] != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            self._perm = (self.epoch, torch.randperm(len(self.train), generator=g))
        return self._perm[1]

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (input (B, t_in, ...), target (B, horizon, ...)); this rank's share of the batch."""
        perm = self._permutation()
        if self.position + self.batch_size > len(perm):  # drop the incomplete tail, start a new epoch
            self.epoch, self.position = self.epoch + 1, 0
            perm = self._permutation()
            if self.batch_size > len(perm):
                raise SciflowError(f"objective.batch_size={self.batch_size} exceeds the {len(perm)} training windows")
        idx = perm[self.position:self.position + self.batch_size][self.rank::self.world]
        self.position += self.batch_size
        x, y = gather_windows(self.train, idx)
        return x.to(self.device, self.dtype), y.to(self.device, self.dtype)

    def noisy(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """x + σ ξ, ξ ~ N(0, 1) from a generator seeded with (seed, step) (module docstring)."""
        if self.input_noise <= 0:
            return x
        g = torch.Generator().manual_seed(self.seed * 7919 + int(step))
        return x + self.input_noise * torch.randn(x.shape, generator=g, dtype=torch.float32).to(x)

    def loss(self, model, step: int):
        h = self.horizon_at(step)
        self._use_horizon(h)
        x, y = self.next_batch()
        x = self.noisy(x, step)
        detach = h - 1 if self.pushforward else 0
        pred = rollout(model, x, h, detach_until=detach, project=self.project)
        first = h - 1 if self.pushforward else 0
        per_step = torch.stack([relative_error(pred[:, s], y[:, s], self.kind).mean() for s in range(first, h)])
        data = per_step.mean()
        logs = {self.kind: data.detach(), "horizon": torch.tensor(float(h))}
        if self.statistics_weight == 0:
            return data, logs
        stats = self.statistics_error(pred, y)[:, first:h].mean()
        logs["statistics"] = stats.detach()
        return data + self.statistics_weight * stats, logs

    def statistics_error(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """‖S_k(ŷ) − S_k(y)‖₂ / ‖S_k(y)‖₂ averaged over k, per sample and frame (B, F), of batches of frames
        in the windows' layout (normalised units; module docstring)."""
        w = self.train
        sp = self.problem.state_statistics(w.as_frames(w.denormalise(pred)))
        st = self.problem.state_statistics(w.as_frames(w.denormalise(target))).detach()
        return (torch.linalg.vector_norm(sp - st, dim=-1) /
                torch.linalg.vector_norm(st, dim=-1).clamp_min(1e-30)).mean(-1)

    def state_dict(self):
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position, "horizon": self.horizon,
                "horizon_schedule": self.schedule.to_list()}

    def load_state_dict(self, d):
        own = self.schedule.to_list()
        if d.get("horizon_schedule", own) != own:
            raise SciflowError(f"checkpoint: it was trained with objective.horizon_schedule {d['horizon_schedule']}, "
                               f"the spec now gives {own}; resume with the run's own spec.yaml")
        self.seed, self.epoch, self.position = int(d["seed"]), int(d["epoch"]), int(d["position"])
        self._use_horizon(int(d.get("horizon") or self.steps), new_epoch=False)
        self._perm = None

    # ------------------------------------------------------------- validation
    def validate(self, model):
        """Rollout metrics on the validation split (module docstring); ``validation_metric`` first."""
        if self.val is None:
            frames = int(self.train.data.shape[1])
            self.val = self.problem.dataset("validation", t_out=min(self.validation_steps, frames - self.problem.t_in),
                                            stride=None)
        m = validation_rollout_metrics(model, self.problem, self.val, self.validation_steps, self.validation_batch,
                                       self.device, self.dtype, self.project, self.validation_rollouts)
        return {self.validation_metric: m[self.validation_metric], **m}


@register_objective("supervised")
class SupervisedObjective(RolloutObjective):
    """One-step supervised loss: the model's next ``k`` frames against the data (teacher forcing).

    Spec keys: batch_size, loss (rel_l2 | rel_mse), frames (target frames per window = the model's
    t_out), input_noise, constraints, validation_batch, validation_steps, validation_metric.
    """

    def __init__(self, problem, model, batch_size: int = 16, loss: str = "rel_l2", frames: int | None = None,
                 validation_batch: int = 32, input_noise: float = 0.0, validation_steps: int | None = None,
                 validation_metric: str = "rel_l2", constraints: list | None = None):
        frames = int(frames or model.t_out)
        super().__init__(problem, model, steps=frames, batch_size=batch_size, loss=loss, pushforward=False,
                         validation_batch=validation_batch, input_noise=input_noise,
                         validation_steps=validation_steps, validation_metric=validation_metric,
                         constraints=constraints)

    def loss(self, model, step: int):
        x, y = self.next_batch()
        x = self.noisy(x, step)
        pred = model(x)[:, :self.steps]
        if self.project is not None:
            pred = self.project(pred, x)
        total = relative_error(pred, y, self.kind).mean()
        return total, {self.kind: total.detach()}
