"""Opening a study storage: Optuna's journal file in the run folder by default, any Optuna storage URL else.

Why the journal by default: measured by ``make bench`` (``bench/RESULTS.md``, section (c): a DummyClassifier
study of 300 trials), a trial costs 2.2 ms in all inside hpo with the journal file against 12.1 ms with
SQLite; the journal is one plain file that travels with the run folder, and several processes append to it
under its file lock. ``--storage URL`` takes any Optuna storage URL (``sqlite:///...``,
``postgresql://...``) or a ``.journal`` path.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.redact import redact

if TYPE_CHECKING:
    import optuna

#: The default storage's file name inside the run folder.
STUDY_JOURNAL = "study.journal"


def storage_url(run_dir: Path, url: str | None) -> str:
    """What run.json records (before redaction): the URL given, a journal file by its absolute path, and a
    journal inside the run folder relative to it, so a copied or moved run folder reads its own trials."""
    if not url:
        return STUDY_JOURNAL
    path = url.removeprefix("journal:")
    if url.endswith(".journal") or url.startswith("journal:"):
        resolved = Path(path).resolve()
        try:
            return str(resolved.relative_to(run_dir.resolve()))
        except ValueError:
            return str(resolved)
    return url


def _journal(path: str, repair: bool) -> optuna.storages.BaseStorage:
    """A journal file storage whose appends are flushed but not fsynced (see ``_FlushedJournal``), checked first
    (``storage.journal``: a torn last line repaired when ``repair``, damage refused with its line)."""
    import optuna

    from hpo_cli.storage.journal import check_journal

    check_journal(Path(path), repair)
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    class _FlushedJournal(JournalFileBackend):
        """Optuna's journal file minus the ``fsync`` after every line.

        Each trial appends ~5 lines (create, one per parameter, attributes, state). With an fsync each,
        the storage cost of a trial followed the disk's sync latency (3+ ms per line on a busy disk);
        flushed to the OS, a line survives a crash or kill of hpo, and only a power loss can lose
        the last trials, which ``--resume`` then simply runs again.
        """

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            import json

            from optuna.storages.journal._file import get_lock_file

            if not hasattr(self, "_lock") or not hasattr(self, "_file_path"):  # Optuna internals moved
                return super().append_logs(logs)
            text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
            with get_lock_file(self._lock), open(self._file_path, "ab") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()

    # The open-lock works on every filesystem (the symlink lock does not on some network mounts).
    return optuna.storages.JournalStorage(_FlushedJournal(path, lock_obj=JournalFileOpenLock(path)))


def driver_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``) as users write it -> SQLAlchemy's psycopg 3 dialect."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def is_journal(url: str | None) -> bool:
    """The default storage, or a ``.journal`` file given with ``--storage``."""
    return not url or url.endswith(".journal") or url.startswith("journal:")


def is_sqlite(url: str | None) -> bool:
    return bool(url) and str(url).startswith("sqlite")


def open_storage(run_dir: Path, url: str | None, repair: bool = True) -> optuna.storages.BaseStorage:
    """The journal file in the run folder by default; any Optuna storage URL with ``--storage``.

    A database other than SQLite gets heartbeats (``storage.heartbeat``), so a dead worker's trial is
    failed and retried. Errors name the URL with its password replaced by ``***``. ``repair``: a journal's
    torn last line is fixed first (for a process that appends: ``hpo tune``); readers pass False.
    """
    import optuna

    if not url:
        run_dir.mkdir(parents=True, exist_ok=True)
        return _journal(str(run_dir / STUDY_JOURNAL), repair)
    try:
        if is_journal(url):
            return _journal(url.removeprefix("journal:"), repair)
        if is_sqlite(url):
            return optuna.storages.get_storage(url)
        return optuna.storages.get_storage(_rdb(url))
    except InputError:
        raise
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")  # not SQLAlchemy's links
        hint = ("; install the driver: pip install 'hpo-cli[postgres]'"
                if isinstance(exc, ImportError) and url.startswith("postgres") else "")
        raise InputError(redact(f"cannot open storage {url}: {type(exc).__name__}: {first}{hint}"),
                         Location("--storage")) from None


def _rdb(url: str) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage with heartbeats.

    Several machines started at once on an empty database all create Optuna's tables: the losers of that
    race get a unique-key or "already exists" error from the database (seen with four processes on
    PostgreSQL), and the tables exist a moment later, so those errors are retried a few times.
    """
    import time

    import optuna
    import sqlalchemy.exc

    from hpo_cli.storage.heartbeat import GRACE_PERIOD, HEARTBEAT_INTERVAL, retry_stale_trial

    for attempt in range(1, 6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ExperimentalWarning of heartbeat options
                return optuna.storages.RDBStorage(
                    driver_url(url), engine_kwargs={"pool_pre_ping": True}, heartbeat_interval=HEARTBEAT_INTERVAL,
                    grace_period=GRACE_PERIOD, heartbeat_stale_trial_callback=retry_stale_trial)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            raced = isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in str(exc)
            if attempt == 5 or not raced:  # e.g. no permission: bad input at once
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def delete_study_if_exists(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """A fresh run (no ``--resume``) starts the model's study from zero in the same storage."""
    import optuna

    if name in study_names(storage):
        optuna.delete_study(study_name=name, storage=storage)
        return True
    return False
