"""``hpo report --log``: the plots ``hpo report`` drew, attached to the run's MLflow parent runs.

The search logs the run folder's files on each parent when it ends, before any report draws plots;
a reviewer who runs ``hpo report`` later can put the plots beside the runs with ``--log``. Each parent
gets the optimization history and its own model's importance and slice plots under ``plots/``.
The parents are run.json's ``mlflow_run_ids``; the store is ``--tracking-uri``, else the spec's
``tracking.mlflow.uri``, else ``MLFLOW_TRACKING_URI``, else MLflow's default — as ``hpo tune`` resolves it.
Runs in the report's process (mlflow imported here, inside the function): no search is going on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.redact import redact
from hpo_cli.rundir.paths import RUN_JSON

PLOTS_ARTIFACT_PATH = "plots"


@dataclass
class Attached:
    """What ``attach_plots`` logged: the store, and per model its parent run id and the files."""

    uri: str
    runs: dict[str, tuple[str, list[Path]]] = field(default_factory=dict)


def parent_runs(run_dir: Path) -> tuple[dict[str, str], str | None]:
    """run.json's parent run ids, and its spec path (for the spec's tracking URI); InputError when none."""
    try:
        info = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    ids = info.get("mlflow_run_ids") if isinstance(info, dict) else None
    spec = info.get("spec") if isinstance(info, dict) else None
    path = spec.get("path") if isinstance(spec, dict) else None
    found = {str(k): str(v) for k, v in ids.items() if v} if isinstance(ids, dict) else {}
    if not found:
        raise InputError(f"{run_dir / RUN_JSON} names no MLflow runs (tuned with --no-mlflow?): nothing to "
                         f"attach the plots to", Location("--log"))
    return found, path


def tracking_uri_for(run_dir: Path, spec_path: str | None, explicit: str | None) -> str:
    """The store the run was tracked in, resolved in ``hpo tune``'s order (the spec when it still loads)."""
    from hpo_cli.tracking.setup import mlflow_default_uri, resolve_tracking_uri

    if spec_path and not explicit:
        path = Path(spec_path)
        try:
            from hpo_cli.spec.load import load_spec

            spec = load_spec(path if path.is_absolute() else Path.cwd() / path, None)
            return resolve_tracking_uri(spec, TuneOptions(spec=path, tracking_uri=explicit))[0]
        except Exception:  # the spec moved or changed: the other sources still apply
            pass
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or mlflow_default_uri()


def attach_plots(run_dir: Path, plots_dir: Path, tracking_uri: str | None = None) -> Attached:
    """Log each model's plots on its parent run; InputError when the run has no parents or the store fails."""
    from hpo_cli.report.plots import model_plot_files
    from hpo_cli.tracking.setup import describe_error, store_env

    ids, spec_path = parent_runs(run_dir)
    where = Location("--log")
    uri = tracking_uri_for(run_dir, spec_path, tracking_uri)
    out = Attached(uri)
    try:
        store_env()
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        for run_id in ids.values():
            client.get_run(run_id)  # a wrong store fails here, before anything is logged
        for model, run_id in ids.items():
            files = model_plot_files(plots_dir, model)
            for path in files:
                client.log_artifact(run_id, str(path), PLOTS_ARTIFACT_PATH)
            out.runs[model] = (run_id, files)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(redact(f"MLflow tracking at {uri} cannot take the plots: {describe_error(exc)}; pass "
                                f"the store the run was tracked in with --tracking-uri"), where) from None
    return out
