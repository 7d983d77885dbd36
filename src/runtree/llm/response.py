"""What a model call returns: :class:`Response` (the assistant's message, why it stopped,
which model answered) and :class:`Usage` (tokens and cost).

A model-call request returns the plain-dict form (:meth:`Response.to_dict`), so the journal
stores it readably and a resumed run gets it back without a pickle; :meth:`Response.from_dict`
turns it back into objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from runtree.llm.message import AssistantMessage, ToolCall, message_from_dict

__all__ = ["RESPONSE_OBJECT", "MessageInfo", "Response", "Usage"]

#: the ``"object"`` of a response dict; how a model call's output is recognised in a run tree
RESPONSE_OBJECT = "chat.completion"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Tokens (and cost in US dollars, when the provider or a price table tells) of one or
    more model calls. Add two with ``+``; ``Usage()`` is zero."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    #: ``None`` when no call of these had a known cost
    cost: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        cost = (
            None
            if self.cost is None and other.cost is None
            else ((self.cost or 0.0) + (other.cost or 0.0))
        )
        return Usage(
            requests=self.requests + other.requests,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost=cost,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, requests: int = 1) -> Usage:
        """The usage of one call from its response's ``usage`` dict (missing counts are 0)."""
        data = data or {}
        cost = data.get("cost")
        return cls(
            requests=requests,
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            cost=None if cost is None else float(cost),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageInfo:
    """railtracks' name for a response's metadata: tokens, latency, model, cost."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    latency: float | None = None
    model_name: str | None = None
    total_cost: float | None = None
    system_fingerprint: str | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens


class Response:
    """One reply of a model."""

    __slots__ = (
        "finish_reason",
        "id",
        "message",
        "model",
        "provider",
        "structured",
        "usage",
        "wire",
    )

    def __init__(
        self,
        message: AssistantMessage,
        *,
        usage: Usage | None = None,
        finish_reason: str | None = None,
        model: str = "",
        provider: str = "",
        id: str | None = None,
    ) -> None:
        self.message = message
        self.usage = usage or Usage(requests=1)
        self.finish_reason = finish_reason
        self.model = model
        self.provider = provider
        self.id = id
        #: the parsed answer, for :meth:`ModelBase.structured`
        self.structured: Any = None
        #: the message in chat-protocol form as the model call returned it (read-only)
        self.wire: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """The text of the reply ('' when the model only called tools)."""
        return self.message.text or ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls

    @property
    def message_info(self) -> MessageInfo:
        return MessageInfo(
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            model_name=self.model,
            total_cost=self.usage.cost,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-exact form a model-call request returns."""
        return {
            "object": RESPONSE_OBJECT,
            "id": self.id,
            "model": self.model,
            "provider": self.provider,
            "message": self.message.to_dict(),
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Response:
        message = message_from_dict(data["message"])
        assert isinstance(message, AssistantMessage)
        return cls(
            message,
            usage=Usage.from_dict(data.get("usage")),
            finish_reason=data.get("finish_reason"),
            model=str(data.get("model") or ""),
            provider=str(data.get("provider") or ""),
            id=data.get("id"),
        )

    def __repr__(self) -> str:
        return f"Response({self.message!r}, usage={self.usage!r})"


def is_response_dict(value: object) -> bool:
    """Whether ``value`` is the output of a model-call request."""
    return isinstance(value, dict) and value.get("object") == RESPONSE_OBJECT
