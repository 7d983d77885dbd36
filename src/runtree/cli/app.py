"""The ``runtree`` command (typer), built by :func:`build_app` when the command runs.

Each command group lives in a module of its own with a ``register(app)`` function; adding a
command group is one import line and one entry in ``COMMAND_GROUPS``.
"""

from __future__ import annotations

import typer

from runtree.cli import resume as resume_group
from runtree.cli import run as run_group
from runtree.cli import runs as runs_group
from runtree.cli import state_file as state_file_group

__all__ = ["build_app"]

HELP = """runtree: run nodes, and look at the runs the journal recorded.

The journal is $RT_HOME/runtree.db, else ./.runtree/runtree.db (choose another with --db).
"""

#: the command groups, in the order ``--help`` lists their commands
COMMAND_GROUPS = (
    run_group,
    state_file_group,
    runs_group,
    resume_group,
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="runtree",
        help=HELP,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for group in COMMAND_GROUPS:
        group.register(app)
    return app
