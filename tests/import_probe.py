"""Run ``hpo ARGS`` in a fresh interpreter and see which modules it imported: the light start-up checks share it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent

PROBE = """
import json, sys
sys.argv = ["hpo", *json.loads(sys.argv[1])]
from hpo_cli.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


def imported(*args: str) -> tuple[int, set[str], str]:
    """Return (exit code, top-level modules imported, stdout) of ``hpo ARGS`` run in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES "))
    report = json.loads(line.removeprefix("MODULES "))
    return report["code"], {m.split(".")[0] for m in report["modules"]}, proc.stdout
