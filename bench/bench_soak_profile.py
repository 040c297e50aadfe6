"""The soak's work per trial, first vs last 200 trials, in counts a loaded machine does not distort.

``bench_soak.py`` measures time (wall, CPU) from outside; on a shared machine both move by ±20 % between
runs, which hides or fakes a growth of a millisecond. This runs the same search (``bench_soak.spec``,
tracked) in this process through ``tune.run.run_tune`` with an observer (the documented extension point,
``core.results.RunObserver``) that turns cProfile on over two windows of trials — #2-#201 and the last
200 — and reports per trial:

- ``calls/trial``: Python function and builtin calls (cProfile's count): the same code doing the same work
  per trial makes the same calls, whatever the load; a scan of every stored trial that calls anything per
  trial (a property, a filter function) shows up here as growth;
- ``CPU ms/trial``: the main thread's CPU time under the profiler (slower than unprofiled, load-sensitive);
- ``full GCs``: generation-2 collections in the window (each walks every object, so it costs more as the
  study grows, and comes rarer: amortised constant, but one falling in a window adds ~0.4 ms per trial);

then the functions whose cumulative time per trial grew most from the first window to the last, with
their calls per trial (growth in time with equal calls is load, growth in calls is work).

Runnable alone: ``.venv/bin/python bench/bench_soak.py 2000 --profile``.
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_soak import WINDOW, spec


class WindowProfiler:
    """A RunObserver that profiles trials ``first+1..first+WINDOW`` and the last ``WINDOW`` trials."""

    def __init__(self, trials: int) -> None:
        self.starts = {1: "first", trials - WINDOW: "last"}  # after that many trials finished
        self.ends = {1 + WINDOW: "first", trials: "last"}
        self.finished = 0
        self.profile: cProfile.Profile | None = None
        self.windows: dict[str, dict[str, Any]] = {}
        self.full_gcs = 0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info.get("generation") == 2:
            self.full_gcs += 1

    def trial_finished(self, record: Any) -> None:
        self.finished += 1
        name = self.ends.get(self.finished)
        if name is not None and self.profile is not None:
            self.profile.disable()
            w = self.windows[name]
            w.update(stats=pstats.Stats(self.profile), cpu=time.thread_time() - w["cpu"],
                     full_gcs=self.full_gcs - w["full_gcs"])
            self.profile = None
        name = self.starts.get(self.finished)
        if name is not None:
            self.windows[name] = {"cpu": time.thread_time(), "full_gcs": self.full_gcs}
            self.profile = cProfile.Profile()
            self.profile.enable()

    def close(self) -> None:
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)


def _functions(stats: pstats.Stats) -> dict[str, tuple[int, float]]:
    """``file:line(function)`` -> (calls, cumulative seconds), paths shortened to the package."""
    out = {}
    for (path, line, fn), (_cc, calls, _tt, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = path.split("site-packages/")[-1].split("/hpo_cli/")[-1]
        out[f"{short}:{line}({fn})"] = (calls, cum)
    return out


def profile(trials: int, top: int = 10) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one row per window, the ``top`` functions whose cumulative time per trial grew most)."""
    from hpo_cli.core.options import TuneOptions
    from hpo_cli.tune.run import run_tune

    if trials < 2 * WINDOW + 1:
        raise SystemExit(f"--profile needs at least {2 * WINDOW + 1} trials")
    observer = WindowProfiler(trials)
    with tempfile.TemporaryDirectory(prefix="hpo-bench-soak-profile-") as tmp:
        folder = Path(tmp)
        path = folder / "soak.yaml"
        path.write_text(json.dumps(spec(trials, f"sqlite:///{folder / 'mlflow.db'}")), encoding="utf-8")
        try:
            result = run_tune(TuneOptions(spec=path, output=folder / "run", quiet=True), observers=[observer])
        finally:
            observer.close()
    if result.exit_code != 0 or set(observer.windows) != {"first", "last"}:
        raise RuntimeError(f"hpo tune exited {result.exit_code}")
    first, last = observer.windows["first"], observer.windows["last"]
    rows = [{"window": f"{name} {WINDOW} trials", "calls/trial": round(w["stats"].total_calls / WINDOW, 1),
             "CPU ms/trial (profiled)": round(1000 * w["cpu"] / WINDOW, 2), "full GCs": w["full_gcs"]}
            for name, w in (("first", first), ("last", last))]
    a, b = _functions(first["stats"]), _functions(last["stats"])
    grown = sorted(set(a) | set(b), key=lambda k: b.get(k, (0, 0.0))[1] - a.get(k, (0, 0.0))[1], reverse=True)
    functions = [{"function": k, "calls/trial first": round(a.get(k, (0, 0.0))[0] / WINDOW, 2),
                  "calls/trial last": round(b.get(k, (0, 0.0))[0] / WINDOW, 2),
                  "cum ms/trial first": round(1000 * a.get(k, (0, 0.0))[1] / WINDOW, 3),
                  "cum ms/trial last": round(1000 * b.get(k, (0, 0.0))[1] / WINDOW, 3)} for k in grown[:top]]
    return rows, functions
