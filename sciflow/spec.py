"""The YAML run spec: pydantic models, loading, ``--set a.b=c`` overrides, clear errors.

A spec has these sections (see ``configs/`` for complete examples)::

    name: cavity_re100_pinn          # run name → runs/<name>/
    seed: 0
    device: auto                     # auto | cpu | cuda | cuda:1 | mps
    dtype: float32                   # float32 | float64
    amp: none                        # none | bf16 (autocast on CUDA)
    compile: false                   # torch.compile the model
    imports: [mypkg.flows, ./my_problem.py]      # optional: user modules or files (relative to this spec)
    problem: {name: cavity, Re: 100}             # registered problem (or "module:Class") + its arguments
                                     # + optional schedule: {Re: [[0, 50], [2000, 100]]}
                                     #   (a parameter curriculum, sciflow/problems/schedule.py)
                                     # + optional parametric: {Re: [100, 1000]} (Re a network input,
                                     #   drawn over the range; Problem.set_parametric)
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
import math
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError, field_validator

from sciflow import strict_yaml
from sciflow.errors import SciflowError

Count = Annotated[int, Strict()]  # an integer, never a boolean or a float
RUN_NAME = r"^[A-Za-z0-9_.-]+$"  # one path component: runs/<name> never leaves runs/


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Phase(_Strict):
    """One optimisation phase. Steps are optimiser steps (an L-BFGS step runs up to ``max_iter`` evaluations)."""

    # bfgs / ssbroyden: dense inverse Hessian, plain or self-scaled Broyden (training/bfgs.py)
    optimizer: Literal["adam", "adamw", "sgd", "lbfgs", "bfgs", "ssbroyden"] = "adam"
    steps: Count = Field(1000, ge=0, le=10**9)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine", "exponential", "step"] = "constant"
    warmup: Count = Field(0, ge=0, le=10**9)
    final_lr_ratio: float = Field(0.01, gt=0, le=1)
    step_size: Count = Field(1000, gt=0, le=10**9)
    gamma: float = Field(0.5, gt=0)
    history: Count = Field(50, gt=0, le=10**4)
    max_iter: Count = Field(1, gt=0, le=10**4)


class Training(_Strict):
    phases: list[Phase] = Field(default_factory=lambda: [Phase()])
    checkpoint_every: Count = Field(500, gt=0, le=10**9)
    log_every: Count = Field(10, gt=0, le=10**9)
    grad_clip: Optional[float] = Field(None, gt=0)
    validate_every: Count = Field(0, ge=0, le=10**9)
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
    name: str = Field(pattern=RUN_NAME)
    imports: list[str] = Field(default_factory=list)
    seed: Count = Field(0, ge=0, lt=2**63)
    device: str = "auto"
    threads: Union[Literal["auto"], Annotated[int, Strict(), Field(ge=1, le=1024)]] = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    amp: Literal["none", "bf16"] = "none"
    compile: bool = False
    problem: Registered
    model: Registered
    objective: Registered = Field(default_factory=lambda: Registered(name="physics"))
    training: Training = Field(default_factory=Training)
    evaluation: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _one_component(cls, v):
        if v in (".", ".."):
            raise ValueError("a run name must be one path component (letters, digits, '_', '.', '-'), not '.' or '..'")
        return v

    def section(self, key: str) -> dict:
        """``problem``/``model``/``objective`` as a plain dict (name + arguments)."""
        return getattr(self, key).model_dump()

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def _set_path(tree: dict, dotted: str, value, source: str):
    keys = dotted.split(".")
    if not all(keys):
        raise SciflowError(f"{source}: --set {dotted}: empty key")
    node = tree
    for i, k in enumerate(keys):
        here = ".".join(keys[:i + 1])
        last = i == len(keys) - 1
        if isinstance(node, list):
            try:
                j = int(k)
                node[j]
            except (ValueError, IndexError):
                raise SciflowError(f"{source}: --set {dotted}: '{here}' is not a valid list index "
                                   f"(the list has {len(node)} items)") from None
            if last:
                node[j] = value
            else:
                node = node[j]
            continue
        if not isinstance(node, dict):
            raise SciflowError(f"{source}: --set {dotted}: '{'.'.join(keys[:i])}' is a value, not a section")
        if last:
            node[k] = value
        else:
            if k not in node or node[k] is None:
                node[k] = {}
            node = node[k]


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=3", "name=x"]`` → ``{"a.b": 3, "name": "x"}`` (values parsed as YAML)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SciflowError(f"--set {item}: expected KEY=VALUE (e.g. training.phases.0.steps=100)")
        k, v = item.split("=", 1)
        if not k.strip():
            raise SciflowError(f"--set {item}: the key before '=' is empty")
        out[k.strip()] = strict_yaml.loads(v, f"--set {k.strip()}")
    return out


def _check_registered(spec: Spec, source: str):
    from sciflow.models.registry import model_class
    from sciflow.problems.base import problem_class
    from sciflow.training.objectives import OBJECTIVES

    for key, getter in (("problem", problem_class), ("model", model_class), ("objective", OBJECTIVES.get)):
        sec = spec.section(key)
        try:
            cls = getter(sec["name"])
        except SciflowError as exc:
            raise SciflowError(f"{source}: {exc}") from None
        params = inspect.signature(cls.__init__).parameters
        allowed = set(params) - {"self", "problem", "model"}
        if key == "problem":
            allowed |= {"schedule", "reference", "parametric"}  # checked by build_problem
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            continue
        try:
            hints = typing.get_type_hints(cls.__init__, include_extras=True)
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
            bad = _bad_scalar(value)
            if isinstance(value, bool) and k in hints and _numeric_hint(hints[k]):
                bad = "must be a number, not a boolean"
            if bad:
                raise SciflowError(f"{source}: {key}.{k}: {bad} (got {value!r})")


def _numeric_hint(hint) -> bool:
    """``int``/``float`` (possibly ``Annotated`` or ``Optional``) but not ``bool``."""
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is Union:
        return any(_numeric_hint(h) for h in typing.get_args(hint) if h is not type(None))
    return hint in (int, float)


def _bad_scalar(value) -> str | None:
    """Why a class argument's value is refused whatever its annotation: booleans where numbers
    are expected are caught by the caller's annotation; here, non-finite numbers anywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if isinstance(value, (list, tuple)):
        return next((b for b in map(_bad_scalar, value) if b), None)
    if isinstance(value, dict):
        return next((b for b in map(_bad_scalar, value.values()) if b), None)
    return None


def _load_user_code(spec: Spec, base_dir: Path, source: str):
    """Import the spec's ``imports`` (paths relative to ``base_dir``) and record them resolved, as are
    ``file.py:Name`` names, so the spec works from any directory (a run directory, a new process)."""
    from sciflow.registry import load_imports

    try:
        spec.imports = load_imports(spec.imports, base_dir, "imports")
    except SciflowError as exc:
        raise SciflowError(f"{source}: {exc}") from None
    for key in ("problem", "model", "objective"):
        section = getattr(spec, key)
        module, _, attr = section.name.rpartition(":")
        if module.endswith(".py") and not Path(module).expanduser().is_absolute():
            section.name = f"{(base_dir / Path(module).expanduser()).resolve()}:{attr}"


def spec_from_dict(raw: dict, source: str = "<spec>", overrides: dict | None = None, check: bool = True,
                   base_dir: str | Path | None = None) -> Spec:
    """Validate a spec mapping; ``base_dir`` (default: the working directory) anchors relative ``imports``."""
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
    _load_user_code(spec, Path(base_dir) if base_dir is not None else Path.cwd(), source)
    if check:
        _check_registered(spec, source)
    return spec


def load_spec(path: str | Path, overrides: dict | list | None = None) -> Spec:
    """Load a YAML spec, apply overrides, validate. Errors name the file and the key path.

    ``path`` is a spec file or the name of a bundled config (``cavity_re100_pinn``); a file wins.
    """
    from sciflow.resources import resolve_spec

    path = resolve_spec(path)
    raw = strict_yaml.load_file(path, "spec file")
    if not isinstance(raw, dict):
        raise SciflowError(f"{path}: a spec must be a mapping of keys, got {type(raw).__name__}")
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    spec = spec_from_dict(raw, str(path), overrides, base_dir=path.parent)
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


# ---------------------------------------------------------------------------------- resume changes
_ANYTIME = ("training.checkpoint_every", "training.log_every", "training.validate_every", "training.tensorboard",
            "training.grad_clip", "device", "threads", "compile", "amp")
_SHAPING = ("problem", "model", "dtype")  # keys whose change makes the weights mean something else


def spec_diff(old: dict, new: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Leaf-level differences between two spec dicts: ``[(dotted key, old, new)]``."""
    out = []
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            out += spec_diff(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    if isinstance(old, list) and isinstance(new, list) and all(isinstance(v, dict) for v in old + new):
        for i in range(max(len(old), len(new))):
            out += spec_diff(old[i] if i < len(old) else None, new[i] if i < len(new) else None, f"{prefix}{i}.")
        return out
    return [] if old == new else [(prefix[:-1], old, new)]


def shaping_changes(saved: dict, current: dict) -> list[tuple[str, Any, Any]]:
    """Differences in the keys that shape the weights or the physics (problem, model, dtype)."""
    return [d for d in spec_diff(saved, current) if d[0].split(".")[0] in _SHAPING]


def check_resume_changes(saved: dict, new: dict, phase: int, step: int, source: str) -> list[tuple[str, Any, Any]]:
    """The changes a resumed run accepts, or one SciflowError naming the first refused key.

    Accepted: logging/checkpoint cadence, device, threads; later phases (any key) and new phases;
    the current phase's lr and schedule, and its ``steps`` if not below those already taken.
    Refused: problem, model, objective, dtype, seed, name, and any key of a finished phase.
    """
    changes = spec_diff(saved, new)
    phases = saved["training"]["phases"]
    start = sum(p["steps"] for p in phases[:phase])
    for key, old, value in changes:
        parts = key.split(".")
        if key in _ANYTIME or parts[0] == "evaluation":
            continue
        if parts[:2] == ["training", "phases"] and len(parts) >= 3:
            i = int(parts[2])
            field = parts[3] if len(parts) > 3 else None
            if i > phase:
                continue
            if i == phase and field not in (None, "optimizer", "history"):
                if field == "steps" and value is not None and value < step - start:
                    raise SciflowError(f"{source}: {key}: phase {i} has already taken {step - start} steps; "
                                       f"cannot shorten it to {value}")
                continue
            why = "a finished phase" if i < phase else "the optimiser of the running phase"
            raise SciflowError(f"{source}: {key}: cannot change on resume ({why}); start a new run instead")
        raise SciflowError(f"{source}: {key}: cannot change on resume (it shapes the weights, data or physics: "
                           f"{old!r} in the checkpoint, {value!r} now); start a new run (another --out) instead")
    return changes
