"""What a run may do with the studies already in its storage, decided before anything is written.

A fresh run (no ``--resume``) never silently deletes finished trials: a storage that holds some for a
selected model is refused unless ``--fresh`` says to start over. ``--resume`` continues a model only when
its identity (``storage.identity``) is the one its trials were scored for; each difference is named,
and the storage is left as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpo_cli.core.errors import InputError, Location, Problem
from hpo_cli.core.options import TuneOptions
from hpo_cli.spec.models import Spec
from hpo_cli.storage.attrs import FORMAT_VERSION, STUDY_FORMAT, STUDY_QUEUE, finished_trials
from hpo_cli.storage.backend import study_names
from hpo_cli.storage.identity import differences, recorded_identity


def check_existing_studies(spec: Spec, names: dict[str, str], identities: dict[str, dict[str, Any]],
                           storage: Any, options: TuneOptions, run_dir: Path) -> None:
    """Refuse (exit 2) a fresh run over finished trials, or a resume whose model changed; see the module docstring.

    ``names`` maps each selected model to its study name, ``identities`` to its current identity.
    """
    import optuna

    present = set(study_names(storage))
    holding: list[str] = []
    problems: list[Problem] = []
    for index, model in enumerate(spec.models):
        name = names.get(model.name)
        if name is None or name not in present:
            continue
        study = optuna.load_study(study_name=name, storage=storage)
        n_finished = len(finished_trials(study))
        if not options.resume:
            if n_finished and not options.fresh:
                holding.append(f"{model.name} ({n_finished})")
            continue
        written = study.user_attrs.get(STUDY_FORMAT)
        if isinstance(written, int) and written > FORMAT_VERSION:
            problems.append(spec.problem(("models", index, "name"), f"the study {name} was written by a newer "
                                         f"hpo (format {written}; this one reads {FORMAT_VERSION}): upgrade hpo "
                                         f"(pip install -U hpo-cli), or start over with --fresh"))
            continue
        recorded = recorded_identity(study)
        if recorded is None:
            if n_finished:
                problems.append(spec.problem(("models", index, "name"), f"the study {name} was written by an "
                                             f"earlier hpo that did not record what its trials were scored for, "
                                             f"so it cannot be resumed safely; start over with --fresh"))
            continue
        if model.pruner.type != "none" and _steps_from_zero(study):
            problems.append(spec.problem(("models", index, "pruner"), f"the study {name} was written by an earlier "
                                         f"hpo that reported pruning steps by fold index (from 0; now: folds "
                                         f"scored, from 1), so its pruner would compare unequal fold counts; "
                                         f"resume it with pruner: none, or start over with --fresh"))
            continue
        changed = differences(recorded, identities[model.name])
        if changed:
            problems.append(spec.problem(("models", index, "name"), f"--resume: model '{model.name}' is not the one "
                                         f"its {n_finished} stored trial(s) were scored for; changed: "
                                         f"{'; '.join(changed)}. Undo the change, or start over with --fresh"))
    if holding:
        where = Location("--storage") if options.storage else Location(str(run_dir))
        raise InputError(f"the study storage already holds finished trials of {', '.join(holding)}; continue "
                         f"them with --resume, or start over with --fresh (deletes them)", where)
    if problems:
        raise InputError(problems)


def _steps_from_zero(study: Any) -> bool:
    """Whether a trial reported at step 0: only builds that numbered pruning steps by fold index did."""
    return any(0 in t.intermediate_values for t in study.get_trials(deepcopy=False))


def join_wait() -> float:
    """Seconds a joiner waits for the first process: its queue at start, its confirmation at a model's end."""
    import os

    return float(os.environ.get("HPO_JOIN_WAIT", "60"))


def wait_for_join(spec: Spec, names: dict[str, str], identities: dict[str, dict[str, Any]], storage: Any,
                  url: str) -> None:
    """``--join``: wait (``HPO_JOIN_WAIT`` seconds, default 60) until the first process queued every selected
    model's trials, then refuse (exit 2) a model whose identity differs from the study's, naming each difference.

    Never deletes, resets or writes anything: the first ``hpo tune SPEC --storage URL`` owns the studies.
    """
    import time

    import optuna

    from hpo_cli.core.redact import redact

    wait = join_wait()
    deadline = time.monotonic() + wait
    pending = dict(names)
    while pending:
        present = set(study_names(storage))
        for model, name in list(pending.items()):
            if name in present:
                study = optuna.load_study(study_name=name, storage=storage)
                if (study.user_attrs.get(STUDY_QUEUE) or {}).get("ready"):
                    _check_joined(spec, model, name, study, identities[model])
                    del pending[model]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise InputError(f"--join: no prepared study {', '.join(pending.values())} in {redact(url)} after "
                             f"{wait:.0f}s; start the first `hpo tune SPEC --storage URL` (without --join) first",
                             Location("--join"))
        time.sleep(0.5)


def _check_joined(spec: Spec, model: str, name: str, study: Any, identity: dict[str, Any]) -> None:
    index = next(i for i, m in enumerate(spec.models) if m.name == model)
    recorded = recorded_identity(study)
    changed = differences(recorded, identity) if recorded is not None else ["the study records no identity"]
    if changed:
        raise InputError(spec.problem(("models", index, "name"), f"--join: model '{model}' is not the one the study "
                                      f"{name} was prepared for; differs: {'; '.join(changed)}"))
