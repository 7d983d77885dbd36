"""``runtree runs``, ``show`` and ``export``: read runs back from the journal (opened
read-only: these commands never change it)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import typer

from runtree.cli.console import fail, out
from runtree.cli.journal import DB_HELP, journal_path, reading
from runtree.store.record import RunInfo, StoredEvent, StoredRequest

__all__ = ["LoadedRun", "find_request", "load_run", "register"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoadedRun:
    """A run read from the journal with its requests and events, and where it was read."""

    run: RunInfo
    requests: list[StoredRequest]
    events: list[StoredEvent]
    path: Path


def load_run(db: Path | None, ref: str, name: str | None = None) -> LoadedRun:
    """The run ``ref`` (id, unique prefix, ``latest``; with ``name``, the newest run of that
    name), its requests and its events."""
    with reading(db) as store:
        if ref in ("latest", "last") and name is not None:
            runs = store.list_runs(limit=1, name=name)
            if not runs:
                fail(f"no run named {name!r} in {store.path}")
            run = runs[0]
        else:
            run = store.get_run(ref)
        return LoadedRun(
            run=run,
            requests=store.get_requests(run.run_id),
            events=store.get_events(run.run_id),
            path=store.path,
        )


def find_request(run: RunInfo, requests: list[StoredRequest], ref: str) -> StoredRequest:
    """The request whose id is ``ref``, ends with ``-ref`` (``7`` for ``9c1d3b0e-7``; the
    run's own ids first), or starts with it (when only one does)."""
    ref = ref.strip()
    own = f"{run.run_id[:8]}-{ref}"
    for matches in (
        [r for r in requests if r.request_id == ref],
        [r for r in requests if r.request_id == own],
        [r for r in requests if r.request_id.rpartition("-")[2] == ref],
        [r for r in requests if ref and r.request_id.startswith(ref)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            fail(f"request {ref!r} matches several requests; give its whole id")
    fail(f"no request {ref!r} in this run (its ids are shown by runtree show RUN)")


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

        with reading(db) as store:
            runs = store.list_runs(limit=limit, name=name)
        path = journal_path(db).absolute()
        if as_json:
            sys.stdout.write(json.dumps([r.to_dict() for r in runs], indent=2) + "\n")
        elif not runs:
            sys.stderr.write(f"no runs in {path}\n")
        else:
            sys.stderr.write(f"runs in {path}\n")
            out().print(runs_table(runs))

    @app.command("show")
    def show_command(
        run_id: str = typer.Argument(..., help="A run id, a unique prefix of one, or 'latest'."),
        request: str | None = typer.Option(
            None,
            "--request",
            "-r",
            help="Print this request whole: inputs, output, attributes, full traceback.",
        ),
        max_requests: int = typer.Option(
            500, "--max-requests", min=1, help="Show at most this many requests."
        ),
        name: str | None = typer.Option(
            None, "--name", help="With 'latest': the newest run of this name."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Show a run: its status and its request tree with timings and errors."""
        from runtree.cli.render import request_detail, request_tree, run_header

        loaded = load_run(db, run_id, name)
        console = out()
        if request is not None:
            chosen = find_request(loaded.run, loaded.requests, request)
            console.print(request_detail(loaded.run, chosen, loaded.requests))
            return
        console.print(run_header(loaded.run, events=len(loaded.events)))
        console.print(request_tree(loaded.run, loaded.requests, max_requests=max_requests))

    @app.command("export")
    def export_command(
        run_id: str = typer.Argument(..., help="A run id, a unique prefix of one, or 'latest'."),
        output: Path | None = typer.Option(  # noqa: B008
            None, "--output", "-o", help="Write to this file instead of stdout."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="JSON (the default format; accepted for older scripts)."
        ),
        html: Path | None = typer.Option(  # noqa: B008
            None, "--html", help="Write a self-contained HTML report of the run to this file."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
    ) -> None:
        """Export a run (run record, requests, stream events) as one JSON document, or as
        an HTML report (--html) that opens offline."""
        del as_json  # JSON is the default format
        if html is not None:
            from runtree.cli.viz import export_html_command

            export_html_command(db, run_id, html)
            return
        loaded = load_run(db, run_id)
        document = {
            "run": loaded.run.to_dict(),
            "requests": [r.to_dict() for r in loaded.requests],
            "events": [e.to_dict() for e in loaded.events],
        }
        text = json.dumps(document, indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
