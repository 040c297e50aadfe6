"""A model's identity: what must not change between the trials of one study, and the words for what did.

``--resume`` and ``--join`` continue a study only when the model is the one its trials were scored
for: the same estimator class, init_params, preprocessing, space, method, CV (kind, folds, shuffle,
repeats, seed), metric, held-out size and data. The identity is recorded in the study when the search
first opens it; a run whose model differs is refused before anything is written, naming each difference.
"""

from __future__ import annotations

import json
from typing import Any

from hpo_cli.storage.attrs import STUDY_IDENTITY

#: The identity's keys, in the order a difference is reported.
IDENTITY_KEYS = ("class", "init_params", "preprocess", "space", "method", "cv", "metric", "test_size",
                 "data_sha256")
_SHOWN = 80  # characters of a value shown in a message


def _text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _canonical(value: Any) -> Any:
    """JSON round trip: tuples are lists and keys strings, as the storage gives them back."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``cv.seed: 42 -> 3`` for each identity value that differs (empty when the model is the same).

    Mappings are compared key by key, so a message names ``space.C`` or ``cv.folds``, not a whole block.
    """
    out: list[str] = []
    for key in IDENTITY_KEYS:
        _compare(key, _canonical(recorded.get(key)), _canonical(current.get(key)), out)
    return out


def _compare(path: str, old: Any, new: Any, out: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for sub in dict.fromkeys([*old, *new]):
            _compare(f"{path}.{sub}", old.get(sub), new.get(sub), out)
        return
    out.append(f"{path}: {_text(old)} -> {_text(new)}")


def recorded_identity(study: Any) -> dict[str, Any] | None:
    """The identity a study was created with, or None for a study written before hpo recorded one."""
    value = study.user_attrs.get(STUDY_IDENTITY)
    return value if isinstance(value, dict) else None


def record_identity(study: Any, identity: dict[str, Any]) -> None:
    """Store the identity once; a study that has one keeps it (the check before the run compared them)."""
    if recorded_identity(study) is None:
        study.set_user_attr(STUDY_IDENTITY, _canonical(identity))
