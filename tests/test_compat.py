"""Run folders and studies across releases: a format version in both, a copied run folder reads its own
study, the previous release's folder reports (and is refused on --resume with how to start over), a newer
one is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hpo_cli.core.errors import InputError
from hpo_cli.rundir.read import load_run
from hpo_cli.storage.attrs import FORMAT_VERSION

SPEC = {"name": "compat", "data": {"source": "sklearn:iris"},
        "models": [{"name": "dummy", "class": "DummyClassifier", "method": "random", "cv": 2,
                    "budget": {"trials": 3}, "space": {"strategy": ["prior", "most_frequent", "uniform"]}}]}


def _n_trials(run_dir: Path) -> int:
    run = load_run(run_dir)
    assert run.source == "study storage"
    return len(run.models["dummy"].trials)


def test_the_format_is_recorded_and_a_copied_run_folder_reads_its_own_study(tmp_path: Path, write_spec, tune) -> None:
    spec = write_spec(SPEC)
    first = tune(spec).run_dir
    info = json.loads((first / "run.json").read_text())
    assert info["hpo_format"] == FORMAT_VERSION and info["storage"] == "study.journal"
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    tune(spec, output=copy, resume=True, trials=5)
    assert (_n_trials(first), _n_trials(copy)) == (3, 5)
    # a run.json of the previous release named the journal by its absolute path: the copy still reads its own
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**info, "storage": str((first / "study.journal").resolve())}))
    assert _n_trials(copy) == 5


def _rewrite_journal(journal: Path, drop: tuple[str, ...] = (), add: list[dict] | None = None) -> None:
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    kept = [r for r in lines if not (r["op_code"] == 2 and set(r["user_attr"]) & set(drop))]
    journal.write_text("".join(json.dumps(r) + "\n" for r in [*kept, *(add or [])]))


def test_a_previous_release_run_folder_reports_and_resume_says_how_to_start_over(write_spec, tune) -> None:
    spec = write_spec(SPEC)
    run_dir = tune(spec).run_dir
    _rewrite_journal(run_dir / "study.journal", drop=("hpo_identity", "hpo_format"))
    info = json.loads((run_dir / "run.json").read_text())
    info.pop("hpo_format")
    info["storage"] = str((run_dir / "study.journal").resolve())
    (run_dir / "run.json").write_text(json.dumps(info))

    assert _n_trials(run_dir) == 3
    with pytest.raises(InputError, match="earlier hpo.*--fresh"):
        tune(spec, resume=True, trials=4)
    assert len(tune(spec, fresh=True).models[0].trials) == 3


def test_a_study_of_a_newer_hpo_is_refused_on_resume(write_spec, tune) -> None:
    spec = write_spec(SPEC)
    journal = tune(spec).run_dir / "study.journal"
    _rewrite_journal(journal, add=[{"op_code": 2, "worker_id": "w", "study_id": 0, "user_attr": {"hpo_format": 99}}])
    before = journal.read_bytes()
    with pytest.raises(InputError, match="newer hpo \\(format 99"):
        tune(spec, resume=True, trials=4)
    assert journal.read_bytes() == before


def test_a_study_pruned_by_fold_index_is_not_resumed_with_a_pruner(write_spec, tune) -> None:
    """Earlier builds reported after fold index k (0-based); steps now count folds scored (1..n). A pruner
    comparing a new trial's step k with an old trial's step k would compare k folds with k + 1."""
    spec_doc = {**SPEC, "models": [{**SPEC["models"][0], "cv": 3, "pruner": "median"}]}
    spec = write_spec(spec_doc)
    journal = tune(spec).run_dir / "study.journal"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert any(r["op_code"] == 7 for r in lines)  # the trials reported intermediate values
    journal.write_text("".join(json.dumps({**r, "step": r["step"] - 1} if r["op_code"] == 7 else r) + "\n"
                               for r in lines))
    before = journal.read_bytes()
    with pytest.raises(InputError, match="fold index.*--fresh"):
        tune(spec, resume=True, trials=5)
    assert journal.read_bytes() == before
    # without a pruner the intermediate values play no part: the same study resumes
    spec_doc["models"][0]["pruner"] = "none"
    assert len(tune(write_spec(spec_doc), resume=True, trials=5).models[0].trials) == 5
