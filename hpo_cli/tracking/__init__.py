"""tracking: MLflow, as an observer of the search: a parent run per model, a child run per trial, exactly once.

Owns: the tracker (a ``core.results.RunObserver``, ``tracker``), the exactly-once bookkeeping of each
model's parent and child runs (``runtree``), the writer process that alone imports mlflow (``worker``)
and the search's side of it (``channel``), tracking URI resolution and the reachability probe
(``setup``), what is logged and under which names and limits (``names``), and the logged best model
with its diagnostics (``model``).

May import: core, spec, problem, storage, search, checks, rundir, report. The search never imports it.
"""
