"""Typed streaming events, and the assembly of a streamed reply.

Inside ``async for event in rt.stream(Agent, ...)`` a consumer sees, in order:

* :class:`TextDelta` — a piece of the text a model is writing;
* :class:`ToolCallStarted` / :class:`ToolCallDelta` — a model starts a tool call and sends
  its arguments piece by piece;
* :class:`ModelCallFinished` — a model call ended (its usage and why it stopped);
* :class:`ToolCallResult` — a tool call an agent ran has its result;
* :class:`FinalResponse` — an agent's answer, sent once its loop is over.

Every event names the request that sent it (``request_id``) and its ``path``: the request ids
from the run's root call down to it, so a UI can tell nested agents and tools apart. Events
are also ``rt.broadcast`` items, so they reach the session's ``broadcast_callback`` and are
kept in the journal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from runtree.context.central import current_session, parent_id

__all__ = [
    "FinalResponse",
    "ModelCallFinished",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallResult",
    "ToolCallStarted",
    "request_path",
]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StreamEvent:
    """Base of the streaming events: who sent it."""

    request_id: str | None = None
    path: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta(StreamEvent):
    """The next piece of text of a model's reply."""

    text: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStarted(StreamEvent):
    """A model began tool call number ``index`` of its reply."""

    index: int
    tool_call_id: str
    name: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta(StreamEvent):
    """The next piece of the arguments (JSON text) of tool call ``index``."""

    index: int
    tool_call_id: str
    arguments: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelCallFinished(StreamEvent):
    """A model call ended: its usage (``input_tokens``, ``output_tokens``, ``cost``)."""

    model: str
    finish_reason: str | None
    usage: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallResult(StreamEvent):
    """A tool call an agent ran has ended; ``result`` is the text the model will read."""

    tool_call_id: str
    name: str
    result: str
    is_error: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FinalResponse(StreamEvent):
    """An agent's answer: its ``text`` and, for structured agents, ``structured``."""

    agent: str
    text: str
    structured: Any = None


def request_path(request_id: str | None = None) -> tuple[str, ...]:
    """The request ids from the run's root call down to ``request_id`` (default: the request
    running here); ``()`` outside a session."""
    if request_id is None:
        request_id = parent_id.get()
    session = current_session.get()
    if session is None or request_id is None:
        return ()
    requests = session.info.requests
    path = []
    current: str | None = request_id
    while current is not None:
        path.append(current)
        record = requests.get(current)
        current = None if record is None else record.parent_id
    path.reverse()
    return tuple(path)


class ReplyAssembler:
    """Builds a response dict from streamed chunks and names the events each chunk makes.

    A chunk is the provider-neutral dict ``{"id", "model", "content", "tool_calls":
    [{"index", "id", "name", "arguments"}], "finish_reason", "usage"}`` (any key may be
    missing).
    """

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        self.id = chunk.get("id") or self.id
        self.model = chunk.get("model") or self.model
        content = chunk.get("content")
        if content:
            self.text.append(content)
            events.append(TextDelta(text=content))
        for part in chunk.get("tool_calls") or ():
            index = int(part.get("index") or 0)
            call = self.calls.get(index)
            if call is None:
                call = self.calls[index] = {
                    "id": part.get("id") or f"call_{index}",
                    "name": part.get("name") or "",
                    "arguments": [],
                }
                events.append(
                    ToolCallStarted(index=index, tool_call_id=call["id"], name=call["name"])
                )
            elif part.get("name") and not call["name"]:
                call["name"] = part["name"]
            arguments = part.get("arguments")
            if arguments:
                call["arguments"].append(arguments)
                events.append(
                    ToolCallDelta(index=index, tool_call_id=call["id"], arguments=arguments)
                )
        if chunk.get("finish_reason"):
            self.finish_reason = chunk["finish_reason"]
        if chunk.get("usage"):
            self.usage = dict(chunk["usage"])
        return events

    def message(self) -> dict[str, Any]:
        """The assistant message in chat-protocol form."""
        text = "".join(self.text)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": "".join(call["arguments"])},
                }
                for _, call in sorted(self.calls.items())
            ]
        elif not text:
            message["content"] = ""
        return message
