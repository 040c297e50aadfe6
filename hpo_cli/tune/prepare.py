"""Before anything is written: the spec as this run sees it (command-line overrides) and every check on it.

Everything that can be wrong with the input (spec, overrides, estimators, data, CV) is found here or in
``search.plan.prepare_model``, before the run folder or the storage is touched, so bad input writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpo_cli.checks.validate import check_spec
from hpo_cli.core.errors import InputError, Location, Problem
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.text import suggest
from hpo_cli.problem.estimators import resolve_estimator, task_of
from hpo_cli.search.plan import resolve_auto
from hpo_cli.spec.models import METHODS, Spec


def apply_overrides(spec: Spec, options: TuneOptions) -> Spec:
    """The spec as this run sees it: ``--model`` filter, ``--method/--trials/--timeout/--seed/--output``."""
    names = [m.name for m in spec.models]
    for wanted in options.models:
        if wanted not in names:
            raise InputError(f"--model {wanted}: no such model in the spec{suggest(wanted, names)} "
                             f"(models: {', '.join(names)})", spec.locate(("models",)), "models")
    models = []
    for model in spec.models:
        update: dict[str, Any] = {}
        if options.method:
            if options.method not in METHODS:
                raise InputError(f"--method {options.method}: expected {', '.join(METHODS[:-1])} or {METHODS[-1]}"
                                 f"{suggest(options.method, METHODS)}")
            update["method"] = options.method
        budget: dict[str, Any] = {}
        if options.trials is not None:
            budget["trials"] = options.trials
        if options.timeout is not None:
            budget["timeout"] = options.timeout
        if budget:
            update["budget"] = model.budget.model_copy(update=budget)
        if options.seed is not None:
            update["seed"] = options.seed
        models.append(model.model_copy(update=update) if update else model)
    update_spec: dict[str, Any] = {"models": models}
    if options.seed is not None:  # the held-out split follows --seed too (data.split_seed reads defaults)
        update_spec["defaults"] = {**spec.defaults, "seed": options.seed}
    if options.output is not None:
        update_spec["output"] = str(options.output)
    new = spec.model_copy(update=update_spec)
    new.path, new.sha256, new.doc = spec.path, spec.sha256, spec.doc
    return resolve_auto(new)


def check(spec: Spec, only: list[str]) -> list[str]:
    """``checks.check_spec``: errors raise (exit 2) before anything is written; warnings come back as text."""
    problems: list[Problem] = check_spec(spec, only)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
    return [str(p) for p in problems]


def task_of_models(spec: Spec, selected: list[int]) -> str:
    """The task all selected models share (``data.task``, else the estimators'); a mix is bad input."""
    assert spec.data is not None
    tasks = {}
    for i in selected:
        try:
            tasks[i] = task_of(resolve_estimator(spec.models[i].class_, spec.allow_modules))
        except ValueError as exc:
            raise InputError(spec.problem(("models", i, "class"), str(exc))) from None
    if spec.data.task != "auto":
        return spec.data.task
    kinds = set(tasks.values())
    if len(kinds) > 1:
        first = next(i for i in selected if tasks[i] != tasks[selected[0]])
        raise InputError(spec.problem(("models", first, "class"), "the models mix classifiers and regressors on "
                                                                  "one target; set data.task or split the spec"))
    return kinds.pop()


def check_output_dir(spec: Spec, options: TuneOptions, run_dir: Path) -> None:
    """The run folder can be written (not a file, not below one, not read-only, not /proc): else exit 2, now.

    Blamed on ``--output`` when given, else on the spec's ``output`` key, else on the default folder.
    """
    from hpo_cli.rundir.access import unwritable_dir

    reason = unwritable_dir(run_dir)
    if reason is None:
        return
    message = f"cannot write the run folder {run_dir}: {reason}"
    if options.output is not None:
        raise InputError(message, Location("--output"))
    if spec.output:
        raise InputError(spec.problem(("output",), message))
    raise InputError(f"{message} (set another with --output or the spec's `output`)", spec.locate(()), "output")


def check_workers(spec: Spec, options: TuneOptions) -> None:
    """``--workers``/``--join`` against the storage: what cannot work is refused before anything is written."""
    from hpo_cli.storage.backend import is_sqlite

    url = options.storage or spec.storage
    if options.join and not url:
        raise InputError("--join needs --storage URL: the studies a first `hpo tune SPEC --storage URL` prepared "
                         "(a database, or a journal file on a shared file system); a run folder's own journal "
                         "cannot be joined", Location("--join"))
    if options.join and options.fresh:
        raise InputError("--join never resets the studies it joins; drop --fresh (start over from the first "
                         "process instead)", Location("--fresh"))
    if (options.workers > 1 or options.join) and is_sqlite(url):
        raise InputError("SQLite cannot serve several worker processes reliably (one writer at a time); use the "
                         "default journal file in the run folder (one machine) or PostgreSQL (several)",
                         Location("--storage"))
