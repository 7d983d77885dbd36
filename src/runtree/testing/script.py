"""Scripted model replies, shared by :class:`~runtree.testing.ScriptedLLM` (in process) and
:class:`~runtree.testing.LocalOpenAIServer` (over HTTP).

A script is a list of :class:`Reply` objects, used in order, or a function
``reply_for(request) -> Reply`` that decides from the request (a chat-completions body: its
``messages``, ``tools``...), which keeps a resumed run and a fresh one answered alike.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Reply", "Script", "ScriptExhausted", "ToolCallSpec", "tool_call"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallSpec:
    """A tool call a scripted model makes: ``arguments`` is a dict, or raw text (to script a
    model that sends malformed JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = dataclasses.field(default_factory=dict)
    id: str | None = None

    @property
    def raw_arguments(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


def tool_call(
    name: str, arguments: Mapping[str, Any] | str | None = None, /, **kwargs: Any
) -> ToolCallSpec:
    """``tool_call("add", a=1, b=2)`` or ``tool_call("add", {"a": 1})`` or
    ``tool_call("add", '{"a": 1')`` (malformed on purpose)."""
    call_id = kwargs.pop("id", None)
    if arguments is None:
        arguments = kwargs
    elif kwargs:
        raise TypeError("tool_call: give the arguments as a dict or as keywords, not both")
    return ToolCallSpec(name=name, arguments=arguments, id=call_id)


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: ``text`` and/or ``tool_calls``; or a failure (``status`` >= 400,
    ``error`` message, ``retry_after`` seconds for the ``Retry-After`` header).

    ``chunks`` says how the text is split when streamed (default: word by word);
    ``usage`` is ``(input_tokens, output_tokens)`` (default: estimated from the sizes);
    ``cost`` is reported as ``usage.cost`` when given.
    """

    text: str | None = None
    tool_calls: Sequence[ToolCallSpec] = ()
    chunks: Sequence[str] | None = None
    usage: tuple[int, int] | None = None
    cost: float | None = None
    finish_reason: str | None = None
    status: int = 200
    error: str | None = None
    retry_after: float | None = None

    @classmethod
    def failure(cls, status: int, error: str, *, retry_after: float | None = None) -> Reply:
        """A failed request: HTTP ``status`` with the provider message ``error``."""
        return cls(status=status, error=error, retry_after=retry_after)

    @property
    def failed(self) -> bool:
        return self.status >= 400

    def text_chunks(self) -> list[str]:
        if not self.text:
            return []
        if self.chunks is not None:
            return list(self.chunks)
        words = self.text.split(" ")
        return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]

    # -- the response it makes ---------------------------------------------------------------

    def call_ids(self, request: Mapping[str, Any]) -> list[str]:
        """Tool-call ids: given ones, else derived from the conversation's position (so the
        same conversation gets the same ids in every run)."""
        turn = sum(1 for m in request.get("messages") or () if m.get("role") == "assistant")
        return [call.id or f"call_{turn}_{i}" for i, call in enumerate(self.tool_calls)]

    def token_usage(self, request: Mapping[str, Any]) -> tuple[int, int]:
        if self.usage is not None:
            return self.usage
        sent = json.dumps(request.get("messages") or [], separators=(",", ":"))
        written = (self.text or "") + "".join(c.raw_arguments for c in self.tool_calls)
        return len(sent) // 4 + 1, len(written) // 4 + 1

    def completion(
        self, request: Mapping[str, Any], model: str, response_id: str
    ) -> dict[str, Any]:
        """The chat-completions response body."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments},
                }
                for call_id, call in zip(self.call_ids(request), self.tool_calls, strict=True)
            ]
        input_tokens, output_tokens = self.token_usage(request)
        usage: dict[str, Any] = {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        if self.cost is not None:
            usage["cost"] = self.cost
        return {
            "id": response_id,
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.stop_reason()}],
            "usage": usage,
        }

    def stop_reason(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    def stream_deltas(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``delta`` objects of a streamed reply, in order (text first, then each tool
        call's start and its arguments in pieces)."""
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas.extend({"content": piece} for piece in self.text_chunks())
        for index, (call_id, call) in enumerate(
            zip(self.call_ids(request), self.tool_calls, strict=True)
        ):
            deltas.append(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
            raw = call.raw_arguments
            step = max(1, len(raw) // 3 + 1)
            for start in range(0, len(raw), step):
                deltas.append(
                    {
                        "tool_calls": [
                            {"index": index, "function": {"arguments": raw[start : start + step]}}
                        ]
                    }
                )
        return deltas


class ScriptExhausted(LookupError):
    """A scripted model was asked for more replies than its script has."""


ReplyFunction = Callable[[Mapping[str, Any]], "Reply | str"]


class Script:
    """Replies in order (a list), or from a function of the request. Thread-safe; keeps every
    request it answered in ``requests``."""

    def __init__(self, replies: Iterable[Reply | str] | ReplyFunction) -> None:
        self._function: ReplyFunction | None = None
        self._replies: list[Reply] = []
        if callable(replies):
            self._function = replies
        else:
            self._replies = [as_reply(r) for r in replies]
        self._next = 0
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    def reply_to(self, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(dict(request))
            if self._function is not None:
                return as_reply(self._function(request))
            if self._next >= len(self._replies):
                raise ScriptExhausted(
                    f"the script has no reply left: all {len(self._replies)} were used"
                )
            reply = self._replies[self._next]
            self._next += 1
            return reply

    @property
    def remaining(self) -> int:
        """Replies of a list script not used yet (0 for a function)."""
        return len(self._replies) - self._next


def as_reply(value: Reply | str) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(value)
    raise TypeError(f"a script reply must be a Reply or a str, got {type(value).__name__}")
