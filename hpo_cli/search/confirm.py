"""Confirming the winner (``confirm: {top: K, repeats: R}``): re-score the K best configurations on R new CV shuffles.

The best of many noisy trials is optimistic (its mean was selected for being high) and the runner-up is
often as good. After the search, the K best COMPLETE trials by search mean are scored again with the
model's CV built from the seeds ``seed + 1 .. seed + R`` (the same seeds also go to the estimator's
``random_state`` when the spec left it unset), and the model's best becomes the one with the highest
confirmed mean: the mean over those R × folds new fold scores, which never saw the selection. CV that
does not shuffle (time series, ``shuffle: false``) keeps its folds, so only the estimator's seed varies
there; a deterministic estimator then confirms its own search score.

Confirmations are not trials: they never count against the budget and live in the study attribute
``hpo_confirm`` (``storage.attrs``). A resumed run whose top K and seeds did not change reuses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpo_cli.core.results import COMPLETE, ModelResult, confirmed_winner
from hpo_cli.core.values import plain
from hpo_cli.problem.cv import make_splitter
from hpo_cli.search.evaluate import Evaluator, mean_std
from hpo_cli.search.plan import Prepared
from hpo_cli.storage import attrs as st


def confirm_seeds(seed: int, repeats: int) -> list[int]:
    """The seeds of the R confirmation shuffles: ``seed + 1, ..., seed + R`` (the search used ``seed``)."""
    return [seed + r for r in range(1, repeats + 1)]


def _evaluators(prep: Prepared, seeds: list[int]) -> list[Evaluator]:
    """One evaluator per seed: the model's CV reshuffled with that seed, the estimator seeded with it."""
    base = prep.evaluator
    ds = base.dataset
    out = []
    for seed in seeds:
        splitter = make_splitter(prep.model.cv, ds.task, seed, has_groups=ds.groups is not None)
        folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(ds.X, ds.y, ds.groups)]
        out.append(Evaluator(prep.model.model_copy(update={"seed": seed}), ds, folds, base.allow_modules,
                             n_jobs=base.n_jobs))
    return out


def _top(result: ModelResult, k: int) -> list[Any]:
    complete = sorted((r for r in result.trials if r.state == COMPLETE and r.mean_test_score is not None),
                      key=lambda r: (-(r.mean_test_score or 0.0), r.number))
    return complete[:k]


def _stored(prep: Prepared, top: list[Any], study: Any) -> dict[str, Any] | None:
    """The study's ``hpo_confirm`` trials when they are this search's (same seeds, same top K), else None."""
    assert prep.model.confirm is not None
    stored = study._storage.get_study_user_attrs(study._study_id).get(st.STUDY_CONFIRM) or {}
    trials: dict[str, Any] = stored.get("trials") or {}
    if stored.get("seeds") != confirm_seeds(prep.model.seed, prep.model.confirm.repeats):
        return None
    done = [str(n) for n in stored["numbers"]] if "numbers" in stored else list(trials)  # a failed one has no entry
    return trials if sorted(done) == sorted(str(r.number) for r in top) else None


def confirm_top(prep: Prepared, result: ModelResult, study: Any, warnings_out: list[str]) -> None:
    """Re-score the top K trials on R new shuffles, store ``hpo_confirm`` and make the confirmed winner the best."""
    spec = prep.model.confirm
    if spec is None:
        return
    top = _top(result, spec.top)
    if len(top) < spec.top:
        warnings_out.append(f"{result.name}: confirm.top is {spec.top} but the search has {len(top)} complete "
                            f"trial(s); confirming those")
    if not top:
        return
    seeds = confirm_seeds(prep.model.seed, spec.repeats)
    stored = _stored(prep, top, study)
    trials: dict[str, Any] = stored or {}
    if stored is None:
        trials = {}
        evaluators = _evaluators(prep, seeds)
        for record in top:
            splits = []
            for evaluator in evaluators:
                outcome = evaluator.evaluate(record.params)
                if outcome.state != COMPLETE:  # a fit that failed on a new shuffle: no confirmed mean
                    warnings_out.append(f"{result.name}: confirming trial {record.number} failed: {outcome.error}")
                    splits = []
                    break
                splits.append(outcome.split_scores)
            if splits:
                mean, std = mean_std([s for split in splits for s in split])
                trials[str(record.number)] = {"mean": mean, "std": std, "splits": splits}
        study.set_user_attr(st.STUDY_CONFIRM, plain({"top": spec.top, "repeats": spec.repeats, "seeds": seeds,
                                                     "numbers": [r.number for r in top], "trials": trials}))
    st.apply_confirmation(result.trials, {"trials": trials})
    result.best = confirmed_winner(result.trials) or result.best


def await_confirmation(prep: Prepared, result: ModelResult, study: Any, warnings_out: list[str],
                       wait: float) -> None:
    """A joining process (``--join``): take the first process's confirmation instead of running one.

    Only the first process confirms (as it alone refits); a joiner's run folder must not name a winner
    that disagrees with it, so the joiner waits for ``hpo_confirm`` of this very search (same seeds and
    top K) to appear in the study — ``wait`` seconds plus twice the time the confirmation's fits took in
    the search — then makes the confirmed winner its best. If it does not appear (the first process
    stopped), the search's best stays, with a warning saying so.
    """
    import time
    from datetime import datetime

    spec = prep.model.confirm
    if spec is None:
        return
    top = _top(result, spec.top)
    if not top:
        return
    took = [(datetime.fromisoformat(r.datetime_complete) - datetime.fromisoformat(r.datetime_start)).total_seconds()
            for r in top if r.datetime_start and r.datetime_complete]
    wait += 2 * spec.repeats * sum(took)
    deadline = time.monotonic() + wait
    while (trials := _stored(prep, top, study)) is None:
        if time.monotonic() >= deadline:
            warnings_out.append(f"{result.name}: the first process's confirmation did not come within {wait:.0f} s; "
                                f"this run folder shows the search's best, not the confirmed one")
            return
        time.sleep(0.5)
    st.apply_confirmation(result.trials, {"trials": trials})
    result.best = confirmed_winner(result.trials) or result.best
