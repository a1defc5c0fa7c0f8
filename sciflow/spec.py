"""The YAML run spec: pydantic models, loading, ``--set a.b=c`` overrides, clear errors.

A spec has these sections (see ``configs/`` for complete examples)::

    name: cavity_re100_pinn          # run name → runs/<name>/
    seed: 0
    device: auto                     # auto | cpu | cuda | cuda:1 | mps
    dtype: float32                   # float32 | float64
    amp: none                        # none | bf16 (autocast on CUDA)
    compile: false                   # torch.compile the model
    problem: {name: cavity, Re: 100}             # registered problem + its arguments
    model: {name: pinn, width: 64, depth: 5}     # registered model + its arguments
    objective: {name: physics, interior_points: 4000}
    training:
      phases: [{optimizer: adam, steps: 3000, lr: 1.0e-3, schedule: cosine}, {optimizer: lbfgs, steps: 2000}]
      checkpoint_every: 500
    evaluation: {}

Any unknown key or wrong type stops with one error naming the file and the key path.
``problem`` and ``model`` keys are checked against the registered class's arguments.
"""

from __future__ import annotations

import copy
import inspect
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from sciflow.errors import SciflowError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Phase(_Strict):
    """One optimisation phase. Steps are optimiser steps (an L-BFGS step runs up to ``max_iter`` evaluations)."""

    optimizer: Literal["adam", "adamw", "sgd", "lbfgs"] = "adam"
    steps: int = Field(1000, ge=0)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine", "exponential", "step"] = "constant"
    warmup: int = Field(0, ge=0)
    final_lr_ratio: float = Field(0.01, gt=0, le=1)
    step_size: int = Field(1000, gt=0)
    gamma: float = Field(0.5, gt=0)
    history: int = Field(50, gt=0)
    max_iter: int = Field(1, gt=0)


class Training(_Strict):
    phases: list[Phase] = Field(default_factory=lambda: [Phase()])
    checkpoint_every: int = Field(500, gt=0)
    log_every: int = Field(10, gt=0)
    grad_clip: Optional[float] = None
    validate_every: int = Field(0, ge=0)
    tensorboard: bool = True

    @field_validator("phases")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("at least one phase is needed")
        return v


class Registered(BaseModel):
    """A registry-selected section: ``name`` plus the class's own arguments."""

    model_config = ConfigDict(extra="allow")
    name: str


class Spec(_Strict):
    name: str
    seed: int = 0
    device: str = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    amp: Literal["none", "bf16"] = "none"
    compile: bool = False
    problem: Registered
    model: Registered
    objective: Registered = Field(default_factory=lambda: Registered(name="physics"))
    training: Training = Field(default_factory=Training)
    evaluation: dict[str, Any] = Field(default_factory=dict)

    def section(self, key: str) -> dict:
        """``problem``/``model``/``objective`` as a plain dict (name + arguments)."""
        return getattr(self, key).model_dump()

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def _set_path(tree: dict, dotted: str, value, source: str):
    keys = dotted.split(".")
    node = tree
    for i, k in enumerate(keys[:-1]):
        if isinstance(node, list):
            try:
                node = node[int(k)]
                continue
            except (ValueError, IndexError):
                raise SciflowError(f"{source}: --set {dotted}: '{'.'.join(keys[:i + 1])}' is not a valid list index")
        if k not in node or node[k] is None:
            node[k] = {}
        node = node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=3", "name=x"]`` → ``{"a.b": 3, "name": "x"}`` (values parsed as YAML)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SciflowError(f"--set {item}: expected KEY=VALUE (e.g. training.phases.0.steps=100)")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def _check_registered(spec: Spec, source: str):
    from sciflow.models.registry import model_class
    from sciflow.problems.base import problem_class

    for key, getter in (("problem", problem_class), ("model", model_class)):
        sec = spec.section(key)
        try:
            cls = getter(sec["name"])
        except SciflowError as exc:
            raise SciflowError(f"{source}: {exc}") from None
        params = inspect.signature(cls.__init__).parameters
        allowed = set(params) - {"self", "problem"}
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            continue
        try:
            hints = typing.get_type_hints(cls.__init__)
        except Exception:
            hints = {}
        for k, value in sec.items():
            if k == "name":
                continue
            if k not in allowed:
                raise SciflowError(f"{source}: {key}.{k}: unknown key for {key} '{sec['name']}'; "
                                   f"allowed: {sorted(allowed)}")
            if k in hints:
                try:
                    TypeAdapter(hints[k]).validate_python(value)
                except ValidationError as exc:
                    raise SciflowError(f"{source}: {key}.{k}: {exc.errors()[0]['msg']} (got {value!r})") from None


def spec_from_dict(raw: dict, source: str = "<spec>", overrides: dict | None = None, check: bool = True) -> Spec:
    raw = copy.deepcopy(raw)
    for k, v in (overrides or {}).items():
        _set_path(raw, k, v, source)
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise SciflowError(f"{source}: {path}: {msg}{extra}") from None
    if check:
        _check_registered(spec, source)
    return spec


def load_spec(path: str | Path, overrides: dict | list | None = None) -> Spec:
    """Load a YAML spec, apply overrides, validate. Errors name the file and the key path.

    ``path`` is a spec file or the name of a bundled config (``cavity_re100_pinn``); a file wins.
    """
    from sciflow.resources import resolve_spec

    path = resolve_spec(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SciflowError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SciflowError(f"{path}: a spec must be a mapping of keys, got {type(raw).__name__}")
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    spec = spec_from_dict(raw, str(path), overrides)
    _resolve_data_paths(spec, Path(path).resolve().parent)
    return spec


def _resolve_data_paths(spec: Spec, base: Path):
    """``problem.reference.path`` and ``problem.dataset.path`` are relative to the spec file: make them absolute."""
    extra = spec.problem.model_extra or {}
    for key in ("reference", "dataset"):
        entry = extra.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and entry["path"]:
            p = Path(entry["path"]).expanduser()
            entry["path"] = str(p if p.is_absolute() else (base / p).resolve())


def save_spec(spec: Spec, path: str | Path):
    from sciflow.data.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(spec.to_dict(), sort_keys=False))
