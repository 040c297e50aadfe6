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
