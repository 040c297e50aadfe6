"""Values the estimator itself would refuse: ``init_params`` and search choices against scikit-learn's constraints.

scikit-learn declares what each parameter accepts in ``Estimator._parameter_constraints`` and checks it
in ``fit``; a value outside it makes every trial that draws it fail. The same declaration, read through
scikit-learn's own ``validate_parameter_constraints``, lets ``hpo validate`` refuse the value up front:
every fixed value, every categorical choice, and both ends and the middle of a range (QMC and grid
samplers do draw the ends). Classes without the declaration (XGBoost, user classes) are not checked.
"""

from __future__ import annotations

from typing import Any

from hpo_cli.core.errors import Problem
from hpo_cli.spec.models import CategoricalParam, FloatParam, ModelSpec, Spec


def _candidates(param: Any) -> list[Any]:
    """The values a search may hand the estimator for one space entry."""
    if isinstance(param, CategoricalParam):
        return list(param.values)
    if isinstance(param, FloatParam):
        return [float(param.low), (param.low + param.high) / 2, float(param.high)]
    return [param.low, (param.low + param.high) // 2, param.high]


def _refusal(target: type, name: str, value: Any) -> str | None:
    """scikit-learn's own message when ``target`` refuses ``name=value``, else None."""
    constraints = getattr(target, "_parameter_constraints", None)
    if not isinstance(constraints, dict) or name not in constraints:
        return None
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

    try:
        validate_parameter_constraints({name: constraints[name]}, {name: value}, caller_name=target.__name__)
    except InvalidParameterError as exc:
        return str(exc)
    except Exception:  # a constraint that cannot judge this value is not a verdict
        return None
    return None


def check_constraints(spec: Spec, i: int, model: ModelSpec, cls: type, steps: dict[str, type]) -> list[Problem]:
    """Each fixed value and search candidate that the estimator (or its preprocess step) declares invalid."""
    problems = []
    entries: list[tuple[str, str, list[Any]]] = [("init_params", n, [v]) for n, v in model.init_params.items()]
    entries += [("space", n, _candidates(p)) for n, p in model.space.items()]
    for section, name, values in entries:
        head, sep, rest = name.partition("__")
        target, param = (steps[head], rest) if sep and head in steps else (cls, name)
        for value in values:
            reason = _refusal(target, param, value)
            if reason:
                shown = "this value" if section == "init_params" else f"the value {value!r}"
                problems.append(spec.problem(("models", i, section, name), f"{target.__name__} refuses {shown}: "
                                                                           f"{reason}"))
                break
    return problems
