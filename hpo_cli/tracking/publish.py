"""What the writer process publishes for people browsing MLflow: the logged best model, the registry, notes.

Kept apart from ``worker`` (the process, its protocol and the run tree's writes) because these requests
are about how a run reads in the MLflow UI, not about exactly-once trial bookkeeping:

- the refitted best model as an MLflow 3 *logged model* in the run's experiment (the Models tab),
  linked to its parent run, logged once per best trial (a ``--resume`` that keeps the best logs nothing);
- the winner's model registered under ``tracking.mlflow.register`` (one version per logged model, with
  the parent run's ``hpo.*`` tags);
- descriptions: the experiment's ``mlflow.note.content`` (which spec and run folder feed it) — the
  parent's description is an ordinary tag sent through ``worker``'s ``log``;
- ``preload_client``/``preload_store``/``warm_imports``: the heavy imports, done as soon as the writer
  starts, before and while the search runs.

Each ``op_*`` takes the worker's ``Context`` first; ``worker.OPS`` serves them. mlflow is imported inside.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpo_cli.tracking.notes import NOTE_TAG

#: Set on the parent once its best model is logged: the best trial's number and the model's URI.
MODEL_TRIAL_TAG = "hpo.model_trial"
MODEL_URI_TAG = "hpo.model_uri"
#: Marks an experiment description hpo wrote (a user's own description is never overwritten).
NOTE_MARK = "<!-- hpo -->"
MAX_VERSION_TAG = 5000  # the registry's limit on a model-version tag value


def preload_client() -> None:
    """Import MLflow's client (~1 s of CPU) before the store is known; a failure is ``connect``'s to report."""
    from hpo_cli.tracking.setup import store_env

    store_env()
    with contextlib.suppress(Exception):
        import mlflow  # noqa: F401
        from mlflow import MlflowClient  # noqa: F401


def preload_store(uri: str | None) -> None:
    """Import MLflow's SQL store unless ``uri`` (None: not known yet) names another kind of store.

    SQLite is MLflow's default; importing its store (SQLAlchemy, alembic) was ~0.7 s of ``connect``'s
    ~0.75 s of CPU on an existing ``mlflow.db``, the query itself ~0.05 s.
    """
    from hpo_cli.tracking.setup import sql_store

    if uri is None or sql_store(uri):
        with contextlib.suppress(Exception):
            import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def warm_imports(trace: Callable[[str, tuple[float, float]], None] | None = None) -> threading.Thread:
    """Import what logging a model needs, on a thread, while the search runs.

    Measured (bench/bench_mlflow_fixed.py): these imports were most of tracking's fixed cost, spent after
    the search in series with it (MLflow's scan of the installed packages, which its requirement checks
    did, is no longer needed: ``model`` pins the requirements from package metadata).
    Not scikit-learn nor skops: the search process serialises the model
    (``model.serialise``), so the writer never imports them (~1.8 s of CPU, measured) unless a bare
    XGBoost model arrives. ``op_best_model`` waits for the thread (no two threads import at once).
    The thread keeps the writer's start-up priority: these ~2 s of CPU are bounded and the end of the run
    waits for them; the unbounded per-trial writes on the main thread are the ones that yield (``worker``).
    """

    def step(what: str, work: Callable[[], Any]) -> None:
        started = time.time(), time.thread_time()
        with contextlib.suppress(Exception):  # a missing optional package is met again, and reported, where used
            work()
        if trace is not None:
            trace(f"warm {what}", started)

    def flavour() -> None:
        import mlflow.models  # noqa: F401
        import mlflow.pyfunc  # noqa: F401
        import mlflow.sklearn  # noqa: F401

    def work() -> None:
        step("mlflow.sklearn", flavour)

    thread = threading.Thread(target=work, name="hpo-mlflow-warm", daemon=True)
    thread.start()
    return thread


def _logged(tags: dict[str, str], trial: int | None, log_models: bool) -> bool:
    """Whether the parent has this best trial's model (and diagnostics) already: a --resume that kept it."""
    return trial is not None and tags.get(MODEL_TRIAL_TAG) == str(trial) and bool(tags.get(MODEL_URI_TAG)
                                                                                or not log_models)


def op_best_model(ctx: Any, run_id: str, payload: dict[str, Any], trial: int | None, params: dict[str, str]) -> None:
    """Log the refitted best model unless the parent already has this trial's.

    ``payload`` is ``model.serialise``'s: the search process serialised the model, and sends it before it
    draws the diagnostics (``op_diagnostics``, which marks the trial done), so both overlap.
    """
    from hpo_cli.tracking.model import log_model

    ctx.warmed()  # it imports what this needs and sets MLflow's global store; one thread importing at a time
    tags = ctx.client.get_run(run_id).data.tags
    if _logged(tags, trial, True):
        return
    model_tags = {k: v for k in ("hpo.model", "hpo.estimator", "hpo.study_name") if (v := tags.get(k))}
    uri = log_model(run_id, payload, params=params, tags={**model_tags, MODEL_TRIAL_TAG: str(trial)})
    ctx.client.set_tag(run_id, MODEL_URI_TAG, uri)


def op_diagnostics(ctx: Any, run_id: str, on_test: bool, diagnostics: list[str], log_models: bool,
                   trial: int | None) -> None:
    """Upload the best model's diagnostics' files, then mark its trial as logged (``hpo.model_trial``)."""
    if _logged(ctx.client.get_run(run_id).data.tags, trial, log_models):
        return  # --resume kept the same best: logged already
    ctx.client.set_tag(run_id, "hpo.diagnostics_on", "test" if on_test else "train")
    for path in diagnostics:
        if Path(path).is_file():
            ctx.client.log_artifact(run_id, path)
    if trial is not None:
        ctx.client.set_tag(run_id, MODEL_TRIAL_TAG, str(trial))


def op_register(ctx: Any, run_id: str, name: str) -> str:
    """Register the parent's logged model under ``name``; a model already registered there is not added twice.

    Returns what happened (``version N`` or ``already version N``), raises when the parent has no model.
    """
    from mlflow.exceptions import MlflowException

    run = ctx.client.get_run(run_id)
    uri = run.data.tags.get(MODEL_URI_TAG)
    if not uri:
        raise RuntimeError(f"run {run_id} has no logged model to register (log_models: none, or logging failed)")
    model_id = uri.removeprefix("models:/")
    try:
        ctx.client.create_registered_model(name, description="Best models found by hpo (`hpo tune`).")
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code) and "already exists" not in str(exc):
            raise
    for version in ctx.client.search_model_versions(f"name = '{_quote(name)}'"):
        if getattr(version, "model_id", None) == model_id or version.source == uri:
            return f"already version {version.version}"
    tags = {k: v[:MAX_VERSION_TAG] for k, v in run.data.tags.items()
            if k.startswith("hpo.") or k in ("mlflow.source.name", "mlflow.source.git.commit")}
    version = ctx.client.create_model_version(name, source=uri, run_id=run_id, tags=tags, model_id=model_id,
                                              description=f"hpo: best of {tags.get('hpo.model', '?')} "
                                                          f"(trial {tags.get(MODEL_TRIAL_TAG, '?')})",
                                              await_creation_for=0)
    return f"version {version.version}"


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def op_experiment_note(ctx: Any, text: str) -> None:
    """Describe the experiment (its ``mlflow.note.content``) unless someone else wrote its description."""
    experiment = ctx.client.get_experiment(ctx.experiment_id)
    current = experiment.tags.get(NOTE_TAG, "")
    if current and NOTE_MARK not in current:
        return
    ctx.client.set_experiment_tag(ctx.experiment_id, NOTE_TAG, f"{text}\n\n{NOTE_MARK}")


OPS = {name.removeprefix("op_"): fn for name, fn in globals().items() if name.startswith("op_")}
