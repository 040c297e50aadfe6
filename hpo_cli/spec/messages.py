"""Pydantic validation errors as the located, plain-language messages of ``hpo validate``.

Pydantic reports paths through union tags and model names and words messages for programmers;
users need ``FILE:LINE:COL: models[0].space.C: low (1.0) must be below high (0.5)`` at the value
they wrote, and a "did you mean" for a misspelled key or value.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from hpo_cli.core.errors import Problem
from hpo_cli.core.text import preview, suggest
from hpo_cli.spec.loader import Document, PathKey, dotted, origin_of, written_path
from hpo_cli.spec.models import MODEL_NAME_PATTERN


def _real_path(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """Drop pydantic's union/tag markers from an error location, keeping only real keys."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        if in_dict or isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            out.append(part)
        elif i == len(loc) - 1 and not (isinstance(node, dict) and node.get("type") == part):
            out.append(part)
    return tuple(out)


def _container(path: PathKey) -> str:
    if not path:
        return "spec"
    last = path[-1]
    if path[0] in ("models", "defaults") and len(path) >= 2 and "space" in path[:-1] and path[-2] == "space":
        return "param"
    if last in ("cv", "budget", "data", "tracking", "mlflow", "confirm", "pruner"):
        return str(last)
    if path[0] == "defaults" and len(path) == 1 or path[0] == "models" and len(path) == 2:
        return "model"
    return ""


def _message(err: dict[str, Any], path: PathKey, fields: dict[str, tuple[str, ...]]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        container = _container(path[:-1])
        if container == "pruner" and len(err["loc"]) >= 2:  # loc: (..., "pruner", <type tag>, key)
            container = f"pruner.{err['loc'][-2]}"
        options = fields.get(container, ())
        allowed = f" (allowed: {', '.join(options)})" if options else ""
        return f"unknown key '{path[-1]}'{suggest(str(path[-1]), options) or allowed}"
    if kind == "missing":
        return f"missing required key '{path[-1]}'"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = re.findall(r"'([^']*)'", expected)
        got = preview(repr(err["input"]), 60)
        return f"unknown value {got}; expected one of {', '.join(options)}{suggest(err['input'], options)}"
    if kind == "union_tag_invalid" and _container(path[:-1]) == "pruner":
        options = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected_tags", ""))
        name = str(err["input"].get("type"))
        return (f"unknown pruner {preview(repr(name), 40)}; expected one of {', '.join(options)}"
                f"{suggest(name, options)}")
    if kind == "union_tag_invalid":
        got = preview(repr(err["input"].get("type")), 40)
        return f"unknown type {got}; expected float, int or categorical (or a list)"
    if kind == "union_tag_not_found":
        return "a distribution needs `type: float|int|categorical`, or write the choices as a list"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(err.get("ctx", {}).values()), "")
        word = {"greater_than": "greater than", "greater_than_equal": "at least", "less_than": "below",
                "less_than_equal": "at most"}[kind]
        return f"must be {word} {bound}, got {preview(repr(err.get('input')), 60)}"
    if kind == "string_pattern_mismatch":
        got = preview(repr(err.get("input")), 60)
        if err.get("ctx", {}).get("pattern") == MODEL_NAME_PATTERN:
            return (f"{got} may only hold letters, digits, '_' and '-' (it names files and the study "
                    f"<spec name>.<model name>, so a '.' would make two models' studies collide)")
        return f"{got} may only hold letters, digits, '_', '.' and '-' (it names files and studies)"
    if kind == "finite_number":
        return f"must be a finite number, got {preview(repr(err.get('input')), 40)}"
    if kind == "too_long":
        ctx = err.get("ctx", {})
        most, got = f"{ctx.get('max_length', 0):,}", f"{ctx.get('actual_length', 0):,}"
        if path and path[-1] == "values":
            return (f"a categorical parameter takes at most {most} choices, got {got}; a wide numeric range is "
                    f"{{type: int, low: ..., high: ...}}")
        return f"at most {most} items, got {got}"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "model_attributes_type" and _container(path) == "param":
        return (f"expected a list of choices or a distribution such as {{type: float, low: 0.1, high: 1}}, "
                f"got {preview(repr(err.get('input')), 60)} (fixed values belong in init_params)")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        got = err.get("input")
        return f"{msg[0].lower()}{msg[1:]}, got {type(got).__name__} {preview(repr(got), 60)}"
    return f"{msg[0].lower()}{msg[1:]}"


def validation_problems(exc: ValidationError, doc: Document, data: dict[str, Any],
                        fields: dict[str, tuple[str, ...]]) -> list[Problem]:
    """One located ``Problem`` per pydantic error (duplicates from union branches dropped), in file order."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors()
    # A misspelled required key is both "unknown 'sorce'" and "missing 'source'": say it once, as the typo.
    guessed = {(_real_path(data, tuple(e["loc"]))[:-1], m.group(1)) for e in errors
               if e["type"] == "extra_forbidden"
               and (m := re.search(r"did you mean '([^']+)'", _message(e, _real_path(data, tuple(e["loc"])), fields)))}
    for err in errors:
        path = _real_path(data, tuple(err["loc"]))
        if err["type"] == "missing" and (path[:-1], str(path[-1])) in guessed:
            continue
        if err["type"] == "union_tag_invalid" and _container(path) == "pruner":
            path = path + ("type",)  # at the name, also when written bare (``pruner: medain``)
        origin = origin_of(doc, path)
        is_key = err["type"] in ("extra_forbidden",)
        location = doc.locate(origin[:-1]) if err["type"] == "missing" else doc.locate(origin, key=is_key)
        message = _message(err, path, fields)
        if err["type"] == "extra_forbidden" and len(path) == 1 and path in doc.anchored:
            message += f"; a block shared through its anchor goes under a key starting with x- (x-{path[0]})"
        problem = Problem(message, location, dotted(written_path(doc, origin)))
        ident = (str(problem.location), problem.message)
        if ident not in seen:
            seen.add(ident)
            problems.append(problem)
    return sorted(problems, key=lambda p: (p.location.line or 0, p.location.col or 0) if p.location else (0, 0))
