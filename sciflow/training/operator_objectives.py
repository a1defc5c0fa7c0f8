"""Operator-learning objectives: one-step supervised and multi-step rollout on trajectory windows.

A model maps k_in frames to k frames, x (B, t_in, X, Y) → (B, k, X, Y).  Autoregressive rollout
(:func:`rollout`) shifts the input window by the k new frames each call::

    x_{s+1} = concat(x_s, ŷ_s)[:, −t_in:],   ŷ_s = model(x_s).

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

Data order is deterministic and resumable: an epoch's permutation is drawn from a generator
seeded with (seed, epoch); the state is (seed, epoch, position), so a resumed run sees the same
batches.  ``validate`` rolls out ``problem.horizon`` frames from the first ``t_in`` frames of
every validation trajectory and returns the mean relative L2 in physical units.
"""

from __future__ import annotations

import torch

from sciflow.errors import SciflowError
from sciflow.models.base import OperatorModel
from sciflow.problems.base import Trajectories
from sciflow.training.objectives import Objective, register_objective


def rollout(model, x: torch.Tensor, frames: int, detach_until: int = 0) -> torch.Tensor:
    """Autoregressive forecast of ``frames`` frames from x (B, t_in, X, Y) → (B, frames, X, Y).

    Inputs of the first ``detach_until`` model calls' outputs are detached (pushforward).
    """
    t_in = x.shape[1]
    outs, made, call = [], 0, 0
    while made < frames:
        y = model(x)
        outs.append(y)
        made += y.shape[1]
        nxt = y.detach() if call < detach_until else y
        x = torch.cat([x, nxt], dim=1)[:, -t_in:]
        call += 1
    return torch.cat(outs, dim=1)[:, :frames]


def relative_error(pred: torch.Tensor, target: torch.Tensor, kind: str = "rel_l2") -> torch.Tensor:
    """Per-sample relative error (B,) of pred, target (B, ...): rel_l2 or rel_mse."""
    diff = (pred - target).flatten(1).float()
    ref = target.flatten(1).float()
    num, den = (diff * diff).sum(1), (ref * ref).sum(1).clamp_min(1e-30)
    if kind == "rel_l2":
        return torch.sqrt(num / den)
    if kind == "rel_mse":
        return num / den
    raise SciflowError(f"objective.loss: must be 'rel_l2' or 'rel_mse', got {kind!r}")


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

    Spec keys: steps (frames unrolled), batch_size, loss (rel_l2 | rel_mse), pushforward,
    validation_batch, input_noise.
    """

    problem_needs = (Trajectories,)
    model_type = OperatorModel

    def __init__(self, problem, model, steps: int = 4, batch_size: int = 16, loss: str = "rel_l2",
                 pushforward: bool = False, validation_batch: int = 32, input_noise: float = 0.0):
        if loss not in ("rel_l2", "rel_mse"):
            raise SciflowError(f"objective.loss: must be 'rel_l2' or 'rel_mse', got {loss!r}")
        if steps < 1 or batch_size < 1:
            raise SciflowError(f"objective: steps and batch_size must be >= 1, got {steps}, {batch_size}")
        self.problem = problem
        self.steps, self.batch_size, self.kind = int(steps), int(batch_size), loss
        self.pushforward, self.validation_batch = bool(pushforward), int(validation_batch)
        if input_noise < 0:
            raise SciflowError(f"objective.input_noise must be >= 0, got {input_noise}")
        self.input_noise = float(input_noise)
        self.epoch, self.position, self.seed = 0, 0, 0

    def setup(self, device, dtype, generator: torch.Generator, rank: int = 0, world: int = 1):
        self.device, self.dtype, self.rank, self.world = device, dtype, rank, world
        self.seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        self.train = self.problem.dataset("train", t_out=self.steps, stride=1)
        self.val = None
        self._perm = None

    # ------------------------------------------------------------- data order
    def _permutation(self) -> torch.Tensor:
        if self._perm is None or self._perm[0] != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            self._perm = (self.epoch, torch.randperm(len(self.train), generator=g))
        return self._perm[1]

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (input (B, t_in, X, Y), target (B, steps, X, Y)); this rank's share of the batch."""
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
        x, y = self.next_batch()
        x = self.noisy(x, step)
        detach = self.steps - 1 if self.pushforward else 0
        pred = rollout(model, x, self.steps, detach_until=detach)
        k = self.steps if not self.pushforward else 1
        per_step = torch.stack([relative_error(pred[:, s], y[:, s], self.kind).mean()
                                for s in range(self.steps - k, self.steps)])
        total = per_step.mean()
        return total, {self.kind: total.detach()}

    def state_dict(self):
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, d):
        self.seed, self.epoch, self.position = int(d["seed"]), int(d["epoch"]), int(d["position"])
        self._perm = None

    # ------------------------------------------------------------- validation
    def validate(self, model):
        """{"rel_l2": mean relative L2 (physical units) of a ``horizon``-frame rollout on the validation split}."""
        if self.val is None:
            self.val = self.problem.dataset("validation", t_out=self.problem.horizon, stride=None)
        errs = []
        with torch.no_grad():
            for lo in range(0, len(self.val), self.validation_batch):
                items = [self.val[i] for i in range(lo, min(lo + self.validation_batch, len(self.val)))]
                x = torch.stack([a for a, _ in items]).to(self.device, self.dtype)
                y = torch.stack([b for _, b in items]).to(self.device, self.dtype)
                pred = rollout(model, x, y.shape[1])
                errs.append(relative_error(self.val.denormalise(pred), self.val.denormalise(y)))
        return {"rel_l2": float(torch.cat(errs).mean())}


@register_objective("supervised")
class SupervisedObjective(RolloutObjective):
    """One-step supervised loss: the model's next ``k`` frames against the data (teacher forcing).

    Spec keys: batch_size, loss (rel_l2 | rel_mse), frames (target frames per window = the model's
    t_out), validation_batch, input_noise.
    """

    def __init__(self, problem, model, batch_size: int = 16, loss: str = "rel_l2", frames: int | None = None,
                 validation_batch: int = 32, input_noise: float = 0.0):
        frames = int(frames or model.t_out)
        super().__init__(problem, model, steps=frames, batch_size=batch_size, loss=loss, pushforward=False,
                         validation_batch=validation_batch, input_noise=input_noise)

    def loss(self, model, step: int):
        x, y = self.next_batch()
        x = self.noisy(x, step)
        pred = model(x)[:, :self.steps]
        total = relative_error(pred, y, self.kind).mean()
        return total, {self.kind: total.detach()}
