"""Declared interfaces of models: what objectives, evaluators and the trainer may rely on.

Every registered model is a :class:`Model`, built as ``cls(problem, **spec keys)``. It declares
the problem capabilities it needs (:mod:`sciflow.problems.base`), possibly depending on its spec
keys (:meth:`Model.requirements`); ``build_model`` checks them before constructing it.

* :class:`PointwiseModel` (PINN, LPINN): fields at points. ``forward(x, ansatz) -> Jet`` with
  value (N, C) and input derivatives; ``predict(x) -> (N, C)`` without derivatives;
  ``make_ansatz(x)`` the detached hard-constraint jets at fixed points (None: none);
  ``boundary`` "hard" or "soft".
* :class:`OperatorModel` (FNO, IFNO, DyMixOp, IFactFormer): maps ``t_in`` input frames to
  ``t_out`` output frames of gridded fields.
* :class:`NeuralProcess` (the ANP, ProbConserv-ANP): conditioned on observed contexts, a
  predictive mean and variance at target points.
* :class:`ProbabilisticPredictor`: any object with a predictive mean and variance at points, which
  the ProbConserv update can constrain.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from sciflow.autodiff.jet import Jet


class Model(nn.Module):
    """A registered model. ``requires``: the problem capabilities it needs whatever its keys."""

    requires: ClassVar[tuple[type, ...]] = ()

    @classmethod
    def requirements(cls, config: dict) -> tuple[type, ...]:
        """Capabilities the problem needs for a model built with spec keys ``config``."""
        return cls.requires


class PointwiseModel(Model):
    """Fields (and their derivatives) at points x (N, D)."""

    boundary: str = "hard"

    def make_ansatz(self, x: torch.Tensor):
        """The (detached) hard-constraint jets at fixed points x (N, D), to pass to ``forward``; None: none."""
        return None

    def forward(self, x: torch.Tensor, ansatz=None) -> Jet:
        """Fields at x (N, D) as a Jet: value (N, C), d1 (N, D, C), d2 (N, D, C)."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Field values (N, C) at x (N, D), without derivatives."""
        raise NotImplementedError


class OperatorModel(Model):
    """Maps ``t_in`` frames of gridded fields to the next ``t_out`` frames."""

    t_in: int = 1
    t_out: int = 1


@runtime_checkable
class NeuralProcess(Protocol):
    """Conditioned on contexts xc (B, Nc, D), yc (B, Nc, C): mean, var (B, Nt, C) at targets xt (B, Nt, D),
    averaged over ``samples`` latent draws from ``generator`` [+ each draw's mean (B, S, Nt, C) with
    ``return_samples``, which the latent covariance of the ProbConserv update needs]."""

    def parameters(self): ...

    def predict(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor, samples: int = 32,
                generator: torch.Generator | None = None, return_samples: bool = False) -> tuple: ...


@runtime_checkable
class CompilesJets(Protocol):
    """A model whose training forward is derivative-jet propagation through MLPs (PINNs): ``compile: true``
    also compiles its activation jet kernels (:meth:`sciflow.models.layers.MLP.compile_jets`), which
    ``torch.compile`` of the module does not fuse (benchmarks/results/pinn_step.md)."""

    def compile_jets(self) -> None: ...


@runtime_checkable
class ProbabilisticPredictor(Protocol):
    """``predict_distribution(x (N, D)) -> (mean (N, C), var (N, C)[, factor (N·C, R) or None])``."""

    def predict_distribution(self, x: torch.Tensor) -> tuple: ...


def unwrap(net: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel and/or torch.compile wrapper (else ``net``)."""
    from torch.nn.parallel import DistributedDataParallel

    while True:
        if isinstance(net, DistributedDataParallel):
            net = net.module
        elif isinstance(net, torch._dynamo.eval_frame.OptimizedModule):
            net = net._orig_mod
        else:
            return net
