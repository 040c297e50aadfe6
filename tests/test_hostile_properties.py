"""Property-based tests of ``hpo validate`` on random and mutated specs: exit 0, or exit 2 located, never a traceback.

Hypothesis writes random YAML/JSON documents (nested values, huge and non-finite numbers, long
strings) and random mutations of the example specs in specs/ (deleted, duplicated and swapped
lines, YAML punctuation, aliases, anchors, tags, merge keys, 400-digit numbers). Each goes through
the real CLI in-process (for speed); a few go through a real process under a memory limit and a
timeout, as a guard. Example counts are bounded so the file stays within its share of CI time.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from hostile_cli import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_hostile_spec import guarded  # pytest puts tests/ on sys.path (no package)

SPECS = Path(__file__).parent.parent / "specs"
EXAMPLES = sorted(p for p in SPECS.iterdir() if p.suffix in (".yaml", ".json") and p.name != "schema.json")
# Bounded: about 20 s in all on a loaded 2-core machine; HPO_PROPERTY_EXAMPLES=500 for a deeper local hunt.
FAST = settings(max_examples=int(os.environ.get("HPO_PROPERTY_EXAMPLES", "20")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 2, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["on", "off", "yes", "no", "2024-01-01", "1e400", "nan", "sklearn:iris", "grid", "tpe",
                     "LogisticRegression", "float", "int", "categorical", "x" * 300]),
)
keys = st.one_of(st.text(max_size=12), st.sampled_from(
    ["name", "data", "source", "target", "models", "class", "space", "param_grid", "hyperparameters", "type",
     "low", "high", "step", "log", "values", "when", "defaults", "budget", "trials", "cv", "folds", "seed",
     "method", "init_params", "metric", "<<", "pruner", "confirm", "preprocess"]))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                          st.dictionaries(keys, inner, max_size=5)), max_leaves=30)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder beside which relative data paths of the examples resolve (``data/`` links to specs/data)."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "data").symlink_to(SPECS / "data")
    return folder


def assert_clean(name: str, code: int, out: str, err: str) -> None:
    """exit 0, or exit 2 whose every error line starts ``FILE:`` (``FILE:LINE:COL:`` where the text has it)."""
    assert "Traceback" not in out + err, out + err
    assert code in (0, 2), (code, out, err)
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines and all(ln.startswith(f"{name}:") or ln.startswith("  ") for ln in lines), err
        assert re.match(rf"{re.escape(name)}:\d+:\d+: ", lines[0]) or "spec" in lines[0], err
        assert all(len(ln) < 1500 for ln in lines), err  # a short prefix of the input at most


def _yaml_text(document: object) -> str:
    return yaml.safe_dump(document, default_flow_style=None, allow_unicode=True)


@FAST
@given(document=documents, as_json=st.booleans())
@example(document={" \x85": None}, as_json=False)  # found by hypothesis: a NEL in a key split the error line
def test_random_documents_are_accepted_or_refused_located(workdir, document, as_json):
    name = "random.json" if as_json else "random.yaml"
    text = json.dumps(document) if as_json else _yaml_text(document)
    (workdir / name).write_text(text, encoding="utf-8")
    assert_clean(name, *run("validate", name, cwd=workdir))


@FAST
@given(document=st.fixed_dictionaries({
    "data": st.fixed_dictionaries({"source": st.just("sklearn:iris")}),
    "models": st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["a", "b"]), "class": st.sampled_from(["LogisticRegression", "SVC", "Ridge"]),
        "method": st.sampled_from(["grid", "tpe", "random", "cmaes"]),
        "space": st.dictionaries(st.sampled_from(["C", "tol", "max_iter", "gamma"]), st.one_of(
            st.lists(scalars, min_size=1, max_size=4),
            st.fixed_dictionaries({"type": st.sampled_from(["int", "float"]), "low": scalars, "high": scalars},
                                  optional={"step": scalars, "log": st.booleans()})), max_size=3)},
        optional={"budget": st.fixed_dictionaries({}, optional={"trials": scalars, "target": scalars}),
                  "seed": scalars, "init_params": st.dictionaries(keys, scalars, max_size=2)}),
        min_size=1, max_size=2)}))
def test_random_spec_shaped_documents(workdir, document):
    """Shaped like a spec, so the checks beyond the loader (ranges, grids, estimators, seeds) are reached."""
    (workdir / "shaped.yaml").write_text(_yaml_text(document), encoding="utf-8")
    assert_clean("shaped.yaml", *run("validate", "shaped.yaml", cwd=workdir))


TOKENS = [":", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!binary ", "!!python/object:os.system ", "<<: *a",
          ".nan", "-.inf", "1e400", "9" * 400, "~", "'", '"', "\t", "\n", "  ", "#", "|", ">", "? ", "---\n",
          "on", "yes", "2024-01-01", "\ufeff", "[" * 50, "{a: " * 40, "\x00", "\\u0000", "step: 1000000"]


@st.composite
def mutated_example(draw: st.DrawFn) -> tuple[str, str]:
    """One example spec with a few random edits: lines deleted, duplicated, swapped, tokens inserted."""
    path = draw(st.sampled_from(EXAMPLES))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace"]))
        if edit == "delete" and len(lines) > 1:
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "swap" and len(lines) > 1:
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif lines:
            at = draw(st.integers(min_value=0, max_value=len(lines[i])))
            token = draw(st.sampled_from(TOKENS))
            end = at + (draw(st.integers(min_value=0, max_value=8)) if edit == "replace" else 0)
            lines[i] = lines[i][:at] + token + lines[i][end:]
    return path.suffix, "".join(lines)


@FAST
@given(example=mutated_example())
def test_mutated_examples_are_accepted_or_refused_located(workdir, example):
    suffix, text = example
    name = f"mutated{suffix}"
    (workdir / name).write_text(text, encoding="utf-8")
    assert_clean(name, *run("validate", name, cwd=workdir))


@settings(max_examples=1, deadline=None, database=None)
@given(example=mutated_example())
def test_mutated_examples_in_a_real_process_under_a_memory_limit(workdir, example):
    suffix, text = example
    name = f"guarded{suffix}"
    (workdir / name).write_text(text, encoding="utf-8")
    proc = guarded("validate", name, cwd=workdir)
    assert_clean(name, proc.returncode, proc.stdout, proc.stderr)


def test_the_examples_themselves_validate(workdir):
    for path in EXAMPLES:
        (workdir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        extra = ("--data", "sklearn:iris") if path.name == "models_only.yaml" else ()
        code, out, err = run("validate", path.name, *extra, cwd=workdir)
        assert code == 0, out + err
