"""rundir: the run folder: its file names, atomic writes, the files ``hpo tune`` writes, and reading them back.

Owns: paths and atomic writes and finding the newest run (``paths``), ``trials.csv``,
``best_parameters.yaml`` and ``run.json`` (``writers``), provenance: git commit, package versions
(``provenance``), reading the run folder's own files back and refusing damaged ones (``files``), and reading
a run back from its files and its study storage (``read``).

May import: core, spec, problem, storage, search, checks (in practice core and storage). Never the
report: the orchestrator hands the writers ``results.md``.
"""
