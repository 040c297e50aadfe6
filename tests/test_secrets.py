"""Secrets never written nor shown: the one redaction, and a real PostgreSQL / ``mlflow server`` with passwords."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mlflow_server import MlflowServer, free_port  # noqa: E402

from hpo_cli.core.redact import redact, redact_all  # noqa: E402

SECRET = "S3cretPW"


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://postgres:S3cretPW@127.0.0.1:5432/test", "postgresql://postgres:***@127.0.0.1:5432/test"),
    ("mysql+pymysql://u:S3cretPW@db/x?charset=utf8", "mysql+pymysql://u:***@db/x?charset=utf8"),
    ("redis://:S3cretPW@localhost:6379/0", "redis://:***@localhost:6379/0"),
    ("http://user:S3c@ret:PW@127.0.0.1:5000", "http://user:***@127.0.0.1:5000"),
    ("https://S3cretPW@host/api", "https://***@host/api"),
    ("postgresql://h/db?user=u&password=S3cretPW&sslmode=require", "postgresql://h/db?user=u&password=***&sslmode=require"),
    ("open postgresql://u:S3cretPW@h/db: Error", "open postgresql://u:***@h/db: Error"),
    ("sqlite:////tmp/a@b/x.db", "sqlite:////tmp/a@b/x.db"),
    ("postgresql://postgres@127.0.0.1/test", "postgresql://postgres@127.0.0.1/test"),
    ("user@example.org says a=b", "user@example.org says a=b"),
])
def test_redact_hides_passwords_tokens_and_secret_query_values(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


def test_redact_all_walks_containers() -> None:
    value = {"storage": "postgresql://u:S3cretPW@h/d", "command": ["hpo", "--tracking-uri", "http://u:S3cretPW@h"],
             "n": 3}
    assert SECRET not in repr(redact_all(value))
    assert redact_all(value)["n"] == 3


HPO = [sys.executable, "-m", "hpo_cli"]
PG = "postgresql+psycopg://postgres:{secret}@127.0.0.1:5432/test"


def _postgres_or_skip() -> None:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3):
            pass
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")


def _writer_cmdlines(parent: int) -> list[bytes]:
    """What ``ps`` shows of the tracking writer processes started by ``parent`` (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"hpo_cli.tracking.worker" in cmdline:
            found.append(cmdline)
    return found


def _files_holding(root: Path, secret: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_no_secret_in_files_store_output_or_ps(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    _postgres_or_skip()
    import optuna

    from hpo_cli.core.errors import InputError
    from hpo_cli.storage.backend import open_storage

    name = f"secret-{uuid.uuid4().hex[:8]}"
    storage = PG.format(secret=SECRET)
    uri = f"http://user:{SECRET}@127.0.0.1:{mlflow_server.port}"  # the server ignores credentials: any work
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({
        "name": name, "data": {"source": "sklearn:iris"}, "storage": storage,  # the spec artifact: redacted copy
        "models": [{"name": "dummy", "class": "DummyClassifier", "method": "random", "cv": 2,
                    "budget": {"trials": 3}, "space": {"strategy": ["prior", "most_frequent"]}}]}))
    run_dir = tmp_path / "run"
    try:
        proc = subprocess.Popen([*HPO, "tune", str(spec), "--storage", storage, "--tracking-uri", uri,
                                 "--output", str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen: list[bytes] = []
        while proc.poll() is None:
            seen += _writer_cmdlines(proc.pid)
            time.sleep(0.02)
        out, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert seen and not any(SECRET.encode() in c for c in seen), seen  # the writer ran, without the URI
        assert SECRET.encode() not in out + err

        info = json.loads((run_dir / "run.json").read_text())
        assert info["storage"] == storage.replace(SECRET, "***")
        assert "http://user:***@" in " ".join(info["command"])
        report = subprocess.run([*HPO, "report", str(run_dir), "--no-plots"], capture_output=True, text=True)
        assert report.returncode == 0, report.stderr
        assert SECRET not in report.stdout + report.stderr
        assert "postgres:***@" in report.stdout and "study storage" in report.stdout  # read without the password
        best = subprocess.run([*HPO, "best", str(run_dir)], capture_output=True, text=True)
        assert best.returncode == 0 and SECRET not in best.stdout + best.stderr
    finally:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=f"{name}.dummy", storage=storage)
    assert _files_holding(run_dir, SECRET.encode()) == []
    assert _files_holding(mlflow_server.root, SECRET.encode()) == []  # the MLflow store and its artifacts

    # errors that name the URL hide the password: a storage that does not answer, a tracking server gone
    with pytest.raises(InputError) as dead:
        open_storage(tmp_path, storage.replace("5432", "1"))
    assert "postgres:***@127.0.0.1:1" in str(dead.value) and SECRET not in str(dead.value)
    lost = subprocess.run([*HPO, "tune", str(spec), "--tracking-uri", f"http://u:{SECRET}@127.0.0.1:{free_port()}",
                           "--output", str(tmp_path / "r3")], capture_output=True, text=True)
    assert lost.returncode == 2 and "u:***@" in lost.stderr, lost.stderr
    assert SECRET not in lost.stderr + lost.stdout
