"""The search space of one model: grid points and size, ``when:`` conditions, and ``suggest(trial)``.

One module owns how a spec's space becomes Optuna calls, so that the grid a user counts with
``hpo validate``, the points ``hpo tune`` enqueues and the values written to ``trials.csv`` agree.

Optuna can only store ``None``, bools, numbers and strings as categorical choices. A choice list
holding anything else (a list such as ``hidden_layer_sizes: [[50], [100, 50]]``, a mapping), or
choices that Optuna would confuse (``1`` and ``True`` compare equal), is stored as the JSON text of
each choice and decoded back, so the estimator always receives the value the user wrote.

Optuna is imported lazily: ``hpo validate`` counts grids without it.
"""

from __future__ import annotations

import json
import math
from itertools import product
from typing import TYPE_CHECKING, Any

from hpo_cli.core.values import to_typed_json
from hpo_cli.spec.models import CategoricalParam, FloatParam, IntParam, ModelSpec

if TYPE_CHECKING:
    import optuna

Param = FloatParam | IntParam | CategoricalParam
_STORABLE = (type(None), bool, int, float, str)
MAX_GRID_POINTS = 100_000  # grid points held in memory and enqueued; counted before anything is built


class GridTooLarge(ValueError):
    """The grid would exceed ``MAX_GRID_POINTS``: refused before its points are built."""


# --- order and conditions -----------------------------------------------------------------------------

def ordered_params(model: ModelSpec) -> list[tuple[str, Param]]:
    """Parameters with every ``when:`` parent before its children (spec order otherwise).

    Dependency order matters twice: a child's activity can only be decided once its parent has a
    value, and Optuna's TPE groups parameters by the order they were suggested in.
    """
    space = model.space
    done: dict[str, Param] = {}
    for start in space:  # depth-first with an explicit stack: a `when:` chain may be thousands long
        stack: list[tuple[str, list[str]]] = [] if start in done else [(start, list(space[start].when or {}))]
        visiting = {start}
        while stack:
            name, parents = stack[-1]
            parent = parents.pop(0) if parents else None
            if parent is None:
                stack.pop()
                visiting.discard(name)
                done[name] = space[name]
            elif parent in visiting:
                raise ValueError(f"parameters {sorted(visiting)} depend on each other through `when:`")
            elif parent in space and parent not in done:
                visiting.add(parent)
                stack.append((parent, list(space[parent].when or {})))
    return list(done.items())


def _matches(expected: Any, value: Any, choices: list[Any] | None) -> bool:
    """``when: {p: v}`` holds if p equals v; a list v means "any of" unless v itself is one of p's choices."""
    if isinstance(expected, list) and not (choices is not None and expected in choices):
        return any(_same(value, e) for e in expected)
    return _same(value, expected)


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python, but `when: {fit_intercept: 1}` should not match True silently.
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def is_active(model: ModelSpec, name: str, point: dict[str, Any]) -> bool:
    """A parameter is active when every ``when:`` parent is active and has the expected value."""
    param = model.space[name]
    for parent, expected in (param.when or {}).items():
        if parent not in point:
            return False
        parent_param = model.space.get(parent)
        choices = parent_param.values if isinstance(parent_param, CategoricalParam) else None
        if not _matches(expected, point[parent], choices):
            return False
    return True


def is_conditional(model: ModelSpec) -> bool:
    return any(p.when for p in model.space.values())


def dimensions(model: ModelSpec) -> int:
    """Number of searched parameters (conditional ones included); sizes TPE's startup phase."""
    return len(model.space)


# --- values of one parameter --------------------------------------------------------------------------

def _clean(x: float) -> float:
    """``0.1 + 2 * 0.1`` is 0.30000000000000004; users wrote a step of 0.1 and expect 0.3."""
    return float(f"{x:.12g}")


def param_values(param: Param) -> list[Any] | None:
    """Every value a parameter can take, or None for a continuous float range (no ``step``)."""
    if isinstance(param, CategoricalParam):
        return list(param.values)
    if isinstance(param, IntParam):
        return list(range(param.low, param.high + 1, param.step or 1))
    if param.step is None:
        return None
    n = int(math.floor((param.high - param.low) / param.step + 1e-9)) + 1
    return [_clean(param.low + i * param.step) for i in range(n)]


def param_size(param: Param) -> int | None:
    """``len(param_values(param))`` without building the list (an int range may span millions)."""
    if isinstance(param, CategoricalParam):
        return len(param.values)
    if isinstance(param, IntParam):
        return (param.high - param.low) // (param.step or 1) + 1
    if param.step is None:
        return None
    ratio = (param.high - param.low) / param.step  # a tiny step may overflow to inf
    return int(math.floor(min(ratio, 1e18) + 1e-9)) + 1


# --- grid ---------------------------------------------------------------------------------------------

def grid_size(model: ModelSpec) -> int | None:
    """Number of distinct grid points, or None when a float range has no ``step`` (no finite grid).

    Counted without building the grid; a conditional space is enumerated only up to
    ``MAX_GRID_POINTS`` and beyond that its product of sizes (an upper bound) is returned.
    """
    sizes = [param_size(p) for p in model.space.values()]
    if any(s is None for s in sizes):
        return None
    total = math.prod(s for s in sizes if s is not None)
    if not is_conditional(model):
        return total
    try:
        return len(grid_points(model))
    except GridTooLarge:
        return total


def grid_points(model: ModelSpec) -> list[dict[str, Any]]:
    """Every distinct parameter set of the grid, in spec order; an inactive parameter is absent.

    Raises ValueError when a float range has no ``step``. Conditional spaces are enumerated
    parameter by parameter so that ``gamma when kernel=rbf`` does not multiply the linear kernel's
    points by the number of gammas.
    """
    params = ordered_params(model)
    values: dict[str, list[Any]] = {}
    for name, param in params:
        size = param_size(param)
        if size is not None and size > MAX_GRID_POINTS:
            raise GridTooLarge(f"`{name}` alone has {size:,} grid values (the limit is {MAX_GRID_POINTS:,} points)")
        vals = param_values(param)
        if vals is None:
            raise ValueError(f"`{name}` is a continuous range: give it a `step` to search it by grid")
        values[name] = vals
    if not model.space:
        return [{}]
    if not is_conditional(model):
        names = [name for name, _ in params]
        total = math.prod(len(values[n]) for n in names)
        if total > MAX_GRID_POINTS:
            raise GridTooLarge(f"the grid has {total:,} points (the limit is {MAX_GRID_POINTS:,})")
        return [dict(zip(names, combo, strict=True)) for combo in product(*(values[n] for n in names))]
    points: list[dict[str, Any]] = [{}]
    for name, _ in params:
        grown: list[dict[str, Any]] = []
        for point in points:
            if is_active(model, name, point):
                grown.extend({**point, name: v} for v in values[name])
            else:
                grown.append(point)
            if len(grown) > MAX_GRID_POINTS:
                raise GridTooLarge(f"the grid has more than {MAX_GRID_POINTS:,} points")
        points = grown
    seen: set[str] = set()
    unique = []
    for point in points:
        key = point_key(point)
        if key not in seen:
            seen.add(key)
            unique.append(point)
    return unique


def point_key(params: dict[str, Any]) -> str:
    """Canonical text of a parameter set: two trials with the same key evaluated the same point."""
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, default=repr)


# --- encoding for Optuna -----------------------------------------------------------------------------

def needs_encoding(param: Param) -> bool:
    """True when Optuna cannot store the choices as they are (lists, mappings, ``1`` beside ``True``)."""
    if not isinstance(param, CategoricalParam):
        return False
    choices = param.values
    if not all(isinstance(c, _STORABLE) for c in choices):
        return True
    return any(choices[i] == choices[j] for i in range(len(choices)) for j in range(i))


def _encode_choice(value: Any) -> str:
    """A choice's JSON text; mapping keys keep their type (``{0: 1}`` and ``{"0": 1}`` differ, see core.values)."""
    return json.dumps(to_typed_json(value), sort_keys=True, separators=(",", ":"))


def optuna_choices(param: CategoricalParam) -> list[Any]:
    """The choices as passed to ``suggest_categorical``: as written, or their JSON text."""
    if needs_encoding(param):
        return [_encode_choice(c) for c in param.values]
    return list(param.values)


def encode_params(model: ModelSpec, params: dict[str, Any]) -> dict[str, Any]:
    """User values → the values Optuna stores (for ``enqueue_trial`` and storage)."""
    out = {}
    for name, value in params.items():
        param = model.space.get(name)
        out[name] = _encode_choice(value) if param is not None and needs_encoding(param) else value
    return out


def decode_params(model: ModelSpec, stored: dict[str, Any]) -> dict[str, Any]:
    """Optuna's stored values → the values the estimator receives, in dependency order."""
    out = {}
    order = [name for name, _ in ordered_params(model)] + [n for n in stored if n not in model.space]
    for name in order:
        if name not in stored:
            continue
        value = stored[name]
        param = model.space.get(name)
        if param is not None and needs_encoding(param):
            assert isinstance(param, CategoricalParam)
            by_text = {_encode_choice(c): c for c in param.values}
            value = by_text.get(value, value)
        elif isinstance(param, IntParam) and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out


def distributions(model: ModelSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna distributions of every parameter (what ``suggest`` asks for), for sampler checks."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, param in ordered_params(model):
        if isinstance(param, CategoricalParam):
            out[name] = CategoricalDistribution(optuna_choices(param))
        elif isinstance(param, IntParam):
            out[name] = IntDistribution(param.low, param.high, log=param.log, step=param.step or 1)
        else:
            out[name] = FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    return out


def suggest(trial: optuna.trial.Trial, model: ModelSpec) -> dict[str, Any]:
    """Ask the trial for each active parameter in dependency order; return the decoded values.

    Inactive parameters are never suggested, so Optuna (and ``trials.csv``) leave them empty
    instead of recording a value the estimator never saw.
    """
    stored: dict[str, Any] = {}
    decoded: dict[str, Any] = {}
    for name, param in ordered_params(model):
        if not is_active(model, name, decoded):
            continue
        if isinstance(param, CategoricalParam):
            value = trial.suggest_categorical(name, optuna_choices(param))
        elif isinstance(param, IntParam):
            value = trial.suggest_int(name, param.low, param.high, log=param.log, step=param.step or 1)
        else:
            value = trial.suggest_float(name, param.low, param.high, log=param.log, step=param.step)
            if param.step is not None:
                value = _clean(value)
        stored[name] = value
        decoded[name] = decode_params(model, {name: value})[name]
    return decoded
