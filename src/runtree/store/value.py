"""Turning inputs, outputs and errors into journal columns.

* Inputs are ``{"args": [...], "kwargs": {...}}`` as canonical JSON (sorted keys). Their
  digest is part of the request key; when the text is cut to the size limit, the marker
  keeps the digest of the whole text, so two long arguments never look alike.
* An output is JSON for people and tools; when that JSON is not an exact copy of the value
  (a tuple, a dataclass, an object, a value cut to the size limit, an int too long for
  ``str()``) a pickle of the value is kept as well, sealed with the journal's key
  (HMAC-SHA256), so a resumed run gets back the same object and nothing else: a pickle
  that was changed is refused, never loaded. A value that cannot be pickled is marked not
  replayable: its request runs again on resume.
* Everything is encoded when it happens (on the session's loop, inside the journal's
  observer calls), never later from live objects.
* Values JSON cannot hold use the markers of :func:`runtree._json.to_jsonable` (type name
  and repr); text over ``max_value_chars`` is cut and marked, never dropped silently.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import math
import pickle
import sys
import traceback
from typing import Any

from runtree._json import DEFAULT_MAX_CHARS, MARKER_KEY, safe_str, to_jsonable, type_name

__all__ = [
    "DEFAULT_MAX_REPLAY_BYTES",
    "DEFAULT_MAX_VALUE_CHARS",
    "digest",
    "encode_error",
    "encode_inputs",
    "encode_output",
    "encode_value",
    "decode_output",
    "format_traceback",
    "inputs_digest",
    "scalar_json",
    "seal",
    "unseal",
]

DEFAULT_MAX_VALUE_CHARS = DEFAULT_MAX_CHARS
DEFAULT_MAX_REPLAY_BYTES = 16 * 1024 * 1024
_SEPARATORS = (",", ":")
_UNLIMITED = sys.maxsize
# Built once: json.dumps() with options builds a new encoder on every call.
_encode_canonical = json.JSONEncoder(sort_keys=True, separators=_SEPARATORS, allow_nan=False).encode
_encode_marked = json.JSONEncoder(sort_keys=True, separators=_SEPARATORS).encode
# outputs keep their keys' order (a replayed dict iterates as the original did)
_encode_ordered = json.JSONEncoder(separators=_SEPARATORS, allow_nan=False).encode


def _canonical(value: Any) -> tuple[str, bool]:
    """``(json_text, exact)``: ``exact`` is false when markers had to be used."""
    try:
        return _encode_canonical(value), True
    except (TypeError, ValueError, RecursionError):
        safe = to_jsonable(value, max_chars=_UNLIMITED)
        try:
            return _encode_marked(safe), False
        except (TypeError, ValueError, RecursionError) as exc:  # e.g. an int too long for str()
            marker = {MARKER_KEY: "unserialisable", "type": type_name(value), "repr": repr(exc)}
            return _encode_marked(marker), False


def _limit(text: str, max_chars: int, value: object) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    marker = {
        MARKER_KEY: "truncated",
        "kind": "json",
        "type": type_name(value),
        "length": len(text),
        "limit": max_chars,
        "digest": digest(text),
        "head": text[:max_chars],
    }
    return _encode_marked(marker), True


def digest(text: str) -> str:
    """A short, stable digest of ``text``."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


_encode_string: Any = json.encoder.encode_basestring_ascii  # what the encoders use


_INT_LOW = -(10**18)
_INT_HIGH = 10**18


def scalar_json(value: Any) -> str | None:
    """JSON of a scalar exactly as the canonical encoder writes it, or ``None``."""
    cls = type(value)
    if cls is int:
        return str(value) if _INT_LOW < value < _INT_HIGH else None
    if cls is str:
        text: str = _encode_string(value)
        return text
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is float and math.isfinite(value):
        return repr(value)
    return None


def encode_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any], max_chars: int = DEFAULT_MAX_VALUE_CHARS
) -> str:
    """The stored JSON of a call's arguments: ``{"args": [...], "kwargs": {...}}``
    (canonical: sorted keys, no spaces; cut and marked past ``max_chars``, with the digest
    of the whole text in the marker)."""
    full: str | None = None
    if not kwargs:  # the common cases, without the encoder's overhead
        count = len(args)
        if count == 1:
            part = scalar_json(args[0])
            if part is not None:
                full = '{"args":[' + part + '],"kwargs":{}}'
        elif count == 0:
            return '{"args":[],"kwargs":{}}'
        elif count <= 8:
            parts = [scalar_json(arg) for arg in args]
            if None not in parts:
                full = '{"args":[' + ",".join(parts) + '],"kwargs":{}}'  # type: ignore[arg-type]
    if full is None:
        full, _ = _canonical({"args": args, "kwargs": kwargs})
    return _limit(full, max_chars, args)[0] if len(full) > max_chars else full


def inputs_digest(stored: str) -> str:
    """The digest of the arguments behind ``stored`` (the output of :func:`encode_inputs`):
    of the text itself, or the digest a truncation marker carries."""
    if stored.startswith('{"__runtree__":"truncated"'):
        try:
            return str(json.loads(stored)["digest"])
        except (ValueError, KeyError, TypeError):
            pass
    return digest(stored)


def encode_value(value: Any, *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> str:
    """JSON text of ``value`` for display (markers for what JSON cannot hold, size-limited)."""
    text, _ = _canonical(value)
    return _limit(text, max_chars, value)[0]


def _exact(value: Any, depth: int = 0) -> bool:
    """Whether ``json.loads(json.dumps(value))`` gives back an equal value of the same types."""
    cls = type(value)
    if cls is str or cls is int or cls is bool or value is None:
        return True
    if cls is float:
        return math.isfinite(value)
    if depth > 64:
        return False
    if cls is list:
        return all(_exact(item, depth + 1) for item in value)
    if cls is dict:
        return all(type(k) is str and _exact(v, depth + 1) for k, v in value.items())
    return False


def _pickle(value: Any, max_bytes: int) -> bytes | None:
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        try:
            import cloudpickle

            data = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return None
    return data if len(data) <= max_bytes else None


_SEAL = b"rt1:"
_MAC_BYTES = 32


def seal(key: bytes, data: bytes) -> bytes:
    """``data`` with an HMAC-SHA256 under ``key`` in front (what the journal stores)."""
    return _SEAL + hmac.new(key, data, hashlib.sha256).digest() + data


def unseal(key: bytes, blob: bytes) -> bytes | None:
    """The data :func:`seal` sealed, or ``None`` if ``blob`` was not sealed with ``key``
    (changed, forged, or written with another key)."""
    start = len(_SEAL) + _MAC_BYTES
    if len(blob) < start or not blob.startswith(_SEAL):
        return None
    data = blob[start:]
    expected = hmac.new(key, data, hashlib.sha256).digest()
    return data if hmac.compare_digest(expected, blob[len(_SEAL) : start]) else None


def encode_output(
    value: Any,
    *,
    max_chars: int = DEFAULT_MAX_VALUE_CHARS,
    max_replay_bytes: int = DEFAULT_MAX_REPLAY_BYTES,
    key: bytes | None = None,
) -> tuple[str, bytes | None, int]:
    """``(json_text, sealed_pickle_or_None, replayable)`` for a request's output.

    A value JSON holds exactly (str, int, finite float, bool, None, and lists and dicts of
    them with str keys) is replayed from its JSON, keys in their order. Anything else is
    also pickled and sealed with ``key`` (:func:`seal`); without a key, or when the value
    cannot be pickled, it is not replayable (its request runs again on resume).
    """
    text = scalar_json(value)  # the common case, cheaply
    if text is not None and len(text) <= max_chars:
        return text, None, 1
    if _exact(value):
        try:
            text = _encode_ordered(value)
        except (ValueError, RecursionError):  # e.g. an int too long for str()
            text = None
        if text is not None and len(text) <= max_chars:
            return text, None, 1
    text = encode_value(value, max_chars=max_chars)
    if key is None:
        return text, None, 0
    data = _pickle(value, max_replay_bytes)
    if data is None:
        return text, None, 0
    return text, seal(key, data), 1


def decode_output(output: str | None, replay: bytes | None) -> Any:
    """The value :func:`encode_output` stored: the pickle when there is one (already
    checked: pass what :func:`unseal` returned), else the JSON."""
    if replay is not None:
        return pickle.loads(replay)
    return None if output is None else json.loads(output)


#: frames kept of each exception's traceback (the innermost ones) and exceptions of a chain
MAX_TRACEBACK_FRAMES = 40
MAX_CHAINED_EXCEPTIONS = 6
_formatted: collections.OrderedDict[int, tuple[BaseException, str]] = collections.OrderedDict()
_FORMATTED_KEPT = 32


def format_traceback(error: BaseException) -> str:
    """The traceback of ``error`` as text, bounded: the innermost
    :data:`MAX_TRACEBACK_FRAMES` frames of each exception, at most
    :data:`MAX_CHAINED_EXCEPTIONS` exceptions of its cause/context chain.

    An exception is formatted once: a failure that passes up through many requests (each
    records it) costs one formatting, not one per level. Each request stores the traceback
    as it was when the exception first ended a request.
    """
    cached = _formatted.get(id(error))
    if cached is not None and cached[0] is error:
        _formatted.move_to_end(id(error))
        return cached[1]
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    parts: list[str] = []
    omitted = len(chain) - MAX_CHAINED_EXCEPTIONS
    for link in reversed(chain[:MAX_CHAINED_EXCEPTIONS]):
        if parts:
            parts.append("\nThe exception above led to the one below:\n\n")
        parts.extend(
            traceback.format_exception(
                type(link), link, link.__traceback__, limit=-MAX_TRACEBACK_FRAMES, chain=False
            )
        )
    if omitted > 0:
        parts.insert(0, f"({omitted} earlier chained exceptions not shown)\n")
    text = "".join(parts)
    _formatted[id(error)] = (error, text)
    if len(_formatted) > _FORMATTED_KEPT:
        _formatted.popitem(last=False)
    return text


def encode_error(error: BaseException, *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> str:
    """``{"type", "message", "traceback"}`` of an exception as JSON (never raises: an
    exception whose ``str()`` fails is described by its type)."""
    message = safe_str(error)
    try:
        tb = format_traceback(error)
    except Exception as exc:  # a broken exception must not break the journal
        tb = f"<traceback could not be formatted: {type(exc).__name__}>"
    data = {
        "type": type_name(error),
        "message": message[:max_chars],
        "traceback": tb[-max_chars:],
    }
    return json.dumps(data, separators=_SEPARATORS)
