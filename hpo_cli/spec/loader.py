"""Reads YAML and JSON spec files into plain Python data plus the position of every node.

Positions are why this module exists: every later check reports ``FILE:LINE:COL`` for the exact
key or value at fault, so the tree is composed node by node instead of ``yaml.safe_load``-ed.
YAML is read with the safe loader only, and ``1e-5`` resolves to a float as in YAML 1.2 and JSON
(plain PyYAML reads it as a string).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.errors import InputError, Location

PathKey = tuple[str | int, ...]


# libyaml's parser when PyYAML was built with it (it gives the same nodes and marks, ~5x faster).
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecLoader(_BaseLoader):
    """Safe loader whose floats are JSON's and YAML 1.2's: ``1e-5``, ``1.0e3`` and ``1.5E+2`` are floats.

    PyYAML (YAML 1.1) wants a dot *and* a signed exponent, so it reads ``1e-5`` and ``1.0e3`` as strings.
    """


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


@dataclass
class Document:
    """A loaded spec: the data, and where each value (``values``) and mapping key (``keys``) stands."""

    file: str
    data: Any
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # Filled while the spec is normalised: canonical path -> where the value was written (a value
    # merged from ``defaults``), and canonical key -> the synonym the user wrote (``param_grid``).
    origins: dict[PathKey, PathKey] = field(default_factory=dict)
    written: dict[PathKey, PathKey] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """The nearest known position of ``path``: itself, else its closest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                line, col = table[probe]
                return Location(self.file, line, col)
            if key and probe in self.values:
                line, col = self.values[probe]
                return Location(self.file, line, col)
            if not probe:
                return Location(self.file, 1, 1)
            probe = probe[:-1]

    def move(self, src: PathKey, dst: PathKey) -> None:
        """Re-home the positions of a subtree, after a synonym is renamed to its canonical key."""
        for table in (self.values, self.keys):
            n = len(src)
            moved = {dst + k[n:]: v for k, v in table.items() if k[:n] == src}
            for k in [k for k in table if k[:n] == src]:
                del table[k]
            table.update(moved)


def dotted(path: PathKey) -> str:
    """``models[0].space.C`` from ``("models", 0, "space", "C")``: the path printed in messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def origin_of(doc: Document | None, path: PathKey) -> PathKey:
    """Where a merged value was written: ``models[2].metric`` may really be ``defaults.metric``."""
    origins = doc.origins if doc else {}
    path = tuple(path)
    for _ in range(4):  # an origin may itself be moved (a `tune: false` entry merged from defaults)
        for n in range(len(path), 0, -1):
            if path[:n] in origins:
                path = origins[path[:n]] + path[n:]
                break
        else:
            break
    return path


def rename(doc: Document, mapping: dict, base: PathKey, old: str, new: str) -> None:
    """Rename a synonym to its canonical key; positions move along, messages keep the written name."""
    mapping[new] = mapping.pop(old)
    doc.move(base + (old,), base + (new,))
    doc.written[base + (new,)] = base + (old,)


def written_path(doc: Document | None, path: PathKey) -> PathKey:
    """A canonical path with the keys the user wrote: ``models[0].param_grid.C``, not ``...space.C``."""
    written = doc.written if doc else {}
    path = tuple(path)
    for n in range(len(path), 0, -1):
        if path[:n] in written:
            return written_path(doc, written[path[:n]][:n - 1]) + written[path[:n]][n - 1:] + path[n:]
    return path


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_PLAIN_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


def _build(node: yaml.Node, path: PathKey, doc: Document, loader: SpecLoader) -> Any:
    doc.values[path] = _mark(node)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        # The safe constructor refuses such tags on scalars; here they would be silently dropped.
        line, col = _mark(node)
        raise InputError(f"invalid YAML: the tag {node.tag} is not allowed (a spec holds plain data only)",
                         Location(doc.file, line, col), dotted(path))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, bool) or key is None:
                key = "null" if key is None else str(key).lower()
            # Numeric keys keep their type: class_weight: {0: 1, 1: 3} must reach the estimator with int keys.
            if not isinstance(key, str | int | float):
                line, col = _mark(key_node)
                raise InputError("mapping keys must be plain names", Location(doc.file, line, col), dotted(path))
            if key in out:
                line, col = _mark(key_node)
                raise InputError(f"duplicate key '{key}' (each key may appear once)",
                                 Location(doc.file, line, col), dotted(path + (key,)))
            doc.keys[path + (key,)] = _mark(key_node)
            out[key] = _build(value_node, path + (key,), doc, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), doc, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_text(text: str, file: str) -> Document:
    """Parse YAML or JSON text; JSON syntax errors keep JSON's own line and column."""
    is_json = file.lower().endswith(".json")
    if is_json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", Location(file, exc.lineno, exc.colno)) from None
        # JSON is YAML 1.2 flow syntax; tabs are only whitespace in valid JSON, and the same width keeps columns.
        text = text.replace("\t", " ")
    doc = Document(file=file, data=None)
    loader = SpecLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError("the spec file is empty; it needs at least `models:`", Location(file, 1, 1))
        doc.data = _build(node, (), doc, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or exc.context or "syntax error"
        raise InputError(f"invalid YAML: {what}", Location(file, line, col)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", Location(file)) from None
    finally:
        loader.dispose()
    return doc


def load_document(path: str | Path) -> Document:
    """Read a spec file from disk; a missing or unreadable file is bad input, not a crash."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"spec file not found: {p}", Location(str(p)))
    if p.is_dir():
        raise InputError(f"expected a spec file, got a directory: {p}", Location(str(p)))
    if p.suffix.lower() not in {".yaml", ".yml", ".json"}:
        raise InputError("a spec is a .yaml, .yml or .json file", Location(str(p)))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the spec: {exc}", Location(str(p))) from None
    return parse_text(text, str(p))
