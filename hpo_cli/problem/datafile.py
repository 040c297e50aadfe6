"""What can be wrong with a data file and its target column, said in a message that quotes the file sparingly.

Split from ``data`` (which loads and splits): the file checked before it is read (a FIFO would block, a
symlink loop would raise), the target checked after (missing, infinite, constant, continuous for a
classifier), and the helpers that keep a message to a short, printable prefix of whatever the file holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hpo_cli.core.errors import InputError
from hpo_cli.core.values import plain
from hpo_cli.spec.models import Spec


def unreadable_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file (missing, a symlink loop, a folder, a FIFO, a device), else None.

    Named without ``Path.resolve``, which raises on a symlink loop; a FIFO or a device is refused rather
    than read, since reading it would block or never end.
    """
    import errno
    import os
    import stat

    shown = os.path.abspath(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"data path is a loop of symbolic links: {shown}"
        return f"data file not found: {shown}" if exc.errno in (errno.ENOENT, errno.ENOTDIR) else \
            f"cannot read the data file {shown}: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return f"data path is a folder, not a file: {shown}"
    if not stat.S_ISREG(mode):
        return f"data path is not a regular file (a pipe, socket or device): {shown}"
    return None


def short(text: str, limit: int = 24) -> str:
    """At most a short prefix of a file's content in a message (a header line may hold anything, even a token)."""
    text = "".join(c if c.isprintable() else "?" for c in text)  # no line breaks (U+0085 too) or control codes
    return text if len(text) <= limit else text[:limit] + "..."


def listed_columns(frame: pd.DataFrame, most: int = 12) -> str:
    """The columns of a frame for a message: a few short names, never a whole first line of the file."""
    columns = [short(str(c)) for c in frame.columns]
    return ", ".join(columns[:most]) + (f" and {len(columns) - most} more" if len(columns) > most else "")


def _target(spec: Spec, message: str) -> InputError:
    return InputError(spec.problem(("data", "target"), message))


def check_target(spec: Spec, y: pd.Series, task: str, shown: str, target: str) -> None:
    n_nan = int(y.isna().sum())
    if n_nan:
        first = int(np.flatnonzero(y.isna().to_numpy())[0])
        raise _target(spec, f"{shown}: target column '{target}' has {n_nan} missing value(s) (first at "
                                       f"data row {first + 1}); drop or fill those rows")
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        example = next((v for v in y if not isinstance(v, int | float)), y.iloc[0])
        raise _target(spec, f"{shown}: target column '{target}' is not numeric (e.g. {example!r}) but the "
                                       f"task is regression; use a classifier or set data.task: classification")
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y) and np.isinf(y.to_numpy()).any():
        first = int(np.flatnonzero(np.isinf(y.to_numpy()))[0])
        raise _target(spec, f"{shown}: target column '{target}' holds infinite values (first at data row "
                                       f"{first + 1}), which no scorer or estimator takes; fix or drop those rows")
    if task == "regression" and y.nunique() < 2:
        raise _target(spec, f"{shown}: target column '{target}' is constant ({plain(y.iloc[0])!r} in "
                                       f"every row): every model would predict it perfectly (r2 = 1.0) and the "
                                       f"search would compare nothing; check the column")
    if task == "classification" and pd.api.types.is_float_dtype(y) and (y != y.round()).any():
        from sklearn.utils.multiclass import type_of_target

        if type_of_target(y.to_numpy()) == "continuous":
            example = plain(y[y != y.round()].iloc[0])
            raise _target(spec, f"{shown}: target column '{target}' holds continuous values (e.g. "
                                           f"{example!r}) but the models are classifiers; use a regressor, or "
                                           f"bin the target into classes")
    if task == "classification" and y.nunique() < 2:
        raise _target(spec, f"{shown}: target column '{target}' has one class only "
                                       f"({plain(y.iloc[0])!r}); a classifier needs at least two")
