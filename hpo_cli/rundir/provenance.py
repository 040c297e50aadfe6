"""Provenance of a run (``run.json``): what ran, on which data and code, when, and where it is stored.

The git commit and the package versions are read here once for everyone: run.json records them and the
MLflow parent runs carry them as tags. How a path is shown to people (``display_path``: relative to the
repository or the current folder, never the machine's home) is decided here too, for run.json and the report.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from hpo_cli.core.redact import redact, redact_all
from hpo_cli.core.results import ModelResult
from hpo_cli.storage.attrs import FORMAT_VERSION

#: The packages that decide a result; the optional estimator libraries are listed only when installed.
PACKAGES = ("hpo", "optuna", "scikit-learn", "xgboost", "pandas", "numpy", "mlflow")
OPTIONAL_PACKAGES = ("lightgbm", "catboost")
#: Names people know a package by -> its distribution name in package metadata.
DISTRIBUTIONS = {"hpo": "hpo-cli"}


#: What ``hpo --version`` lists: hpo and the engines it drives.
ENGINES = ("hpo", "optuna", "scikit-learn", "mlflow", "xgboost")


def package_versions(names: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """Installed versions read from package metadata (no import of mlflow or xgboost needed).

    run.json, the MLflow parent's ``hpo.version.*`` tags and ``hpo --version`` (``names=ENGINES``) all
    come from here; a package that is not installed is None.
    """
    import platform
    from importlib.metadata import PackageNotFoundError, version

    if names is not None:
        found: dict[str, str | None] = {}
        for name in names:
            try:
                found[name] = version(DISTRIBUTIONS.get(name, name))
            except PackageNotFoundError:
                found[name] = None
        return found
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in (*PACKAGES, *OPTIONAL_PACKAGES):
        try:
            out[name] = version(DISTRIBUTIONS.get(name, name))
        except PackageNotFoundError:
            if name in PACKAGES:
                out[name] = None
    return out


def git_top(folder: Path) -> Path | None:
    """The top level of the git repository (or worktree) holding ``folder``, or None."""
    for top in (folder.resolve(), *folder.resolve().parents):
        if (top / ".git").exists():
            return top
    return None


def display_path(path: str | Path, cwd: Path | None = None) -> str:
    """``path`` as people should read it in run.json and results.md, which travel into pull requests.

    Relative to the git repository holding the current folder when it lies inside it (the same on every
    clone), else relative to the current folder, else ``~/...`` under the home folder; other absolute
    paths (``/data/x.csv``, ``/tmp/...``) stay as they are. A relative path is returned unchanged.
    """
    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    try:
        p = p.resolve()
        here = (cwd or Path.cwd()).resolve()
    except OSError:  # the current folder was deleted under us: say where the file is
        return p.as_posix()
    for base in (git_top(here), here):
        if base is not None and p.is_relative_to(base):
            return p.relative_to(base).as_posix() or "."
    home = Path.home().resolve()
    if p.is_relative_to(home) and home != Path("/"):
        return "~/" + p.relative_to(home).as_posix()
    return p.as_posix()


def display_url(url: str | None, cwd: Path | None = None) -> str | None:
    """A storage URL for people: a journal file or SQLite database path shown by ``display_path``."""
    if not url:
        return url
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix):
            return prefix + display_path(url.removeprefix(prefix), cwd)
    return url if "://" in url else display_path(url, cwd)


def git_commit(folder: Path) -> str | None:
    """The commit checked out in the git repository holding ``folder``, or None.

    Read from ``.git`` itself (HEAD, the ref file or ``packed-refs``; worktrees' ``gitdir:`` files too):
    spawning ``git rev-parse`` from a process holding scikit-learn cost ~40 ms, more than a short search.
    """
    for top in (folder.resolve(), *folder.resolve().parents):
        dot = top / ".git"
        if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
            dot = (top / text.removeprefix("gitdir:").strip()).resolve() if text.startswith("gitdir:") else dot
        if dot.is_dir():
            return _resolve_head(dot)
    return None


def _resolve_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.removeprefix("ref:").strip()
        common = git_dir
        if (git_dir / "commondir").is_file():  # worktrees keep refs in the main repository
            common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in (git_dir, common):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip() or None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None
    return None  # a branch with no commit yet


def _data_source(spec: Any, shown: str) -> str:
    """The data as run.json records it: ``sklearn:<name>`` or the file through ``display_path``."""
    from hpo_cli.spec.load import data_path

    path = data_path(spec) if spec.data is not None else None
    return display_path(path) if path is not None else shown


class RunInfo:
    """Provenance of a run (``run.json``): what ran, on which data and code, when, and where it is stored."""

    def __init__(self, spec: Any, options: Any, dataset: Any, storage_url: str, started_at: Any, seed: int) -> None:
        import sys

        data = spec.data
        self.info: dict[str, Any] = {
            "hpo_format": FORMAT_VERSION,  # storage.attrs: what a reader of this file may expect
            "spec": {"name": spec.name, "path": display_path(spec.path) if spec.path else None,
                     "sha256": spec.sha256},
            "data": {"source": _data_source(spec, dataset.source), "sha256": dataset.sha256, "target": dataset.target,
                     "task": dataset.task, "n_train": dataset.n_rows,
                     "n_test": 0 if dataset.y_test is None else len(dataset.y_test),
                     "test_size": data.test_size if data else None, "test_split": dataset.test_split or None,
                     "features": dataset.feature_names},
            "seed": seed,  # of the held-out split; each model's own seed is in its study's hpo_model attribute
            "models": {},
            "status": "running",
            "started": started_at.isoformat(timespec="seconds"),
            "ended": None,
            # a database URL as given, its password hidden (the report reopens it without); a journal in the
            # run folder relative to it (storage.backend.storage_url), elsewhere shown like a path
            "storage": redact(storage_url) if "://" in storage_url else display_path(storage_url),
            "resumed": bool(options.resume),
            "mlflow_run_ids": {},
            "git_commit": None,
            "versions": {},
            "command": redact_all([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else [],
        }
        # .git and package metadata cost ~10 ms: gather them while the first trials run.
        self._provenance = threading.Thread(target=self._gather, args=(spec.base_dir,), daemon=True)
        self._provenance.start()

    def _gather(self, folder: Path) -> None:
        self.info["git_commit"] = git_commit(folder)
        self.info["versions"] = package_versions()

    def finish(self, status: str, results: list[ModelResult], run_ids: dict[str, str] | None = None) -> None:
        from datetime import UTC, datetime

        self.info["status"] = status
        self.info["ended"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.info["models"] = {m.name: {"study": m.study_name, "method": m.method, "n_trials": len(m.trials),
                                        "n_complete": m.n_complete, "n_failed": m.n_failed, "n_pruned": m.n_pruned,
                                        "stop_reason": m.stop_reason, "wall_time": round(m.wall_time, 3)}
                               for m in results}
        if isinstance(run_ids, dict):
            self.info["mlflow_run_ids"] = dict(run_ids)

    def as_dict(self) -> dict[str, Any]:
        self._provenance.join()
        return self.info
