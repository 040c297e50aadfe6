"""Hostile and broken specs through the real CLI: each is one located exit 2, and nothing is written.

The corpus in tests/malformed/spec_hostile/ holds what a hostile or careless user brings: alias bombs,
recursive aliases, thousands of nested brackets, foreign tags, non-finite and 400-digit numbers,
degenerate ranges, grids too large to build, dates as choices. Each file goes through ``hpo validate``
and ``hpo tune`` (in-process, for speed); the worst go through a real process under a memory limit
and a timeout (guards, not timing assertions), as do the special files (FIFO, /dev/zero, a symlink
loop, a directory, a file over the size limit) that cannot live in a repository.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_cli import run  # the shared in-process runner of the hostile-input tests

HOSTILE = Path(__file__).parent / "malformed" / "spec_hostile"
GUARD_SECONDS = 120  # generous: the machine is shared; a hang would otherwise never end
GUARD_BYTES = 3 * 1024**3  # address space; the alias bombs once took 9 GB

# file -> (line, field path ("" when the error has none), fragment of the message)
CORPUS: dict[str, tuple[int, str, str]] = {
    "alias_expands_too_deep.yaml": (6, "", "nests deeper than 32 levels once its aliases are expanded"),
    "big_int_high.yaml": (5, "models[0].space.max_iter.high", "does not fit in 64 bits"),
    "big_int_init_params.yaml": (5, "models[0].init_params.max_iter", "does not fit in 64 bits"),
    "big_int_trials.yaml": (5, "models[0].budget.trials", "does not fit in 64 bits"),
    "billion_laughs.yaml": (7, "f[1]", "more than 200,000 values once its aliases are expanded"),
    "billion_laughs_mappings.yaml": (7, "x5.e", "more than 200,000 values once its aliases are expanded"),
    "binary_model_name.yaml": (3, "models[0].name", "the tag tag:yaml.org,2002:binary is not allowed"),
    "categorical_too_many_choices.yaml": (6, "models[0].space.max_iter.values", "at most 10,000 choices, got 10,001"),
    "complex_key.yaml": (6, "models[0].space", "mapping keys must be plain names"),
    "custom_tag.yaml": (5, "models[0].space.C", "the tag !Ref is not allowed"),
    "date_choices.yaml": (5, "models[0].space.C.values[1]", "'2024-01-01' is a date"),
    "datetime_choices.yaml": (7, "models[0].space.tol.values[0]", "'2024-01-01 10:30:00' is a date"),
    "deep_block_yaml.yaml": (35, "", "nests deeper than 32 levels"),
    "deep_flow_yaml.yaml": (5, "", "nests deeper than 32 levels"),
    "deep_json_arrays.json": (1, "", "nests deeper than 32 levels"),
    "deep_json_objects.json": (1, "", "nests deeper than 32 levels"),
    "float_overflows.yaml": (5, "models[0].space.C.high", "1e400 is too large for a number"),
    "float_step_larger_than_range.yaml": (5, "models[0].space.C", "step (1.0) is larger than the range 0.1..0.5"),
    "grid_conditional_too_large.yaml": (8, "models[0].space.C", "the grid has more than 100,000 points"),
    "grid_int_range_1e8.yaml": (6, "models[0].space.max_iter", "100,000,000 points, over the limit of 100,000"),
    "grid_product_too_large.yaml": (7, "models[0].space.C", "9,010,000 points, over the limit of 100,000"),
    "inf_as_text.json": (6, "models[0].space.C.high", "must be a finite number, got 'inf'"),
    "inf_bounds.yaml": (5, "models[0].space.C.low", "-.inf is not a finite number"),
    "int_just_beyond_64_bits.yaml": (5, "models[0].init_params.max_iter", "9223372036854775808 does not fit in 64"),
    "int_step_larger_than_range.yaml": (5, "models[0].space.max_iter", "step (500) is larger than the range 100..200"),
    "json_big_int.json": (6, "models[0].init_params.max_iter", "(5,000 characters) does not fit in 64 bits"),
    "json_infinity.json": (3, "defaults.budget.target", "Infinity is not a finite number"),
    "json_nan.json": (6, "models[0].space.C.low", "NaN is not a finite number"),
    "merge_key_list_of_scalars.yaml": (4, "models[0].<<", "a merge key `<<` takes a mapping"),
    "merge_key_not_a_mapping.yaml": (5, "models[0].<<", "a merge key `<<` takes a mapping"),
    "nan_as_text.yaml": (5, "models[0].space.C.low", "must be a finite number, got 'nan'"),
    "nan_low.yaml": (5, "models[0].space.C.low", ".nan is not a finite number"),
    "nan_target.yaml": (5, "models[0].budget.target", ".nan is not a finite number"),
    "not_utf8.yaml": (5, "", "the spec is not UTF-8 text (byte 0xe9)"),
    "nul_byte.yaml": (5, "", "the control character #x0000 is not allowed"),
    "omap_tag.yaml": (5, "models[0].init_params", "the tag tag:yaml.org,2002:omap is not allowed"),
    "python_name_tag.yaml": (5, "models[0].init_params.callback", "python/name:os.system is not allowed"),
    "recursive_alias.yaml": (2, "models[0]", "the alias *m refers to a value that contains it"),
    "recursive_alias_in_mapping.yaml": (5, "models[0].init_params.class_weight", "the alias *p refers to a value"),
    "seed_negative.yaml": (5, "models[0].seed", "must be at least 0, got -1"),
    "seed_too_large.yaml": (2, "defaults.seed", "must be at most 4294967295, got 1099511627776"),
    "set_tag.yaml": (5, "models[0].space.C", "the tag tag:yaml.org,2002:set is not allowed"),
    "timestamp_tag.yaml": (5, "models[0].space.C[0]", "the tag tag:yaml.org,2002:timestamp is not allowed"),
    "two_documents.yaml": (6, "", "a spec file holds one document"),
    "undefined_alias.yaml": (5, "models[0].space", "the alias *shared names no anchor defined before it"),
}

def guarded(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``hpo ARGS`` in a real process under an address-space limit and a timeout (a guard, not a measure)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (GUARD_BYTES, GUARD_BYTES))

    return subprocess.run([sys.executable, "-m", "hpo_cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=GUARD_SECONDS, preexec_fn=limit, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def assert_located(name: str, text: str, err: str) -> None:
    """Every error line is ``FILE:LINE:COL: ...``; the expected one names the line, the path and the fault."""
    line, path, fragment = CORPUS[name]
    assert "Traceback" not in text, text
    prefix = rf"(?:{re.escape(str(HOSTILE))}/)?{re.escape(name)}:"
    errors = [ln for ln in err.splitlines() if ": warning: " not in ln and ln.strip()]
    assert errors and all(re.match(prefix + r"\d+:\d+: ", ln) for ln in errors), err
    found = next((ln for ln in errors if fragment in ln), None)
    assert found is not None, err
    assert re.match(rf"{prefix}{line}:\d+: ", found), found
    if path:
        assert f": {path}: " in found, found
    assert len(found) < 400, found  # a short prefix of the file at most


def test_the_hostile_corpus_is_large_and_mixed():
    files = sorted(p.name for p in HOSTILE.iterdir() if p.is_file())
    assert sorted(CORPUS) == files
    assert len(CORPUS) >= 35
    assert sum(f.endswith(".json") for f in CORPUS) >= 6


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_validate_refuses_with_a_located_line(name):
    code, out, err = run("validate", name, cwd=HOSTILE)
    assert code == 2, out + err
    assert_located(name, out + err, err)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_tune_refuses_before_writing_anything(name, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run("tune", str(HOSTILE / name), "--no-mlflow", "--output", str(out_dir), cwd=tmp_path)
    assert code == 2, out + err
    assert_located(name, out + err, err)
    assert list(tmp_path.iterdir()) == []  # no run folder, no journal, no mlruns


@pytest.mark.parametrize("name", ["billion_laughs_mappings.yaml", "deep_json_objects.json"])
def test_the_worst_cases_in_a_real_process_under_a_memory_limit(name):
    proc = guarded("validate", name, cwd=HOSTILE)
    assert proc.returncode == 2, proc.stderr
    assert_located(name, proc.stdout + proc.stderr, proc.stderr)


def test_special_files_are_refused_without_being_opened(tmp_path):
    """A FIFO would block, /dev/zero never ends, a symlink loop and a directory are no file, 6 MB is too much.

    The two that could hang or eat memory run in a real process under the guards; the rest in-process.
    """
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "big.yaml").write_text("data: {source: sklearn:iris}\nnotes: '" + "x" * 6_000_000 + "'\n")
    expected = {"fifo.yaml": "is a FIFO", "zero.yaml": "is a device", "loop.yaml": "cannot read the spec",
                "folder.yaml": "expected a spec file, got a directory", "big.yaml": "the limit is 5 MB"}
    for name in ("fifo.yaml", "zero.yaml"):
        proc = guarded("validate", name, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.startswith(f"{name}: "), proc.stderr
        assert expected[name] in proc.stderr and "Traceback" not in proc.stderr
    for name, fragment in expected.items():
        for args in (("validate", name), ("tune", name, "--no-mlflow", "--output", "out")):
            code, out, err = run(*args, cwd=tmp_path)
            assert code == 2, (name, out + err)
            assert err.startswith(f"{name}: ") and fragment in err, err
            assert "Traceback" not in out + err and "x" * 100 not in out + err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected)  # nothing written


# --- what must keep working: merge keys, a BOM, YAML 1.2 words ---------------------------------------------

MERGED = """\
data: {source: sklearn:iris}
defaults: {cv: 3, method: random}
models:
  - &base
    name: small
    class: LogisticRegression
    init_params: {max_iter: 300}
    space: {C: {type: float, low: 0.01, high: 10, log: true}}
  - <<: *base
    name: large
    init_params: {max_iter: 500}
  - <<: *base
    name: wide
    space:
      <<: {C: [0.1, 1.0]}
      tol: [0.001, 0.0001]
"""


def test_merge_keys_share_a_block_between_models(tmp_path):
    from hpo_cli.spec.load import load_spec

    (tmp_path / "merged.yaml").write_text(MERGED)
    spec = load_spec(tmp_path / "merged.yaml")
    small, large, wide = spec.models
    assert (large.class_, large.init_params, large.space) == (small.class_, {"max_iter": 500}, small.space)
    assert wide.space["C"].values == [0.1, 1.0] and wide.init_params == {"max_iter": 300}
    code, out, err = run("validate", "merged.yaml", cwd=tmp_path)
    assert code == 0 and "ok: 3 model(s)" in out, out + err


def test_a_merged_value_is_reported_where_it_was_written(tmp_path):
    (tmp_path / "s.yaml").write_text(MERGED.replace("low: 0.01", "low: 100"))
    code, _, err = run("validate", "s.yaml", cwd=tmp_path)
    assert code == 2
    assert err.startswith("s.yaml:8:16: models[0].space.C: low (100.0) must be below high (10.0)"), err


@pytest.mark.parametrize("name", ["bom.yaml", "bom.json"])
def test_a_byte_order_mark_is_accepted(tmp_path, name):
    body = '{"data": {"source": "sklearn:iris"}, "models": [{"name": "m", "class": "LogisticRegression", ' \
           '"space": {"C": [0.1, 1.0]}}]}'
    (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + body.encode())
    code, out, err = run("validate", name, cwd=tmp_path)
    assert code == 0, out + err


def test_yes_no_on_off_are_words_not_booleans(tmp_path):
    from hpo_cli.spec.load import load_spec

    (tmp_path / "s.yaml").write_text("name: on\ndata: {source: sklearn:iris}\nmodels:\n  - name: no\n    class: "
                                     "LogisticRegression\n    space: {C: [0.1, 1.0], x: [yes, no, on, off]}\n")
    spec = load_spec(tmp_path / "s.yaml")
    assert (spec.name, spec.models[0].name, spec.models[0].space["x"].values) == ("on", "no",
                                                                                 ["yes", "no", "on", "off"])


def test_a_shared_block_lives_under_an_x_key(tmp_path):
    """Anchored blocks outside `models:` go under `x-...` keys (as in docker compose); a bare one gets the hint."""
    from hpo_cli.spec.schema import spec_json_schema

    text = ("base: &base\n  class: LogisticRegression\n  init_params: {max_iter: 300}\ndata: {source: sklearn:iris}\n"
            "models:\n  - <<: *base\n    name: a\n    space: {C: [0.1, 1.0]}\n")
    (tmp_path / "bare.yaml").write_text(text)
    (tmp_path / "shared.yaml").write_text(text.replace("base: &base", "x-base: &base"))
    code, _, err = run("validate", "bare.yaml", cwd=tmp_path)
    assert code == 2 and err.startswith("bare.yaml:1:1: base: unknown key 'base'") and "(x-base)" in err, err
    code, out, err = run("validate", "shared.yaml", cwd=tmp_path)
    assert code == 0, out + err
    assert "^x-" in spec_json_schema()["patternProperties"]
