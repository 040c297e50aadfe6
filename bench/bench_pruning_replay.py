"""Which pruner settings could save 40 % of fits at 3 and 5 folds: many settings replayed on recorded searches.

``bench_pruning.py`` runs a whole search per pruner, which is what a user gets but costs a search per
setting. Here each (problem, fold count, seed) is searched once without pruning (hpo's trial loop, TPE or
random search), every trial's fold scores are recorded, and then each pruner setting is *replayed* on
that sequence: the trials are asked and told in the same order on a fresh Optuna study with hpo's own
pruner object (``search.samplers.make_pruner``) and hpo's own reported value (``reported_value``: the
running CV mean, the fold's score for Wilcoxon), stopping a trial where the pruner says so. Fits saved
and best CV mean lost are then exact for that sequence of configurations; what the replay cannot show
is how a sampler changes its later proposals after seeing pruned trials (``bench_pruning.py`` does).

The step a trial reports is its fold index (``base`` 0, hpo before issue 10's rework) or the number of
folds done (``base`` 1). Successive halving's and Hyperband's first rung is at step ``min_resource`` ≥ 1,
so with fold indices they can never stop a trial after its first fold; with folds done they can.

The bound: at F folds a trial pruned after fold k saves (F - k) / F of its fits, so saving 40 % needs,
e.g. at 3 folds, 60 % of all trials stopped after their first fold (or 100 % after the second, which
saves at most 33 %). ``bound`` rows report how many trials were worse, on their first k folds, than the
best trial so far on the same folds (a pruner with that perfect, noise-free rule) and what pruning
exactly those would save and lose.

    .venv/bin/python bench/bench_pruning_replay.py [TRIALS] [SEEDS] [FOLDS] [SAMPLER] [LOG.jsonl] [TRACES_DIR]
    # defaults: 30 trials, 5 seeds, folds "3,5", sampler tpe; prints Markdown; TRACES_DIR keeps the recorded
    # searches (one JSON file each) so that a second run with more settings fits nothing
    .venv/bin/python bench/bench_pruning_replay.py --table LOG.jsonl...
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pruning import PROBLEMS, Problem, run, table_mode  # noqa: E402

#: Problems whose metric is in [0, 1]-like units, where "lose at most 0.002" is meaningful as written.
#: diabetes SVR's RMSE (best ≈ 55) is reported apart; neg_log_loss (best ≈ 0.07) is in.
UNIT_METRICS = {"roc_auc", "accuracy", "neg_log_loss"}


def settings() -> list[tuple[str, dict[str, Any], int]]:
    """(label, pruner spec, step base) for every setting replayed; ``after k``: the first fold after which it
    may prune. hpo's defaults before the rework are marked ``(old default)``."""
    out: list[tuple[str, dict[str, Any], int]] = []
    for startup in (5, 10):
        for after in (1, 2):
            out.append((f"median startup {startup} after {after}",
                        {"type": "median", "n_startup_trials": startup, "n_warmup_steps": after}, 1))
            for pct in (10, 25, 40):
                out.append((f"percentile {pct} startup {startup} after {after}",
                            {"type": "percentile", "percentile": pct, "n_startup_trials": startup,
                             "n_warmup_steps": after}, 1))
    out.append(("successive_halving rf4 (old default: after 2)",
                {"type": "successive_halving", "min_resource": 1, "reduction_factor": 4}, 0))
    for rf in (2, 3, 4, 6):
        for resource in (1, 2):
            out.append((f"successive_halving rf{rf} min_resource {resource}",
                        {"type": "successive_halving", "min_resource": resource, "reduction_factor": rf}, 1))
    out.append(("hyperband rf3 (old default)", {"type": "hyperband", "reduction_factor": 3}, 0))
    for rf in (2, 3):
        out.append((f"hyperband rf{rf}", {"type": "hyperband", "reduction_factor": rf}, 1))
    for p in (0.1, 0.3, 0.5):
        out.append((f"wilcoxon p {p}", {"type": "wilcoxon", "p_threshold": p, "n_startup_steps": 2}, 1))
    return out


def record(problem: Problem, folds: int, seed: int, trials: int, method: str, folder: Path,
           cache: Path | None = None) -> list[list[float]]:
    """Every complete trial's fold scores, in trial order, of one unpruned search (kept in ``cache``, a JSON
    file per search, so that more settings can be replayed later without fitting again)."""
    path = cache / f"{problem.name}-{folds}-{seed}-{trials}-{method}.json".replace(" ", "_") if cache else None
    if path is not None and path.exists():
        return json.loads(path.read_text())
    trace = [list(t.split_scores) for t in run(problem, "none", folds, seed, trials, folder, method=method)
             if t.state == "COMPLETE"]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(trace))
    return trace


def replay(trace: list[list[float]], pruner: dict[str, Any], base: int) -> tuple[int, float]:
    """(fits run, best CV mean among the trials not pruned) when ``pruner`` judges ``trace`` in order."""
    import optuna
    from pydantic import TypeAdapter

    from hpo_cli.search import samplers
    from hpo_cli.spec.pruning import PrunerSpec

    n_folds = len(trace[0])
    spec = TypeAdapter(PrunerSpec).validate_python(pruner)
    value = samplers.reported_value(spec)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=samplers.make_pruner(spec, n_folds))
    fits, best = 0, -float("inf")
    for scores in trace:
        trial = study.ask()
        for k in range(n_folds):
            fits += 1
            trial.report(value(scores[:k + 1]), k + base)
            if k < n_folds - 1 and samplers.should_prune(trial):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            mean = statistics.mean(scores)
            study.tell(trial, mean)
            best = max(best, mean)
    return fits, best


def bound(trace: list[list[float]], step: int) -> tuple[float, float, float]:
    """Pruning every trial whose running mean after ``step + 1`` folds is below the best earlier complete
    trial's on the same folds: (share of trials pruned, fits saved, best lost) for that noise-free rule."""
    n_folds = len(trace[0])
    best_prefix: float | None = None
    pruned, fits, best = 0, 0, -float("inf")
    for scores in trace:
        prefix = statistics.mean(scores[:step + 1])
        if best_prefix is not None and prefix < best_prefix:
            pruned += 1
            fits += step + 1
            continue
        fits += n_folds
        mean = statistics.mean(scores)
        if mean > best:
            best, best_prefix = mean, prefix
    full = max(statistics.mean(s) for s in trace)
    return pruned / len(trace), 1 - fits / (len(trace) * n_folds), full - best


def rows(trials: int = 30, seeds: int = 5, folds: tuple[int, ...] = (3, 5), method: str = "tpe",
         log: Path | None = None, cache: Path | None = None) -> list[dict[str, Any]]:
    """One row per fold count × problem × seed × setting: fits saved and best CV mean lost."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-replay-") as tmp:
        for n_folds in folds:
            for problem in PROBLEMS:
                for seed in range(seeds):
                    trace = record(problem, n_folds, seed, trials, method, Path(tmp), cache)
                    full = max(statistics.mean(s) for s in trace)
                    total = len(trace) * n_folds
                    new = []
                    for label, pruner, base in settings():
                        fits, best = replay(trace, pruner, base)
                        new.append({"folds": n_folds, "problem": problem.name, "metric": problem.metric,
                                    "seed": seed, "setting": label, "saved": 1 - fits / total,
                                    "lost": full - best})
                    for step in range(n_folds - 1):
                        share, saved, lost = bound(trace, step)
                        new.append({"folds": n_folds, "problem": problem.name, "metric": problem.metric,
                                    "seed": seed, "setting": f"bound after fold {step + 1}", "saved": saved,
                                    "lost": lost, "pruned": share})
                    out.extend(new)
                    if log is not None:
                        with log.open("a") as fh:
                            fh.writelines(json.dumps(r) + "\n" for r in new)
    return out


def summary(table: list[dict[str, Any]], unit: bool = True) -> list[dict[str, Any]]:
    """Per fold count and setting over the problems (``unit``: the [0, 1]-unit ones; else diabetes):
    mean fits saved, mean / worst best lost over problem × seed, and the share of runs losing > 0.002."""
    out = []
    for n_folds in sorted({r["folds"] for r in table}):
        for label in dict.fromkeys(r["setting"] for r in table):
            sel = [r for r in table if r["folds"] == n_folds and r["setting"] == label
                   and (r["metric"] in UNIT_METRICS) == unit]
            if sel:
                out.append({"folds": n_folds, "setting": label, "saved": statistics.mean(r["saved"] for r in sel),
                            "lost": statistics.mean(r["lost"] for r in sel), "worst": max(r["lost"] for r in sel),
                            "over": sum(r["lost"] > 0.002 for r in sel) / len(sel),
                            "pruned": statistics.mean(r.get("pruned", 0) for r in sel), "n": len(sel)})
    return out


def markdown(table: list[dict[str, Any]], top: int | None = None) -> str:
    from tabulate import tabulate

    parts = []
    for unit, title in ((True, "accuracy / AUC / log-loss problems"), (False, "diabetes SVR (RMSE, best ≈ 55)")):
        agg = summary(table, unit)
        lines = [[r["folds"], r["setting"], f"{r['saved']:.0%}", f"{r['lost']:.4f}", f"{r['worst']:.4f}",
                  f"{r['over']:.0%}", r["n"]] for r in agg]
        parts += [f"Replayed settings, {title}: mean fits saved, best CV mean lost (mean, worst run), share of "
                  "runs losing more than 0.002:", "",
                  tabulate(lines, headers=["folds", "setting", "fits saved", "lost (mean)", "lost (worst)",
                                           "runs > 0.002", "runs"], tablefmt="github"), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    table_mode(markdown)
    n_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    n_seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    fold_counts = tuple(int(f) for f in sys.argv[3].split(",")) if len(sys.argv) > 3 else (3, 5)
    sampler = sys.argv[4] if len(sys.argv) > 4 else "tpe"
    start = time.perf_counter()
    log_path = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    cache_dir = Path(sys.argv[6]) if len(sys.argv) > 6 else None
    print(markdown(rows(n_trials, n_seeds, fold_counts, sampler, log_path, cache_dir)))
    print(f"\n{n_trials} trials, {n_seeds} seeds, {sampler}; wall time {time.perf_counter() - start:.0f} s")
