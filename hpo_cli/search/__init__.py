"""search: the trial loop of one model, and scoring one candidate on the folds.

Owns: evaluating one parameter set on every fold the way ``GridSearchCV`` does (``evaluate``), Optuna samplers
and pruners per method (``samplers``), TPE that proposes no point twice on a finite space (``distinct``), a
model made ready to search and the one budget rule (``plan``), the trial record and stored attributes of an
evaluated trial (``records``), one trial asked, evaluated and told (``trial``), the loop with its budgets,
tell, refit and resume (``loop``), re-scoring the top K on further CV shuffles (``confirm``), the work queue
of ``--workers``/``--join`` (``queue``) and a worker's loop over it (``worker``), the observer fan-out
(``observers``), and Ctrl-C/SIGTERM with the grace period that ends even a fit that never returns
(``stopping``).
Every method plugs into the one evaluate function; only the sampler differs.

May import: core, spec, problem, storage. Never the run folder, the report or MLflow: it tells observers.
"""
