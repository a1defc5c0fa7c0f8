"""Name → object registries (problems, models, objectives, recipes, evaluators).

A spec or recipe names what it wants (``model: {name: pinn}``); the registry imports the
modules that register such things on first lookup and answers with the object or one clear
error listing the known names.
"""

from __future__ import annotations

import importlib

from sciflow.errors import SciflowError


class Registry:
    def __init__(self, kind: str, key: str, modules: tuple[str, ...]):
        self.kind, self.key, self.modules = kind, key, modules
        self._items: dict[str, object] = {}
        self._imported = False

    def register(self, name: str):
        """Decorator registering a class or function under ``name`` (classes get ``registry_name``)."""

        def deco(obj):
            self._items[name] = obj
            if isinstance(obj, type):
                obj.registry_name = name
            return obj

        return deco

    def import_modules(self):
        if self._imported:
            return
        for mod in self.modules:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as exc:
                if exc.name != mod:  # a real missing dependency inside an existing module
                    raise
        self._imported = True

    def get(self, name: str):
        if name not in self._items:
            self.import_modules()
        if name not in self._items:
            raise SciflowError(f"{self.key}: unknown {self.kind} '{name}'; known: {sorted(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        self.import_modules()
        return list(self._items)
