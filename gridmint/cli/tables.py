"""Output that fits the terminal: tables at most the terminal's width (COLUMNS when not a terminal,
else 100 columns), addresses shortened in wide tables (`--wide` shows them whole)."""

from __future__ import annotations

import os
import shutil

# the width when output is not a terminal and COLUMNS is unset (a pipe, a test, CI logs)
DEFAULT_COLUMNS = 100


def width() -> int:
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((DEFAULT_COLUMNS, 24)).columns


# `--wide` tables: whole addresses, however wide the terminal (for a pager or a file)
WIDE_COLUMNS = 240


def console(stderr: bool = False, wide: bool = False):
    from rich.console import Console

    return Console(width=max(width(), WIDE_COLUMNS) if wide else width(), stderr=stderr)


def table(title: str, *columns: str, right: tuple[str, ...] = ()):
    """A compact table (no vertical rules): the columns in `right` are right-aligned (numbers)."""
    from rich import box
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in columns:
        t.add_column(col, justify="right" if col in right else "left", overflow="fold")
    return t


def show(renderable, wide: bool = False) -> None:
    console(wide=wide).print(renderable)
