"""core: the shapes and words every stage shares, and nothing else.

Owns: the errors that carry exit codes (``errors``), the typed options of each command (``options``),
one trial / one model's search / one run and the observer events (``results``), plain values for
YAML and JSON (``values``), the one "did you mean" (``text``) and the one redaction of secrets in URLs
(``redact``), the ``HPO_TRACE`` timeline of every process (``trace``).

May import: the standard library only. No heavy library, no other hpo subpackage: every stage imports it.
"""
