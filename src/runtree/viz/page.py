"""The viewer's one HTML page, with its CSS and JavaScript (shipped in ``static/``).

The server links the assets; the report inlines them with the run's data, so the report is
one file that works offline. No third-party code, no build step.
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import Any

__all__ = ["ASSETS", "STATIC", "asset", "render_page"]

STATIC = Path(__file__).parent / "static"
#: the scripts in load order (``report.js`` is added in the report)
SCRIPTS = ("core.js", "values.js", "tree.js", "timeline.js", "graph.js", "run.js", "runs.js")
ASSETS = ("app.css", *SCRIPTS, "report.js", "favicon.svg")

_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@functools.cache
def asset(name: str) -> tuple[str, str]:
    """The text and media type of the shipped asset ``name`` (``KeyError`` if unknown)."""
    if name not in ASSETS:
        raise KeyError(name)
    path = STATIC / name
    return path.read_text(encoding="utf-8"), _TYPES[path.suffix]


def _json_script(element_id: str, value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # no "</script>" or "<!--" may end the element early
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script id="{element_id}" type="application/json">{text}</script>'


def render_page(
    *,
    title: str,
    config: dict[str, Any],
    data: Any = None,
    inline: bool = False,
    message: str | None = None,
) -> str:
    """The HTML page. ``config`` tells the script where it is (``mode``: ``server`` or
    ``report``); ``data`` is embedded for a report; ``message`` is shown without script."""
    if inline:
        style = f"<style>{asset('app.css')[0]}</style>"
        icon = asset("favicon.svg")[0]
        scripts = "".join(
            f"<script>{asset(name)[0]}</script>\n" for name in (*SCRIPTS, "report.js")
        )
        favicon = "data:image/svg+xml," + icon.replace("#", "%23").replace("\n", "")
    else:
        style = '<link rel="stylesheet" href="/static/app.css">'
        scripts = "".join(f'<script src="/static/{name}"></script>\n' for name in SCRIPTS)
        favicon = "/static/favicon.svg"
    embedded = _json_script("runtree-config", config)
    if data is not None:
        embedded += "\n" + _json_script("runtree-data", data)
    notice = ""
    if message is not None:
        notice = f'<div class="notice error" id="server-message">{html.escape(message)}</div>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="{html.escape(favicon, quote=True)}">
{style}
</head>
<body>
<header class="top"><a class="brand" href="#" data-nav="/"><span class="logo"></span>runtree</a>
<span class="where" id="where"></span></header>
<main id="app">{notice}
<noscript><div class="notice">This page needs JavaScript.</div></noscript></main>
{embedded}
{scripts}</body>
</html>
"""
