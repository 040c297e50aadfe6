"""The run folder: its file names, atomic writes, and finding the newest run.

Kept free of heavy imports because ``hpo best`` and ``hpo report`` start here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import InputError, Location

BEST_PARAMETERS = "best_parameters.yaml"
TRIALS_CSV = "trials.csv"
RESULTS_MD = "results.md"
RUN_JSON = "run.json"
RUNS_ROOT = Path("runs")


#: More values than this once aliases are expanded is refused: an "alias bomb" of a few hundred bytes
#: expands to gigabytes in ``json.dumps`` or a report (measured: 5.9 GB), while a real run folder holds thousands.
MAX_YAML_VALUES = 1_000_000


def yaml_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml when PyYAML has it: the run folder's YAML is read on every report.

    The composed document is measured before anything is built from it: more than ``MAX_YAML_VALUES``
    values with aliases expanded (or an alias that contains itself) is a ``yaml.YAMLError``, so memory stays
    bounded by the file's size. libyaml itself refuses nesting deeper than 1,000 levels.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, yaml)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expanded_size(root: Any, yaml: Any) -> None:
    """Count the document's values as if every alias were copied (shared nodes counted once per use)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        kids = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            open_nodes.discard(id(node))
            sizes[id(node)] = size = 1 + sum(sizes[id(k)] for k in kids)
            if size > MAX_YAML_VALUES:
                raise yaml.YAMLError(f"expands to more than {MAX_YAML_VALUES:,} values through aliases")
            continue
        if id(node) in open_nodes:
            raise yaml.YAMLError("an alias refers to a collection that contains it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in sizes)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader (DVC, a training stage) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the run folder is shared with DVC, CI, teammates
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        # No fsync: the rename is atomic against a crash or a kill (a reader sees the old or the new file),
        # and every run-folder file can be rewritten from the study storage; an fsync per file cost ~2 ms.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_run_dir(arg: Path | None, root: Path = RUNS_ROOT) -> Path:
    """``RUN_DIR`` as given, else the most recently modified run folder under ``runs/``."""
    if arg is not None:
        if not arg.is_dir():
            raise InputError(f"run folder not found: {arg}", Location(str(arg)))
        return arg
    candidates = [p for p in root.glob("*") if p.is_dir() and ((p / RUN_JSON).exists()
                                                             or (p / BEST_PARAMETERS).exists())]
    if not candidates:
        raise InputError(f"no run folder under {root}/; run `hpo tune SPEC` first or name RUN_DIR",
                         Location(str(root)))
    return max(candidates, key=lambda p: max(f.stat().st_mtime for f in [p, *p.iterdir()]))
