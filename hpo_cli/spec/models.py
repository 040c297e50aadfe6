"""The spec language: typed models of a spec file, and loading one into them with located errors.

Loading runs in three steps so that every error still points at the user's own text:
``normalize`` rewrites the accepted synonyms (``param_grid``, ``hyperparameters``, ``min``/``max``,
plain lists) into one canonical shape, ``merge_defaults`` copies ``defaults`` into each model while
remembering where each copied value came from, and pydantic checks types. Semantic checks that
need scikit-learn (estimators, scorers) live in ``validate``; this module imports neither.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hpo_cli.core.errors import InputError, Location, Problem
from hpo_cli.spec.loader import Document, PathKey, dotted, load_document, origin_of, rename, written_path
from hpo_cli.spec.messages import validation_problems

#: Search methods: the spec's ``method``, ``--method`` and ``hpo validate`` all read this one list.
Method = Literal["grid", "random", "tpe", "qmc", "cmaes", "gp", "nsga2"]
METHODS: tuple[str, ...] = get_args(Method)
INTERNAL_FIELDS = frozenset({"path", "sha256", "doc", "data_from_cli"})  # set by load_spec, not spec language
DEFAULT_SEED = 42
DEFAULT_TRIALS = 50

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(value: Any) -> float | None:
    """Seconds from ``90``, ``90s``, ``20m``, ``2h`` or ``1h30m``; the CLI's ``--timeout`` uses it too."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 20m or 2h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        m = _DURATION.match(text)
        if m and any(m.groups()):
            h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return h * 3600 + mi * 60 + s
    raise ValueError(f"expected a duration such as 90s, 20m or 2h, got {value!r}")


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelled key silently ignored is a search silently wrong."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _ParamBase(StrictModel):
    when: dict[str, Any] | None = None


class FloatParam(_ParamBase):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _range(self) -> FloatParam:
        _check_range(self.low, self.high, self.log, self.step)
        return self


class IntParam(_ParamBase):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _range(self) -> IntParam:
        _check_range(self.low, self.high, self.log, self.step)
        return self


class CategoricalParam(_ParamBase):
    type: Literal["categorical"]
    values: list[Any] = Field(min_length=1)


def _check_range(low: float, high: float, log: bool, step: float | None) -> None:
    if low >= high:
        raise ValueError(f"low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0, got low={low}")
    if log and step is not None:
        raise ValueError("log and step cannot be combined (Optuna samples one or the other)")


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

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    class_: str = Field(alias="class", min_length=1)
    init_params: dict[str, Any] = Field(default_factory=dict)
    preprocess: list[str | dict[str, dict[str, Any] | None]] = Field(default_factory=list)
    space: dict[str, Param] = Field(default_factory=dict)
    method: Method = "tpe"
    cv: CVSpec = Field(default_factory=CVSpec)
    metric: str | None = None  # None: the estimator's own score (accuracy / r2)
    metrics: list[str] = Field(default_factory=list)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    pruner: Literal["none", "median", "successive_halving", "hyperband"] = "none"
    seed: int = DEFAULT_SEED
    startup_trials: int | None = Field(None, gt=0)

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


# --- loading ---------------------------------------------------------------------------------------

_PARAM_SYNONYMS = {"min": "low", "max": "high", "choices": "values"}
_SPACE_SYNONYMS = ("param_grid", "space", "hyperparameters")
_MERGED_MAPPINGS = ("cv", "budget")


def _normalize_entry(doc: Document, space: dict, base: PathKey, name: str, typed: bool) -> None:
    """Bring one space entry to ``{type, low, high, ...}`` or ``{type: categorical, values}``."""
    path = base + (name,)
    entry = space[name]
    if isinstance(entry, list):
        doc.values[path + ("values",)] = doc.values.get(path, (1, 1))
        space[name] = {"type": "categorical", "values": entry}
        return
    if not isinstance(entry, dict):
        return  # pydantic reports the wrong type at this exact place
    for old, new in _PARAM_SYNONYMS.items():
        if old in entry and new not in entry:
            rename(doc, entry, path, old, new)
    if typed:  # Hydra-style typed entries: {tune, type, low, high, step: null, log, values}
        entry.pop("tune", None)
        for key in ("value", "default"):
            entry.pop(key, None)
        if entry.get("step", 0) is None:
            entry.pop("step")
    if entry.get("type") == "bool":
        entry["type"] = "categorical"
        entry.setdefault("values", [True, False])
    elif "type" not in entry and "values" in entry:
        entry["type"] = "categorical"
    elif "type" not in entry and "low" in entry and "high" in entry:
        # {low: 1, high: 10} is an int range, {low: 0.1, high: 1} a float one: as written.
        ints = all(isinstance(entry[k], int) and not isinstance(entry[k], bool) for k in ("low", "high"))
        entry["type"] = "int" if ints and not isinstance(entry.get("step"), float) else "float"


def _normalize_model(doc: Document, model: dict, base: PathKey) -> None:
    present = [k for k in _SPACE_SYNONYMS if k in model]
    if len(present) > 1:
        loc = doc.locate(base + (present[1],), key=True)
        raise InputError(f"give the search space once: {' and '.join(present)} are synonyms",
                         loc, dotted(base + (present[1],)))
    if not present:
        return
    key = present[0]
    typed = key == "hyperparameters"
    space = model[key]
    if key != "space":
        rename(doc, model, base, key, "space")
    if not isinstance(space, dict):
        return
    if typed:
        fixed = {}
        for name in [n for n, e in space.items() if isinstance(e, dict) and e.get("tune") is False]:
            entry = space.pop(name)
            value = entry.get("value", entry.get("default"))
            if value is not None:
                fixed[name] = value
        if fixed:
            params = model.setdefault("init_params", {})
            if isinstance(params, dict):
                for name, value in fixed.items():
                    if name not in params:
                        params[name] = value
                        doc.origins[base + ("init_params", name)] = base + ("space", name)
    for name in list(space):
        _normalize_entry(doc, space, base + ("space",), name, typed)


def normalize(doc: Document, file_stem: str) -> dict[str, Any]:
    """Canonical shape of the raw tree; positions follow renamed keys."""
    data = doc.data
    if not isinstance(data, dict):
        raise InputError("a spec is a mapping with at least a `models:` list", doc.locate(()))
    data.pop("$schema", None)  # an editor's pointer to specs/schema.json (JSON files have no comments)
    data.setdefault("name", re.sub(r"[^A-Za-z0-9_.\-]", "-", file_stem))
    models = data.get("models")
    if isinstance(models, list):
        for i, model in enumerate(models):
            if isinstance(model, dict):
                _normalize_model(doc, model, ("models", i))
    if isinstance(data.get("defaults"), dict):
        _normalize_model(doc, data["defaults"], ("defaults",))
    return data


def merge_defaults(doc: Document, data: dict[str, Any]) -> None:
    """Copy ``defaults`` into each model; a model's own value wins (``cv`` and ``budget`` key by key)."""
    defaults = data.get("defaults")
    models = data.get("models")
    if not isinstance(defaults, dict) or not isinstance(models, list):
        return
    origins = doc.origins
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            continue
        for key, value in defaults.items():
            if key == "name":
                continue
            own = model.get(key)
            if key not in model:
                model[key] = copy.deepcopy(value)
                origins[("models", i, key)] = ("defaults", key)
            elif key in _MERGED_MAPPINGS and isinstance(own, dict) and isinstance(value, dict):
                for sub, sub_value in value.items():
                    if sub not in own:
                        own[sub] = copy.deepcopy(sub_value)
                        origins[("models", i, key, sub)] = ("defaults", key, sub)


_FIELDS: dict[str, tuple[str, ...]] = {
    "spec": tuple(f for f in Spec.model_fields if f not in INTERNAL_FIELDS),
    "model": ("name", "class", "init_params", "preprocess", "space", "param_grid", "hyperparameters",
              *(f for f in ModelSpec.model_fields if f not in {"name", "class_", "init_params", "preprocess",
                                                                "space"})),
    "data": tuple(DataSpec.model_fields),
    "cv": tuple(CVSpec.model_fields),
    "budget": tuple(BudgetSpec.model_fields),
    "tracking": tuple(TrackingSpec.model_fields),
    "mlflow": tuple(MlflowSpec.model_fields),
    "param": ("type", "low", "high", "log", "step", "values", "when", "min", "max"),
}


def _param_grid_means_grid(doc: Document, data: dict[str, Any]) -> None:
    """``param_grid`` with no ``method`` (own or in ``defaults``) is a grid, as in GridSearchCV.

    The multi-model files users bring (``name, class, init_params, param_grid``) say no method; TPE's
    default would spend 50 trials re-drawing the same few points.
    """
    models = data.get("models")
    for i, model in enumerate(models if isinstance(models, list) else []):
        if isinstance(model, dict) and "method" not in model and doc.written.get(("models", i, "space")) == (
                "models", i, "param_grid"):
            model["method"] = "grid"
            doc.origins[("models", i, "method")] = ("models", i, "param_grid")


def build_spec(doc: Document, file_stem: str = "spec", data_override: str | None = None) -> Spec:
    """Turn a loaded document into a ``Spec``; raises ``InputError`` listing every type problem."""
    data = normalize(doc, file_stem)
    merge_defaults(doc, data)
    _param_grid_means_grid(doc, data)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, doc, data, _FIELDS)) from None
    spec.doc = doc
    if data_override is not None:
        source = data_override
        if not source.startswith("sklearn:"):
            source = str(Path(source).resolve())
        if spec.data is None:
            spec.data = DataSpec(source=source)
        else:
            spec.data = spec.data.model_copy(update={"source": source})
        spec.data_from_cli = True
    if spec.data is None:
        raise InputError("no data: add a `data:` section (source, target) or pass --data PATH",
                         doc.locate(()), "data")
    return spec


def load_spec(path: str | Path, data_override: str | None = None) -> Spec:
    """Read and type-check a spec file; the one entry point every command uses."""
    doc = load_document(path)
    spec = build_spec(doc, Path(path).stem, data_override)
    spec.path = Path(path).resolve()
    spec.sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return spec


def data_path(spec: Spec) -> Path | None:
    """The data file, relative paths taken from the spec's folder; None for ``sklearn:`` sources."""
    assert spec.data is not None
    if spec.data.source.startswith("sklearn:"):
        return None
    p = Path(spec.data.source).expanduser()
    return p if p.is_absolute() else (spec.base_dir / p)
