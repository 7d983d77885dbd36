"""``runtree inspect``: show what a ``NodeState`` file holds.

A JSON state file is shown as it is written, without importing anything: its ``class``
field only names the node's class. ``--allow-import`` imports that class's module to
re-hydrate the node (that runs the module's code, so only for files you trust); pickle
files run code when loaded and need ``--allow-pickle``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from runtree._json import to_jsonable
from runtree.cli.console import fail, out
from runtree.errors import NodeStateError

__all__ = ["register"]


def _read(path: Path, *, allow_pickle: bool, allow_import: bool) -> dict[str, Any]:
    from runtree.nodes.details import details_to_dict
    from runtree.nodes.state import PICKLE_MAGIC, NodeState

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NodeStateError(f"cannot read it: {exc.strerror or exc}") from None
    if data.startswith(PICKLE_MAGIC) and not allow_pickle:
        raise NodeStateError(
            "a pickle NodeState: loading it runs code; add --allow-pickle if you trust it"
        )
    if data.startswith(PICKLE_MAGIC) or allow_import:
        node = NodeState.from_bytes(data, allow_pickle=allow_pickle).node
        return {
            "class": f"{type(node).__module__}:{type(node).__qualname__}",
            "name": node.name(),
            "attributes": to_jsonable({k: v for k, v in vars(node).items() if k != "details"}),
            "details": to_jsonable(details_to_dict(node.__dict__.get("details", {}))),
        }
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NodeStateError(f"not a runtree NodeState (neither JSON nor pickle): {exc}") from None
    document = NodeState.check_document(document)
    return {
        "class": document["class"],
        "name": document.get("name"),
        "attributes": document["attributes"],
        "details": document.get("details", {}),
    }


def register(app: typer.Typer) -> None:
    @app.command("inspect")
    def inspect_command(
        path: Path = typer.Argument(..., help="A NodeState file."),  # noqa: B008
        allow_import: bool = typer.Option(
            False,
            "--allow-import",
            help="Import the node's class to re-hydrate it (runs its module: files you trust).",
        ),
        allow_pickle: bool = typer.Option(
            False, "--allow-pickle", help="Load pickle files (runs code: only files you trust)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
    ) -> None:
        """Show a NodeState file: its node's class, name, attributes and details."""
        if path.is_dir():
            fail(f"{path} is a folder, not a NodeState file")
        try:
            document = _read(path, allow_pickle=allow_pickle, allow_import=allow_import)
        except NodeStateError as exc:
            fail(f"{path}: {str(exc).removeprefix('NodeState: ')}")
        except Exception as exc:  # a corrupt file must never show a traceback
            fail(f"{path}: not a readable NodeState ({type(exc).__name__}: {exc})")
        if as_json:
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
            return
        from rich.pretty import Pretty
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key in ("class", "name", "attributes", "details"):
            table.add_row(key, Pretty(document[key]))
        out().print(table)
