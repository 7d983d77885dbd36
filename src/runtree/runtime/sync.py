"""The synchronous side of a :class:`~runtree.runtime.session.Session`: ``with`` blocks and
``Session.run_sync``.

A ``with rt.Session()`` block in plain code owns a private event loop (a
:class:`~runtree.runtime.driver.LoopDriver`), driven by whichever thread waits in
``run_sync``. A ``with`` block inside async code (railtracks code does this) runs the session
on that code's loop; its exit finishes the run before returning (subscribers drained, the
journal closed with the run's final status), since nothing would await a closing task.

:func:`open_session` tells calls made from other threads which script run they belong to.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from runtree._threads import blocking
from runtree.errors import ConfigurationError, ContextError, SessionStateError
from runtree.runtime.driver import LoopDriver, cancel_all_tasks, cancel_all_tasks_and_wait
from runtree.runtime.interrupt import INTERRUPTED, InterruptGuard
from runtree.store.errors import StoreError

if TYPE_CHECKING:
    from runtree.runtime.session import Session
    from runtree.state.info import ExecutionInfo

__all__ = ["MAIN_THREAD", "enter_sync", "exit_sync", "forget", "open_session", "run_sync"]

T = TypeVar("T")

MAIN_THREAD = threading.main_thread().ident

#: the synchronous sessions (``with``) open in the main thread: a script's run, which threads
#: it starts must not quietly leave (see :func:`open_session`)
_open_sessions: weakref.WeakSet[Session] = weakref.WeakSet()


def open_session() -> Session | None:
    """The ``with rt.Session()`` block open in the main thread (a script's run), or ``None``.

    A thread with no session of its own that calls ``rt.call_sync`` meanwhile was almost
    surely started by that script and meant to be part of its run. Sessions opened elsewhere
    (an ``async with`` on a server's loop, a session in a worker thread, the temporary
    session of a call made outside any session) do not count: calls outside them are
    independent and get a temporary session as usual."""
    for session in list(_open_sessions):
        if session.status == "open":
            return session
    return None


def forget(session: Session) -> None:
    """``session`` is closing: it is no longer a script's open run."""
    _open_sessions.discard(session)


# -- with ----------------------------------------------------------------------------------


def enter_sync(session: Session) -> Session:
    """``Session.__enter__``."""
    loop = asyncio._get_running_loop()
    if loop is not None:  # `with` inside async code: the run lives on that loop
        session._open()
        session.state.loop = loop  # async callbacks: on their threads' loops, awaited at exit
        session._owner = asyncio.current_task()
        session._arm_timeout(loop)
        session._guard = InterruptGuard(session._interrupt_async).install(loop)
        return session
    session._open()
    driver = LoopDriver()  # after _open: a session that cannot open leaves no loop behind
    if not session.temporary and threading.get_ident() == MAIN_THREAD:
        _open_sessions.add(session)  # a script's session: see open_session()
    session._driver = driver
    session.state.loop = driver.loop
    session._arm_timeout(driver.loop)
    session._guard = InterruptGuard(_interrupt_handler(session)).install(driver.loop)
    return session


def exit_sync(
    session: Session, exc_type: type[BaseException] | None, exc: BaseException | None
) -> None:
    """``Session.__exit__``: finish the run before returning, so everything is delivered and
    written, also when the ``with`` block sits inside async code."""
    driver = session._driver
    session._begin_close()
    interrupted = session._interrupted or isinstance(exc, KeyboardInterrupt)
    lost: StoreError | None = None
    try:
        try:
            if driver is None:  # on a running loop this thread runs: wait here
                if session._closers:
                    session._closers.run_now()
                session._warn_left(
                    session.state.settle_now(session.settle_timeout, interrupted=interrupted)
                )
                session.publisher.close()
            else:
                driver.run(_close_private(session, interrupted=interrupted))
        finally:
            lost = session._close_journal(INTERRUPTED if session._interrupted else exc)
    finally:
        if session._guard is not None:
            session._guard.uninstall()
        if driver is not None:
            driver.close()
    if interrupted:
        session._end_interrupted()
    session._translate(exc_type, exc)
    session._report_lost(lost, exc)


async def _close_private(session: Session, *, interrupted: bool) -> None:
    """On the private loop: cancel calls other threads still wait for, run the closers,
    then wind down."""
    await cancel_all_tasks_and_wait(session.settle_timeout)
    if session._closers:
        await session._closers.run()
    await session._wind_down(interrupted=interrupted)


def _interrupt_handler(session: Session) -> Callable[[FrameType | None], bool]:
    def on_interrupt(frame: FrameType | None) -> bool:
        """First Ctrl-C in a sync session: if the main thread waits in ``run_sync`` (seen
        from the frame the signal interrupted), cancel every call (the waiting call then
        raises ``KeyboardInterrupt``); otherwise let the previous handler raise
        ``KeyboardInterrupt`` where the program is."""
        driver = session._driver
        if session.status != "open" or driver is None or not _waiting_in(session, frame):
            return False
        session._interrupted = True
        driver.call_soon(cancel_all_tasks)
        return True

    return on_interrupt


def _waiting_in(session: Session, frame: FrameType | None) -> bool:
    """Whether ``frame`` (the main thread's) is inside ``session``'s ``run_sync``."""
    code = _run_coroutine.__code__
    while frame is not None:
        if frame.f_code is code and frame.f_locals.get("session") is session:
            return True
        frame = frame.f_back
    return False


# -- run_sync --------------------------------------------------------------------------------


def run_sync(
    session: Session, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ExecutionInfo | Any:
    """``Session.run_sync``: a root call of ``target(*args, **kwargs)`` returning the info,
    or ``target`` itself run to completion if it is a coroutine."""
    if not inspect.iscoroutine(target):
        _refuse_running_loop()
        _run_coroutine(session, session._root_call(target, args, kwargs))
        return session.info
    if args or kwargs or asyncio._get_running_loop() is not None:
        target.close()
        _refuse_running_loop()
        raise ConfigurationError(
            "run_sync(coroutine) takes no other arguments; pass them to the coroutine function"
        )
    return _run_coroutine(session, target)


def _run_coroutine(session: Session, coroutine: Coroutine[Any, Any, T]) -> T:
    driver = session._driver
    if driver is None or session.status != "open" or session._interrupted or session._timed_out:
        return _run_elsewhere(session, coroutine)
    if session._deadline is not None and time.monotonic() >= session._deadline:
        coroutine.close()
        driver.run(_expire_now(session))  # the timer may not have run yet: expire now
        session._translate(None, None)
    try:
        result = driver.run(coroutine)
    except BaseException as exc:
        if session._interrupted and threading.get_ident() == MAIN_THREAD:
            raise KeyboardInterrupt from None
        if isinstance(exc, asyncio.CancelledError):
            session._translate(asyncio.CancelledError, exc)
        raise
    if session._interrupted and threading.get_ident() == MAIN_THREAD:
        raise KeyboardInterrupt  # the call ended anyway; the program stops here
    return result


def _run_elsewhere(session: Session, coroutine: Coroutine[Any, Any, T]) -> T:
    """``run_sync`` of an async session (the loop runs in another thread), or of a session
    that is not open or whose run has ended."""
    if session.status != "open":
        coroutine.close()
        raise SessionStateError(f"session {session.label!r} is {session.status}")
    if session._interrupted or session._timed_out:
        coroutine.close()
        session._translate(None, None)
    loop = session.state.loop
    if loop is None or not loop.is_running():
        coroutine.close()
        raise ContextError("this session's event loop is not running; use `await rt.call(...)`")
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    with blocking():  # a worker thread waiting here frees its place in its pool
        return future.result()


def _refuse_running_loop() -> None:
    if asyncio._get_running_loop() is not None:
        raise ContextError(
            "run_sync() cannot run inside a running event loop (it would wait for the loop "
            "it blocks); use `await session.run(...)` or `await rt.call(...)` there"
        )


async def _expire_now(session: Session) -> None:
    session._expire()
