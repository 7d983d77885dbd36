"""``runtree run``: run a node in a fresh session and print its result."""

from __future__ import annotations

from pathlib import Path

import typer

from runtree.cli.console import fail
from runtree.cli.execution import Call, Durability, Mode, execute
from runtree.cli.journal import DB_HELP, check_writable, journal_path
from runtree.cli.target import (
    TargetError,
    TargetImportError,
    check_arguments,
    load_target,
    parse_arguments,
    run_mode,
)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        target: str = typer.Argument(
            ..., help="The node: module:NodeClass, module:function or path/to/file.py:Name."
        ),
        args: list[str] | None = typer.Argument(  # noqa: B008
            None, help="Arguments: JSON when they parse as JSON (3, '\"x\"', '[1,2]'), else text."
        ),
        kw: list[str] | None = typer.Option(  # noqa: B008
            None, "--kw", help="A keyword argument name=value (repeatable)."
        ),
        mode: Mode = typer.Option(  # noqa: B008
            Mode.process, "--mode", help="Where the node runs (process: an isolated worker)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        name: str | None = typer.Option(None, "--name", help="The run's name."),
        durability: Durability = typer.Option(  # noqa: B008
            Durability.batch, "--durability", help="batch, or sync: each result on disk first."
        ),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="Progress display (default: on a terminal)."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Run a node in a fresh session and print its result (exit 1 if it fails)."""
        path = journal_path(db)
        try:
            node = load_target(target)
        except TargetImportError as exc:
            fail(str(exc))
        except TargetError as exc:
            raise typer.BadParameter(str(exc), param_hint="TARGET") from None
        try:
            call_args, call_kwargs = parse_arguments(args, kw)
            check_arguments(node, call_args, call_kwargs)
        except TargetError as exc:
            raise typer.BadParameter(str(exc), param_hint="ARGS") from None
        check_writable(path)
        code = execute(
            [Call(node=node, args=call_args, kwargs=call_kwargs, mode=run_mode(node, mode.value))],
            store=path,
            name=name or target.rpartition(":")[2],
            durability=durability.value,
            resume=None,
            as_json=as_json,
            progress=progress,
        )
        raise typer.Exit(code)
