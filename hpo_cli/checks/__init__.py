"""checks: everything wrong with a spec before anything runs (``hpo validate``, and ``hpo tune`` first of all).

Owns: semantic errors (estimators and their parameters, scorers and the task, CV against the data, the
space against the method, the data file itself) and best-practice warnings, each located in the
user's file; the summary of what a search will cost.

May import: core, spec, problem, storage, search (the samplers' limits and the budget rule).
"""
