"""Typed options of each command, so core functions take one object instead of CLI flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TuneOptions:
    spec: Path
    output: Path | None = None
    models: list[str] = field(default_factory=list)  # only these models (empty: all)
    method: str | None = None
    trials: int | None = None
    timeout: float | None = None  # seconds
    seed: int | None = None
    workers: int = 1
    threads: int | None = None  # per worker (default: problem.threads.threads_per_worker)
    join: bool = False  # join the studies a first `hpo tune --storage URL` prepared; never reset them
    storage: str | None = None
    resume: bool = False
    fresh: bool = False  # start over: delete the selected models' studies (else finished trials are refused)
    mlflow: bool = True
    tracking_uri: str | None = None
    data: str | None = None
    quiet: bool = False


@dataclass
class ReportOptions:
    run_dir: Path
    top: int = 10
    plots: bool = True
    storage: str | None = None
    compare: Path | None = None
    link_base: Path | None = None  # plot links are relative to this folder (default: the run folder)


@dataclass
class BestOptions:
    run_dir: Path
    model: str | None = None
    format: str = "yaml"  # yaml | json | env | hydra | args
    with_init: bool = False
    prefix: str = "model"


@dataclass
class InitOptions:
    """``hpo init``: the data file (or ``sklearn:<name>``) a starter spec is written for."""

    data: str | None = None  # None: sklearn:breast_cancer, to show the shape of a spec
    target: str | None = None
    task: str | None = None  # classification | regression (default: inferred from the target)
    groups: str | None = None
    time: str | None = None
    output: Path | None = None  # where the spec will live (data paths are written relative to it)
