"""``hpo best``: the best parameters of a run, in the form a training stage reads.

It reads only ``best_parameters.yaml`` and imports nothing but PyYAML and the standard library, so a
pipeline stage (DVC, Make, CI) gets its parameters in milliseconds without loading optuna, mlflow or
scikit-learn.

Every format keeps the values exactly:

- ``yaml`` / ``json``: the parameters as a mapping; floats are written with ``repr`` precision, so
  ``Estimator(**yaml.safe_load(out))`` builds the model that was scored.
- ``env`` (``KEY=value`` lines), ``hydra`` (``prefix.key=value``) and ``args`` (``--key value``): each value
  is one *scalar text* (see :func:`scalar_text`) that ``yaml.safe_load`` turns back into the same Python
  value (``null``, ``true``, ints, floats, strings, and lists/mappings as flow collections), shell-quoted
  with :func:`shlex.quote` only where the shell needs it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.options import BestOptions
from hpo_cli.rundir.files import check_best_parameters
from hpo_cli.rundir.paths import BEST_PARAMETERS, yaml_load

_log = logging.getLogger("hpo")
FORMATS = ("yaml", "json", "env", "hydra", "args")
_BARE_STRING = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_best_parameters(run_dir: Path) -> dict[str, Any]:
    """Read and sanity-check ``best_parameters.yaml``; any problem is bad input (exit 2), never a traceback."""
    path = run_dir / BEST_PARAMETERS
    if not path.is_file():
        raise InputError(f"{BEST_PARAMETERS} not found in {run_dir}: no model of this run has finished yet "
                         "(run `hpo tune SPEC`, or name the right RUN_DIR)", Location(str(path)))
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Location(str(path), mark.line + 1, mark.column + 1) if mark is not None else Location(str(path))
        problem = getattr(exc, "problem", None) or str(exc) or type(exc).__name__
        raise InputError(f"{BEST_PARAMETERS} is not valid YAML ({problem}); re-run `hpo tune` to rewrite it",
                         where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {BEST_PARAMETERS}: {exc}", Location(str(path))) from None
    check_best_parameters(data, path)
    if not data["models"]:
        raise InputError(f"{BEST_PARAMETERS} has no `models:` mapping with a model in it; it is not a file "
                         "written by `hpo tune`",
                         Location(str(path)))
    return data


def select_model(data: dict[str, Any], name: str | None, source: str = BEST_PARAMETERS) -> tuple[str, dict[str, Any]]:
    """The requested model (default: the run's ``best_model``), or bad input listing the known ones."""
    models: dict[str, Any] = data["models"]
    chosen = name if name is not None else data.get("best_model")
    if chosen is None:
        raise InputError(f"{source} names no best_model; pick one with --model ({', '.join(models)})",
                         Location("--model"))
    if chosen not in models:
        raise InputError(f"unknown model {chosen!r}; this run has: {', '.join(models)}", Location("--model"))
    if models[chosen].get("params") is None:  # every trial of it failed (or none has finished yet)
        finished = [n for n, m in models.items() if m.get("params") is not None]
        raise InputError(f"model {chosen!r} has no complete trial, so no best parameters"
                         f"{'; models with results: ' + ', '.join(finished) if finished else ''}",
                         Location("--model"))
    return str(chosen), models[chosen]


def flat_params(entry: dict[str, Any], with_init: bool) -> dict[str, Any]:
    """Tuned parameters, optionally on top of the fixed ``init_params`` (a tuned value wins a clash)."""
    params = dict(entry.get("params") or {})
    if with_init:
        params = {**(entry.get("init_params") or {}), **params}
    return params


def float_text(value: float) -> str:
    """Full-precision float text that Python, YAML 1.1, JSON and Hydra all read back as the same float.

    ``repr`` is exact but writes ``1e-05``, which YAML 1.1 reads as a string; ``1.0e-05`` is read as a
    float by all of them.
    """
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    if "e" in text and "." not in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def scalar_text(value: Any) -> str:
    """One value as text that ``yaml.safe_load`` (and Hydra's override grammar) reads back unchanged.

    Strings stay bare when they cannot be mistaken for another type (``l2``, ``lbfgs``), else they are
    double-quoted JSON strings (``"1"``, ``"true"``, ``"two words"``). Lists and mappings become flow
    collections (``[100, 50]``, ``{a: 1}``).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, str):
        if _BARE_STRING.fullmatch(value) and yaml.safe_load(value) == value and value.lower() not in {
                "inf", "nan", "null", "true", "false"}:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar_text(k)}: {scalar_text(v)}" for k, v in value.items()) + "}"
    raise InputError(f"cannot carry a value of type {type(value).__name__} ({str(value)[:60]}); use --format yaml",
                     Location("--format"))


def render(params: dict[str, Any], fmt: str, prefix: str = "model") -> str:
    """The parameters in one of :data:`FORMATS`; always ends with a newline unless there is nothing to say."""
    if fmt == "yaml":
        return yaml.safe_dump(params, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if fmt == "json":
        return _json(params)
    if fmt == "env":
        bad = [k for k in params if not (isinstance(k, str) and _ENV_KEY.fullmatch(k))]
        if bad:
            raise InputError(f"parameter names {bad} are not shell variable names; use --format yaml or json",
                             Location("--format"))
        return "".join(f"{k}={shlex.quote(scalar_text(v))}\n" for k, v in params.items())
    if fmt == "hydra":
        dot = f"{prefix}." if prefix else ""
        return " ".join(shlex.quote(f"{dot}{k}={scalar_text(v)}") for k, v in params.items()) + "\n"
    if fmt == "args":
        return " ".join(f"--{shlex.quote(str(k))} {shlex.quote(scalar_text(v))}" for k, v in params.items()) + "\n"
    raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", Location("--format"))


def _json(params: dict[str, Any]) -> str:
    """JSON of the parameters; JSON's own rule makes mapping keys strings (``{0: 1}`` -> ``{"0": 1}``)."""
    try:
        return json.dumps(params, indent=2, ensure_ascii=False, allow_nan=True) + "\n"
    except (TypeError, ValueError) as exc:
        bad = next((k for k, v in params.items() if not _jsonable(v)), None)
        what = f"parameter {bad!r}: {type(params[bad]).__name__} {str(params[bad])[:60]}" if bad is not None else exc
        raise InputError(f"--format json cannot carry {what}; use --format yaml", Location("--format")) from None


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _load_or_rebuild(run_dir: Path) -> dict[str, Any]:
    """best_parameters.yaml; when it is damaged and the study storage is intact, its content rebuilt from there.

    Only the rebuild opens the storage (and imports optuna): an intact file costs PyYAML alone.
    """
    if not (run_dir / BEST_PARAMETERS).is_file():
        return load_best_parameters(run_dir)  # the "not found" message
    try:
        return load_best_parameters(run_dir)
    except InputError as damage:
        from hpo_cli.rundir.read import load_run

        try:
            run = load_run(run_dir)
        except InputError:
            raise damage from None
        if run.source != "study storage":
            raise damage from None
        if str(run_dir / BEST_PARAMETERS) not in run.rebuilt:
            _log.warning("warning: %s; rebuilt from the study storage (`hpo tune SPEC --resume` rewrites it)",
                         damage.problems[0])
        models: dict[str, Any] = {}
        for name, trials in run.models.items():
            best = run.best_trial(name)
            meta = trials.meta
            init = meta.get("init_params")
            models[name] = {"estimator": meta.get("estimator"), "params": dict(best.params) if best else None,
                            "init_params": init if isinstance(init, dict) else {},
                            "mean_test_score": best.mean_test_score if best else None}
        scored = [n for n, m in models.items() if m["mean_test_score"] is not None]
        winner = max(scored, key=lambda n: models[n]["mean_test_score"], default=None)
        multi = [mt for mt in run.models.values() if mt.objectives]
        if multi:  # two objectives: the select rule across the fronts, as hpo tune chose
            from hpo_cli.core.pareto import winner_across

            winner = winner_across([(mt.name, mt.front()) for mt in multi], multi[0].objectives, multi[0].select)
        return {"best_model": winner, "models": models}


def export_best(options: BestOptions) -> str:
    """Text for ``hpo best``: the chosen model's flat parameters in the requested format."""
    if options.format not in FORMATS:
        raise InputError(f"unknown format {options.format!r}; use one of: {', '.join(FORMATS)}",
                         Location("--format"))
    data = _load_or_rebuild(options.run_dir)
    _, entry = select_model(data, options.model)
    params = flat_params(entry, options.with_init)
    text = render(params, options.format, options.prefix)
    return "" if not params and options.format in ("env", "hydra", "args") else text
