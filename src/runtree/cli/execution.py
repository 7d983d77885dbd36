"""Running a node in a fresh session for ``runtree run`` and ``runtree resume``."""

from __future__ import annotations

import asyncio
import enum
import json
import sys
from typing import Any

import typer

from runtree._json import to_jsonable, type_name
from runtree.cli.console import fail, one_line
from runtree.cli.progress import ProgressBar
from runtree.errors import NodeInvocationError, RuntreeError
from runtree.store.journal import StoreOption

__all__ = ["Durability", "Mode", "execute"]


class Durability(str, enum.Enum):
    batch = "batch"
    sync = "sync"


class Mode(str, enum.Enum):
    process = "process"
    thread = "thread"
    async_ = "async"


def execute(
    node: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    mode: str,
    store: StoreOption,
    name: str | None,
    durability: str,
    resume: str | None,
    as_json: bool,
    progress: bool | None,
) -> int:
    import runtree as rt
    from runtree.pubsub.messages import RequestCompletionMessage, RequestCreation

    try:
        session = rt.Session(name=name, store=store, durability=durability, resume=resume)
    except RuntreeError as exc:
        fail(str(exc))
    bar = None
    if progress if progress is not None else sys.stderr.isatty():
        bar = ProgressBar()
        session.publisher.subscribe(
            bar, topics=(RequestCreation, RequestCompletionMessage), name="cli-progress"
        )

    async def go() -> Any:
        async with session:
            with rt.execution_mode(mode):
                return await rt.call(node, *args, **kwargs)

    error: BaseException | None = None
    result: Any = None
    try:
        result = asyncio.run(go())
    except NodeInvocationError as exc:
        raise typer.BadParameter(one_line(str(exc)), param_hint="ARGS") from None
    except Exception as exc:
        error = exc
    finally:
        if bar is not None:
            bar.stop()
    if session.status == "unopened" and error is not None:  # the journal refused to start
        fail(str(error))
    short = session.run_id[:12]
    if as_json:
        document: dict[str, Any] = {
            "run_id": session.run_id,
            "status": "failed" if error is not None else "succeeded",
        }
        if resume is not None:
            document["resumed_from"] = resume
        if error is None:
            document["result"] = to_jsonable(result)
        else:
            document["error"] = {"type": type_name(error), "message": str(error)}
        sys.stdout.write(json.dumps(document) + "\n")
    elif error is None:
        if isinstance(result, str):
            sys.stdout.write(result + "\n")
        else:
            sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")
    if error is not None:
        sys.stderr.write(
            f"runtree: error: {one_line(f'{type(error).__name__}: {error}')} (run {short})\n"
        )
        return 1
    if session.journal is not None and not as_json:
        sys.stderr.write(f"run {short} succeeded; see it with: runtree show {short}\n")
    return 0
