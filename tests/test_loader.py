"""The loader keeps positions and reads numbers the way spec authors write them."""

import pytest

from hpo_cli.core.errors import InputError
from hpo_cli.spec.loader import parse_text


def test_exponent_without_dot_is_a_float():
    doc = parse_text("a: 1e-5\nb: 100\nc: '1e-5'\n", "s.yaml")
    assert doc.data == {"a": 1e-5, "b": 100, "c": "1e-5"}
    assert isinstance(doc.data["a"], float) and isinstance(doc.data["b"], int)


def test_positions_of_keys_and_values():
    doc = parse_text("models:\n  - name: a\n    space:\n      C: [1, 2]\n", "s.yaml")
    assert doc.keys[("models", 0, "space", "C")] == (4, 7)
    assert doc.values[("models", 0, "space", "C", 1)] == (4, 14)


def test_json_positions_survive_tabs():
    doc = parse_text('{\n\t"a": 1e-5,\n\t"b": [null, [50]]\n}', "s.json")
    assert doc.data == {"a": 1e-5, "b": [None, [50]]}
    assert doc.values[("b",)] == (3, 7)


@pytest.mark.parametrize(
    ("text", "file", "where"),
    [("a: 1\na: 2\n", "s.yaml", "s.yaml:2:1"), ('{"a": 1,,}', "s.json", "s.json:1:9"),
     ("a: [1\nb: 2\n", "s.yaml", "s.yaml:2:2"), ("", "s.yaml", "s.yaml:1:1")],
)
def test_syntax_errors_are_located(text, file, where):
    with pytest.raises(InputError) as info:
        parse_text(text, file)
    assert str(info.value).startswith(where)


def test_suggest_prefers_case_slips_and_swapped_letters():
    from hpo_cli.core.text import suggest

    assert suggest("lgo", ["low", "high", "log"]) == "; did you mean 'log'?"
    assert suggest("Accuracy", ["accuracy", "f1"]) == "; did you mean 'accuracy'?"
    assert suggest("zzz", ["accuracy"]) == ""


def test_yaml_is_loaded_safely():
    with pytest.raises(InputError) as info:
        parse_text("a: !!python/object/apply:os.system ['echo hi']\n", "s.yaml")
    assert str(info.value).startswith("s.yaml:1:4: a: invalid YAML: the tag")


def test_numeric_keys_keep_their_type_booleans_and_null_become_names():
    """class_weight: {0: 1, 1: 3} must reach the estimator with int keys (scikit-learn looks classes up)."""
    doc = parse_text("1: a\ntrue: b\nnull: c\nw: {0: 1, 1: 3}\n", "s.yaml")
    assert doc.data == {1: "a", "true": "b", "null": "c", "w": {0: 1, 1: 3}}


@pytest.mark.parametrize("text", ["1e-5", "1.0e3", "2.5e2", "1.5E+2", ".5e1", "-3e2", "1_000.0e1"])
def test_every_json_and_yaml_12_float_is_a_float(text):
    """PyYAML (YAML 1.1) reads 1.0e3 as a string: a spec's 1.0e3 must be 1000.0 as in JSON."""
    value = parse_text(f"a: {text}\n", "s.yaml").data["a"]
    assert isinstance(value, float) and value == float(text.replace("_", ""))
    if not text.startswith("."):  # JSON numbers need a digit before the dot
        assert parse_text(f'{{"a": {text.replace("_", "")}}}', "s.json").data["a"] == value


# --- hostile input: bounded, shared aliases; YAML 1.2 scalars; merge keys; only regular files ------------

def _error(text: str, file: str = "s.yaml") -> str:
    with pytest.raises(InputError) as info:
        parse_text(text, file)
    return str(info.value)


def test_billion_laughs_is_refused_by_the_node_budget_without_expanding_it():
    rows = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    rows += [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    message = _error("\n".join(rows) + "\n")
    assert message.startswith("s.yaml:6:") and "more than 200,000 values once its aliases are expanded" in message


def test_a_recursive_alias_is_a_located_error():
    assert _error("models: &m [*m]\n") == (
        "s.yaml:1:13: models[0]: invalid YAML: the alias *m refers to a value that contains it "
        "(a recursive alias never ends)")


def test_aliases_share_their_positions_instead_of_copying_them():
    doc = parse_text("base: &b {C: [1, 2], D: {low: 1, high: 2}}\nm: [*b, *b]\n", "s.yaml")
    assert doc.data["m"] == [doc.data["base"]] * 2 and doc.data["m"][0] is not doc.data["m"][1]
    assert ("m", 1, "D", "low") not in doc.values  # not walked again
    assert str(doc.locate(("m", 1, "D", "low"))) == "s.yaml:1:31"  # where the text is
    assert str(doc.locate(("m", 1))) == "s.yaml:2:9"  # the alias itself


def test_merge_keys_merge_with_positions():
    text = "base: &b {class: Ridge, init_params: {alpha: 1}}\nm:\n  <<: *b\n  name: r\n  class: Lasso\n"
    doc = parse_text(text, "s.yaml")
    assert doc.data["m"] == {"class": "Lasso", "init_params": {"alpha": 1}, "name": "r"}
    assert str(doc.locate(("m", "init_params", "alpha"))) == "s.yaml:1:46"
    assert str(doc.locate(("m", "class"))) == "s.yaml:5:10"
    many = parse_text("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*a, *b], w: 0}\n", "s.yaml").data["m"]
    assert many == {"x": 1, "z": 3, "w": 0}
    assert parse_text("m: {'<<': 1}\n", "s.yaml").data == {"m": {"<<": 1}}  # quoted: an ordinary key
    assert "a merge key `<<` takes a mapping" in _error("m: {<<: 3}\n")


@pytest.mark.parametrize("file", ["s.yaml", "s.json"])
def test_a_byte_order_mark_is_accepted(file):
    assert parse_text('\ufeff{"a": [1, "on"]}', file).data == {"a": [1, "on"]}


def test_yaml_12_scalars_only_true_and_false_are_booleans():
    text = "a: [on, off, yes, no, y, n, true, False, ~, null, 2024-01-01, 010, 0x1F, 1_000, 1:30]\n"
    doc = parse_text(text, "s.yaml")
    assert doc.data["a"] == ["on", "off", "yes", "no", "y", "n", True, False, None, None, "2024-01-01", 10, 31,
                             1000, "1:30"]
    assert parse_text("a: !!str 5\nb: !!float 3\nc: !!int '7'\n", "s.yaml").data == {"a": "5", "b": 3.0, "c": 7}


@pytest.mark.parametrize(("text", "where", "fragment"), [
    ("name: !!binary aGVsbG8=\n", "s.yaml:1:7: name", "the tag tag:yaml.org,2002:binary is not allowed"),
    ("s: !!set {a, b}\n", "s.yaml:1:4: s", "the tag tag:yaml.org,2002:set is not allowed"),
    ("a: !!python/name:os.system\n", "s.yaml:1:4: a", "is not allowed"),
    ("a: !custom 1\n", "s.yaml:1:4: a", "the tag !custom is not allowed"),
    ("low: .nan\n", "s.yaml:1:6: low", ".nan is not a finite number"),
    ("x: [-.inf, 1]\n", "s.yaml:1:5: x[0]", "-.inf is not a finite number"),
    ("x: 1e400\n", "s.yaml:1:4: x", "too large for a number"),
    ("x: " + "1" * 400 + "\n", "s.yaml:1:4: x", "does not fit in 64 bits"),
    ("x: 9223372036854775808\n", "s.yaml:1:4: x", "does not fit in 64 bits"),
    ('{"a": NaN}', "s.json:1:7: a", "NaN is not a finite number"),
    ('{"a": -Infinity}', "s.json:1:7: a", "-Infinity is not a finite number"),
    ('{"a": ' + "9" * 5000 + "}", "s.json:1:7: a", "does not fit in 64 bits"),
    ("[" * 600 + "]" * 600, "s.yaml:1:33", "nests deeper than 32 levels"),
    ("[" * 10000 + "]" * 10000, "s.json:1:33", "nests deeper than 32 levels"),
    ('{"a":' * 10000 + "1" + "}" * 10000, "s.json:1:161", "nests deeper than 32 levels"),
    ("a: &a " + "[" * 20 + "1" + "]" * 20 + "\nb: " + "[" * 15 + "*a" + "]" * 15 + "\n", "s.yaml:2:19",
     "nests deeper than 32 levels once its aliases are expanded"),
    ("a: 1\n---\nb: 2\n", "s.yaml:2:1", "a spec file holds one document"),
    ("a: *nowhere\n", "s.yaml:1:4: a", "the alias *nowhere names no anchor"),
    ("? [a, b]\n: 1\n", "s.yaml:1:3", "mapping keys must be plain names"),
])
def test_hostile_documents_are_located_errors(text, where, fragment):
    file = "s.json" if where.startswith("s.json") else "s.yaml"
    message = _error(text, file)
    assert message.startswith(where + ":") and fragment in message, message
    assert len(message) < 300  # a short prefix of the file at most


def test_only_regular_files_under_the_size_limit_are_read(tmp_path):
    import os

    from hpo_cli.spec.loader import load_document

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    big = tmp_path / "big.yaml"
    big.write_text("a: [" + "1, " * 2_000_000 + "1]\n")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    expected = {fifo: "is a FIFO", zero: "is a device", loop: "cannot read the spec", folder: "a directory",
                big: "the limit is 5 MB", latin: "not UTF-8 text (byte 0xe9)"}
    for path, fragment in expected.items():
        with pytest.raises(InputError) as info:
            load_document(path)
        assert fragment in str(info.value), str(info.value)
    assert str(info.value).startswith(f"{latin}:1:10:")


def test_a_problem_is_one_printable_line_whatever_the_input_holds():
    """Keys with line breaks (\\n, NEL, U+2028) or megabytes of text must not break `FILE:LINE:COL: ...` lines."""
    from hpo_cli.core.errors import Location, Problem

    line = str(Problem("unknown key ' \x85\n\u2028\x1b[31m' " + "x" * 5000, Location("s.yaml", 1, 1), "a"))
    assert len(line.splitlines()) == 1 and "\x1b" not in line and len(line) < 1100
    assert line.startswith("s.yaml:1:1: a: unknown key ' \\x85\\n\\u2028\\x1b[31m' xxx")
