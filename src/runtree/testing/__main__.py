"""``python -m runtree.testing [--port N] [--model NAME]``: serve an echo model over the OpenAI
protocol on 127.0.0.1, for pointing any OpenAI client at a model that needs no key.

The model answers ``echo: <the last user message>``; stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from runtree.testing.script import Reply
from runtree.testing.server import LocalOpenAIServer


def echo(request: Mapping[str, Any]) -> Reply:
    """``echo: <the last user message>``."""
    said = next(
        (m.get("content") for m in reversed(request["messages"]) if m.get("role") == "user"), ""
    )
    return Reply(f"echo: {said}")


def main(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runtree.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--model", default="runtree-echo", help="the model's name")
    args = parser.parse_args(argv)
    with LocalOpenAIServer(echo, model=args.model, port=args.port) as server:
        print(f"serving {args.model} at {server.base_url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (stop or threading.Event()).wait()


if __name__ == "__main__":
    main()
