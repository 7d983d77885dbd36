"""``Session``: the context every call runs in.

Use it as ``async with rt.Session(...)`` in async code, or ``with rt.Session(...)`` around
``rt.call_sync`` in plain code (the session then owns a private event loop, driven by
whichever thread waits for it: see :mod:`runtree.runtime.sync` and
:mod:`runtree.runtime.driver`). Options:

* ``timeout``: seconds for the whole run; past it every running request is cancelled and
  the session raises :class:`~runtree.errors.SessionTimeoutError`. Work that cannot be
  interrupted (a synchronous body in a thread) is not recorded ``cancelled``: its request
  ends when the body really ends (see :meth:`runtree.state.state.RTState.settle`).
* ``end_on_error``: the first failed request ends the run: ``FatalFailure`` is published,
  other running requests are cancelled, new calls raise ``RunEndedError`` and the session
  re-raises the failure on exit even if the body caught it.
* ``broadcast_callback`` (or, by its newer name, ``stream_callback``): receives every
  ``rt.broadcast(item)`` item (sync or async callback, delivered in order, isolated from the
  run).
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
* ``max_call_depth``: how deep calls may nest (default 100) before a call raises
  :class:`~runtree.errors.CallDepthError`.
* ``policy_clock``: where node policies (:class:`~runtree.policy.Policy`) get the time: a
  :class:`~runtree.policy.PolicyClock` (tests pass one that needs no real waiting). A
  journaled run keeps ``CachePolicy(persist=True)`` outputs in its journal's file.

The first argument is ``context``, the values the run context starts with; an
:class:`~runtree.state.config.ExecutorConfig` there instead gives the options at once
(keywords still win; see :mod:`runtree.runtime.options`).

Inside the session, ``await rt.call(node, ...)`` (or ``rt.call_sync``) runs a node;
``await session.run(node, ...)`` and ``session.run_sync(node, ...)`` run one as a root call
and return :attr:`Session.info`.

Resources that belong to the run (an MCP connection opened in it, for example) register a
closer with :meth:`Session.on_close`; they are closed when the session closes.

Ctrl-C while a session is open in the main thread ends the run: running requests are
cancelled and recorded, one line says how to resume, and ``KeyboardInterrupt`` is raised
(see :mod:`runtree.runtime.interrupt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any, TypeVar, overload

from runtree.comm.registry import CommRegistry, current_registry
from runtree.context.central import current_session, parent_id
from runtree.context.store import RunContext
from runtree.errors import (
    ConfigurationError,
    RunEndedError,
    SessionStateError,
    SessionTimeoutError,
)
from runtree.execution.coordinator import Coordinator, CoordinatorStatistics
from runtree.execution.execution_strategy import ExecutionStrategy
from runtree.nodes import settings as node_settings
from runtree.policy.clock import PolicyClock
from runtree.pubsub.messages import Streaming
from runtree.pubsub.publisher import PublisherStatistics, RTPublisher, current_publisher
from runtree.pubsub.subscriber import stream_subscriber
from runtree.runtime import sync
from runtree.runtime.closers import Closer, Closers
from runtree.runtime.driver import LoopDriver
from runtree.runtime.interrupt import INTERRUPTED, InterruptGuard, resume_hint
from runtree.runtime.options import session_options
from runtree.runtime.run_log import RunLog
from runtree.runtime.strategies import check_available, default_strategies
from runtree.state.config import ExecutorConfig
from runtree.state.info import ExecutionInfo, InfoStatistics, RequestRecord
from runtree.state.policy_run import PolicyStatistics
from runtree.state.state import RTState
from runtree.store.cache import JournalCacheBackend
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
    #: the calls that ran under a node policy: attempts, retries, timeouts, cache hits, limits
    policies: PolicyStatistics


class Session:
    """One run of nodes: its request tree, its publisher, its coordinator."""

    #: seconds a closing session waits for work that went on after its caller was cancelled
    #: (a thread-mode node between two awaits, a synchronous body) to end and be recorded
    settle_timeout: float = 0.5

    def __init__(
        self,
        context: Mapping[str, Any] | ExecutorConfig | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
        end_on_error: bool | None = None,
        broadcast_callback: BroadcastCallback | None = None,
        stream_callback: BroadcastCallback | None = None,
        logging_setting: str | None = None,
        log_file: str | os.PathLike[str] | None = None,
        save_state: bool | None = None,
        prompt_injection: bool | None = None,
        execution_mode: str | None = None,
        execution_modes: Mapping[str, ExecutionStrategy] | None = None,
        store: StoreOption = DEFAULT_STORE,
        durability: str = "batch",
        resume: str | None = None,
        max_call_depth: int | None = None,
        policy_clock: PolicyClock | None = None,
    ) -> None:
        options = session_options(
            context,
            explicit={
                "timeout": timeout,
                "end_on_error": end_on_error,
                "broadcast_callback": broadcast_callback,
                "logging_setting": logging_setting,
                "log_file": log_file,
                "save_state": save_state,
                "prompt_injection": prompt_injection,
            },
            execution_mode=execution_mode,
            max_call_depth=max_call_depth,
            stream_callback=stream_callback,
        )
        self.config = options.config
        mode = self.config.execution_mode
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
        self.context = RunContext(options.context)
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
        source = options.mode_source
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
            policy_clock=policy_clock,
            cache_backend=None if self.journal is None else JournalCacheBackend(self.journal),
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
        #: opened by a call made outside any session (see :func:`open_session`)
        self.temporary = False
        self._tokens: tuple[contextvars.Token[Any], ...] = ()
        self._owner: asyncio.Task[Any] | None = None
        #: the private loop of a synchronous session (``with``), else ``None``
        self._driver: LoopDriver | None = None
        self._guard: InterruptGuard | None = None
        self._interrupted = False
        self._ended_by_interrupt = False
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._closers = Closers(name or self.run_id)

    # -- properties --------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``"unopened"``, ``"open"`` or ``"closed"``."""
        return self._status

    @property
    def label(self) -> str:
        """How messages name the run: its name, else its id."""
        return self.name or self.run_id

    @property
    def session_id(self) -> str:
        """The run's id (:attr:`run_id`), under the name railtracks code reads."""
        return self.run_id

    identifier = _identifier = session_id

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C ended this run (the session then printed how to resume it)."""
        return self._ended_by_interrupt

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
            policies=self.state.policies.statistics(),
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
            raise SessionStateError(f"session {self.label!r} is closed")
        self._closers.add(closer)

    def _open(self) -> None:
        if self._status != "unopened":
            raise SessionStateError(
                f"session {self.label!r} is {self._status}; a Session can be entered only once"
            )
        if self.journal is not None:
            self.journal.open(self.publisher)
        if self._run_log is not None:
            self._run_log.open(self.publisher)
        node_settings.reload()
        self._status = "open"
        self._tokens = self._set_context()
        if self.config.timeout is not None:
            self._deadline = time.monotonic() + self.config.timeout

    def _set_context(self) -> tuple[contextvars.Token[Any], ...]:
        values = (self, self.publisher, None, self.communication)
        return tuple(var.set(value) for var, value in zip(_CONTEXT_VARS, values, strict=True))

    def _reset_context(self, tokens: tuple[contextvars.Token[Any], ...]) -> None:
        for var, token in zip(_CONTEXT_VARS, tokens, strict=True):
            try:
                var.reset(token)
            except ValueError:  # exited in another context than entered: restore by value
                var.set(None if token.old_value is contextvars.Token.MISSING else token.old_value)

    @contextlib.contextmanager
    def attach(self) -> Iterator[Session]:
        """Make the calls of this thread part of this session, inside the ``with`` block.

        Threads do not inherit a session: a thread started inside ``with rt.Session()``
        (``threading.Thread``, a ``ThreadPoolExecutor``) enters ``with session.attach():``
        before it calls nodes; its calls are then root requests of this run. (Running the
        thread's function in ``contextvars.copy_context().run`` does the same.)
        """
        if self._status != "open":
            raise SessionStateError(
                f"session {self.label!r} is {self._status}; attach() needs it open"
            )
        tokens = self._set_context()
        try:
            yield self
        finally:
            self._reset_context(tokens)

    def _begin_close(self) -> None:
        """Leave the session's context; publish its last words (communication statistics)
        before the publisher closes."""
        self._disarm_timeout()
        self._status = "closed"
        sync.forget(self)
        self._reset_context(self._tokens)
        if len(self.communication):
            self.communication.publish_statistics(self.publisher)

    async def _wind_down(self, *, interrupted: bool) -> None:
        """Record how abandoned work ended, then deliver what subscribers still hold."""
        self._warn_left(await self.state.settle(self.settle_timeout, interrupted=interrupted))
        await self.publisher.aclose()

    def _warn_left(self, left: list[RequestRecord]) -> None:
        for record in left:
            logger.warning(
                "request %s (%s) was still running when session %r closed; a synchronous body "
                "cannot be interrupted, so its outcome is not recorded",
                record.request_id,
                record.node_name,
                self.label,
            )

    def _close_journal(self, exc: BaseException | None) -> StoreError | None:
        """Record how the run ended (after the publisher closed: every message is in).
        Returns the journal's first failed write, if any (already logged when it failed)."""
        status, error = run_outcome(exc, timed_out=self._timed_out, ended_by=self.state.ended_by)
        if self._run_log is not None:
            self._run_log.close(status, error)
        self.state.policies.close()  # (its persistent caches' connection to the file)
        if self.journal is None:
            return None
        self.state.detach_observer()
        return self.journal.close(status, error)

    @staticmethod
    def _report_lost(lost: StoreError | None, exc: BaseException | None) -> None:
        """Raise the journal's failure when the body did not raise something else."""
        if lost is not None and exc is None:
            raise lost

    def _end_interrupted(self) -> None:
        """After Ctrl-C: say how to resume the run (if it is journaled)."""
        self._ended_by_interrupt = True
        if self.journal is not None:
            resume_hint(self.run_id)

    # -- timeouts and interrupts -------------------------------------------------------------

    def _arm_timeout(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._deadline is not None:
            delay = max(0.0, self._deadline - time.monotonic())
            self._timer = loop.call_later(delay, self._expire)

    def _disarm_timeout(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """On the session's loop, at the deadline: end the run and cancel what runs."""
        if self._timed_out:
            return
        self._timed_out = True
        error = SessionTimeoutError(
            f"session {self.label!r} exceeded its timeout of {self.config.timeout}s"
        )
        self.state.end_run(error)
        if self._owner is not None and not self._owner.done():
            self._owner.cancel()

    def _interrupt_async(self, frame: FrameType | None) -> bool:
        """First Ctrl-C in an async session (main thread, between two steps of its loop)."""
        loop = self.state.loop
        if self._status != "open" or loop is None or loop.is_closed():
            return False
        self._interrupted = True
        loop.call_soon_threadsafe(self._cancel_owner)
        return True

    def _cancel_owner(self) -> None:
        if self._owner is not None and not self._owner.done():
            self._owner.cancel()

    def _translate(self, exc_type: type[BaseException] | None, exc: BaseException | None) -> None:
        """Raise the error that explains how the run ended, if the body's exit hides it."""
        owner = self._owner
        cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        if self._interrupted and (cancelled or exc is None):
            if self._driver is None or threading.get_ident() == sync.MAIN_THREAD:
                raise KeyboardInterrupt
            raise RunEndedError(f"session {self.label!r} was interrupted (Ctrl-C)") from None
        if self._timed_out and (cancelled or exc is None or isinstance(exc, SessionTimeoutError)):
            if cancelled and owner is not None and hasattr(owner, "uncancel"):
                owner.uncancel()
            raise SessionTimeoutError(
                f"session {self.label!r} exceeded its timeout of "
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
        if cancelled and self._driver is not None and self._status == "closed":
            raise SessionStateError(
                f"session {self.label!r} closed while this call was running"
            ) from None

    # -- async with ----------------------------------------------------------------------------

    async def __aenter__(self) -> Session:
        loop = asyncio.get_running_loop()
        self._open()
        self.state.loop = self.publisher.home_loop = loop
        self._owner = asyncio.current_task()
        self._arm_timeout(loop)
        self._guard = InterruptGuard(self._interrupt_async).install(loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._begin_close()
        interrupted = self._interrupted or isinstance(exc, KeyboardInterrupt)
        lost: StoreError | None = None
        try:
            try:
                if self._closers:
                    await self._closers.run()
                await self._wind_down(interrupted=interrupted)
            finally:
                lost = self._close_journal(INTERRUPTED if self._interrupted else exc)
        finally:
            if self._guard is not None:
                self._guard.uninstall()
        if interrupted:
            self._end_interrupted()
        self._translate(exc_type, exc)
        self._report_lost(lost, exc)

    # -- with (synchronous code: see runtree.runtime.sync) -------------------------------------

    def __enter__(self) -> Session:
        return sync.enter_sync(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Finish the run before returning: everything is delivered and written, also when
        the ``with`` block sits inside async code."""
        sync.exit_sync(self, exc_type, exc)

    # -- running from synchronous code -------------------------------------------------------

    async def run(self, node: Any, /, *args: Any, **kwargs: Any) -> ExecutionInfo:
        """Run ``node(*args, **kwargs)`` as a root call of this open session and return
        :attr:`info` (its answer is the node's output). The node's exceptions propagate."""
        if self._status != "open":
            raise SessionStateError(
                f"session {self.label!r} is {self._status}; run() needs it open "
                "(inside `with` or `async with`)"
            )
        await self._root_call(node, args, kwargs)
        return self.info

    async def _root_call(self, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call ``node`` as a root request, with this session as the current one."""
        tokens = self._set_context()
        try:
            return await self.state.call_nodes(None, None, node, args, kwargs)
        finally:
            self._reset_context(tokens)

    @overload
    def run_sync(self, target: Coroutine[Any, Any, T], /) -> T: ...
    @overload
    def run_sync(
        self, target: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> ExecutionInfo: ...

    def run_sync(self, target: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Blocking form of :meth:`run` for code without a running event loop:
        ``run_sync(node, *args, **kwargs)`` runs a root call and returns :attr:`info`.

        ``run_sync(coroutine)`` runs the coroutine to completion and returns its result
        (``rt.call_sync`` uses this). Works in any thread that does not run an event loop:
        inside ``with Session()`` the calling thread drives the session's private loop (or
        waits beside the thread that does); with ``async with Session()`` the coroutine is
        sent to the session's loop.
        """
        return sync.run_sync(self, target, args, kwargs)

    def __repr__(self) -> str:
        return f"<Session {self.label!r} {self._status}, {len(self.info)} requests>"
