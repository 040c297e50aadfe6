"""Where tracking goes: the MLflow URI resolution, the shared-SQLite guard, and a fast reachability probe.

Kept apart from ``tracker`` (the observer and the run tree) because this is the part that decides between exit 2
(bad input: an unreachable server, a URI shared with the Optuna study) and starting the search.
mlflow is imported inside ``connect`` only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.redact import redact
from hpo_cli.spec.models import Spec

# While tracking, a dead server must be noticed in seconds, not after MLflow's default 7 retries.
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                  "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
                  "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}  # stdout is the summary's
#: MLflow 3 sends usage telemetry to its own servers unless told not to: hpo makes no network call beyond
#: the stores the user configures (set MLFLOW_DISABLE_TELEMETRY=false to send it anyway).
_OFFLINE_DEFAULTS = {"MLFLOW_DISABLE_TELEMETRY": "true"}
_PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


def tracking_enabled(spec: Spec, options: TuneOptions) -> bool:
    """Tracking is on unless ``--no-mlflow`` or ``tracking: {mlflow: false}`` (then mlflow is never imported)."""
    return bool(options.mlflow and spec.tracking.mlflow.enabled)


def resolve_tracking_uri(spec: Spec, options: TuneOptions) -> tuple[str, str]:
    """``(uri, where it came from)``: --tracking-uri > spec > MLFLOW_TRACKING_URI > MLflow's default.

    MLflow 3.17's default is ``sqlite:///mlflow.db`` in the working directory (``./mlruns`` only if it
    already holds experiments, and that file store needs MLFLOW_ALLOW_FILE_STORE=true).
    """
    if options.tracking_uri:
        return options.tracking_uri, "--tracking-uri"
    if spec.tracking.mlflow.uri:
        return spec.tracking.mlflow.uri, "tracking.mlflow.uri"
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI"
    return mlflow_default_uri(), "MLflow's default"


def mlflow_default_uri(cwd: Path | None = None) -> str:
    """MLflow 3.17's default store, without importing mlflow (``_get_default_tracking_uri``, tested equal).

    ``./mlruns`` when it already holds experiments (a folder named by digits with a meta.yaml), else
    ``sqlite:///mlflow.db``; both made absolute, as ``mlflow.get_tracking_uri()`` does.
    """
    base = (cwd or Path.cwd()).resolve()
    mlruns = base / "mlruns"
    with contextlib.suppress(OSError):
        if any(p.is_dir() and p.name.isdigit() and (p / "meta.yaml").exists() for p in mlruns.iterdir()):
            return mlruns.as_uri()
    return f"sqlite:///{base / 'mlflow.db'}"


def sqlite_file(url: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` URL (relative to the working directory), else None."""
    head = (url or "").split("?", 1)[0]
    if not head.startswith("sqlite:///"):
        return None
    rest = head.removeprefix("sqlite:///")  # "mlflow.db" (relative) or "/abs/x.db" (from sqlite:////)
    return Path(rest).expanduser().resolve() if rest and rest != ":memory:" else None


def _location(spec: Spec, source: str) -> Location:
    if source == "tracking.mlflow.uri":
        return spec.locate(("tracking", "mlflow", "uri"))
    return Location(source if source.startswith("--") or source.isupper() else str(spec.path or "<spec>"))


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_uri(spec: Spec, options: TuneOptions) -> tuple[str, str, Location]:
    """``(uri, its source, where to point an error)``; refuses a SQLite file shared with the Optuna study."""
    uri, source = resolve_tracking_uri(spec, options)
    where = _location(spec, source)
    storage = options.storage or spec.storage
    mlflow_db, study_db = sqlite_file(uri), sqlite_file(storage)
    if mlflow_db is not None and mlflow_db == study_db:
        raise InputError(redact(f"MLflow ({uri}) and the Optuna study ({storage}) would share one SQLite file "
                                f"{mlflow_db}; give MLflow its own, e.g. --tracking-uri sqlite:///mlflow.db"), where)
    return uri, source, where


_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433}
PROBE_TIMEOUT = 3.0


def probe(uri: str) -> str | None:
    """Why the server or database behind ``uri`` does not answer, or None (also for local and unknown stores).

    One TCP connection with a 3 s timeout, before the writer process starts: MLflow's own client retries a
    dead database for minutes (109 s and 46 lines of retries measured for a ``postgresql://`` URI). Only
    reachability is decided here; what the server says (a wrong password, a missing database) is still
    the writer's ``connect``. Skipped for http(s) behind a proxy, which only the proxy can reach.
    """
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    try:
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return "its port is not a number between 0 and 65535"
    if not host:  # a Unix socket (postgresql:///db): the writer's connect finds out
        return None
    if scheme in ("http", "https") and scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return None
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            return None
    except TimeoutError:
        return f"no answer from {host}:{port} within {PROBE_TIMEOUT:.0f}s"
    except OSError as exc:
        return f"no answer from {host}:{port} ({exc.strerror or type(exc).__name__})"


def unusable(uri: str, source: str, where: Location, reason: str) -> InputError:
    return InputError(redact(f"MLflow tracking at {uri} (from {source}) is not usable: {reason}; start the "
                             f"server or fix the URI, or run with --no-mlflow"), where)


_SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def sql_store(uri: str) -> bool:
    """True for a database URI (``sqlite:///``, ``postgresql+psycopg://``...): MLflow's SQLAlchemy store."""
    return uri.split(":", 1)[0].split("+", 1)[0].lower() in _SQL_SCHEMES


def store_env(env: dict[str, str] | None = None) -> None:
    """hpo's MLflow client settings (short HTTP retries, nothing printed on stdout, no telemetry), unless the
    user set them. Before ``import mlflow``: it starts its telemetry client then."""
    for key, value in {**_HTTP_DEFAULTS, **_OFFLINE_DEFAULTS, **(env or {})}.items():
        os.environ.setdefault(key, value)


def connect_store(uri: str, experiment: str, env: dict[str, str]) -> tuple[Any, str]:
    """``(MlflowClient, experiment id)`` once the store answered (in the writer process); raises if not.

    MLflow's global URI, which only ``mlflow.<flavour>.log_model`` reads, is set later, off the path the
    search waits on (``worker.global_store``).
    """
    store_env(env)
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after import: mlflow configures its loggers then
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # retry chatter on a dying server
    with _env(_PROBE_ENV):
        _connect_database_once(uri)
        client = MlflowClient(uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            try:
                experiment_id = client.create_experiment(experiment)
            except Exception:  # another worker created it meanwhile
                found = client.get_experiment_by_name(experiment)
                if found is None:
                    raise
                experiment_id = found.experiment_id
        else:
            experiment_id = found.experiment_id
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(experiment_id)
    return client, str(experiment_id)


def _connect_database_once(uri: str) -> None:
    """One connection to a database store, raising its error: MLflow's own engine retries ten times (~100 s)."""
    if not sql_store(uri) or uri.lower().startswith("sqlite"):
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def describe_error(exc: BaseException) -> str:
    """One short line for an MLflow/HTTP failure: urllib3's retry reports run to several hundred characters."""
    import re

    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)  # SQLAlchemy's link, not the reason
    if "NewConnectionError" in text or "Connection refused" in text or "ConnectionRefused" in text:
        return "no answer (connection refused)"
    if "timed out" in text.lower() or "ReadTimeout" in text:
        return "no answer (timed out)"
    if "MLFLOW_ALLOW_FILE_STORE" in text:
        return "MLflow 3 refuses the ./mlruns file store unless MLFLOW_ALLOW_FILE_STORE=true (or use sqlite:///...)"
    return redact(text)[:200]

