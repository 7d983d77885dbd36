"""The ``runtree`` command: run nodes, inspect state files, list, show, export and resume
journaled runs. ``typer`` and ``rich`` (dependencies of runtree) are imported only when the
command runs, so ``import runtree`` stays cheap.

Every error is one line on stderr: ``runtree: error: ...``, exit status 2 for a usage error
(bad arguments or options, an unknown command, a target that cannot be found) and 1 for
everything else (a failed node, a journal that cannot be used).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``runtree`` console script (and ``python -m runtree.cli``)."""
    try:
        import rich
        import typer
    except ImportError as exc:  # typer or rich removed from the environment
        sys.stderr.write(
            f"runtree: the command line needs typer and rich ({exc.name} is missing); "
            "reinstall them with: pip install typer rich\n"
        )
        raise SystemExit(1) from None
    del rich
    from runtree.cli.app import build_app

    # click's exceptions, wherever this typer keeps its click (newer typers vendor it)
    click_errors: Any = sys.modules[typer.BadParameter.__module__]
    help_error = getattr(click_errors, "NoArgsIsHelpError", ())
    app = build_app()
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        code = app(args=args, prog_name="runtree", standalone_mode=False)
    except help_error as exc:  # `runtree` alone: the help
        sys.stdout.write(exc.format_message() + "\n")
        code = 2
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "runtree"
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"runtree: error: {message} (see: {where} --help)\n")
        code = exc.exit_code
    except click_errors.ClickException as exc:
        sys.stderr.write(f"runtree: error: {' '.join(exc.format_message().split())}\n")
        code = exc.exit_code
    except typer.Abort:
        sys.stderr.write("runtree: aborted\n")
        code = 130
    raise SystemExit(code if isinstance(code, int) else 0)
