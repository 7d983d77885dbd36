"""What crosses between a session and a remote worker: frames, values, outcomes, errors.

* **Frames**: a 17-byte header (body length, kind, task id, message id) and a body, so a
  reader always knows where a message ends and whom it is for, even when its body cannot
  be loaded.
* **Values** travel with cloudpickle: classes and functions that can be imported by name
  travel by reference (the decision is cached per object), the others (defined in
  ``__main__``, in a notebook, built at run time) by value. Function-node classes travel
  as their function.
* **Outcomes** (a result, an error, a cancellation) never fail to pack: a value that does
  not pickle becomes an :class:`~runtree.errors.ExecutionError` naming the node, or, for a
  value only recorded here, an :class:`Unsendable` description of it.
* **Errors** keep their type, message and remote traceback text (:class:`ErrorInfo`): the
  original exception is rebuilt when it can be (even when its ``__init__`` takes other
  arguments than its ``args``), else a :meth:`RemoteError.for_type
  <runtree.errors.RemoteError.for_type>` subclass with the original type name and message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import io
import pickle
import struct
import traceback
import types
import weakref
from collections.abc import Iterator
from typing import Any

from runtree._json import safe_str, type_name
from runtree.errors import ExecutionError, RemoteError

__all__ = [
    "HEADER",
    "ErrorInfo",
    "FrameBuffer",
    "Unsendable",
    "capture_error",
    "dumps",
    "frame",
    "pack_done",
    "pack_outcome",
    "described",
    "rebuild_error",
    "unpack_done",
    "unpack_outcome",
]

#: body length, kind, task id, message id
HEADER = struct.Struct("!QBII")
_TRACEBACK_LIMIT = 64  # frames per exception in the remote traceback text
_MAX_TRACEBACK_CHARS = 50_000

# -- frames --------------------------------------------------------------------------------


def frame(kind: int, task_id: int, msg_id: int, body: bytes) -> bytes:
    """One message, ready to write."""
    return HEADER.pack(len(body), kind, task_id, msg_id) + body


class FrameBuffer:
    """Collects bytes as they arrive and yields complete ``(kind, task, msg, body)`` frames."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> Iterator[tuple[int, int, int, bytes]]:
        data = self._data
        data += chunk
        size = HEADER.size
        start = 0
        while len(data) - start >= size:
            length, kind, task_id, msg_id = HEADER.unpack_from(data, start)
            end = start + size + length
            if len(data) < end:
                break
            yield kind, task_id, msg_id, bytes(data[start + size : end])
            start = end
        if start:
            del data[:start]


# -- values ----------------------------------------------------------------------------------

#: class or function -> True (by name), False (by value) or a reduce tuple
_by_reference: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _function_of(node_class: type) -> Any:
    """The function a function-node class was made from, when ``resolve_node`` gives back
    this very class for it (so the receiver can rebuild it from the function), else None."""
    from runtree.nodes.function import FunctionNode
    from runtree.nodes.validation import resolve_node

    if not issubclass(node_class, FunctionNode) or node_class is FunctionNode:
        return None
    func = getattr(node_class.__dict__.get("function"), "__func__", None)
    if func is None:
        return None
    try:
        return func if resolve_node(func) is node_class else None
    except Exception:
        return None


class _ByValue(Exception):
    """Raised by the fast pickler: this value holds something only cloudpickle can send."""


def _decide(obj: Any, kind: type) -> Any:
    """How to pickle a class or function: ``True`` by name, ``False`` by value, or a reduce
    tuple (a function-node class travels as its function)."""
    try:
        known = _by_reference.get(obj)
    except TypeError:  # not weak-referenceable
        known = None
    if known is not None:
        return known
    decision: Any = False
    func = None if kind is types.FunctionType else _function_of(obj)
    if func is not None:
        from runtree.nodes.validation import resolve_node

        decision = (resolve_node, (func,))
    else:
        import cloudpickle

        by_name = getattr(cloudpickle.cloudpickle, "_should_pickle_by_reference", None)
        decision = bool(by_name(obj)) if by_name is not None else False
    with contextlib.suppress(TypeError):
        _by_reference[obj] = decision
    return decision


class _FastPickler(pickle.Pickler):
    """The C pickler, as long as every class and function can go by name."""

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is types.FunctionType or issubclass(kind, type):
            decision = _decide(obj, kind)
            if decision is False:
                raise _ByValue
            if decision is not True:
                return decision
        return NotImplemented


@functools.cache
def _pickler_class() -> type[pickle.Pickler]:
    """cloudpickle's pickler (imported on first use) for values that hold classes or
    functions that must travel by value; the others still go by name."""
    import cloudpickle

    class Pickler(cloudpickle.Pickler):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            kind = type(obj)
            if kind is types.FunctionType or issubclass(kind, type):
                decision = _decide(obj, kind)
                if decision is True:
                    return NotImplemented  # pickle's own by-name path
                if decision is not False:
                    return decision
            return super().reducer_override(obj)

    return Pickler


def dumps(value: Any) -> bytes:
    """Pickle ``value`` for another process (see the module docstring). Raises what pickling
    raises."""
    buffer = io.BytesIO()
    try:
        _FastPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        return buffer.getvalue()
    except (_ByValue, pickle.PicklingError, TypeError, AttributeError):
        pass  # something travels by value (or cannot travel): cloudpickle decides
    buffer = io.BytesIO()
    _pickler_class()(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Unsendable:
    """Stands for a value that could not be pickled where it was made (a nested call's
    input or output, recorded by the session).

    Its JSON form names the original type and shows its ``repr``. It crosses to the session
    once; there it no longer pickles, so a journal keeps it for people to read but never
    replays it (the call runs again on resume, as one whose output does not pickle would).
    """

    type: str
    repr: str
    reason: str
    arrived: bool = dataclasses.field(default=False, repr=False, compare=False)

    @classmethod
    def of(cls, value: Any, reason: BaseException) -> Unsendable:
        try:
            text = repr(value)
        except Exception:
            text = f"<{type_name(value)}>"
        return cls(type=type_name(value), repr=text[:2000], reason=f"{type(reason).__name__}")

    def __reduce__(self) -> Any:
        if self.arrived:
            raise TypeError(f"the {self.type} value this stands for cannot be pickled")
        return (_arrive, (self.type, self.repr, self.reason))


def _arrive(type_: str, text: str, reason: str) -> Unsendable:
    return Unsendable(type=type_, repr=text, reason=reason, arrived=True)


def described(value: Any) -> Any:
    """``value`` for a receiver that only records it: a tuple or dict keeps the items that
    pickle, the others (or ``value`` itself) become :class:`Unsendable` descriptions."""
    if isinstance(value, tuple):
        return tuple(_sendable(item) for item in value)
    if isinstance(value, dict):
        return {key: _sendable(item) for key, item in value.items()}
    return _sendable(value)


def _sendable(value: Any) -> Any:
    try:
        dumps(value)
    except Exception as exc:
        return Unsendable.of(value, exc)
    return value


# -- errors ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """An exception as it travels: always its type name, message and traceback text; the
    pickled exception when it loads again; else its type, ``args`` and attributes."""

    type_name: str
    message: str
    traceback: str
    pickled: bytes | None = None
    parts: bytes | None = None
    cancelled: bool = False


def capture_error(exc: BaseException) -> ErrorInfo:
    """Describe ``exc`` for the other side (never raises)."""
    try:
        text = "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__, limit=_TRACEBACK_LIMIT)
        )
    except Exception:
        text = ""
    if len(text) > _MAX_TRACEBACK_CHARS:
        text = "…" + text[-_MAX_TRACEBACK_CHARS:]
    cancelled = isinstance(exc, asyncio.CancelledError)
    pickled = parts = None
    try:
        candidate = dumps(exc)  # (the traceback does not travel; its text does)
        pickle.loads(candidate)  # it must load again (a two-argument __init__ does not)
        pickled = candidate
    except Exception:
        state = dict(getattr(exc, "__dict__", {}))
        for attempt in ((type(exc), exc.args, state), (type(exc), exc.args, {})):
            try:
                parts = dumps(attempt)
                break
            except Exception:
                continue
    return ErrorInfo(
        type_name=type_name(exc),
        message=safe_str(exc),
        traceback=text,
        pickled=pickled,
        parts=parts,
        cancelled=cancelled,
    )


def rebuild_error(info: ErrorInfo) -> BaseException:
    """The exception ``info`` describes: the original when it can be loaded here, else a
    :class:`~runtree.errors.RemoteError` subclass named after it."""
    if info.cancelled:
        return asyncio.CancelledError(info.message) if info.message else asyncio.CancelledError()
    error: BaseException | None = None
    if info.pickled is not None:
        try:
            error = pickle.loads(info.pickled)
        except Exception:
            error = None
    if error is None and info.parts is not None:
        error = _from_parts(info.parts)
    if not isinstance(error, BaseException):
        return RemoteError.for_type(info.type_name)(
            info.message, type_name=info.type_name, remote_traceback=info.traceback
        )
    if info.traceback and hasattr(error, "add_note"):
        error.add_note(f"raised in a runtree worker process:\n{info.traceback.rstrip()}")
    return error


def _from_parts(parts: bytes) -> BaseException | None:
    """Re-create an exception from its type, ``args`` and attributes without calling its
    ``__init__`` (which may take other arguments than ``args``)."""
    try:
        cls, args, state = pickle.loads(parts)
        error: BaseException = BaseException.__new__(cls)
        error.args = tuple(args)
        if state:
            error.__dict__.update(state)
        str(error)  # a __str__ that needs what __init__ would have set: give up
    except Exception:
        return None
    return error


# -- outcomes --------------------------------------------------------------------------------

_OK, _ERROR, _PACKED = 0, 1, 2


def pack_outcome(
    value: Any = None,
    error: BaseException | None = None,
    *,
    node_name: str,
    recorded: bool,
    to: str = "back from its worker process",
) -> bytes:
    """A result or an exception, pickled. A result that does not pickle becomes an
    ``ExecutionError`` naming ``node_name`` (and where it could not go, ``to``); with
    ``recorded`` (the receiver only records it) an :class:`Unsendable` instead."""
    if error is None:
        try:
            return dumps((_OK, value))
        except Exception as exc:
            if recorded:
                return dumps((_OK, Unsendable.of(value, exc)))
            error = ExecutionError(
                f"node {node_name!r} returned a {type_name(value)} that cannot be pickled {to}: "
                f"{type(exc).__name__}: {exc}"
            )
    return dumps((_ERROR, capture_error(error)))


def unpack_outcome(body: bytes, *, node_name: str) -> tuple[Any, BaseException | None]:
    """``(value, None)`` or ``(None, exception)`` from :func:`pack_outcome` output; a body
    that cannot be loaded here gives an ``ExecutionError`` naming ``node_name``."""
    try:
        status, payload = pickle.loads(body)
    except Exception as exc:
        return None, ExecutionError(
            f"the outcome of node {node_name!r} could not be loaded in this process: "
            f"{type(exc).__name__}: {exc}"
        )
    if status == _OK:
        return payload, None
    return None, rebuild_error(payload)


def pack_done(
    value: Any, error: BaseException | None, details: dict[str, Any], *, node_name: str
) -> bytes:
    """How a remote task ended, with the node's ``details``, in one pickle when it can be
    (the common case), else as :func:`pack_outcome` does."""
    if error is None:
        try:
            return dumps((_OK, value, details))
        except Exception:
            pass
    try:
        return dumps(
            (_PACKED, pack_outcome(value, error, node_name=node_name, recorded=False), details)
        )
    except Exception:  # the details do not pickle: the outcome matters more
        return dumps((_PACKED, pack_outcome(value, error, node_name=node_name, recorded=False), {}))


def unpack_done(body: bytes, *, node_name: str) -> tuple[Any, BaseException | None, dict[str, Any]]:
    """``(value, error, details)`` from :func:`pack_done` output."""
    try:
        status, payload, details = pickle.loads(body)
    except Exception as exc:
        return (
            None,
            ExecutionError(
                f"the outcome of node {node_name!r} could not be loaded in this process: "
                f"{type(exc).__name__}: {exc}"
            ),
            {},
        )
    if status == _OK:
        return payload, None, details
    value, error = unpack_outcome(payload, node_name=node_name)
    return value, error, details
