"""Reads YAML and JSON spec files into plain Python data plus the position of every node.

Positions are why this module exists: every later check reports ``FILE:LINE:COL`` for the exact
key or value at fault, so the tree is composed node by node instead of ``yaml.safe_load``-ed.
YAML is read with the safe loader only, and ``1e-5`` resolves to a float as in YAML 1.2 and JSON
(plain PyYAML reads it as a string).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.text import preview
from hpo_cli.spec.compose import MAX_DEPTH, PathKey, compose

MAX_BYTES = 5_000_000  # a spec describes a search; the largest example is a few kilobytes


@dataclass
class Document:
    """A loaded spec: the data, and where each value (``values``) and mapping key (``keys``) stands."""

    file: str
    data: Any
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # An alias, a merged key or a renamed synonym: path -> the path where its text is (never copied).
    links: dict[PathKey, PathKey] = field(default_factory=dict)
    # Filled while the spec is normalised: canonical path -> where the value was written (a value
    # merged from ``defaults``), and canonical key -> the synonym the user wrote (``param_grid``).
    origins: dict[PathKey, PathKey] = field(default_factory=dict)
    written: dict[PathKey, PathKey] = field(default_factory=dict)
    sha256: str = ""  # of the bytes read, so the file is read once
    anchored: set[PathKey] = field(default_factory=set)  # values that carry a YAML anchor (&name)

    def _linked(self, path: PathKey) -> PathKey | None:
        """``path`` through its longest linked prefix, or None when no prefix is linked."""
        for n in range(len(path), 0, -1):
            target = self.links.get(path[:n])
            if target is not None:
                return target + path[n:]
        return None

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """The nearest known position of ``path``: itself (through aliases and renames), else its closest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        for _ in range(4 * len(probe) + 64):  # links never cycle; the bound only keeps a bug from hanging
            if probe in table:
                line, col = table[probe]
                return Location(self.file, line, col)
            if key and probe in self.values:
                line, col = self.values[probe]
                return Location(self.file, line, col)
            linked = self._linked(probe)
            if linked is not None:
                probe = linked
                continue
            if not probe:
                break
            probe = probe[:-1]
        return Location(self.file, 1, 1)

    def move(self, src: PathKey, dst: PathKey) -> None:
        """Positions of a renamed synonym: ``dst`` is found where ``src`` was written (one link, no walk)."""
        self.links[tuple(dst)] = tuple(src)


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


def _json_depth_error(text: str, file: str) -> None:
    """Refuse JSON nested deeper than ``MAX_DEPTH`` before ``json.loads`` recurses into it (10,000 ``[``)."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                raise InputError(f"the spec nests deeper than {MAX_DEPTH} levels (a spec needs about eight)",
                                 Location(file, line, col))
        elif char in "]}":
            depth -= 1


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def parse_text(text: str, file: str) -> Document:
    """Parse YAML or JSON text; JSON syntax errors keep JSON's own line and column."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors save
    is_json = file.lower().endswith(".json")
    if is_json:
        _json_depth_error(text, file)
        try:  # syntax only: numbers stay text here, the composer reads (and bounds) them
            json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {preview(exc.msg, 80)}", Location(file, exc.lineno, exc.colno)) from None
        # JSON is YAML 1.2 flow syntax; tabs are only whitespace in valid JSON, and the same width keeps columns.
        text = text.replace("\t", " ")
    try:
        composed = compose(text, file, is_json=is_json)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or exc.context or "syntax error"
        raise InputError(f"invalid YAML: {preview(what, 120)}", Location(file, line, col)) from None
    except yaml.reader.ReaderError as exc:  # a control character: located from its offset
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InputError(f"invalid YAML: the control character #x{exc.character:04x} is not allowed",
                         Location(file, line, col)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {preview(str(exc).splitlines()[0], 120)}", Location(file)) from None
    return Document(file=file, data=composed.data, values=composed.values, keys=composed.keys,
                    links=composed.links, anchored=composed.anchored)


def load_document(path: str | Path) -> Document:
    """Read a spec file from disk: only a regular file under ``MAX_BYTES``, checked before it is opened.

    A FIFO would block, ``/dev/zero`` never ends, a directory is no file: each is refused from
    ``stat`` alone. A missing or unreadable file is bad input, not a crash.
    """
    p = Path(path)
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"spec file not found: {p}", Location(str(p))) from None
    except OSError as exc:
        raise InputError(f"cannot read the spec: {exc.strerror or exc}", Location(str(p))) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"expected a spec file, got a directory: {p}", Location(str(p)))
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode) or \
            stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file"
        raise InputError(f"a spec is a regular file; {p} is {kind}", Location(str(p)))
    if p.suffix.lower() not in {".yaml", ".yml", ".json"}:
        raise InputError("a spec is a .yaml, .yml or .json file", Location(str(p)))
    if info.st_size > MAX_BYTES:
        raise InputError(f"the spec is {info.st_size:,} bytes; the limit is {MAX_BYTES // 1_000_000} MB "
                         f"({MAX_BYTES:,} bytes): a spec describes a search, it does not hold data", Location(str(p)))
    try:
        with open(p, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the spec: {exc.strerror or exc}", Location(str(p))) from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"the spec is larger than the limit of {MAX_BYTES // 1_000_000} MB", Location(str(p)))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"the spec is not UTF-8 text (byte 0x{raw[exc.start]:02x})", Location(str(p), line, col)) \
            from None
    doc = parse_text(text, str(p))
    doc.sha256 = hashlib.sha256(raw).hexdigest()
    return doc
