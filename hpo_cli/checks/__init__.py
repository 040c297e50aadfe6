"""checks: everything wrong with a spec before anything runs (``hpo validate``, and ``hpo tune`` first of all).

Owns: semantic errors, each located in the user's file, and best-practice warnings: the estimator,
its parameters and scorers and one metric per run (``estimator``), the space against the method and
the budget (``space``), CV against the data and the data file itself (``data``); the entry points and
the summary of what a search will cost (``validate``). Printing the summary is the CLI's.

May import: core, spec, problem, storage, search (the samplers' limits and the budget rule).
"""
