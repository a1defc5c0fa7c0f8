"""Files that ship inside the package: run specs (``configs/``), dataset recipes (``datasets/``)
and the published tables the evaluations compare with (``datasets/reference/``).

They are found through ``importlib.resources``, so a wheel install and a source checkout see
the same files (in a checkout, the top-level ``configs`` and ``datasets`` are links to these
folders). A bundled file is named by its stem: ``cavity_re100_pinn`` is
``configs/cavity_re100_pinn.yaml``. Wherever a user passes a spec or a recipe, a path that
exists wins over a bundled name.
"""

from __future__ import annotations

import difflib
import os
from importlib.resources import files
from pathlib import Path

from sciflow.errors import SciflowError

__all__ = ["bundled_configs", "bundled_recipes", "reference_tables", "reference_table", "has_reference_table",
           "resolve_spec", "resolve_recipe"]


def _folder(*parts: str) -> Path:
    root = files(__name__)
    if not isinstance(root, Path):  # e.g. imported from a zip archive
        raise SciflowError(f"sciflow's bundled files must be on disk; {__name__} is at {root}")
    return root.joinpath(*parts)


def _by_stem(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob(f"*{suffix}")) if p.is_file()}


def bundled_configs() -> dict[str, Path]:
    """Bundled run specs: {name: path of configs/<name>.yaml}."""
    return _by_stem(_folder("configs"), ".yaml")


def bundled_recipes() -> dict[str, Path]:
    """Bundled dataset recipes: {name: path of datasets/<name>.yaml}."""
    return _by_stem(_folder("datasets"), ".yaml")


def reference_tables() -> dict[str, Path]:
    """Published reference tables: {name: path of datasets/reference/<name>.csv}."""
    return _by_stem(_folder("datasets", "reference"), ".csv")


def has_reference_table(name: str) -> bool:
    return name in reference_tables()


def reference_table(name: str) -> Path:
    """Path of the published table ``datasets/reference/<name>.csv``; a SciflowError if none ships."""
    tables = reference_tables()
    if name not in tables:
        raise SciflowError(f"no published reference table '{name}'{_close(name, tables)}")
    return tables[name]


def _close(name: str, known) -> str:
    near = difflib.get_close_matches(name, list(known), n=5, cutoff=0.6)
    return f"; close names: {', '.join(near)}" if near else ""


def _resolve(arg: str | os.PathLike, bundled: dict[str, Path], what: str, listing: str) -> Path:
    """``arg`` if it is an existing file, else the bundled file of that name (``.yaml`` optional)."""
    path = Path(arg)
    if path.exists():
        return path
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    if len(path.parts) == 1 and stem in bundled:
        return bundled[stem]
    if stem in bundled:  # a path that does not exist, e.g. configs/X.yaml outside a checkout
        hint = f"; a bundled {listing} has that name: use '{stem}'"
    else:
        hint = _close(stem, bundled)
    raise SciflowError(f"{what} file not found: {arg} (neither a file nor a bundled {listing}{hint}; "
                       f"`sciflow list` shows them all)")


def resolve_spec(arg: str | os.PathLike) -> Path:
    """A spec file: an existing path, or the name of a bundled config (``cavity_re100_pinn``)."""
    return _resolve(arg, bundled_configs(), "spec", "config")


def resolve_recipe(arg: str | os.PathLike) -> Path:
    """A recipe file: an existing path, or the name of a bundled recipe (``cavity``, ``ns2d_nu1e-5_cpu``)."""
    return _resolve(arg, bundled_recipes(), "recipe", "recipe")
