"""spec: the spec language, and only the language.

Owns: reading YAML/JSON with the line and column of every key and value (``loader``), the typed pydantic
models (``models``), rewriting the accepted dialects into one shape and merging ``defaults``
(``normalize``), turning pydantic's errors into located plain words (``messages``), running those steps
to load a spec file and resolving its data path (``load``), durations (``duration``), the ``pruner:``/``confirm:``
keys (``pruning``) and the JSON Schema for editors (``schema``).

May import: core. Never scikit-learn, optuna or data: checks that need them live in ``checks``.
"""
