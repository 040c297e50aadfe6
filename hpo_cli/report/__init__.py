"""report: what people read about a run: the PR-ready Markdown, its statistics and plots, and ``hpo best``.

Owns: ``hpo report`` (``report`` for the whole run, ``sections`` per model, ``compare`` against another run,
``formatting`` of numbers and times), Markdown tables through tabulate (``tables``), the paired t-test and
one-standard-error choice and parameter importance (``stats``), PNG plots (``plots``), ``results.md``
with its plain fallback (``markdown``), and the best parameters in the forms a training stage reads
(``best``, which imports nothing heavy).

May import: core, spec, problem, storage, search, checks, rundir.
"""
