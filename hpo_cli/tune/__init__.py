"""tune: ``hpo tune`` from spec to run folder: the one place that knows every stage and calls them in order.

Owns: the spec as this run sees it (command-line overrides) and the checks before anything is written
(``prepare``), and the run itself: storage, per model the search and refit, tracking, the run folder
written after every model (``run``); the coordinator of ``--workers``/``--join`` (``parallel``), its worker
template process (``worker_main``, ``template``) and what the CLI starts before importing the rest (``early``).

May import: every stage below the CLI: core, spec, problem, storage, search, checks, rundir, report, tracking.
"""
