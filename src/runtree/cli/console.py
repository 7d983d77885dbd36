"""What every command prints with: the one-line error and the stdout console."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

__all__ = ["fail", "one_line", "out"]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``runtree: error: message`` on one line to stderr and exit with ``code``."""
    sys.stderr.write(f"runtree: error: {one_line(message)}\n")
    raise typer.Exit(code)


def out() -> Console:
    """A console on stdout (colour only on a terminal)."""
    return Console(soft_wrap=True)
