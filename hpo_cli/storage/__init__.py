"""storage: the Optuna study storage and what hpo keeps in it.

Owns: opening a storage (the journal file in the run folder by default, any Optuna URL with
``--storage``) and its default file name (``backend``); the study-attribute schema, the one place that
names every key hpo writes into a study or trial, turning a stored trial back into a ``TrialRecord``,
and stale-trial handling (``attrs``); heartbeats and the retry of a dead worker's trial on a database (``heartbeat``).

May import: core. Optuna is imported inside functions, so ``hpo best`` and ``hpo report`` stay light.
"""
