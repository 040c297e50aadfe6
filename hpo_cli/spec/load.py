"""Loading a spec file into a ``Spec``: the one entry point every command goes through.

The steps run in an order that keeps every error pointing at the user's own text: ``normalize``
rewrites the accepted dialects into one shape, ``merge_defaults`` copies ``defaults`` into each model
while remembering where each copied value came from, and only then does pydantic check types, its
errors turned into located messages by ``messages``. ``--data`` replaces ``data.source`` after that,
so a spec without a ``data:`` section is still complete when the data comes from the command line.
``data_path`` lives here because a relative data path means relative to the loaded file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from hpo_cli.core.errors import InputError
from hpo_cli.spec.loader import Document, load_document
from hpo_cli.spec.messages import validation_problems
from hpo_cli.spec.models import DataSpec, Spec
from hpo_cli.spec.normalize import FIELDS, merge_defaults, normalize, objectives_metric, param_grid_means_grid


def build_spec(doc: Document, file_stem: str = "spec", data_override: str | None = None) -> Spec:
    """Turn a loaded document into a ``Spec``; raises ``InputError`` listing every type problem."""
    data = normalize(doc, file_stem)
    merge_defaults(doc, data)
    param_grid_means_grid(doc, data)
    objectives_metric(doc, data)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, doc, data, FIELDS)) from None
    spec.doc = doc
    if data_override is not None:
        source = data_override
        if not source.startswith("sklearn:"):
            source = os.path.abspath(source)  # not resolve(): it raises on a symlink loop (refused when read)
        if spec.data is None:
            spec.data = DataSpec(source=source)
        else:
            spec.data = spec.data.model_copy(update={"source": source})
        spec.data_from_cli = True
    if spec.data is None:
        raise InputError("no data: add a `data:` section (source, target) or pass --data PATH",
                         doc.locate(()), "data")
    return spec


def load_spec(path: str | Path, data_override: str | None = None) -> Spec:
    """Read and type-check a spec file; the one entry point every command uses."""
    doc = load_document(path)
    spec = build_spec(doc, Path(path).stem, data_override)
    spec.path = Path(path).resolve()
    spec.sha256 = doc.sha256
    return spec


def data_path(spec: Spec) -> Path | None:
    """The data file, relative paths taken from the spec's folder; None for ``sklearn:`` sources."""
    assert spec.data is not None
    if spec.data.source.startswith("sklearn:"):
        return None
    p = Path(spec.data.source).expanduser()
    return p if p.is_absolute() else (spec.base_dir / p)
