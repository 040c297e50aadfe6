"""Composing YAML (and JSON) parser events into plain data, iteratively and within fixed bounds.

A spec is read by hostile or careless hands: a 600-byte "billion laughs" file of nested aliases, a
recursive alias (``models: &m [*m]``), thousands of nested brackets. PyYAML's own composer and
constructor are recursive and expand every alias again, so this module builds the tree from the
parser's events with an explicit stack instead:

- each anchored value is built once; an alias copies it (bounded, see below) and records a *link*
  from where it is used to where it was written, so positions are never walked again;
- the tree after alias expansion holds at most ``MAX_NODES`` values and nests at most ``MAX_DEPTH``
  levels, each a located error, so nothing later (normalising, pydantic, ``copy``) can recurse deeply;
- scalars follow YAML 1.2's core schema: only ``true``/``false`` are booleans (``on``, ``yes`` and
  ``no`` stay strings), ``1e-5`` is a float, dates stay text; ``.nan``, ``.inf`` and integers beyond
  64 bits are refused where they stand;
- merge keys (``<<: *base``) are supported; merged values point at the text they came from;
- tags other than YAML's core ones (``!!binary``, ``!!set``, ``!!python/...``) are refused.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.text import preview

PathKey = tuple[str | int, ...]

MAX_NODES = 200_000  # values after alias expansion; the largest example spec holds a few hundred
MAX_DEPTH = 32  # nesting levels after alias expansion; a spec needs about eight
INT64 = (-(2**63), 2**63 - 1)

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")} | {"!"}
_COLLECTION_TAGS = {f"{_CORE}seq", f"{_CORE}map", "!"}
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9][0-9_]*")
_INT_BASE = re.compile(r"0o[0-7_]+|0x[0-9a-fA-F_]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?")
_NONFINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_JSON_NONFINITE = {"NaN", "Infinity", "-Infinity", "+Infinity"}


@dataclass
class Composed:
    """The data, and positions: ``values``/``keys`` where written, ``links`` alias use -> anchor path."""

    data: Any = None
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    links: dict[PathKey, PathKey] = field(default_factory=dict)
    anchored: set[PathKey] = field(default_factory=set)  # where an anchor (&name) was set


@dataclass
class _Built:
    """A finished value: its size and height after expansion, where it was written."""

    value: Any
    size: int
    height: int
    mark: tuple[int, int]
    path: PathKey
    is_map: bool = False


@dataclass
class _Frame:
    """An open mapping or sequence."""

    value: Any
    path: PathKey
    mark: tuple[int, int]
    anchor: str | None
    size: int = 1
    height: int = 0
    key: Any = None
    key_mark: tuple[int, int] | None = None
    has_key: bool = False
    merging: bool = False  # the pending key is a plain `<<`
    merges: list[_Built] = field(default_factory=list)


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Composer:
    def __init__(self, text: str, file: str, is_json: bool) -> None:
        self.file, self.is_json = file, is_json
        self.loader = _BaseLoader(text)
        self.out = Composed()
        self.anchors: dict[str, _Built] = {}
        self.stack: list[_Frame] = []
        self.nodes = 0
        self.root: _Built | None = None

    def fail(self, message: str, mark: tuple[int, int], path: PathKey = ()) -> InputError:
        return InputError(message, Location(self.file, *mark), _dotted(path))

    def run(self) -> Composed:
        try:
            self._events()
        finally:
            self.loader.dispose()
        return self.out

    def _events(self) -> None:
        documents = 0
        while True:
            event = self.loader.get_event()
            mark = (event.start_mark.line + 1, event.start_mark.column + 1)
            if isinstance(event, yaml.StreamEndEvent):
                break
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.fail("invalid YAML: a spec file holds one document (found a second `---`)", mark)
            elif isinstance(event, yaml.ScalarEvent):
                self._scalar(event, mark)
            elif isinstance(event, yaml.AliasEvent):
                self._alias(event.anchor, mark)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                self._open(event, mark)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                self._close()
        if documents == 0:
            raise InputError("the spec file is empty; it needs at least `models:`", Location(self.file, 1, 1))
        self.out.data = self.root.value if self.root else None

    # --- where the next value goes -----------------------------------------------------------------

    def _child_path(self) -> tuple[PathKey, bool]:
        """The path of the value about to be composed, and whether it is a mapping key."""
        if not self.stack:
            return (), False
        top = self.stack[-1]
        if isinstance(top.value, list):
            return top.path + (len(top.value),), False
        if not top.has_key:
            return top.path, True
        return top.path + (top.key,), False

    def _check_tag(self, tag: str | None, allowed: set[str], mark: tuple[int, int], path: PathKey) -> None:
        if tag is not None and tag not in allowed:
            raise self.fail(f"invalid YAML: the tag {preview(tag)} is not allowed (a spec holds plain data only: "
                            "mappings, lists, strings, numbers, true/false, null)", mark, path)

    # --- events ----------------------------------------------------------------------------------------

    def _scalar(self, event: yaml.ScalarEvent, mark: tuple[int, int]) -> None:
        path, is_key = self._child_path()
        self._check_tag(event.tag, _SCALAR_TAGS, mark, path)
        value = self._resolve(event, mark, path)
        built = _Built(value, 1, 0, mark, path)
        if event.anchor:
            self.anchors[event.anchor] = built
            self.out.anchored.add(path)
        self._deliver(built, mark, is_key, plain=event.tag is None and event.implicit[0])

    def _alias(self, name: str, mark: tuple[int, int]) -> None:
        path, is_key = self._child_path()
        target = self.anchors.get(name)
        if target is None:
            if any(frame.anchor == name for frame in self.stack):
                raise self.fail(f"invalid YAML: the alias *{preview(name)} refers to a value that contains it "
                                "(a recursive alias never ends)", mark, path)
            raise self.fail(f"invalid YAML: the alias *{preview(name)} names no anchor defined before it", mark, path)
        built = _Built(target.value, target.size, target.height, mark, target.path, target.is_map)
        self._deliver(built, mark, is_key, alias=True)

    def _open(self, event: Any, mark: tuple[int, int]) -> None:
        path, is_key = self._child_path()
        if is_key:
            raise self.fail("mapping keys must be plain names", mark, path)
        self._check_tag(event.tag, _COLLECTION_TAGS, mark, path)
        if len(self.stack) + 1 > MAX_DEPTH:
            raise self.fail(f"the spec nests deeper than {MAX_DEPTH} levels (a spec needs about eight)", mark)
        self._count(1, mark, path)
        is_map = isinstance(event, yaml.MappingStartEvent)
        self.out.values[path] = mark
        self.stack.append(_Frame({} if is_map else [], path, mark, event.anchor))

    def _close(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self._merge(frame)
        built = _Built(frame.value, frame.size, frame.height + 1, frame.mark, frame.path,
                       isinstance(frame.value, dict))
        if frame.anchor:
            self.anchors[frame.anchor] = built
            self.out.anchored.add(frame.path)
        if self.stack:
            parent = self.stack[-1]
            parent.size += built.size
            parent.height = max(parent.height, built.height)
            self._attach(built, frame.mark, False)
        else:
            self.root = built

    # --- building ----------------------------------------------------------------------------------

    def _count(self, size: int, mark: tuple[int, int], path: PathKey) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            raise self.fail(f"the spec holds more than {MAX_NODES:,} values once its aliases are expanded "
                            "(a spec needs a few hundred)", mark, path)

    def _deliver(self, built: _Built, mark: tuple[int, int], is_key: bool, *, plain: bool = False,
                 alias: bool = False) -> None:
        """A scalar or an alias: counted, then attached to the open collection."""
        path = self._child_path()[0]
        if alias:
            self._count(built.size, mark, path)
            if len(self.stack) + built.height > MAX_DEPTH:
                raise self.fail(f"the spec nests deeper than {MAX_DEPTH} levels once its aliases are expanded",
                                mark)
        else:
            self._count(1, mark, path)
        if not self.stack:
            self.root = built
            return
        top = self.stack[-1]
        if not is_key:
            top.size += built.size if alias else 1
            top.height = max(top.height, built.height)
        if is_key:
            self._key(top, built, mark, plain, alias)
        else:
            self._attach(built, mark, alias)

    def _key(self, top: _Frame, built: _Built, mark: tuple[int, int], plain: bool, alias: bool) -> None:
        key = built.value
        if alias and isinstance(key, dict | list):
            raise self.fail("mapping keys must be plain names", mark, top.path)
        if isinstance(key, bool) or key is None:
            key = "null" if key is None else str(key).lower()
        if key in top.value:
            raise self.fail(f"duplicate key '{preview(key)}' (each key may appear once)", mark, top.path + (key,))
        # A plain `<<` merges (YAML's merge key); a quoted '<<' is an ordinary key.
        top.key, top.key_mark, top.has_key, top.merging = key, mark, True, key == "<<" and plain

    def _attach(self, built: _Built, mark: tuple[int, int], alias: bool) -> None:
        top = self.stack[-1]
        if isinstance(top.value, list):
            path = top.path + (len(top.value),)
            top.value.append(copy.deepcopy(built.value) if alias else built.value)
        else:
            key, top.has_key = top.key, False
            if top.merging:
                top.merging = False
                self._merge_source(top, built, mark)
                return
            path = top.path + (key,)
            top.value[key] = copy.deepcopy(built.value) if alias else built.value
            self.out.keys[path] = top.key_mark or mark
        self.out.values[path] = mark
        if alias:
            self.out.links[path] = built.path

    def _merge_source(self, top: _Frame, built: _Built, mark: tuple[int, int]) -> None:
        """``<<: *base`` or ``<<: [*a, *b]``: mappings whose keys this mapping takes unless it sets them."""
        if built.is_map:
            top.merges.append(built)
            return
        items = built.value if isinstance(built.value, list) else None
        if not items or not all(isinstance(item, dict) for item in items):
            raise self.fail("a merge key `<<` takes a mapping (`<<: *base`) or a list of them (`<<: [*a, *b]`)",
                            mark, top.path + ("<<",))
        for i, item in enumerate(items):  # positions of aliased items follow their links to the anchors
            top.merges.append(_Built(item, 0, 0, mark, built.path + (i,), True))

    def _merge(self, frame: _Frame) -> None:
        """YAML merge: keys the mapping writes itself win; among merged mappings, the first one wins."""
        merged: dict[Any, Any] = {}
        for source in frame.merges:
            for key, value in source.value.items():
                if key not in merged and key not in frame.value:
                    merged[key] = copy.deepcopy(value)
                    self.out.links[frame.path + (key,)] = source.path + (key,)
        merged.update(frame.value)
        frame.value.clear()
        frame.value.update(merged)

    # --- scalars -----------------------------------------------------------------------------------

    def _resolve(self, event: yaml.ScalarEvent, mark: tuple[int, int], path: PathKey) -> Any:
        """YAML 1.2 core schema (plus ``1_000`` digit groups, as PyYAML reads them)."""
        text, tag = event.value, event.tag
        if tag is None and not event.implicit[0] or tag in ("!", f"{_CORE}str"):  # quoted or block text
            return text
        if tag == f"{_CORE}null" or tag is None and text in _NULL:
            if text not in _NULL:
                raise self.fail(f"!!null takes null or ~, got {preview(text)!r}", mark, path)
            return None
        if tag == f"{_CORE}bool" or tag is None and text in _BOOL:
            if text not in _BOOL:
                raise self.fail(f"!!bool takes true or false, got {preview(text)!r}", mark, path)
            return _BOOL[text]
        if _NONFINITE.fullmatch(text) or self.is_json and text in _JSON_NONFINITE:
            raise self.fail(f"{preview(text)} is not a finite number (a spec's numbers are finite)", mark, path)
        if tag in (None, f"{_CORE}int") and (_INT.fullmatch(text) or _INT_BASE.fullmatch(text)):
            return self._int(text, mark, path)
        if tag in (None, f"{_CORE}float") and _FLOAT.fullmatch(text) and (tag or re.search(r"[.eE]", text)):
            value = float(text.replace("_", ""))
            if not math.isfinite(value):
                raise self.fail(f"{preview(text)} is too large for a number (it overflows to infinity)", mark, path)
            return value
        if tag is not None:
            raise self.fail(f"{preview(text)!r} is not a valid {tag.removeprefix(_CORE)}", mark, path)
        return text

    def _int(self, text: str, mark: tuple[int, int], path: PathKey) -> int:
        digits = text.replace("_", "")
        body = digits.lstrip("+-")
        too_big = len(body) > 24  # int() of thousands of digits is slow and refused above 4300
        value = 0 if too_big else int(body[2:], {"o": 8, "x": 16}[body[1]]) if body[:2] in ("0o", "0x") \
            else int(digits)
        if too_big or not INT64[0] <= value <= INT64[1]:
            raise self.fail(f"the integer {preview(text, 24)} does not fit in 64 bits (at most {INT64[1]:,}); "
                            "no estimator or budget takes one that large", mark, path)
        return value


def compose(text: str, file: str, *, is_json: bool = False) -> Composed:
    """Compose one document of YAML (or JSON, which YAML 1.2 reads) with positions; errors are located."""
    return _Composer(text, file, is_json).run()
