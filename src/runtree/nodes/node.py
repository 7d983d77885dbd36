"""The :class:`Node` base class: one small, composable unit of async work.

A node is constructed with its inputs and run with ``await node.invoke()``. A synchronous
``invoke`` is wrapped at class creation so it runs in a worker thread (see
:mod:`runtree._threads`: nested synchronous calls cannot exhaust those threads) and never
blocks the event loop. A subclass without ``invoke`` cannot be instantiated.
``tracked_invoke`` adds timing and debug details and emits the ``node.*`` events on the
publisher of the current session, if there is one.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import inspect
import os
import traceback
from collections.abc import Awaitable, Mapping
from time import perf_counter
from types import CoroutineType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from runtree._async import is_async_callable
from runtree._threads import run_in_thread
from runtree.errors import NodeDefinitionError, NodeInvocationError
from runtree.nodes.details import DebugDetails, LatencyDetails
from runtree.nodes.settings import node_debug_enabled
from runtree.policy.policy import Policy
from runtree.pubsub.messages import NodeFailed, NodeFinished, NodeStarted, summarise
from runtree.pubsub.publisher import current_publisher

if TYPE_CHECKING:
    from typing_extensions import Self

    from runtree.llm.tools import Tool

__all__ = [
    "Node",
    "ToolCallable",
    "abandon",
    "current_node_id",
    "public_attributes",
    "take_abandoned",
]

T = TypeVar("T")

#: ``uuid`` of the node whose ``tracked_invoke`` is running here (the parent of calls made now).
current_node_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "runtree_current_node_id", default=None
)

_CLASSMETHODS = ("name", "tool_info", "prepare_tool")


class ToolCallable:
    """Mix-in that lets a node advertise itself as an LLM tool.

    Override :meth:`tool_info` to describe the tool; :meth:`prepare_tool` turns the
    arguments an LLM sent into a node instance (by default ``cls(**params)``, after checking
    the names against ``tool_info()``).
    """

    @classmethod
    def tool_info(cls) -> Tool:
        """Describe this node as a tool. Nodes that are tools override this."""
        raise NodeDefinitionError(
            f"{cls.__qualname__} is not a tool: define a `tool_info` classmethod returning "
            "runtree.llm.tools.Tool (function nodes get one from their signature)"
        )

    @classmethod
    def prepare_tool(cls, params: Mapping[str, Any]) -> Self:
        """Build an instance from the arguments of a tool call."""
        if not isinstance(params, Mapping):
            raise NodeInvocationError(
                f"tool {cls.__qualname__}: arguments must be a mapping, got {type(params).__name__}"
            )
        info = cls.tool_info()
        known = {p.name for p in info.parameters}
        unknown = sorted(set(params) - known)
        if unknown:
            raise NodeInvocationError(
                f"tool {info.name!r}: unexpected argument(s) {unknown}; it takes {sorted(known)}"
            )
        missing = sorted(p.name for p in info.parameters if p.required and p.name not in params)
        if missing:
            raise NodeInvocationError(f"tool {info.name!r}: missing required argument(s) {missing}")
        return cls(**params)


def public_attributes(node: object) -> dict[str, Any]:
    """The node's public instance attributes (what it was built with), minus bookkeeping."""
    return {
        key: value
        for key, value in vars(node).items()
        if not key.startswith("_") and key != "details"
    }


_ABANDONED = "_runtree_abandoned"


def abandon(node: object, work: concurrent.futures.Future[Any]) -> None:
    """Note that ``node``'s work could not be stopped when its caller was cancelled: it goes
    on, and ``work`` gives its true outcome (the session records that, not "cancelled")."""
    node.__dict__[_ABANDONED] = work


def take_abandoned(node: object) -> concurrent.futures.Future[Any] | None:
    """The work :func:`abandon` noted for ``node`` (forgotten here), or ``None``."""
    work: concurrent.futures.Future[Any] | None = node.__dict__.pop(_ABANDONED, None)
    return work


def _wrap_sync_invoke(func: Any) -> Any:
    @functools.wraps(func)
    async def invoke(self: Any) -> Any:
        return await run_in_thread(func, self, on_abandon=functools.partial(abandon, self))

    invoke.__runtree_sync__ = func  # type: ignore[attr-defined]
    return invoke


def _new_abstract(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
    """``__new__`` of a node class without ``invoke`` (and of its subclasses)."""
    if cls.invoke is Node.invoke:
        raise NodeDefinitionError(
            f"{cls.__qualname__} cannot be instantiated: it does not implement invoke(); "
            "define `async def invoke(self)` (or a sync `def invoke(self)`)"
        )
    return object.__new__(cls)


def _check_class(cls: type) -> None:
    where = cls.__qualname__
    for attr in _CLASSMETHODS:
        raw = cls.__dict__.get(attr)
        if raw is not None and not isinstance(raw, classmethod):
            raise NodeDefinitionError(
                f"{where}.{attr} must be a @classmethod (got {type(raw).__name__}); "
                f"write `@classmethod\\n    def {attr}(cls, ...)`"
            )
    mode = cls.__dict__.get("execution_mode")
    if mode is not None and not isinstance(mode, str):
        raise NodeDefinitionError(f"{where}.execution_mode must be a string, got {mode!r}")
    policy = cls.__dict__.get("policy")
    if policy is not None and not isinstance(policy, Policy):
        raise NodeDefinitionError(
            f"{where}.policy must be a runtree.Policy (e.g. `policy = rt.Policy(retry=3)`), "
            f"got {policy!r}"
        )
    invoke = cls.__dict__.get("invoke")
    if invoke is None:
        return
    if isinstance(invoke, (classmethod, staticmethod)) or not callable(invoke):
        raise NodeDefinitionError(
            f"{where}.invoke must be a plain method `def invoke(self)` or `async def invoke(self)`"
        )
    params = list(inspect.signature(invoke).parameters.values())[1:]
    required = [
        p.name
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise NodeDefinitionError(
            f"{where}.invoke takes required argument(s) {required}; a node receives its inputs "
            "in __init__ and invoke takes only self"
        )


class Node(ToolCallable, Generic[T]):
    """Base class of every node.

    Subclasses take their inputs in ``__init__`` (calling ``super().__init__()``) and
    implement ``invoke`` (async, or sync to run in a worker thread). ``execution_mode``
    may pin the strategy the node runs on (``"async"``, ``"thread"``, ``"process"``).
    ``policy`` (a :class:`runtree.Policy`) gives every call of the node retries, a timeout,
    limits or a cache (see ``docs/policies.md``).
    """

    execution_mode: ClassVar[str | None] = None
    policy: ClassVar[Policy | None] = None
    details: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_class(cls)
        invoke = cls.__dict__.get("invoke")
        if invoke is not None and not is_async_callable(invoke):
            cls.invoke = _wrap_sync_invoke(invoke)  # type: ignore[method-assign]
        if cls.invoke is Node.invoke and "__new__" not in cls.__dict__:
            # abstract: refuse instances (concrete subclasses pass through _new_abstract)
            cls.__new__ = _new_abstract  # type: ignore[method-assign]

    def __init__(self) -> None:
        self.details = {}

    @classmethod
    def name(cls) -> str:
        """The node's display name (the class name unless overridden)."""
        return cls.__name__

    @property
    def uuid(self) -> str:
        """Identity of this node instance; the request id when it runs in a session."""
        value: str | None = self.__dict__.get("_uuid")
        if value is None:
            value = self.__dict__["_uuid"] = os.urandom(16).hex()
        return value

    @uuid.setter
    def uuid(self, value: str) -> None:
        self.__dict__["_uuid"] = value

    def invoke(self) -> T | Awaitable[T]:
        """Do the node's work. Subclasses must override this, with ``async def invoke`` or a
        sync ``def invoke`` (run in a worker thread)."""
        raise NodeDefinitionError(
            f"{type(self).__qualname__} does not implement invoke(); define "
            "`async def invoke(self)` (or a sync `def invoke(self)`)"
        )

    async def tracked_invoke(self) -> T:
        """Run :meth:`invoke` and record ``details["latency"]`` (and ``details["debug"]``).

        While ``invoke`` runs, :data:`current_node_id` is this node's ``uuid``, so calls it
        makes are recorded as its children. Exceptions propagate unchanged; the details still
        record the latency, and
        ``details["debug"].exception_type`` names the exception. ``details["debug"]`` is
        filled on every call when ``RT_NODE_DEBUG=true`` (verbose: parameters, output,
        traceback) and on failure otherwise. Emits ``node.started``/``node.finished``/
        ``node.failed`` on the publisher of the current session.
        """
        details = self.__dict__.get("details")
        if details is None:
            details = self.__dict__["details"] = {}
        publisher = current_publisher.get()
        if publisher is not None and publisher.listening and publisher.wants(NodeStarted):
            publisher.publish(
                NodeStarted(uuid=self.uuid, name=self.name(), params=public_attributes(self))
            )
        token = current_node_id.set(self.__dict__.get("_uuid") or self.uuid)
        start = perf_counter()
        try:
            pending = self.invoke()
            if type(pending) is CoroutineType or inspect.isawaitable(pending):
                result: T = await pending
            else:  # an invoke set on the instance, not wrapped at class creation
                result = pending
        except BaseException as exc:
            elapsed = perf_counter() - start
            current_node_id.reset(token)
            details["latency"] = LatencyDetails(total_time=elapsed)
            details["debug"] = self._debug_details(exc=exc)
            if publisher is not None and publisher.listening and publisher.wants(NodeFailed):
                publisher.publish(
                    NodeFailed(
                        uuid=self.uuid,
                        latency_ms=elapsed * 1000.0,
                        exception_type=type(exc).__name__,
                    )
                )
            raise
        elapsed = perf_counter() - start
        current_node_id.reset(token)
        details["latency"] = LatencyDetails(total_time=elapsed)
        if node_debug_enabled():
            details["debug"] = self._debug_details(output=result)
        if publisher is not None and publisher.listening and publisher.wants(NodeFinished):
            publisher.publish(
                NodeFinished(
                    uuid=self.uuid, latency_ms=elapsed * 1000.0, output_summary=summarise(result)
                )
            )
        return result

    def _debug_details(
        self, *, output: object = None, exc: BaseException | None = None
    ) -> DebugDetails:
        if not node_debug_enabled():
            return DebugDetails(node_name=self.name(), exception_type=type(exc).__name__)
        params = {key: summarise(value) for key, value in public_attributes(self).items()}
        if exc is None:
            return DebugDetails(
                node_name=self.name(), verbose=True, params=params, output=summarise(output)
            )
        return DebugDetails(
            node_name=self.name(),
            verbose=True,
            params=params,
            exception_type=type(exc).__name__,
            exception_message=str(exc),
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} node {self.name()!r}>"
