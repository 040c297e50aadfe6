"""The layout is the architecture: subpackages in one strict order, small modules, light start-up commands.

Read from the import statements themselves (every ``import``/``from`` anywhere in a module, inside functions
too), so a lazy import that climbs a layer is caught as surely as a top-level one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from import_probe import imported  # noqa: E402

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "hpo_cli"

#: Lowest first: a subpackage may import only those before it (and itself). ARCHITECTURE.md explains each.
LAYERS = ["core", "spec", "problem", "storage", "search", "checks", "rundir", "report", "tracking", "tune", "cli"]
MAX_LINES = 350


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _subpackage(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else None


def _imported_subpackages(path: Path) -> set[str]:
    """Subpackages of hpo_cli named by the module's import statements."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hpo_cli" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_every_module_lives_in_a_declared_subpackage():
    top_level = {p.name for p in PACKAGE.glob("*.py")}
    assert top_level <= {"__init__.py", "__main__.py"}, sorted(top_level)
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


def test_subpackages_import_only_lower_layers():
    wrong = []
    for path in _modules():
        own = _subpackage(path)
        if own is None:
            continue
        for target in _imported_subpackages(path):
            if LAYERS.index(target) > LAYERS.index(own):
                wrong.append(f"{path.relative_to(ROOT)} ({own}) imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_two_subpackages_import_each_other():
    edges = {(own, target) for path in _modules() if (own := _subpackage(path))
             for target in _imported_subpackages(path) if target != own}
    assert not [(a, b) for a, b in edges if (b, a) in edges]


def test_every_subpackage_says_what_it_owns_and_may_import():
    for name in LAYERS:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc and len(doc.split()) > 20, name


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_350_lines(path: Path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.name}: {n} lines"


@pytest.mark.parametrize("args", [["--help"], ["best", "RUN"], ["best", "RUN", "--format", "env"]])
def test_help_and_best_import_no_heavy_library(args, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best_parameters.yaml").write_text("best_model: a\nmetric: accuracy\ndirection: maximize\n"
                                              "models:\n  a:\n    params: {C: 0.5}\n", encoding="utf-8")
    args = [str(run) if a == "RUN" else a for a in args]
    _, modules, stdout = imported(*args)
    assert not modules & {"mlflow", "optuna", "sklearn", "xgboost"}, sorted(modules & {"mlflow", "optuna",
                                                                                        "sklearn", "xgboost"})
    if args[0] == "best":
        assert "0.5" in stdout
