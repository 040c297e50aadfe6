"""The one redaction of secrets in URLs: every place a storage or tracking URL can surface goes through it.

Why one helper: a password in ``--storage postgresql://user:PASSWORD@host/db`` or ``--tracking-uri
http://user:PASSWORD@host`` must never reach run.json (``storage``, ``command``), results.md, ``hpo report``,
MLflow tags and artifacts, logs or error messages (contract, "Secrets and workers"). Each of those calls
``redact`` on what it is about to write, so a new place needs one call, not a new rule.

What is hidden (shown as ``***``): the password of any ``scheme://user:password@host`` (also inside longer
text, e.g. a driver's error message, and with ``@`` in the password), a bare token in
``http(s)://token@host``, and the values of secret-looking query parameters (``password=``, ``token=`` ...).
User names, hosts, ports and paths stay: they say where the data went without giving access to it.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# scheme://user:password@  -- the password runs to the last "@" before the path (greedy, no "/" or space).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*):(?P<secret>[^/\s'\"]*)@")
# http(s)://token@host -- a token passed as the user name alone.
_TOKEN = re.compile(r"(?P<head>\bhttps?://)(?P<secret>[^:/@\s'\"]+)@", re.IGNORECASE)
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|pass|secret|token|access_token|auth_token|api_key|"
                    r"apikey|client_secret|sslpassword|private_key)=)(?P<secret>[^&;#\s'\"]*)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL password, URL token and secret query value replaced by ``***``."""
    if "@" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@" if m["secret"] else m[0], text)
    text = _TOKEN.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _QUERY.sub(lambda m: f"{m['head']}{MASK}" if m["secret"] else m[0], text)


def redact_all(value: Any) -> Any:
    """``redact`` applied to every string inside lists, tuples and dict values (and keys) of ``value``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_all(k): redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_all(v) for v in value)
    return value


def secrets_in(text: str) -> list[str]:
    """The secrets ``redact`` would hide in ``text`` (to keep them out of places redaction cannot reach)."""
    found = [m["secret"] for m in _USERINFO.finditer(text) if m["secret"]]
    found += [m["secret"] for m in _TOKEN.finditer(text)]
    return found + [m["secret"] for m in _QUERY.finditer(text) if m["secret"]]


def without_mask(url: str) -> str:
    """A URL read back from run.json with its ``***`` password dropped (``user:***@`` -> ``user@``), so the
    driver falls back to the password's own home (``PGPASSWORD``, ``~/.pgpass``) instead of sending ``***``."""
    return url.replace(f":{MASK}@", "@")
