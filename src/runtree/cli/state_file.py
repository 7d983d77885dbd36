"""``runtree inspect``: show what a ``NodeState`` file holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from runtree._json import to_jsonable
from runtree.cli.console import fail, out
from runtree.errors import NodeStateError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("inspect")
    def inspect_command(
        path: Path = typer.Argument(..., help="A NodeState file."),  # noqa: B008
        allow_pickle: bool = typer.Option(
            False, "--allow-pickle", help="Load pickle files (runs code: only files you trust)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON document."),
    ) -> None:
        """Re-hydrate a NodeState file and print its node's class, inputs and details."""
        from runtree.nodes.details import details_to_dict
        from runtree.nodes.state import NodeState

        try:
            state = NodeState.load(path, allow_pickle=allow_pickle)
            node = state.node
            document = {
                "class": f"{type(node).__module__}:{type(node).__qualname__}",
                "name": node.name(),
                "attributes": to_jsonable({k: v for k, v in vars(node).items() if k != "details"}),
                "details": to_jsonable(details_to_dict(node.__dict__.get("details", {}))),
            }
        except NodeStateError as exc:
            message = str(exc)
            if "allow_pickle=True" in message:
                message = (
                    "a pickle NodeState: loading it runs code; add --allow-pickle if you trust it"
                )
            fail(f"{path}: {message}")
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
