"""Optimisers and learning-rate schedules for the phases of a run (Adam-family, then L-BFGS, dense BFGS or self-scaled Broyden)."""

from __future__ import annotations

import math

import torch


def make_optimizer(phase, params):
    if phase.optimizer == "adam":
        return torch.optim.Adam(params, lr=phase.lr, weight_decay=phase.weight_decay)
    if phase.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=phase.lr, weight_decay=phase.weight_decay)
    if phase.optimizer == "sgd":
        return torch.optim.SGD(params, lr=phase.lr, momentum=0.9, weight_decay=phase.weight_decay)
    if phase.optimizer == "lbfgs":
        # max_eval bounds the line search's evaluations too (torch passes max_eval − evals as its
        # max_ls): with the default 1.25 × max_iter a one-iteration step could not search at all.
        return torch.optim.LBFGS(params, lr=phase.lr, max_iter=phase.max_iter, max_eval=phase.max_iter * 25,
                                 history_size=phase.history,
                                 line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-16)
    if phase.optimizer in ("bfgs", "ssbroyden"):
        from sciflow.training.bfgs import DenseBFGS

        return DenseBFGS(params, lr=phase.lr, self_scaled=phase.optimizer == "ssbroyden")
    raise ValueError(phase.optimizer)


def learning_rate(phase, k: int) -> float:
    """LR at step k of a phase (a pure function of k, so resuming needs no scheduler state).

    constant; cosine from lr to lr·final_lr_ratio; exponential decay to lr·final_lr_ratio at the
    phase's end; step: ×gamma every step_size steps. ``warmup`` steps ramp linearly from 0.
    """
    if phase.warmup and k < phase.warmup:
        return phase.lr * (k + 1) / phase.warmup
    n = max(phase.steps - phase.warmup, 1)
    s = min(max(k - phase.warmup, 0), n) / n
    r = phase.final_lr_ratio
    if phase.schedule == "cosine":
        return phase.lr * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * s)))
    if phase.schedule == "exponential":
        return phase.lr * r ** s
    if phase.schedule == "step":
        return phase.lr * phase.gamma ** (k // phase.step_size)
    return phase.lr
