"""Damaged run-folder files: a located exit 2 without a traceback, or, when the study storage is intact, the
report and ``hpo best`` rebuilt from it (said on stderr)."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hpo_cli.core.errors import InputError
from hpo_cli.core.options import BestOptions, ReportOptions, TuneOptions
from hpo_cli.report.best import export_best
from hpo_cli.report.report import build_report

NOISE = random.Random(0).randbytes(3000)
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
DAMAGE = {  # file -> what replaces it
    "trials-noise": ("trials.csv", NOISE),
    "trials-trial": ("trials.csv", b"model,trial,state,mean_test_score\ndummy,seven,COMPLETE,0.5\n"),
    "run-noise": ("run.json", NOISE),
    "run-deep": ("run.json", b"[" * 100_000 + b"]" * 100_000),
    "best-noise": ("best_parameters.yaml", NOISE),
    "best-model-list": ("best_parameters.yaml", b"best_model: [lr]\nmodels: {dummy: {params: {strategy: prior}}}\n"),
    "best-init-list": ("best_parameters.yaml", b"best_model: dummy\nmodels: {dummy: {params: {}, init_params: [1]}}\n"),
    "best-bomb": ("best_parameters.yaml", BOMB.encode()),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hpo_cli.tune.run import run_tune

    root = tmp_path_factory.mktemp("damaged")
    spec = root / "spec.yaml"
    spec.write_text('{"name": "dmg", "tracking": {"mlflow": false}, "data": {"source": "sklearn:iris"}, '
                    '"models": [{"name": "dummy", "class": "DummyClassifier", "method": "grid", "cv": 2, '
                    '"space": {"strategy": ["prior", "uniform"]}}]}')
    return run_tune(TuneOptions(spec=spec, output=root / "run", mlflow=False, quiet=True), observers=[]).run_dir


def _copy(finished: Path, tmp_path: Path, case: str, keep_storage: bool) -> Path:
    run = tmp_path / "copy"  # a copied run folder reads its own journal (run.json names it relatively)
    shutil.copytree(finished, run)
    name, content = DAMAGE[case]
    (run / name).write_bytes(content)
    if not keep_storage:
        (run / "study.journal").unlink()
    return run


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_with_the_storage_intact_is_rebuilt(case: str, finished: Path, tmp_path: Path, caplog) -> None:
    run = _copy(finished, tmp_path, case, keep_storage=True)
    report = build_report(ReportOptions(run_dir=run, plots=False))
    assert "dummy" in report and "study storage" in report
    best = export_best(BestOptions(run_dir=run))
    assert best.strip() in ("strategy: prior", "strategy: uniform")
    if case not in ("best-model-list", "best-init-list"):  # valid files whose content hpo best refuses
        assert "rebuilt from the study storage" in caplog.text and DAMAGE[case][0] in caplog.text


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_without_the_storage_is_a_located_exit_2(case: str, finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, case, keep_storage=False)
    name = DAMAGE[case][0]
    for command, call in (("report", lambda: build_report(ReportOptions(run_dir=run, plots=False))),
                          ("best", lambda: export_best(BestOptions(run_dir=run, with_init=True)))):
        if command == "best" and name != "best_parameters.yaml":
            assert call()  # hpo best reads best_parameters.yaml alone: other files are no concern of it
            continue
        with pytest.raises(InputError) as err:
            call()
        assert err.value.problems[0].location is not None
        assert name in str(err.value.problems[0]), str(err.value.problems[0])


@pytest.mark.parametrize(("content", "fmt", "expected"), [
    ("best_model: m\nmodels: {m: {params: {3: 1}}}\n", "env", "not shell variable names"),
    ("best_model: m\nmodels: {m: {params: {day: 2024-01-02}}}\n", "json", "--format json cannot carry"),
    ("best_model: m\nmodels: {m: {params: {s: !!set {a: null}}}}\n", "hydra", "cannot carry a value of type set"),
    ("best_model: m\nmodels: {m: {params: {s: !!set {a: null}}}}\n", "json", "--format json cannot carry"),
])
def test_values_a_format_cannot_carry(content: str, fmt: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "best_parameters.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=expected):
        export_best(BestOptions(run_dir=tmp_path, format=fmt))


def test_cli_says_it_on_one_line(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, "run-deep", keep_storage=False)
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "report", str(run), "--no-plots"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"{run / 'run.json'}") and "damaged" in done.stderr
