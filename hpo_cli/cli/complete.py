"""Shell completion helpers (Typer's ``--install-completion``): spec files and a spec's model names.

Completion runs ``hpo`` on every <TAB>, so these stay cheap: a directory listing, and for ``--model`` a
plain YAML/JSON read of the spec already typed on the line (no pydantic, no scikit-learn).
"""

from __future__ import annotations

from pathlib import Path

import typer

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def spec_files(incomplete: str) -> list[str]:
    """Spec-looking files (and folders, to descend into) whose path starts with what was typed."""
    folder, _, stem = incomplete.rpartition("/")
    base = Path(folder or ".")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    out = []
    for entry in entries:
        if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem.startswith(".")):
            continue
        shown = f"{folder}/{entry.name}" if folder else entry.name
        if entry.is_dir():
            out.append(shown + "/")
        elif entry.suffix in SPEC_SUFFIXES and entry.name != "schema.json":
            out.append(shown)
    return out


def model_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """The ``name`` of each model in the spec given earlier on the command line."""
    spec = (ctx.params or {}).get("spec") or _spec_on_line()
    if not spec:
        return []
    try:
        import yaml

        doc = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
    except Exception:  # completion must never fail loudly
        return []
    models = doc.get("models") if isinstance(doc, dict) else None
    names = [m.get("name") for m in models or [] if isinstance(m, dict)]
    return [n for n in names if isinstance(n, str) and n.startswith(incomplete)]


def _spec_on_line() -> str | None:
    """The spec file typed on the line being completed.

    Click drops the parsed arguments when the line ends in an option still waiting for its value
    (``--model <TAB>``), so the words are read from the shell's completion variables instead.
    """
    import os
    import shlex

    line = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    return next((w for w in words if w.endswith(SPEC_SUFFIXES) and Path(w).is_file()), None)


def engine_versions() -> str:
    """``hpo --version``: hpo's version and those of the engines it drives, read from package metadata."""
    from hpo_cli.rundir.provenance import ENGINES, package_versions

    versions = package_versions(ENGINES)
    if versions["hpo"] is None:  # run from a source tree that is not installed
        from hpo_cli import __version__

        versions["hpo"] = __version__
    return "\n".join(f"{name} {versions[name] or 'not installed'}" for name in ENGINES)
