"""The ``runtree`` command (typer), built by :func:`build_app` when the command runs.

Each command group lives in a module of its own with a ``register(app)`` function; adding a
command group is one import line and one entry in ``COMMAND_GROUPS``.
"""

from __future__ import annotations

import sys

import typer

from runtree.cli import resume as resume_group
from runtree.cli import run as run_group
from runtree.cli import runs as runs_group
from runtree.cli import state_file as state_file_group
from runtree.cli import viz as viz_group

__all__ = ["build_app"]

HELP = """runtree: run nodes, and look at the runs the journal recorded.

The journal is $RT_HOME/runtree.db, else .runtree/runtree.db in this folder or the
nearest folder above it that has a .runtree folder (choose another with --db).
"""

#: the command groups, in the order ``--help`` lists their commands
COMMAND_GROUPS = (
    run_group,
    state_file_group,
    runs_group,
    resume_group,
    viz_group,
)


def _print_version(value: bool) -> None:
    if value:
        import runtree

        sys.stdout.write(f"runtree {runtree.__version__}\n")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="runtree",
        help=HELP,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def options(
        version: bool = typer.Option(
            False,
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print runtree's version and exit.",
        ),
    ) -> None:
        del version

    for group in COMMAND_GROUPS:
        group.register(app)
    return app
