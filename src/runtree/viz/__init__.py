"""``runtree viz``: a local, read-only web viewer of the run journal, and HTML reports.

``create_app(path)`` is the viewer (an ASGI app, needs the ``viz`` extra: starlette and
uvicorn), ``serve(path, port=...)`` runs it on 127.0.0.1, ``export_html(path, run)`` writes
one self-contained HTML file of a run (no extra needed). The viewer and the report read the
journal read-only and ship their HTML, CSS and JavaScript in the package: nothing is
downloaded. See ``docs/viewer.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtree._lazy import lazy_exports

if TYPE_CHECKING:
    from runtree.viz.errors import JournalProblem
    from runtree.viz.query import JournalReader
    from runtree.viz.report import export_html, render_report
    from runtree.viz.server import create_app, serve

_EXPORTS: dict[str, tuple[str, ...]] = {
    "errors": ("JournalProblem",),
    "query": ("JournalReader",),
    "report": ("export_html", "render_report"),
    "server": ("create_app", "serve"),
}

__all__ = ["JournalProblem", "JournalReader", "create_app", "export_html", "render_report", "serve"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
