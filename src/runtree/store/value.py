"""Turning inputs, outputs and errors into journal columns.

* Inputs are ``{"args": [...], "kwargs": {...}}`` as canonical JSON (sorted keys). Their
  digest is part of the request key; when the text is cut to the size limit, the marker
  keeps the digest of the whole text, so two long arguments never look alike.
* An output is JSON for people and tools; when that JSON is not an exact copy of the value
  (a tuple, a dataclass, an object, a value cut to the size limit) a pickle of the value is
  kept as well, so a resumed run gets back the same object. A value that cannot be pickled
  is marked not replayable: its request runs again on resume.
* Values JSON cannot hold use the markers of :func:`runtree._json.to_jsonable` (type name
  and repr); text over ``max_value_chars`` is cut and marked, never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import sys
import traceback
from typing import Any

from runtree._json import DEFAULT_MAX_CHARS, MARKER_KEY, to_jsonable, type_name

__all__ = [
    "DEFAULT_MAX_REPLAY_BYTES",
    "DEFAULT_MAX_VALUE_CHARS",
    "digest",
    "encode_error",
    "encode_inputs",
    "encode_output",
    "encode_value",
    "decode_output",
    "inputs_digest",
]

DEFAULT_MAX_VALUE_CHARS = DEFAULT_MAX_CHARS
DEFAULT_MAX_REPLAY_BYTES = 16 * 1024 * 1024
_SEPARATORS = (",", ":")
_UNLIMITED = sys.maxsize
# Built once: json.dumps() with options builds a new encoder on every call.
_encode_canonical = json.JSONEncoder(sort_keys=True, separators=_SEPARATORS, allow_nan=False).encode
_encode_marked = json.JSONEncoder(sort_keys=True, separators=_SEPARATORS).encode


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


def _scalar(value: Any) -> str | None:
    """JSON of a scalar exactly as the canonical encoder writes it, or ``None``."""
    cls = type(value)
    if cls is str:
        return str(_encode_string(value))
    if cls is int:
        return str(value) if -(10**18) < value < 10**18 else None
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is float and math.isfinite(value):
        return repr(value)
    return None


def encode_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any], *, max_chars: int = DEFAULT_MAX_VALUE_CHARS
) -> str:
    """The stored JSON of a call's arguments: ``{"args": [...], "kwargs": {...}}``
    (canonical: sorted keys, no spaces; cut and marked past ``max_chars``, with the digest
    of the whole text in the marker)."""
    full: str | None = None
    if not kwargs and len(args) <= 8:  # the common case, without the encoder's overhead
        parts = [_scalar(arg) for arg in args]
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


def encode_output(
    value: Any,
    *,
    max_chars: int = DEFAULT_MAX_VALUE_CHARS,
    max_replay_bytes: int = DEFAULT_MAX_REPLAY_BYTES,
) -> tuple[str, bytes | None, int]:
    """``(json_text, replay_pickle_or_None, replayable)`` for a request's output."""
    text = _scalar(value)  # the common case, cheaply
    if text is not None and len(text) <= max_chars:
        return text, None, 1
    text, converted = _canonical(value)
    text, truncated = _limit(text, max_chars, value)
    if not converted and not truncated and _exact(value):
        return text, None, 1
    replay = _pickle(value, max_replay_bytes)
    return text, replay, 0 if replay is None else 1


def decode_output(output: str | None, replay: bytes | None) -> Any:
    """The value :func:`encode_output` stored (the pickle when there is one)."""
    if replay is not None:
        return pickle.loads(replay)
    return None if output is None else json.loads(output)


def encode_error(error: BaseException, *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> str:
    """``{"type", "message", "traceback"}`` of an exception as JSON."""
    try:
        message = str(error)
    except Exception:
        message = f"<str() of {type(error).__name__} failed>"
    tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    data = {
        "type": type_name(error),
        "message": message[:max_chars],
        "traceback": tb[-max_chars:],
    }
    return json.dumps(data, separators=_SEPARATORS)
