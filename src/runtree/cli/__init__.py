"""The ``runtree`` command: run nodes, inspect state files, list, show, export and resume
journaled runs. ``typer`` and ``rich`` (dependencies of runtree) are imported only when the
command runs, so ``import runtree`` stays cheap."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``runtree`` console script (and ``python -m runtree.cli``)."""
    try:
        from runtree.cli.app import build_app
    except ImportError as exc:  # typer or rich removed from the environment
        sys.stderr.write(
            f"runtree: the command line needs typer and rich ({exc.name} is missing); "
            "reinstall them with: pip install typer rich\n"
        )
        raise SystemExit(1) from None
    app = build_app()
    app(args=list(argv) if argv is not None else None, prog_name="runtree")
