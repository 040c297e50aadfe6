"""report: what people read about a run: the PR-ready Markdown, its statistics and plots, and ``hpo best``.

Owns: ``hpo report`` (``report`` and its sections), Markdown tables (``tables``), the paired t-test and
one-standard-error choice and parameter importance (``stats``), PNG plots (``plots``), ``results.md``
with its plain fallback (``markdown``), and the best parameters in the forms a training stage reads
(``best``, which imports nothing heavy).

May import: core, spec, problem, storage, search, checks, rundir.
"""
