"""Descriptions in the MLflow UI: the experiment's (which spec and run folder feed it) and each parent's.

MLflow renders a run's or an experiment's ``mlflow.note.content`` tag as Markdown on its page. A parent
run's description is that model's section of the report (best parameters, one-standard-error choice,
top trials, importance, failures), built by ``report.report.model_sections`` — the very builder of
results.md, so the two never disagree. Built in the search process at the end of the run (the trials
and the study are at hand there), sent through the writer like every other write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_cli.rundir.provenance import display_path

if TYPE_CHECKING:  # the writer process imports this module for NOTE_TAG: not pydantic's models (~0.1 s)
    from hpo_cli.spec.models import Spec

NOTE_TAG = "mlflow.note.content"
MAX_NOTE = 7900  # MLflow stores tag values up to 8000 characters


def experiment_note(spec: Spec, run_dir: Path) -> str:
    """The experiment's description: what fills it and where to find the files behind it."""
    source = f"spec `{display_path(spec.path)}`" if spec.path is not None else "a spec given in memory"
    return (f"Hyperparameter searches by **hpo** from {source} (name `{spec.name}`); run folder "
            f"`{display_path(run_dir)}` (trials.csv, best_parameters.yaml, results.md). One parent run per model, "
            f"one child run per trial; each parent's description is that model's section of the report, and "
            f"its logged model (Models tab) is the refitted best.")


def parent_note(name: str, section: str, spec: Spec, run_dir: Path) -> str:
    """A parent run's description: a line of context, then the model's report section (shortened to fit)."""
    head = (f"Search of `{name}` by hpo — spec `{spec.name}`, run folder `{display_path(run_dir)}`; the whole "
            f"report is `results.md` among this run's artifacts.\n\n")
    text = head + section
    if len(text) > MAX_NOTE:
        text = text[:MAX_NOTE].rsplit("\n", 1)[0] + "\n\n… (shortened; see results.md)"
    return text


def describe_parents(tracker: Any, storage: str | None) -> None:
    """Queue every bound parent's description: its model's section of the report (never fatal)."""
    from hpo_cli.report.report import model_sections

    parents = {runs.name: runs.parent_id for runs in tracker.tree.models() if runs.parent_id}
    if not parents:
        return
    try:
        sections = model_sections(tracker.run_dir, storage, top=5)
    except Exception as exc:  # the report is a convenience: the run's tracking stands without it
        tracker._warn(f"MLflow: the parents' descriptions could not be built: {type(exc).__name__}: {exc}")
        return
    for name, parent_id in parents.items():
        if name in sections:
            tracker._send("log", parent_id, None,
                          {NOTE_TAG: parent_note(name, sections[name], tracker.spec, tracker.run_dir)})
