"""Secrets never written nor shown: the one redaction, and a real PostgreSQL / ``mlflow server`` with passwords."""

from __future__ import annotations

import pytest

from hpo_cli.core.redact import redact, redact_all

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
