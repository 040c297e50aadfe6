"""cli: options in, one core call per command, rendering out. No logic of its own.

Owns: the Typer app and the mapping of errors to exit codes (``app``), the live progress display and
the end-of-run summary (``progress``), and the rendering of ``hpo validate``'s table (``render``).

May import: every other subpackage, lazily inside each command so ``hpo --help`` and ``hpo best`` stay fast.
"""
