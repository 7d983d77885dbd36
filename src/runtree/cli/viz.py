"""``runtree viz`` (the web viewer), ``runtree graph`` (Mermaid text) and the HTML form of
``runtree export``. Registered into the typer app by :func:`register`."""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from pathlib import Path
from typing import Any

import typer

from runtree.cli.journal import DB_HELP, journal_path
from runtree.errors import RuntreeError

__all__ = ["export_html_command", "register"]

DEFAULT_PORT = 8700


def _fail(message: str) -> Any:
    from runtree.cli.console import fail

    return fail(message)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def viz_command(db: Path | None, port: int, open_browser: bool) -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        _fail(
            f"runtree viz needs the 'viz' extra ({exc.name} is missing): pip install 'runtree[viz]'"
        )
    from runtree.viz.errors import JournalProblem
    from runtree.viz.query import JournalReader
    from runtree.viz.server import serve

    path = journal_path(db)
    try:
        with JournalReader(path).open():
            pass
    except JournalProblem as exc:
        if exc.kind not in ("missing", "empty"):
            _fail(str(exc))
        sys.stderr.write(f"runtree viz: {exc}; runs will show as they are recorded\n")
    if port and not _port_free(port):
        _fail(f"port {port} on 127.0.0.1 is in use; choose another with --port (0: any free)")

    def ready(url: str) -> None:
        sys.stderr.write(f"runtree viewer on {url}  (journal {path}; Ctrl+C stops it)\n")
        sys.stderr.flush()
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C: the server has shut down
        serve(path, port=port, on_ready=ready)
    sys.stderr.write("runtree viewer stopped\n")


def graph_command(target: str, direction: str) -> None:
    from runtree.cli.target import TargetError, load_object
    from runtree.graph.base import BaseNode
    from runtree.graph.graph import Graph
    from runtree.graph.mermaid import DIRECTIONS

    if direction not in DIRECTIONS:
        raise typer.BadParameter(f"choose one of {', '.join(DIRECTIONS)}", param_hint="--direction")
    try:
        obj = load_object(target)
    except TargetError as exc:
        raise typer.BadParameter(str(exc), param_hint="TARGET") from None
    if isinstance(obj, BaseNode) and not isinstance(obj, Graph):
        obj = Graph(obj)  # a start node: the graph that starts there
    if not isinstance(obj, Graph):
        raise typer.BadParameter(
            f"{target!r} is a {type(obj).__name__}, not a runtree.graph Graph (or graph node)",
            param_hint="TARGET",
        )
    sys.stdout.write(obj.to_mermaid(direction=direction))


def export_html_command(db: Path | None, run_id: str, output: Path) -> None:
    """``runtree export RUN --html FILE``."""
    from runtree.viz.report import export_html

    try:
        written = export_html(journal_path(db), run_id, output)
    except RuntreeError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    sys.stderr.write(f"wrote {written} ({written.stat().st_size:,} bytes)\n")


def register(app: typer.Typer) -> None:
    """Add ``viz`` and ``graph`` to the ``runtree`` command."""

    @app.command("viz")
    def viz(
        port: int = typer.Option(
            DEFAULT_PORT, "--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (0: any)."
        ),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),  # noqa: B008
        open_browser: bool = typer.Option(False, "--open", help="Open it in the web browser."),
    ) -> None:
        """Serve a local web viewer of the journal's runs on 127.0.0.1 (read-only)."""
        viz_command(db, port, open_browser)

    @app.command("graph")
    def graph(
        target: str = typer.Argument(..., help="The graph: module:GRAPH or file.py:GRAPH."),
        direction: str = typer.Option("TD", "--direction", help="TD, LR, BT or RL."),
    ) -> None:
        """Print a runtree.graph Graph as Mermaid flowchart text."""
        graph_command(target, direction)
