"""``Session``: the context every call runs in.

Use it as ``async with rt.Session(...)`` in async code, or ``with rt.Session(...)`` around
``rt.call_sync`` in plain code (the session then owns a private event loop). Options:

* ``timeout``: seconds for the whole run; past it every running request is cancelled and
  the session raises :class:`~runtree.errors.SessionTimeoutError`.
* ``end_on_error``: the first failed request ends the run: ``FatalFailure`` is published,
  other running requests are cancelled, new calls raise ``RunEndedError`` and the session
  re-raises the failure on exit even if the body caught it.
* ``broadcast_callback``: receives every ``rt.broadcast(item)`` item (sync or async callback,
  delivered in order, isolated from the run).
* ``name``: a label for the run. ``execution_mode``: the default strategy (else
  ``RT_EXECUTION_MODE``, else ``"async"``). ``execution_modes``: extra or replacement
  strategies by mode name.
* ``store``: the run journal (:mod:`runtree.store`): by default ``$RT_HOME/runtree.db``, else
  the nearest ``.runtree/runtree.db`` (``default_store_path``); a path or a ``RunStore``
  chooses another, ``None`` turns it off. ``durability``: ``"batch"`` (on disk within about a
  second, and on exit) or ``"sync"`` (a completed request is on disk before its caller gets
  the result). ``resume``: the id of an earlier run whose completed requests answer the same
  requests of this run. A journal write that failed makes the session raise
  :class:`~runtree.store.StoreError` on exit.

Resources that belong to the run (an MCP connection opened in it, for example) register a
closer with :meth:`Session.on_close`; they are closed when the session closes.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar

from runtree.comm.registry import CommRegistry, current_registry
from runtree.context.central import current_session, parent_id
from runtree.context.store import RunContext
from runtree.errors import ConfigurationError, ContextError, SessionStateError, SessionTimeoutError
from runtree.execution.coordinator import Coordinator, CoordinatorStatistics
from runtree.execution.execution_strategy import ExecutionStrategy
from runtree.nodes import settings as node_settings
from runtree.pubsub.messages import Streaming
from runtree.pubsub.publisher import PublisherStatistics, RTPublisher, current_publisher
from runtree.pubsub.subscriber import stream_subscriber
from runtree.session.run_log import RunLog
from runtree.session.strategies import check_available, default_strategies
from runtree.state.config import (
    config_defaults,
    default_execution_mode,
    mode_source,
)
from runtree.state.info import ExecutionInfo, InfoStatistics
from runtree.state.state import RTState
from runtree.store.errors import StoreError
from runtree.store.journal import (
    DEFAULT_STORE,
    Journal,
    StoreOption,
    check_store_option,
    run_outcome,
)

__all__ = ["Session", "SessionStatistics"]

T = TypeVar("T")

logger = logging.getLogger("runtree")

BroadcastCallback = Callable[[Any], Awaitable[None] | None]
Closer = Callable[[], Awaitable[None] | None]

_background: set[asyncio.Task[Any]] = set()

#: the context a session sets while it is open (values: itself, its publisher, no parent,
#: its communication registry)
_CONTEXT_VARS: tuple[contextvars.ContextVar[Any], ...] = (
    current_session,
    current_publisher,
    parent_id,
    current_registry,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionStatistics:
    requests: InfoStatistics
    jobs: CoordinatorStatistics
    publisher: PublisherStatistics
    #: ``{name: statistics}`` of the channels, queues, buses... created during the run
    communication: dict[str, Any]


class Session:
    """One run of nodes: its request tree, its publisher, its coordinator."""

    def __init__(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
        end_on_error: bool | None = None,
        broadcast_callback: BroadcastCallback | None = None,
        logging_setting: str | None = None,
        log_file: str | os.PathLike[str] | None = None,
        save_state: bool | None = None,
        prompt_injection: bool | None = None,
        execution_mode: str | None = None,
        execution_modes: Mapping[str, ExecutionStrategy] | None = None,
        store: StoreOption = DEFAULT_STORE,
        durability: str = "batch",
        resume: str | None = None,
    ) -> None:
        defaults, default_context = config_defaults()
        explicit: dict[str, Any] = {
            "timeout": timeout,
            "end_on_error": end_on_error,
            "broadcast_callback": broadcast_callback,
            "logging_setting": logging_setting,
            "log_file": log_file,
            "save_state": save_state,
            "prompt_injection": prompt_injection,
        }
        mode = execution_mode if execution_mode is not None else default_execution_mode()
        self.config = dataclasses.replace(
            defaults,
            execution_mode=mode,
            **{key: value for key, value in explicit.items() if value is not None},
        )
        if not self.config.save_state:
            if store is not DEFAULT_STORE and store is not None:
                raise ConfigurationError(
                    "save_state=False turns the run journal off, but store= names one; "
                    "pass only one of them"
                )
            store = None
        chosen_store = check_store_option(store, durability=durability, resume=resume)
        self.run_id = os.urandom(16).hex()
        self.name = name
        #: the run's shared values (``rt.context.get/put``): the ``set_config`` context,
        #: then ``context``
        self.context = RunContext(default_context)
        if context is not None:
            if not isinstance(context, Mapping):
                raise ConfigurationError(
                    f"context must be a mapping of str keys to values, got {type(context).__name__}"
                )
            self.context.update(context)
        #: the run journal (``None`` with ``store=None``); it opens with the session
        self.journal: Journal | None = None
        if chosen_store is not None:
            self.journal = Journal(
                chosen_store,
                run_id=self.run_id,
                name=name,
                durability=durability,
                resume=resume,
            )
        self.publisher = RTPublisher()
        self.coordinator = Coordinator(
            execution_modes={**default_strategies(), **(execution_modes or {})}
        )
        source = "execution_mode" if execution_mode is not None else mode_source()
        if mode not in self.coordinator.execution_modes:
            raise ConfigurationError(
                f"{source} is {mode!r}; choose one of {sorted(self.coordinator.execution_modes)}"
            )
        check_available(self.coordinator.execution_modes[mode], source)
        self.coordinator.start(self.publisher)
        # finished requests past the in-memory window are read back from the journal
        self.info = ExecutionInfo(run_id=self.run_id, name=name, archive=self.journal)
        self.communication = CommRegistry()
        self.state = RTState(
            self.info,
            self.config,
            self.coordinator,
            self.publisher,
            observer=self.journal,
            run_context=self.context,
        )
        self.state.track_tasks(self.config.end_on_error or self.config.timeout is not None)
        if self.config.broadcast_callback is not None:
            self.publisher.subscribe(
                stream_subscriber(self.config.broadcast_callback),
                topics=Streaming,
                name="broadcast_callback",
            )
        level = self.config.log_level
        self._run_log = (
            None
            if level is None
            else RunLog(run_id=self.run_id, name=name, level=level, log_file=self.config.log_file)
        )
        self._status = "unopened"
        self._tokens: tuple[contextvars.Token[Any], ...] = ()
        self._owner: asyncio.Task[Any] | None = None
        self._private_loop: asyncio.AbstractEventLoop | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._closers: list[Closer] = []

    # -- properties --------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""
        return self._status

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the run's bookkeeping lives on (``None`` before the first call)."""
        return self.state.loop

    def statistics(self) -> SessionStatistics:
        return SessionStatistics(
            requests=self.info.statistics(),
            jobs=self.coordinator.state.statistics(),
            publisher=self.publisher.statistics(),
            communication=self.communication.statistics(),
        )

    # -- opening and closing -----------------------------------------------------------------

    def on_close(self, closer: Closer) -> None:
        """Call ``closer()`` (sync or async) when this session closes, after its body and
        before the journal records how the run ended; the last registered runs first.

        For resources that belong to the run. A closer that raises is logged and the others
        still run; it never hides how the run ended.
        """
        if not callable(closer):
            raise ConfigurationError(f"on_close needs a callable, got {closer!r}")
        if self._status == "closed":
            raise SessionStateError(f"session {self.name or self.run_id!r} is closed")
        self._closers.append(closer)

    async def _run_closers(self) -> None:
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("session %s: closer %r failed", self.name or self.run_id, closer)

    def _open(self) -> None:
        if self._status != "unopened":
            raise SessionStateError(
                f"session {self.name or self.run_id!r} is {self._status}; "
                "a Session can be entered only once"
            )
        if self.journal is not None:
            self.journal.open(self.publisher)
        if self._run_log is not None:
            self._run_log.open(self.publisher)
        node_settings.reload()
        self._status = "open"
        values = (self, self.publisher, None, self.communication)
        self._tokens = tuple(
            var.set(value) for var, value in zip(_CONTEXT_VARS, values, strict=True)
        )
        if self.config.timeout is not None:
            self._deadline = time.monotonic() + self.config.timeout

    def _reset_context(self) -> None:
        for var, token in zip(_CONTEXT_VARS, self._tokens, strict=True):
            try:
                var.reset(token)
            except ValueError:  # exited in another context than entered: restore by value
                var.set(None if token.old_value is contextvars.Token.MISSING else token.old_value)

    def _begin_close(self) -> None:
        """Leave the session's context; publish its last words (communication statistics)
        before the publisher closes."""
        self._disarm_timeout()
        self._status = "closed"
        self._reset_context()
        if len(self.communication):
            self.communication.publish_statistics(self.publisher)

    def _close_journal(self, exc: BaseException | None) -> StoreError | None:
        """Record how the run ended (after the publisher closed: every message is in).
        Returns the journal's first failed write, if any (already logged when it failed)."""
        status, error = run_outcome(exc, timed_out=self._timed_out, ended_by=self.state.ended_by)
        if self._run_log is not None:
            self._run_log.close(status, error)
        if self.journal is None:
            return None
        self.state.detach_observer()
        return self.journal.close(status, error)

    @staticmethod
    def _report_lost(lost: StoreError | None, exc: BaseException | None) -> None:
        """Raise the journal's failure when the body did not raise something else."""
        if lost is not None and exc is None:
            raise lost

    def _arm_timeout(
        self, loop: asyncio.AbstractEventLoop, owner: asyncio.Task[Any] | None
    ) -> None:
        self._owner = owner
        if self._deadline is not None:
            delay = max(0.0, self._deadline - time.monotonic())
            self._timer = loop.call_later(delay, self._expire)

    def _disarm_timeout(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timed_out = True
        error = SessionTimeoutError(
            f"session {self.name or self.run_id!r} exceeded its timeout of {self.config.timeout}s"
        )
        self.state.end_run(error)
        if self._owner is not None and not self._owner.done():
            self._owner.cancel()

    def _translate(self, exc_type: type[BaseException] | None, exc: BaseException | None) -> None:
        """Raise the error that explains how the run ended, if the body's exit hides it."""
        owner = self._owner
        cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        if self._timed_out and (cancelled or exc is None or isinstance(exc, SessionTimeoutError)):
            if cancelled and owner is not None and hasattr(owner, "uncancel"):
                owner.uncancel()
            raise SessionTimeoutError(
                f"session {self.name or self.run_id!r} exceeded its timeout of "
                f"{self.config.timeout}s; running requests were cancelled"
            ) from None
        ended_by = self.state.ended_by
        if ended_by is not None and not self._timed_out and (cancelled or exc is None):
            if (
                cancelled
                and owner is not None
                and owner in self.state.cancelled_tasks
                and hasattr(owner, "uncancel")
            ):
                owner.uncancel()
            raise ended_by

    async def __aenter__(self) -> Session:
        loop = asyncio.get_running_loop()
        self._open()
        self.state.loop = self.publisher.loop = loop
        self._arm_timeout(loop, asyncio.current_task())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._begin_close()
        try:
            if self._closers:
                await self._run_closers()
            await self.publisher.aclose()
        finally:
            lost = self._close_journal(exc)
        self._translate(exc_type, exc)
        self._report_lost(lost, exc)

    def __enter__(self) -> Session:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._open()
        if loop is not None:
            self.state.loop = self.publisher.loop = loop
            self._arm_timeout(loop, asyncio.current_task())
        else:
            self._private_loop = asyncio.new_event_loop()
            self.state.loop = self.publisher.loop = self._private_loop
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._begin_close()
        private = self._private_loop
        lost: StoreError | None = None
        if private is not None:
            try:
                try:
                    if self._closers:
                        private.run_until_complete(self._run_closers())
                    private.run_until_complete(self.publisher.aclose())
                finally:
                    lost = self._close_journal(exc)
                private.run_until_complete(private.shutdown_asyncgens())
                private.run_until_complete(private.shutdown_default_executor())
            finally:
                private.close()
        else:
            closing = asyncio.get_running_loop().create_task(self._close_in_background())
            _background.add(closing)
            closing.add_done_callback(_background.discard)
            closing.add_done_callback(lambda _: self._close_journal(exc))
        self._translate(exc_type, exc)
        self._report_lost(lost, exc)

    async def _close_in_background(self) -> None:
        if self._closers:
            await self._run_closers()
        await self.publisher.aclose()

    # -- running from synchronous code -------------------------------------------------------

    def run_sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to completion for synchronous code (``rt.call_sync`` uses this).

        Works inside ``with Session()`` (on its private loop) and from threads that are not
        running the session's loop (the coroutine is sent to that loop).
        """
        loop = self.state.loop
        if self._status != "open":
            coroutine.close()
            raise SessionStateError(f"session {self.name or self.run_id!r} is {self._status}")
        if loop is not None and loop.is_running():
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result()
        private = self._private_loop
        if private is None or loop is not private:
            coroutine.close()
            raise ContextError("this session's event loop is not running; use `await rt.call(...)`")
        if self._timed_out:
            coroutine.close()
            self._translate(None, None)
        task = private.create_task(coroutine)
        self._arm_timeout(private, task)
        try:
            return private.run_until_complete(task)
        except asyncio.CancelledError:
            self._translate(asyncio.CancelledError, None)
            raise
        finally:
            self._disarm_timeout()
            self._owner = None

    def __repr__(self) -> str:
        return f"<Session {self.name or self.run_id!r} {self._status}, {len(self.info)} requests>"
