"""hpo: a declarative, tracked, reproducible hyperparameter search from one spec file."""

__version__ = "0.1.0"
