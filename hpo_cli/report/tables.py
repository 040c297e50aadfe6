"""The report's one Markdown table: GitHub-flavoured, through ``tabulate``, safe for any cell text.

``tabulate``'s ``github`` format writes no alignment colons under the header, so this uses ``pipe``: the
same GitHub table syntax, plus ``---:`` under right-aligned columns, so numbers line up when rendered.
Cells are passed as text with number parsing off, so tabulate never reformats a score or adds thousands
separators: every number reads exactly as the report formatted it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

Align = Literal["left", "right"]


def cell(text: Any) -> str:
    """Table-safe text: no pipes or line breaks, which would break GitHub's table rendering."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]],
                   align: Sequence[Align] | None = None) -> list[str]:
    """The table's lines, every row cut or padded to the header's column count; columns are left-aligned
    unless ``align`` says ``right`` (numbers)."""
    from tabulate import tabulate  # only when a table is drawn: ``hpo tune`` imports the report lazily too

    width = len(header)
    body = [[cell(c) for c in (list(r) + [""] * width)[:width]] for r in rows]
    colalign = list(align or []) + ["left"] * (width - len(align or []))
    # tabulate drops the alignment of a table without rows: draw one blank row, then leave it out
    lines = tabulate(body or [[""] * width], headers=[cell(h) for h in header], tablefmt="pipe",
                     colalign=colalign[:width], disable_numparse=True).splitlines()
    return lines if body else lines[:2]
