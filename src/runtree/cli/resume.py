"""``runtree resume``: re-invoke a run's root call; what completed is answered from the
journal."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from runtree.cli.console import fail
from runtree.cli.execution import execute
from runtree.cli.journal import DB_HELP, journal_path
from runtree.cli.runs import load_run
from runtree.cli.target import TargetError, load_target

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("resume")
    def resume_command(
        run_id: str = typer.Argument(..., help="The run to resume (id, unique prefix, 'latest')."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Re-run a crashed or failed run's root call; what completed is not run again."""
        run, requests, _ = load_run(db, run_id)
        if run.root_node is None or run.root_inputs is None:
            fail(
                f"run {run.run_id[:12]} recorded no root call to re-invoke; resume it from "
                f"Python with rt.Session(resume={run.run_id!r})"
            )
        try:
            node = load_target(run.root_node)
        except TargetError as exc:
            fail(f"cannot re-invoke run {run.run_id[:12]}: {exc}")
        inputs = json.loads(run.root_inputs)
        if not isinstance(inputs, dict) or "args" not in inputs:
            fail(f"run {run.run_id[:12]}: its root call's arguments were not stored in full")
        root_modes = [r.mode for r in requests if r.parent_id is None and r.mode]
        code = execute(
            node,
            tuple(inputs["args"]),
            dict(inputs.get("kwargs") or {}),
            mode=root_modes[0] if root_modes else "async",
            store=journal_path(db),
            name=run.name,
            durability=run.durability or "batch",
            resume=run.run_id,
            as_json=as_json,
            progress=progress,
        )
        raise typer.Exit(code)
