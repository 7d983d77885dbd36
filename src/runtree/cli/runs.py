"""``runtree runs``, ``show`` and ``export``: read runs back from the journal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from runtree.cli.console import fail, out
from runtree.cli.journal import DB_HELP, journal_path, open_store
from runtree.errors import RuntreeError

__all__ = ["load_run", "register"]


def load_run(
    db: Path | None, ref: str, name: str | None = None
) -> tuple[Any, list[Any], list[Any]]:
    """The run ``ref`` (id, unique prefix, ``latest``), its requests and its events."""
    with open_store(db) as store:
        try:
            if ref in ("latest", "last") and name is not None:
                runs = store.list_runs(limit=1, name=name)
                if not runs:
                    fail(f"no run named {name!r} in {store.path}")
                run = runs[0]
            else:
                run = store.get_run(ref)
        except RuntreeError as exc:
            fail(str(exc))
        return run, store.get_requests(run.run_id), store.get_events(run.run_id)


def register(app: typer.Typer) -> None:
    @app.command("runs")
    def runs_command(
        limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs."),
        name: str | None = typer.Option(None, "--name", help="Only runs with this name."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """List runs, newest first: id, name, status, start, duration, request count."""
        from runtree.cli.render import runs_table

        with open_store(db) as store:
            runs = store.list_runs(limit=limit, name=name)
        if as_json:
            sys.stdout.write(json.dumps([r.to_dict() for r in runs], indent=2) + "\n")
        elif not runs:
            sys.stderr.write(f"no runs in {journal_path(db)}\n")
        else:
            out().print(runs_table(runs))

    @app.command("show")
    def show_command(
        run_id: str = typer.Argument(..., help="A run id, a unique prefix of one, or 'latest'."),
        max_requests: int = typer.Option(
            500, "--max-requests", min=1, help="Show at most this many requests."
        ),
        name: str | None = typer.Option(
            None, "--name", help="With 'latest': the newest run of this name."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Show a run: its status and its request tree with timings and errors."""
        from runtree.cli.render import request_tree, run_header

        run, requests, events = load_run(db, run_id, name)
        console = out()
        console.print(run_header(run, events=len(events)))
        console.print(request_tree(run, requests, max_requests=max_requests))

    @app.command("export")
    def export_command(
        run_id: str = typer.Argument(..., help="A run id, a unique prefix of one, or 'latest'."),
        as_json: bool = typer.Option(True, "--json", help="JSON (the format; the default)."),
        output: Path | None = typer.Option(  # noqa: B008
            None, "--output", "-o", help="Write to this file instead of stdout."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Export a run (run record, requests, stream events) as one JSON document."""
        del as_json  # JSON is the only format
        run, requests, events = load_run(db, run_id)
        document = {
            "run": run.to_dict(),
            "requests": [r.to_dict() for r in requests],
            "events": [e.to_dict() for e in events],
        }
        text = json.dumps(document, indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror or exc}")
