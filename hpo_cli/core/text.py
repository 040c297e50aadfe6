"""Words for messages: the one "did you mean" every located error uses (spec keys, estimators, datasets, options)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def suggest(word: Any, options: Iterable[Any]) -> str:
    """'; did you mean X?' when a close option exists, else nothing.

    Case slips and swapped letters (``lgo`` for ``log``) win over difflib's ratio, which ties them
    with other words (``low``).
    """
    choices = [str(o) for o in options]
    word = str(word)
    exact = [o for o in choices if o.lower() == word.lower() or sorted(o.lower()) == sorted(word.lower())]
    match = exact[:1] or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


# Characters hpo's reports use, in plain ASCII for a terminal or pipe that cannot show them.
_PLAIN = str.maketrans({"—": "-", "–": "-", "±": "+/-", "→": "->", "≥": ">=", "≤": "<=", "·": "-", "🏆": "(best)",
                        "█": "#", "…": "...", "×": "x", "✓": "ok", "✗": "x", "−": "-"})


def encodable(text: str, encoding: str | None) -> str:
    """``text`` as ``encoding`` can carry it: unchanged when it can, else plain characters and ``?`` for the rest.

    ``PYTHONIOENCODING=ascii`` or an old Windows console would otherwise end a report in a traceback.
    """
    encoding = encoding or "utf-8"
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        plain = text.translate(_PLAIN)
        try:
            return plain.encode(encoding, errors="replace").decode(encoding)
        except LookupError:
            return plain.encode("ascii", errors="replace").decode("ascii")


def preview(text: Any, limit: int = 40) -> str:
    """At most ``limit`` characters of the user's text for a message: a file may hold megabytes, or secrets."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"
