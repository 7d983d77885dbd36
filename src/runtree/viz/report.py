"""``runtree export RUN --html out.html``: one self-contained HTML file of a run.

The file holds the viewer's own CSS and JavaScript and the run's data (every request with
its values, the events, the graph pictures), so it opens offline, from disk, anywhere.
Needs nothing beyond runtree itself (no starlette).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from runtree.store.errors import RunNotFoundError
from runtree.viz.document import report_document
from runtree.viz.page import render_page
from runtree.viz.query import JournalReader

__all__ = ["export_html", "render_report"]


def render_report(journal: str | os.PathLike[str], run: str) -> str:
    """The HTML report of ``run`` (an id, a unique prefix, or ``latest``) in ``journal``.

    Raises :class:`~runtree.viz.errors.JournalProblem` for a journal that cannot be read and
    :class:`~runtree.store.errors.RunNotFoundError` for an unknown run.
    """
    with JournalReader(journal).open() as query:
        run_id = query.resolve_run(run)
        if run_id is None:
            raise RunNotFoundError(
                f"no run {run!r} in {str(journal)!r} (or the prefix is ambiguous)"
            )
        document = report_document(query, run_id)
    name = document["run"]["name"] or run_id[:12]
    generated = time.strftime("%Y-%m-%d %H:%M")
    return render_page(
        title=f"{name} · runtree report",
        config={"mode": "report", "generated": generated, "journal": str(journal)},
        data=document,
        inline=True,
    )


def export_html(journal: str | os.PathLike[str], run: str, output: str | os.PathLike[str]) -> Path:
    """Write the report of ``run`` to ``output`` and return its path."""
    text = render_report(journal, run)
    path = Path(output)
    path.write_text(text, encoding="utf-8")
    return path
