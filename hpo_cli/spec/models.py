"""The spec language as typed pydantic models: what a spec may say once its dialects are rewritten.

These models see the canonical shape only (``space`` with ``low``/``high``/``values``, ``defaults``
already merged into each model): ``normalize`` rewrites the accepted synonyms first and ``load``
drives the steps, so every field here has one spelling. Checks that need scikit-learn, optuna or the
data (estimators, scorers, columns) live in ``checks``; this module imports none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from hpo_cli.core.errors import Location, Problem
from hpo_cli.spec.duration import parse_duration
from hpo_cli.spec.loader import Document, PathKey, dotted, origin_of, written_path
from hpo_cli.spec.objectives import ObjectiveSpec, check_count, parse_select
from hpo_cli.spec.pruning import ConfirmSpec, NonePruner, PrunerSpec

#: Search methods: the spec's ``method``, ``--method`` and ``hpo validate`` all read this one list. ``auto`` is
#: replaced before the search by the method chosen for the space and budget (``search.plan.resolve_auto``).
Method = Literal["grid", "random", "tpe", "qmc", "cmaes", "gp", "nsga2", "auto"]
METHODS: tuple[str, ...] = get_args(Method)
INTERNAL_FIELDS = frozenset({"path", "sha256", "doc", "data_from_cli"})  # set by load_spec, not spec language
DEFAULT_SEED = 42
DEFAULT_TRIALS = 50
MAX_CHOICES = 10_000  # choices of one categorical parameter (a search, not a data file)
#: A model's study is ``<spec name>.<model name>``: spec names may hold '.', model names may not, so the last
#: '.' splits them and no two (spec, model) pairs share a study (``a.b`` + ``c`` vs ``a`` + ``b.c``).
MODEL_NAME_PATTERN = r"^[A-Za-z0-9_\-]+$"
MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's random_state take 0 .. 2**32 - 1


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelled key silently ignored is a search silently wrong."""

    # allow_inf_nan=False: "nan" or "inf" written as text is no more a number than .nan (refused by the loader).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class _ParamBase(StrictModel):
    when: dict[str, Any] | None = None


class _RangeParam(_ParamBase):
    """A numeric range; ``FloatParam`` and ``IntParam`` differ only in the type of their bounds and step."""

    log: bool = False

    @model_validator(mode="after")
    def _range(self) -> Self:
        _check_range(self.low, self.high, self.log, self.step)  # type: ignore[attr-defined]
        return self


class FloatParam(_RangeParam):
    type: Literal["float"]
    low: float
    high: float
    step: float | None = Field(None, gt=0)


class IntParam(_RangeParam):
    type: Literal["int"]
    low: int
    high: int
    step: int | None = Field(None, gt=0)


class CategoricalParam(_ParamBase):
    type: Literal["categorical"]
    values: list[Any] = Field(min_length=1, max_length=MAX_CHOICES)


def _check_range(low: float, high: float, log: bool, step: float | None) -> None:
    if low >= high:
        raise ValueError(f"low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0, got low={low}")
    if log and step is not None:
        raise ValueError("log and step cannot be combined (Optuna samples one or the other)")
    if step is not None and step > high - low:
        raise ValueError(f"step ({step}) is larger than the range {low}..{high}: only low ({low}) would ever be "
                         f"tried; use a smaller step, or fix the value in init_params")


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


class CVSpec(StrictModel):
    kind: Literal["auto", "kfold", "stratified", "group", "stratified_group", "timeseries"] = "auto"
    folds: int = Field(5, ge=2)
    shuffle: bool | None = None  # None: shuffle except for time series
    repeats: int = Field(1, ge=1)
    gap: int = Field(0, ge=0)
    max_train_size: int | None = Field(None, ge=1)


class BudgetSpec(StrictModel):
    trials: int | None = Field(None, gt=0)
    timeout: float | None = Field(None, gt=0)
    target: float | None = None
    max_failed: int | None = Field(None, gt=0)

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return parse_duration(value)


class ModelSpec(StrictModel):
    """One model's search, with ``defaults`` already merged in."""

    name: str = Field(pattern=MODEL_NAME_PATTERN)
    class_: str = Field(alias="class", min_length=1)
    init_params: dict[str, Any] = Field(default_factory=dict)
    preprocess: list[str | dict[str, dict[str, Any] | None]] = Field(default_factory=list)
    space: dict[str, Param] = Field(default_factory=dict)
    method: Method = "tpe"
    cv: CVSpec = Field(default_factory=CVSpec)
    metric: str | None = None  # None: the estimator's own score (accuracy / r2)
    metrics: list[str] = Field(default_factory=list)
    objectives: list[ObjectiveSpec] | None = None  # two objectives (spec.objectives); the first is ``metric``
    select: str | dict[str, float] | None = None  # which Pareto point is exported (spec.objectives.parse_select)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    pruner: PrunerSpec = Field(default_factory=lambda: NonePruner(type="none"))  # spec.pruning
    confirm: ConfirmSpec | None = None  # off unless given (search.confirm)
    seed: int = Field(DEFAULT_SEED, ge=0, le=MAX_SEED)  # numpy's seed range
    startup_trials: int | None = Field(None, gt=0)
    #: True when ``method`` was chosen by ``method: auto`` (set by ``search.plan.resolve_auto``).
    _auto_method: bool = PrivateAttr(False)

    @field_validator("objectives")
    @classmethod
    def _two(cls, value: list[ObjectiveSpec] | None) -> list[ObjectiveSpec] | None:
        return check_count(value)

    @field_validator("select", mode="before")
    @classmethod
    def _select(cls, value: Any) -> Any:
        return parse_select(value)

    @field_validator("cv", mode="before")
    @classmethod
    def _cv_shorthand(cls, value: Any) -> Any:
        return {"folds": value} if isinstance(value, int) and not isinstance(value, bool) else value


class DataSpec(StrictModel):
    source: str = Field(min_length=1)  # sklearn:<name>, or a .csv/.parquet path (relative to the spec)
    target: str | None = None
    features: list[str] | None = None
    drop: list[str] = Field(default_factory=list)
    groups: str | None = None
    time: str | None = None
    test_size: float | None = Field(None, gt=0, lt=1)
    task: Literal["auto", "classification", "regression"] = "auto"


class MlflowSpec(StrictModel):
    enabled: bool = True
    uri: str | None = None
    experiment: str | None = None
    log_models: Literal["best", "none"] = "best"
    max_child_runs: int | None = Field(None, gt=0)  # keep the top K and the failures as child runs
    register_as: str | None = Field(None, alias="register", min_length=1)  # registry name (the winner's best)


class TrackingSpec(StrictModel):
    mlflow: MlflowSpec = Field(default_factory=MlflowSpec)

    @field_validator("mlflow", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class Spec(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    data: DataSpec | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(min_length=1)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    output: str | None = None
    storage: str | None = None
    allow_modules: list[str] = Field(default_factory=list)

    # Set by load_spec; not part of the spec language.
    path: Path | None = Field(None, exclude=True)
    sha256: str = Field("", exclude=True)
    doc: Any = Field(None, exclude=True)  # the loader Document, for located messages in later checks
    data_from_cli: bool = Field(False, exclude=True)  # data.source came from --data

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """File position of a spec path, following values merged in from ``defaults`` to their origin."""
        doc: Document | None = self.doc
        if doc is None:
            return Location(str(self.path or "<spec>"))
        return doc.locate(origin_of(doc, path), key=key)

    def display_path(self, path: PathKey) -> str:
        """The dotted path as the user wrote it (origin in ``defaults``, synonyms such as ``param_grid``)."""
        doc: Document | None = self.doc
        return dotted(written_path(doc, origin_of(doc, path)) if doc else path)

    def problem(self, path: PathKey, message: str, *, severity: str = "error", key: bool = False) -> Problem:
        """A located finding about the value at ``path`` (``key=True``: point at the key instead)."""
        if path[:2] == ("data", "source") and self.data_from_cli:
            return Problem(message, Location("--data"), "", severity)
        return Problem(message, self.locate(path, key=key), self.display_path(path), severity)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def output_dir(self) -> Path:
        if self.output:
            out = Path(self.output)
            return out if out.is_absolute() else Path.cwd() / out
        return Path.cwd() / "runs" / self.name
