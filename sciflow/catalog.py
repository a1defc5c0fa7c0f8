"""What this install offers, by name: bundled configs and recipes, published tables, and the
registered problems, models and objectives, each with a one-line description (``sciflow list``)."""

from __future__ import annotations

import inspect
from pathlib import Path

SECTIONS = ("configs", "recipes", "tables", "problems", "models", "objectives")


def _first_comment(path: Path) -> str:
    """The first ``#`` line of a YAML file (the configs open with what the run is)."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def _summary(obj) -> str:
    """The first paragraph of an object's own docstring (not an inherited one), else of its module's."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    if not doc:
        doc = inspect.getmodule(obj).__doc__
    return _first_paragraph(doc)


def _registered(registry) -> dict[str, str]:
    return {name: _summary(registry.get(name)) for name in sorted(registry.names())}


def catalog(section: str) -> dict[str, str]:
    """{name: one-line description} for one of ``SECTIONS``."""
    from sciflow import resources

    if section == "configs":
        return {name: _first_comment(p) for name, p in resources.bundled_configs().items()}
    if section == "recipes":
        import yaml

        out = {}
        for name, p in resources.bundled_recipes().items():
            recipe = yaml.safe_load(p.read_text()) or {}
            out[name] = f"[{recipe.get('recipe', '?')}] {_first_paragraph(recipe.get('description'))}"
        return out
    if section == "tables":
        return {name: _first_comment(p).removeprefix("source:").strip()
                for name, p in resources.reference_tables().items()}
    if section == "problems":
        from sciflow.problems.base import PROBLEMS

        return _registered(PROBLEMS)
    if section == "models":
        from sciflow.models.registry import MODELS

        return _registered(MODELS)
    if section == "objectives":
        from sciflow.training.objectives import OBJECTIVES

        return _registered(OBJECTIVES)
    raise ValueError(f"unknown section {section!r}; one of {SECTIONS}")
