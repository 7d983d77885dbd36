"""Running a whole workflow as one call: the ``session`` decorator and ``Flow``.

* ``@rt.session`` (or ``@rt.session(name=..., timeout=..., ...)``) opens a session around
  each call of the decorated function, sync or async, and returns ``(result, session)``;
  ``with rt.session(...) as run:`` (or ``async with``) opens one session, like
  ``rt.Session(...)``.
* ``rt.Flow(name, entry_point, **options)`` packages an entry point with its session
  options; ``flow.invoke(*args)`` (blocking) and ``await flow.ainvoke(*args)`` run it as the
  root call of a fresh session and return its output; ``flow.update_context(values)`` is a
  copy whose runs start with more context.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from runtree._async import is_async_callable
from runtree.errors import ConfigurationError
from runtree.interaction.call import call, call_sync
from runtree.runtime.session import Session

__all__ = ["Flow", "SessionOptions", "session"]

P = ParamSpec("P")
T = TypeVar("T")


@overload
def session(  # type: ignore[overload-overlap]
    func: Callable[P, Coroutine[Any, Any, T]], /
) -> Callable[P, Coroutine[Any, Any, tuple[T, Session]]]: ...
@overload
def session(func: Callable[P, T], /) -> Callable[P, tuple[T, Session]]: ...
@overload
def session(func: None = None, /, **options: Any) -> SessionOptions: ...


def session(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Open a session around each call of the decorated function.

    The decorated function returns ``(result, session)``: the function's result and the
    session it ran in (its run tree, statistics and run id). ``options`` are
    :class:`Session` options (``name``, ``timeout``, ``context``, ``end_on_error``...). An
    async function gets ``async with Session(...)``, a sync one ``with Session(...)`` (so it
    can use ``rt.call_sync``). ``rt.session(**options)`` is also a context manager:
    ``with rt.session(timeout=30) as run:`` is ``with rt.Session(timeout=30) as run:``.
    """
    if func is None:
        Session(**options)  # check the options now, not at the first call
        return SessionOptions(options)
    if options:
        raise ConfigurationError("pass session options as @rt.session(...) keywords")
    return _decorate(func, options={})


class SessionOptions:
    """What ``rt.session(**options)`` returns: a decorator, and a context manager (sync or
    async) that opens one :class:`Session` with the options."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self._opened: list[Session] = []

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, func: Callable[P, Coroutine[Any, Any, T]], /
    ) -> Callable[P, Coroutine[Any, Any, tuple[T, Session]]]: ...
    @overload
    def __call__(self, func: Callable[P, T], /) -> Callable[P, tuple[T, Session]]: ...

    def __call__(self, func: Callable[..., Any], /) -> Any:
        return _decorate(func, options=self.options)

    def __enter__(self) -> Session:
        opened = Session(**self.options)
        self._opened.append(opened)
        return opened.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._opened.pop().__exit__(*exc)

    async def __aenter__(self) -> Session:
        opened = Session(**self.options)
        self._opened.append(opened)
        return await opened.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await self._opened.pop().__aexit__(*exc)


def _decorate(func: Callable[..., Any], *, options: dict[str, Any]) -> Callable[..., Any]:
    if not callable(func):
        raise ConfigurationError(f"@rt.session decorates a function, got {func!r}")
    if is_async_callable(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> tuple[Any, Session]:
            async with Session(**options) as opened:
                result = await func(*args, **kwargs)
            return result, opened

        return run_async

    @functools.wraps(func)
    def run_sync(*args: Any, **kwargs: Any) -> tuple[Any, Session]:
        with Session(**options) as opened:
            result = func(*args, **kwargs)
        return result, opened

    return run_sync


class Flow(Generic[P, T]):
    """A named workflow: an entry point (a node class or function) and its session options.

    Each :meth:`invoke` / :meth:`ainvoke` is one run (one session) whose root call is the
    entry point; the session of the latest run is :attr:`last_session`.
    """

    def __init__(
        self,
        name: str,
        entry_point: Callable[P, Awaitable[T]] | Callable[P, T],
        **options: Any,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"a Flow needs a name, got {name!r}")
        if not callable(entry_point):
            raise ConfigurationError(
                f"Flow {name!r}: entry_point must be a node class or a function, "
                f"got {entry_point!r}"
            )
        if "name" in options:
            raise ConfigurationError(
                f"Flow {name!r}: the name is given once, as the first argument"
            )
        Session(name=name, **options)  # check the options now
        self.name = name
        self.entry_point = entry_point
        self.options = options
        self.last_session: Session | None = None

    async def ainvoke(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the flow once in a new session and return the entry point's output."""
        async with Session(name=self.name, **self.options) as opened:
            self.last_session = opened
            entry: Any = self.entry_point  # a node class or a function: checked at run time
            result: T = await call(entry, *args, **kwargs)
        return result

    def invoke(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Blocking form of :meth:`ainvoke`.

        Called where an event loop runs in this thread (a notebook cell, async code), the run
        gets a loop of its own in another thread and this thread waits for it, so the loop
        that called stands still meanwhile: in async code, ``await flow.ainvoke(...)``."""
        if asyncio._get_running_loop() is not None:
            with concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="runtree-flow"
            ) as aside:
                return aside.submit(asyncio.run, self.ainvoke(*args, **kwargs)).result()
        with Session(name=self.name, **self.options) as opened:
            self.last_session = opened
            entry: Any = self.entry_point
            result: T = call_sync(entry, *args, **kwargs)
        return result

    def update_context(self, values: Mapping[str, Any]) -> Flow[P, T]:
        """A copy of this flow whose runs start with this flow's ``context`` updated with
        ``values``; this flow is unchanged."""
        current = self.options.get("context")
        if not isinstance(values, Mapping) or not isinstance(current, (Mapping, type(None))):
            raise ConfigurationError(
                f"Flow {self.name!r}: update_context needs a mapping of str keys to values "
                f"(and a flow whose context is one), got {values!r}"
            )
        context = {**(current or {}), **values}
        return Flow(self.name, self.entry_point, **{**self.options, "context": context})

    def equality_hash(self) -> str:
        """A stable id of this flow, for grouping its runs: the same for every ``Flow`` of this
        name whatever its entry point and options, in every process."""
        return hashlib.sha256(self.name.encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        target = getattr(self.entry_point, "__qualname__", self.entry_point)
        return f"<Flow {self.name!r} entry_point={target!r}>"
