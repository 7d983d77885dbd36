"""Making calls in a fresh session for ``runtree run`` and ``runtree resume``, and saying
how they went: results on stdout; for a failure, the node, its input and where it failed,
and the command that shows the failed request whole."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from runtree._json import to_jsonable, type_name
from runtree.cli.console import fail, one_line
from runtree.cli.progress import ProgressDisplay
from runtree.errors import RuntreeError
from runtree.store import SqliteRunStore
from runtree.store.record import StoredRequest

__all__ = ["Call", "Durability", "Mode", "execute"]


class Durability(str, enum.Enum):
    batch = "batch"
    sync = "sync"


class Mode(str, enum.Enum):
    process = "process"
    thread = "thread"
    async_ = "async"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One root call to make: ``rt.call(node, *args, **kwargs)`` in execution ``mode``."""

    node: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    mode: str


@dataclasses.dataclass(slots=True, kw_only=True)
class _Outcome:
    result: Any = None
    error: BaseException | None = None


def _run(session: Any, calls: list[Call]) -> list[_Outcome]:
    """Make every call in order (a failure does not stop the next ones); the session ends
    with the first failure, so the run is recorded as failed."""
    import runtree as rt

    outcomes: list[_Outcome] = []

    async def make(call: Call) -> Any:
        with rt.execution_mode(call.mode):
            return await rt.call(call.node, *call.args, **call.kwargs)

    async def go() -> None:
        async with session:
            if len(calls) == 1:  # its failure leaves the session as it is
                outcomes.append(_Outcome(result=await make(calls[0])))
                return
            for call in calls:
                try:
                    outcomes.append(_Outcome(result=await make(call)))
                except Exception as exc:
                    outcomes.append(_Outcome(error=exc))
            first = next((o.error for o in outcomes if o.error is not None), None)
            if first is not None:
                raise first

    try:
        asyncio.run(go())
    except Exception as exc:
        if session.status == "unopened":  # the journal refused to start
            fail(str(exc))
        from runtree.store.errors import StoreError

        if isinstance(exc, StoreError) and _rows_lost(session):
            pass  # the journal lost rows: execute() reports it in one line
        elif not any(o.error is exc for o in outcomes):  # the session failed (timeout...)
            outcomes.append(_Outcome(error=exc))
    return outcomes


def execute(
    calls: list[Call],
    *,
    store: Path,
    name: str | None,
    durability: str,
    resume: str | None,
    as_json: bool,
    progress: bool | None,
) -> int:
    """Make ``calls`` in one new run journaled in ``store``; print the results or what
    failed; return the exit status (0, or 1 if a call failed)."""
    import runtree as rt
    from runtree.pubsub.messages import RequestCompletionMessage, RequestCreation, Streaming

    try:
        session = rt.Session(name=name, store=store, durability=durability, resume=resume)
    except RuntreeError as exc:
        fail(str(exc))
    display = None
    if progress if progress is not None else sys.stderr.isatty():
        display = ProgressDisplay()
        session.publisher.subscribe(
            display, topics=(RequestCreation, RequestCompletionMessage, Streaming), name="cli"
        )
    short = session.run_id[:12]
    try:
        outcomes = _run(session, calls)
    except KeyboardInterrupt:
        if not session.interrupted:  # else the session has said how to resume it
            sys.stderr.write(
                f"runtree: interrupted (run {short}); resume it: runtree resume {short}\n"
            )
        return 130
    finally:
        if display is not None:
            display.stop()
    failed = [o for o in outcomes if o.error is not None]
    lost = _rows_lost(session)
    if as_json:
        _print_document(session.run_id, outcomes, resume=resume)
    else:
        for outcome in outcomes:
            if outcome.error is None:
                _print_result(outcome.result)
    if lost:
        sys.stderr.write(
            f"runtree: error: the journal {store} did not record all of run {short} "
            f"({lost} rows lost)\n"
        )
    if failed:
        for line in _failure_lines(store, session.run_id, outcomes):
            sys.stderr.write(line + "\n")
        return 1
    if lost:
        return 1
    if not as_json:
        sys.stderr.write(f"run {short} succeeded; see it with: runtree show {short}\n")
    return 0


def _rows_lost(session: Any) -> int:
    """Rows the journal could not write (a damaged or unwritable file)."""
    journal = session.journal
    if journal is None or journal.store is None:
        return 0
    return int(journal.statistics().store.rows_lost)


def _print_result(result: Any) -> None:
    if isinstance(result, str):
        sys.stdout.write(result + "\n")
    else:
        sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")


def _error_document(error: BaseException) -> dict[str, str]:
    return {"type": type_name(error), "message": str(error)}


def _print_document(run_id: str, outcomes: list[_Outcome], *, resume: str | None) -> None:
    failed = [o for o in outcomes if o.error is not None]
    document: dict[str, Any] = {"run_id": run_id, "status": "failed" if failed else "succeeded"}
    if resume is not None:
        document["resumed_from"] = resume
    if len(outcomes) == 1:
        (only,) = outcomes
        if only.error is None:
            document["result"] = to_jsonable(only.result)
        else:
            document["error"] = _error_document(only.error)
    else:
        document["calls"] = [
            {"status": "succeeded", "result": to_jsonable(o.result)}
            if o.error is None
            else {"status": "failed", "error": _error_document(o.error)}
            for o in outcomes
        ]
        if failed:
            assert failed[0].error is not None
            document["error"] = _error_document(failed[0].error)
    sys.stdout.write(json.dumps(document) + "\n")


# -- saying where a failure happened ---------------------------------------------------------

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')


def _where(error: Any) -> str | None:
    """``file:line`` of the innermost frame of a stored traceback (relative to the current
    folder when inside it)."""
    text = error.get("traceback") if isinstance(error, dict) else None
    if not isinstance(text, str):
        return None
    frames = [m for m in map(_FRAME.match, text.splitlines()) if m is not None]
    if not frames:
        return None
    file = frames[-1]["file"]
    try:
        relative = os.path.relpath(file)
        if not relative.startswith(".."):
            file = relative
    except ValueError:
        pass
    return f"{file}:{frames[-1]['line']}"


def _error_key(request: StoredRequest) -> tuple[Any, Any]:
    error = request.error if isinstance(request.error, dict) else {}
    return error.get("type"), error.get("message")


def failure_origin(requests: list[StoredRequest], root_id: str) -> StoredRequest | None:
    """The request where the failure of root ``root_id`` started: follow failed children
    that failed with the same error (the one that propagated) as deep as it goes."""
    by_id = {r.request_id: r for r in requests}
    current = by_id.get(root_id)
    if current is None:
        return None
    failed_children: dict[str, list[StoredRequest]] = {}
    for request in requests:
        if request.parent_id is not None and request.status == "failed":
            failed_children.setdefault(request.parent_id, []).append(request)
    while True:
        same = [
            c
            for c in failed_children.get(current.request_id, ())
            if _error_key(c) == _error_key(current)
        ]
        if not same:
            return current
        current = same[-1]


def _failure_lines(store: Path, run_id: str, outcomes: list[_Outcome]) -> list[str]:
    from runtree.cli.render import call_text

    short = run_id[:12]
    roots: list[Any] = []
    requests: list[StoredRequest] = []
    try:  # the command writes this journal anyway: a plain store, which tidies up on close
        with SqliteRunStore(store) as reader:
            roots = reader.get_roots(run_id)
            requests = reader.get_requests(run_id)
    except RuntreeError:  # no details, then: the error line says what failed
        pass
    lines = []
    for index, outcome in enumerate(outcomes):
        error = outcome.error
        if error is None:
            continue
        message = one_line(f"{type(error).__name__}: {error}")
        origin = None
        if index < len(roots) and roots[index].status == "failed":
            origin = failure_origin(requests, roots[index].request_id)
        if origin is None:
            lines.append(f"runtree: error: {message} (run {short})")
            continue
        where = _where(origin.error)
        place = f" at {where}" if where else ""
        lines.append(
            f"runtree: error: {message} in {call_text(origin.node_name, origin.inputs)}"
            f"{place} (run {short})"
        )
        lines.append(f"see it whole: runtree show {short} --request {origin.request_id}")
    return lines
