"""problem: what is being tuned, built from a spec: the data, the folds, the estimator, the search space.

Owns: loading ``sklearn:`` datasets, CSV and Parquet and the held-out split (``data``), a data file's and its
target's problems (``datafile``), the scikit-learn
splitters (``cv``), estimator classes, their parameters and task (``estimators``), preprocessing steps and
the Pipeline fitted inside each fold (``pipeline``), and the search space as Optuna distributions and grid
points (``space``), and the threads one trial may use (``threads``).

May import: core, spec. Nothing about trials, studies or files a run writes.
"""
