"""Name → object registries (problems, models, objectives, recipes, evaluators) and plugin loading.

A spec or recipe names what it wants (``model: {name: pinn}``). A registry answers with the
object registered under that name, or one clear error listing the known names. It finds its
entries itself: on the first unknown name it imports every module of its packages
(``packages``), then the plugins that installed distributions declare in the entry-point group
``sciflow.plugins``. No file lists modules by hand.

User code enters three ways, all named by the user:

* ``imports: [mypkg.flows, ./my_problem.py]`` in a spec: module names, or paths of ``.py``
  files relative to the spec (:func:`load_imports`);
* ``name: "mypkg.flows:MyProblem"`` (or ``"./my_problem.py:MyProblem"``): an object by its
  import path, registered or not;
* an entry point ``[project.entry-points."sciflow.plugins"] mypkg = "mypkg.flows"``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

from sciflow.errors import SciflowError

ENTRY_POINT_GROUP = "sciflow.plugins"
_entry_points_loaded = False
_file_modules: dict[Path, str] = {}


class Registry:
    def __init__(self, kind: str, key: str, packages: tuple[str, ...] = ()):
        self.kind, self.key, self.packages = kind, key, tuple(packages)
        self._items: dict[str, object] = {}
        self._discovered = False

    def register(self, name: str):
        """Decorator registering a class or function under ``name`` (classes get ``registry_name``)."""

        def deco(obj):
            self._items[name] = obj
            if isinstance(obj, type):
                obj.registry_name = name
            return obj

        return deco

    def discover(self):
        """Import every module of the registry's packages, then the ``sciflow.plugins`` entry points."""
        if self._discovered:
            return
        for package in self.packages:
            import_package(package)
        load_entry_points()
        self._discovered = True

    def get(self, name: str):
        if ":" in name:
            return load_object(name, self.key)
        if name not in self._items:
            self.discover()
        if name not in self._items:
            raise SciflowError(f"{self.key}: unknown {self.kind} '{name}'; known: {sorted(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        self.discover()
        return list(self._items)


def import_package(package: str) -> None:
    """Import every module (not ``_private``) of ``package``, one level deep."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, package + "."):
        if not info.name.rpartition(".")[2].startswith("_"):
            importlib.import_module(info.name)


def load_entry_points() -> None:
    """Import the modules that installed distributions register under ``sciflow.plugins`` (once)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise SciflowError(f"entry point '{ep.name}' ({ep.value}) of group {ENTRY_POINT_GROUP}: {exc}") from exc


def _import_file(path: Path, key: str) -> str:
    """Import the Python file ``path`` once (under a name made from its resolved path); its module name."""
    path = path.resolve()
    if path in _file_modules:
        return _file_modules[path]
    if path.suffix != ".py" or not path.is_file():
        raise SciflowError(f"{key}: '{path}' is not a Python file (.py)")
    name = f"sciflow_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    _file_modules[path] = name
    return name


def _is_path(entry: str) -> bool:
    return entry.endswith(".py") or "/" in entry or "\\" in entry


def load_imports(entries: list[str], base_dir: Path, key: str = "imports") -> list[str]:
    """Import the user's modules: module names, or ``.py`` paths relative to ``base_dir``.

    Returns the entries resolved so that they import from any working directory (file paths made
    absolute), which is what a run directory records.
    """
    resolved = []
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, str) or not entry.strip():
            raise SciflowError(f"{where}: expected a module name or a path to a .py file, got {entry!r}")
        if _is_path(entry):
            path = Path(entry).expanduser()
            path = path if path.is_absolute() else Path(base_dir) / path
            _import_file(path, where)
            resolved.append(str(path.resolve()))
            continue
        try:
            importlib.import_module(entry)
        except ModuleNotFoundError as exc:
            if exc.name and entry.startswith(exc.name):
                raise SciflowError(f"{where}: no module named '{entry}' (install it, put it on PYTHONPATH, "
                                   f"or name its file: ./{entry.replace('.', '/')}.py)") from None
            raise
        resolved.append(entry)
    return resolved


def load_object(reference: str, key: str):
    """``"package.module:Name"`` or ``"path/to/file.py:Name"`` → that object."""
    module_name, _, attr = reference.rpartition(":")
    if not module_name or not attr.isidentifier():
        raise SciflowError(f"{key}: '{reference}' is not of the form 'module:Name' or 'file.py:Name'")
    if _is_path(module_name):
        module = sys.modules[_import_file(Path(module_name).expanduser(), key)]
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise SciflowError(f"{key}: no module named '{module_name}' (from '{reference}')") from None
            raise
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SciflowError(f"{key}: module '{module_name}' has no '{attr}'") from None
