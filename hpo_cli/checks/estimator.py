"""Checks of what a model fits and how it is scored: the estimator, its parameters, its scorers, one metric per run.

Names are resolved exactly as ``problem.estimators`` and ``problem.pipeline`` resolve them for a run,
so a spec that passes here never fails on a name during ``hpo tune``; each ``ValueError`` they raise
becomes a problem located at the key that holds the name.
"""

from __future__ import annotations

from hpo_cli.checks.constraints import check_constraints
from hpo_cli.core.errors import Problem
from hpo_cli.core.text import suggest
from hpo_cli.search.evaluate import metric_label
from hpo_cli.spec.models import ModelSpec, Spec


def scorer_task(name: str) -> str | None:
    """``classification``/``regression`` for a scikit-learn scorer name (by its metric's module), else None."""
    from sklearn.metrics import get_scorer

    module = get_scorer(name)._score_func.__module__
    if "regression" in module:
        return "regression"
    return "classification" if any(m in module for m in ("_classification", "_ranking", "_scorer", "cluster")) \
        else None


def check_scorers(spec: Spec, i: int, model: ModelSpec, task: str | None) -> list[Problem]:
    """Scorer names exist, and suit the estimator's task when it is known."""
    from sklearn.metrics import get_scorer_names

    names = get_scorer_names()
    problems = []
    targets = [(("models", i, "metric"), model.metric)] if model.metric else []
    targets += [(("models", i, "metrics", j), m) for j, m in enumerate(model.metrics)]
    for path, name in targets:
        if name not in names:
            hint = suggest(name, names) or " (see sklearn.metrics.get_scorer_names())"
            problems.append(spec.problem(path, f"unknown scorer '{name}'{hint}"))
            continue
        kind = scorer_task(name)
        if task and kind and kind != task:
            fit = "r2, neg_mean_squared_error" if task == "regression" else "accuracy, roc_auc, f1"
            problems.append(spec.problem(path, f"scorer '{name}' is for {kind} but {model.class_} is a "
                                               f"{'regressor' if task == 'regression' else 'classifier'}; "
                                               f"use a {task} scorer such as {fit}"))
    return problems


def check_one_metric(spec: Spec, scored: list[tuple[int, str | None, str]]) -> list[Problem]:
    """The winner is picked by comparing scores, so every model of a run must optimise the same metric.

    ``scored`` holds (model index, metric, task) of each model whose estimator resolved; the first
    one's metric (the estimator's default score when unset) is the reference.
    """
    labels = {i: metric_label(metric, task) for i, metric, task in scored}
    if not labels:
        return []
    first = next(iter(labels))
    return [spec.problem(("models", i, "metric"), f"'{label}' differs from {spec.models[first].name}'s "
                         f"'{labels[first]}'; models of one run are compared by one metric (set it in "
                         f"defaults, or split the spec)") for i, label in labels.items() if label != labels[first]]


def check_params(spec: Spec, i: int, model: ModelSpec, cls: type, steps: dict[str, type]) -> list[Problem]:
    """Every init_params / space name must be an estimator parameter, or ``<step>__<param>``."""
    from hpo_cli.problem.estimators import accepts_extra_params, estimator_params

    own = estimator_params(cls)
    problems = []
    for section, names in (("init_params", list(model.init_params)), ("space", list(model.space))):
        for name in names:
            head, sep, rest = name.partition("__")
            target, known, param = (steps[head], estimator_params(steps[head]), rest) if sep and head in steps \
                else (cls, own, head)
            if param in known:
                continue
            hint = suggest(param, sorted(known)) or f" (its parameters: {', '.join(sorted(known))})"
            where = f"preprocess step '{head}' ({target.__name__})" if target is not cls else cls.__name__
            path = ("models", i, section, name)
            if target is cls and accepts_extra_params(cls):
                problems.append(spec.problem(path, f"'{param}' is not an explicit parameter of {where}"
                                                   f"{suggest(param, sorted(known))}; it goes through **kwargs "
                                                   f"unchecked (check the spelling)", severity="warning", key=True))
            else:
                problems.append(spec.problem(path, f"{where} has no parameter '{param}'{hint}", key=True))
    for name in sorted(set(model.init_params) & set(model.space)):
        problems.append(spec.problem(("models", i, "init_params", name), f"'{name}' is both fixed here and searched "
                                     f"in the space; the searched value wins", severity="warning", key=True))
    return problems


def check_estimator(spec: Spec, i: int, model: ModelSpec) -> tuple[list[Problem], str | None]:
    """Problems of the class, its preprocess steps and parameters; the estimator's task when it resolves.

    Steps are resolved one at a time so that each error points at its own ``preprocess`` entry.
    """
    from hpo_cli.problem.estimators import estimator_path, resolve_estimator, task_of
    from hpo_cli.problem.pipeline import resolve_preprocess, unique_step_name

    try:
        cls = resolve_estimator(model.class_, spec.allow_modules)
        task = task_of(cls)
    except ValueError as exc:
        return [spec.problem(("models", i, "class"), str(exc))], None
    problems: list[Problem] = []
    steps: dict[str, type] = {}
    used: set[str] = set()
    for j, step in enumerate(model.preprocess):
        try:
            name, obj = resolve_preprocess([step], spec.allow_modules)[0]
        except ValueError as exc:
            problems.append(spec.problem(("models", i, "preprocess", j), str(exc).removeprefix("preprocess[0]: ")))
            continue
        steps[unique_step_name(name, used)] = type(obj)  # the names the run's Pipeline gives them
    if spec.data and spec.data.task not in ("auto", task):
        problems.append(spec.problem(("models", i, "class"), f"{estimator_path(cls)} is a {task} estimator but "
                                                              f"data.task is {spec.data.task}"))
    problems += check_params(spec, i, model, cls, steps)
    if not any(p.severity == "error" for p in problems):
        problems += check_constraints(spec, i, model, cls, steps)
    return problems, task
