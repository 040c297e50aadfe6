"""The run folder's own files read back: best_parameters.yaml and run.json, a damaged one refused with its place.

Damage (random bytes, JSON nested 100,000 deep, a YAML alias bomb, a file of the wrong shape) is an
``InputError`` located in the file, never a traceback; ``read.load_run`` then rebuilds from the study storage
when it is intact. ``hpo best`` checks best_parameters.yaml's shape with ``check_best_parameters`` too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.errors import InputError, Location
from hpo_cli.rundir.paths import yaml_load


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError, OSError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Location(str(path), mark.line + 1, mark.column + 1) if mark is not None else Location(str(path))
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{path.name} is damaged (not valid YAML: {reason})", where) from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} is damaged (a {type(data).__name__}, not a mapping)", Location(str(path)))
    return data


def check_best_parameters(data: Any, path: Path) -> None:
    """The shape ``hpo tune`` writes best_parameters.yaml in; anything else is a damaged file (InputError)."""
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not all(
            isinstance(k, str) and isinstance(m, dict) and isinstance(m.get("params") or {}, dict)
            and isinstance(m.get("init_params") or {}, dict) for k, m in models.items()):
        raise InputError(f"{path.name} is damaged (no `models:` mapping of model name -> {{params: ..., "
                         "init_params: ...}}); it is not a file written by `hpo tune`", Location(str(path)))
    if not isinstance(data.get("best_model"), str | None):
        raise InputError(f"{path.name} is damaged (best_model must be a model name, not "
                         f"{type(data['best_model']).__name__} {str(data['best_model'])[:40]})", Location(str(path)))


def read_best(path: Path) -> dict[str, Any]:
    data = read_yaml(path)
    if data:
        check_best_parameters(data, path)
    return data


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} is damaged (not valid JSON: {exc.msg})",
                         Location(str(path), exc.lineno, exc.colno)) from None
    except (RecursionError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path.name} is damaged ({type(exc).__name__}: nested too deep or not text)",
                         Location(str(path))) from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} is damaged (a {type(data).__name__}, not an object)", Location(str(path)))
    return data
