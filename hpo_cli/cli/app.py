"""Command-line interface: parses options, calls one core function per command, renders its result.

Heavy modules (optuna, mlflow, scikit-learn, xgboost) are imported inside the commands so that
``hpo --help`` and ``hpo best`` start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hpo_cli.cli.complete import model_names, spec_files
from hpo_cli.core.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, HpoError, InputError, Location
from hpo_cli.core.options import BestOptions, ReportOptions, TuneOptions
from hpo_cli.core.redact import redact

app = typer.Typer(
    name="hpo",
    help="Declarative, tracked, reproducible hyperparameter search from one spec file.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (Typer's); helpers in cli/complete.py
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        from hpo_cli.cli.complete import engine_versions

        out.print(engine_versions(), markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the versions of hpo, optuna, scikit-learn, mlflow "
                                               "and xgboost, and exit.")] = False,
) -> None:
    """hpo turns a spec file into a complete, tracked, reproducible hyperparameter search."""


def _duration_option(value: str | None) -> float | None:
    from hpo_cli.spec.duration import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise InputError(str(exc), Location("--timeout")) from None
    if seconds is not None and seconds <= 0:  # as the spec refuses `timeout: 0`: a budget of nothing runs nothing
        raise InputError(f"must be greater than 0, got {value!r}", Location("--timeout"))
    return seconds


def _seed_option(seed: int | None) -> int | None:
    """A seed numpy and scikit-learn accept (0 .. 2**32 - 1), blamed on the option rather than on a CV splitter."""
    from hpo_cli.spec.models import MAX_SEED

    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InputError(f"must be between 0 and {MAX_SEED} (the seeds numpy accepts), got {seed}", Location("--seed"))
    return seed


def _usage_line(exc: Exception) -> str:
    """A click usage error as one line: the command, what is wrong, where help is (click prints 3-4 lines)."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "hpo"
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    return f"{command}: {message} (see {command} --help)"


def _write(path: Path, text: str, option: str) -> None:
    """An output file the user named: written atomically; a path that cannot be written is bad input."""
    from hpo_cli.rundir.paths import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", Location(option)) from None


def _step_summary() -> str:
    import os

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        raise InputError("needs $GITHUB_STEP_SUMMARY (set by GitHub Actions)", Location("--github"))
    return summary


@app.command()
def tune(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec file (YAML or JSON).",
                                         autocompletion=spec_files)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Run folder (default: the spec's `output`, "
                                                "else runs/<name>).")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Only this model (repeatable).",
                                                                  autocompletion=model_names)] = None,
    method: Annotated[str | None, typer.Option(help="Override every model's method (auto, grid, tpe, ...).")] = None,
    trials: Annotated[int | None, typer.Option(help="Override the trial budget of every model.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Override the time budget per model, e.g. 90s, 30m, 2h.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed of every model.")] = None,
    workers: Annotated[int, typer.Option(help="Parallel worker processes on this machine.")] = 1,
    threads: Annotated[int | None, typer.Option(help="Threads per worker (BLAS/OpenMP and the estimator's "
                                                "n_jobs); default: cores // workers, at least 1.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL (default: a journal file in the run "
                                                "folder).")] = None,
    join: Annotated[bool, typer.Option("--join", help="Join the studies a first `hpo tune SPEC --storage URL` "
                                       "prepared (another machine or terminal); never resets them.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in the run folder / storage.")] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over: delete this run's earlier trials of the "
                                        "selected models (without it or --resume, a folder holding trials is "
                                        "refused).")] = False,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Turn MLflow tracking off.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    data: Annotated[str | None, typer.Option(help="Data file (or sklearn:<name>) overriding the spec's "
                                             "data.source.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Run every model's search, track it, and write the run folder."""
    if trials is not None and trials <= 0:
        raise InputError(f"must be a positive number, got {trials}", Location("--trials"))
    if resume and fresh:
        raise InputError("--resume continues the stored trials and --fresh deletes them: give one",
                         Location("--fresh"))
    if workers <= 0:
        raise InputError(f"must be at least 1, got {workers}", Location("--workers"))
    if threads is not None and threads <= 0:
        raise InputError(f"must be at least 1, got {threads}", Location("--threads"))
    from hpo_cli.problem.threads import apply_to_process, threads_per_worker

    # Before scikit-learn/NumPy load their OpenMP/BLAS runtimes, which read these variables once.
    apply_to_process(threads_per_worker(workers, threads), override=threads is not None)
    options = TuneOptions(
        spec=spec, output=output, models=list(model or []), method=method, trials=trials,
        timeout=_duration_option(timeout), seed=_seed_option(seed), workers=workers, threads=threads,
        storage=storage, join=join, resume=resume, fresh=fresh,
        mlflow=not no_mlflow, tracking_uri=tracking_uri, data=data, quiet=quiet,
    )
    from hpo_cli.tune.early import start_helpers

    writer, template = start_helpers(options)  # first: their imports overlap the search stack's
    try:
        from hpo_cli.cli.progress import progress_observer
        from hpo_cli.tune.run import run_tune

        with progress_observer(quiet=quiet, console=err) as observer:
            result = run_tune(options, observers=[observer], writer=writer, template=template)
    finally:
        if template is not None:
            template.close()  # run_tune closed it already, unless an import above failed
    if not quiet:
        from hpo_cli.cli.progress import render_run_summary

        render_run_summary(result, out)
    raise typer.Exit(result.exit_code)


@app.command()
def report(
    run_dir: Annotated[Path | None, typer.Argument(help="Run folder (default: the newest under runs/).")] = None,
    top: Annotated[int, typer.Option(help="Trials per model in the leaderboards.")] = 10,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the Markdown to this file.")] = None,
    github: Annotated[bool, typer.Option("--github", help="Append to $GITHUB_STEP_SUMMARY.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw PNG plots into the run folder.")] = True,
    storage: Annotated[str | None, typer.Option(help="Read trials from this Optuna storage URL.")] = None,
    compare: Annotated[Path | None, typer.Option(help="Another run folder to compare against (e.g. the PR "
                                                 "base).")] = None,
    log: Annotated[bool, typer.Option("--log", help="Attach the plots to the run's MLflow parent runs.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow store for --log (default: as hpo tune "
                                                     "resolves it).")] = None,
) -> None:
    """Print PR-ready Markdown for a finished (or running) run."""
    from hpo_cli.report.report import build_report
    from hpo_cli.rundir.paths import resolve_run_dir

    if top < 1:
        raise InputError(f"must be at least 1, got {top}", Location("--top"))
    if compare is not None and not compare.is_dir():
        raise InputError(f"run folder not found: {compare}", Location("--compare"))
    summary = _step_summary() if github else None  # checked before anything is written
    # Plot links must resolve from where the Markdown ends up: beside --output, else the current folder.
    options = ReportOptions(run_dir=resolve_run_dir(run_dir), top=top, plots=plots, storage=storage,
                            compare=compare, link_base=(output.parent if output is not None else Path.cwd()))
    if log and not plots:
        raise InputError("--log attaches the plots: it cannot go with --no-plots", Location("--log"))
    if log:
        from hpo_cli.tracking.attach import parent_runs

        parent_runs(options.run_dir)  # a run without MLflow runs is refused before any plot is drawn
    markdown = build_report(options)
    if log:
        from hpo_cli.report.report import PLOTS_DIR
        from hpo_cli.tracking.attach import attach_plots

        attached = attach_plots(options.run_dir, options.run_dir / PLOTS_DIR, tracking_uri)
        for model, (run_id, files) in attached.runs.items():
            typer.echo(f"MLflow: {len(files)} plot(s) attached to {model}'s parent run {run_id}", err=True)
    if output is not None:
        _write(output, markdown, "--output")
    if summary is not None:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(markdown + "\n")
        except OSError as exc:
            raise InputError(f"cannot append to $GITHUB_STEP_SUMMARY ({summary}): {exc.strerror or exc}",
                             Location("--github")) from None
    if output is None:
        from hpo_cli.core.text import encodable

        sys.stdout.write(encodable(markdown if markdown.endswith("\n") else markdown + "\n", sys.stdout.encoding))


@app.command()
def best(
    run_dir: Annotated[Path | None, typer.Argument(help="Run folder (default: the newest under runs/).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="This model instead of the winner.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="yaml, json, env, hydra or args.")] = "yaml",
    with_init: Annotated[bool, typer.Option("--with-init", help="Merge the fixed init_params in.")] = False,
    prefix: Annotated[str, typer.Option(help="Key prefix for --format hydra.")] = "model",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
) -> None:
    """Print the best parameters in the form a training stage reads."""
    from hpo_cli.report.best import export_best
    from hpo_cli.rundir.paths import resolve_run_dir

    options = BestOptions(run_dir=resolve_run_dir(run_dir), model=model, format=fmt, with_init=with_init,
                          prefix=prefix)
    text = export_best(options)
    if output is not None:
        _write(output, text, "--output")
    else:
        sys.stdout.write(text)


@app.command()
def validate(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec file (YAML or JSON).",
                                         autocompletion=spec_files)],
    data: Annotated[str | None, typer.Option(help="Data file (or sklearn:<name>) for a models-only spec.")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Only this model (repeatable).",
                                                                  autocompletion=model_names)] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail (exit 2).")] = False,
) -> None:
    """Check a spec without running it: models, space sizes, fits, and best-practice warnings."""
    from hpo_cli.checks.validate import validate_spec
    from hpo_cli.cli.render import render_validation

    result = validate_spec(spec, data_override=data, only=list(model or []))
    render_validation(result, out, err)
    if strict and result.warnings:
        # An InputError (not typer.Exit, whose code standalone_mode=False would drop) so the exit is 2.
        raise InputError(f"{len(result.warnings)} warning(s) and --strict: failing", Location(str(spec)))


@app.command()
def init(
    data: Annotated[str | None, typer.Argument(metavar="[DATA]", help="A .csv/.parquet file or sklearn:<name> "
                                               "(default: sklearn:breast_cancer).")] = None,
    target: Annotated[str | None, typer.Option(help="The column to predict.")] = None,
    task: Annotated[str | None, typer.Option(help="classification or regression (default: inferred).")] = None,
    groups: Annotated[str | None, typer.Option(help="Group column: group CV, whole groups held out.")] = None,
    time: Annotated[str | None, typer.Option(help="Time column: time-series CV, the last rows held out.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The spec file to write (default: "
                                                "<data name>.yaml here; - prints it).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec file.")] = False,
) -> None:
    """Write a commented starter spec for a data file: task, models, CV and test set fitted to the data."""
    from hpo_cli.checks.init import default_output, starter_spec
    from hpo_cli.core.options import InitOptions

    to_stdout = output is not None and str(output) == "-"
    path = None if to_stdout else (output or default_output(InitOptions(data=data)))
    if path is not None and path.exists() and not force:
        raise InputError(f"{path} exists; choose another file with -o or pass --force", Location("--output"))
    result = starter_spec(InitOptions(data=data, target=target, task=task, groups=groups, time=time, output=path))
    if path is None:
        sys.stdout.write(result.text)
        return
    _write(path, result.text, "--output")
    if result.schema is not None:
        from hpo_cli.spec.schema import spec_json_schema

        _write(result.schema, json.dumps(spec_json_schema(), indent=2) + "\n", "--output")
    dropped = f"; left out (not numeric): {', '.join(result.dropped)}" if result.dropped else ""
    out.print(f"wrote {path}: {result.task}, {result.n_rows} rows, {len(result.features)} features{dropped}; "
              f"{result.cv} CV, {result.folds} folds", markup=False)
    out.print(f"next: hpo validate --strict {path} && hpo tune {path}", markup=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editors)."""
    from hpo_cli.spec.schema import spec_json_schema

    sys.stdout.write(json.dumps(spec_json_schema(), indent=2) + "\n")


def main() -> None:
    """Entry point: maps hpo's errors to the contract's exit codes, never a traceback for bad input."""
    try:
        # prog_name: usage lines and the completion script (its _HPO_COMPLETE variable) say `hpo` also under
        # `python -m hpo_cli`. Without standalone mode, click *returns* a typer.Exit's code.
        code = app(standalone_mode=False, prog_name="hpo")
        if isinstance(code, int) and code:
            sys.exit(code)
    except HpoError as exc:
        if isinstance(exc, InputError):
            for problem in exc.problems:
                err.print(redact(str(problem)), markup=False)
        else:
            err.print(redact(f"error: {exc}"), markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # Usage errors of the (vendored) click parser: an unknown option, a bad number. They are bad input.
        if callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int):
            err.print(_usage_line(exc), markup=False)
            sys.exit(EXIT_BAD_INPUT)
        raise


if __name__ == "__main__":
    main()
