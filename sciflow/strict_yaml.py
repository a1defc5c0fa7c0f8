"""YAML for specs, recipes and ``--set`` values: safe tags only, duplicate keys refused, one error.

``yaml.safe_load`` never builds Python objects from tags; on top of it a mapping that repeats a
key is refused (YAML says keys are unique; PyYAML would silently keep the last one).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sciflow.errors import SciflowError


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads(text: str, source: str):
    """Parse YAML text; any error becomes one SciflowError naming ``source``."""
    try:
        loader = _UniqueKeyLoader(text)  # a SafeLoader: plain data only, no Python objects
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise SciflowError(f"{source}: not valid YAML: {msg}") from None


def load_file(path: str | Path, what: str):
    """Read and parse a YAML file; a missing file, a directory or non-UTF-8 bytes give one error."""
    path = Path(path)
    if not path.exists():
        raise SciflowError(f"{what} not found: {path}")
    if path.is_dir():
        raise SciflowError(f"{path}: is a directory, not a {what} (a YAML file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SciflowError(f"{path}: not a text (UTF-8) file: byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}") from None
    except OSError as exc:
        raise SciflowError(f"{path}: cannot read: {exc.strerror}") from None
    return loads(text, str(path))
