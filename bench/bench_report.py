"""How long `hpo report` and `hpo best` take on a big run: prints a Markdown table.

Builds a synthetic 10,000-trial run folder (one model, three parameters, five folds) in a temporary
directory: the Optuna journal with the trial attributes `hpo tune` writes (see hpo_cli/storage/attrs.py),
trials.csv, best_parameters.yaml and run.json. Then times the report (storage read, PED-ANOVA importance,
plots) and `hpo best` in a fresh process. Runnable alone: `.venv/bin/python bench/bench_report.py [N]`.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def build_run(run_dir: Path, n_trials: int, seed: int = 0) -> None:
    """A run folder with ``n_trials`` complete/failed trials of model ``m`` in study ``bench.m``."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(seed)
    storage = JournalStorage(JournalFileBackend(str(run_dir / "study.journal")))
    study = optuna.create_study(study_name="bench.m", storage=storage, direction="maximize")
    study.set_user_attr("hpo_model", {"name": "m", "estimator": "sklearn.linear_model.LogisticRegression",
                                      "cv": {"kind": "stratified", "folds": 5}, "seed": seed})
    dists = {"C": FloatDistribution(1e-3, 100, log=True), "penalty": CategoricalDistribution(["l1", "l2"]),
             "max_iter": IntDistribution(50, 500)}
    frozen, rows = [], []
    for i in range(n_trials):
        params = {"C": 10 ** rng.uniform(-3, 2), "penalty": rng.choice(["l1", "l2"]),
                  "max_iter": rng.randint(50, 500)}
        if i % 50 == 49:
            frozen.append(optuna.trial.create_trial(params=params, distributions=dists,
                                                    state=optuna.trial.TrialState.FAIL,
                                                    user_attrs={"error": "ValueError: synthetic failure"}))
            rows.append({"trial": i, "state": "FAIL", "params": params, "error": "ValueError: synthetic failure"})
            continue
        base = 0.9 + 0.05 * (1 - abs(rng.gauss(0, 1)) / 3) - (0.02 if params["penalty"] == "l1" else 0)
        splits = [base + rng.gauss(0, 0.01) for _ in range(5)]
        mean = sum(splits) / 5
        std = (sum((s - mean) ** 2 for s in splits) / 5) ** 0.5
        attrs = {"params": params, "split_scores": splits, "mean_test_score": mean, "std_test_score": std,
                 "fit_times": [0.01 * params["max_iter"] / 100] * 5, "score_times": [0.001] * 5, "duration": 0.1}
        frozen.append(optuna.trial.create_trial(params=params, distributions=dists, value=mean,
                                                user_attrs={"hpo": attrs}))
        rows.append({"trial": i, "state": "COMPLETE", "params": params, "mean": mean, "std": std, "splits": splits,
                     "fit": attrs["fit_times"][0]})
    study.add_trials(frozen)
    done = sorted((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: -r["mean"])
    for rank, r in enumerate(done, start=1):
        r["rank"] = rank
    with (run_dir / "trials.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "trial", "state", "rank_test_score", "mean_test_score", "std_test_score",
                    *[f"split{k}_test_score" for k in range(5)], "mean_fit_time", "param_C", "param_penalty",
                    "param_max_iter", "error"])
        for r in rows:
            splits = r.get("splits") or [""] * 5
            w.writerow(["m", r["trial"], r["state"], r.get("rank", ""), r.get("mean", ""), r.get("std", ""), *splits,
                        r.get("fit", ""), *r["params"].values(), r.get("error", "")])
    best = done[0]
    (run_dir / "best_parameters.yaml").write_text(yaml.safe_dump({
        "best_model": "m", "metric": "accuracy", "direction": "maximize",
        "models": {"m": {"estimator": "sklearn.linear_model.LogisticRegression", "params": best["params"],
                         "init_params": {}, "mean_test_score": best["mean"], "std_test_score": best["std"],
                         "n_trials": n_trials}}}, sort_keys=False))
    (run_dir / "run.json").write_text(json.dumps({"spec_name": "bench", "storage": str(run_dir / "study.journal"),
                                                  "seed": seed}))


def _time(fn, repeat: int = 1) -> float:  # noqa: ANN001 - a tiny timing helper
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    from hpo_cli.core.options import ReportOptions
    from hpo_cli.report.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        t_build = _time(lambda: build_run(run, n))
        rows = []
        for label, opts in [("report, storage, no plots", ReportOptions(run, plots=False)),
                            ("report, storage, plots", ReportOptions(run, plots=True))]:
            rows.append((label, _time(lambda o=opts: build_report(o))))
        (run / "study.journal").rename(run / "moved.journal")
        (run / "run.json").write_text(json.dumps({"spec_name": "bench"}))
        rows.append(("report, trials.csv only, no plots", _time(lambda: build_report(ReportOptions(run, plots=False)))))
        cmd = [sys.executable, "-m", "hpo_cli", "report", str(run), "--no-plots"]
        rows.append(("`hpo report` process, trials.csv only", _time(lambda: subprocess.run(cmd, check=True,
                                                                                           capture_output=True))))
        (run / "moved.journal").rename(run / "study.journal")
        (run / "run.json").write_text(json.dumps({"spec_name": "bench"}))
        cmd = [sys.executable, "-m", "hpo_cli", "report", str(run)]
        rows.append(("`hpo report` process, storage + plots", _time(lambda: subprocess.run(cmd, check=True,
                                                                                           capture_output=True))))
        cmd = [sys.executable, "-m", "hpo_cli", "best", str(run), "--format", "env"]
        rows.append(("`hpo best` process", _time(lambda: subprocess.run(cmd, check=True, capture_output=True), 3)))
    from hpo_cli.report.tables import markdown_table

    print(f"## Report speed, {n:,} trials (synthetic run built in {t_build:.1f} s)\n")
    print("\n".join(markdown_table(["what", "seconds"], [[label, f"{secs:.2f}"] for label, secs in rows],
                                   ["left", "right"])))


if __name__ == "__main__":
    main()
