"""Messages of a conversation with a model.

``UserMessage``, ``SystemMessage``, ``AssistantMessage`` and ``ToolMessage`` hold what each
party said; an assistant's tool requests are :class:`ToolCall` objects and a tool's answer
is a :class:`ToolResponse`. Every message converts to and from the plain-dict form of the
OpenAI chat protocol (:meth:`Message.to_dict`, :func:`message_from_dict`), which is what a
model-call request records in the journal.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AssistantMessage",
    "Message",
    "Role",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "ToolResponse",
    "UserMessage",
    "message_from_dict",
]


class Role(str, enum.Enum):
    """Who speaks: ``system``, ``user``, ``assistant`` or ``tool``."""

    system = "system"
    user = "user"
    assistant = "assistant"
    tool = "tool"


class ToolCall:
    """A model asking to run the tool ``name`` with ``arguments``.

    ``identifier`` pairs the call with its :class:`ToolResponse`. ``raw_arguments`` keeps the
    argument text exactly as the model sent it (it may not be valid JSON; ``arguments`` is then
    empty and the agent reports the problem back to the model).
    """

    __slots__ = ("_arguments", "identifier", "name", "raw_arguments")

    def __init__(
        self,
        identifier: str,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        raw_arguments: str | None = None,
    ) -> None:
        self.identifier = identifier
        self.name = name
        self._arguments: dict[str, Any] | None = None
        if raw_arguments is None:
            self._arguments = dict(arguments or {})
            raw_arguments = json.dumps(self._arguments, separators=(",", ":"), sort_keys=True)
        elif arguments is not None:
            self._arguments = dict(arguments)
        self.raw_arguments = raw_arguments

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments as a dict (empty when the model's text is not a JSON object)."""
        if self._arguments is None:
            try:
                parsed = json.loads(self.raw_arguments) if self.raw_arguments.strip() else {}
            except ValueError:
                parsed = {}
            self._arguments = parsed if isinstance(parsed, dict) else {}
        return self._arguments

    @classmethod
    def from_raw(cls, identifier: str, name: str, raw_arguments: str) -> ToolCall:
        """A call whose arguments are the model's text (parsed when first read; text that is
        not a JSON object gives no arguments)."""
        return cls(identifier, name, raw_arguments=raw_arguments)

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI ``tool_calls`` item."""
        return {
            "id": self.identifier,
            "type": "function",
            "function": {"name": self.name, "arguments": self.raw_arguments},
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolCall):
            return NotImplemented
        return (self.identifier, self.name, self.raw_arguments) == (
            other.identifier,
            other.name,
            other.raw_arguments,
        )

    def __hash__(self) -> int:
        return hash((self.identifier, self.name, self.raw_arguments))

    def __str__(self) -> str:
        return f"{self.name}({self.raw_arguments})"

    def __repr__(self) -> str:
        return f"ToolCall({self.identifier!r}, {self.name!r}, {self.arguments!r})"


class ToolResponse:
    """What the tool of call ``identifier`` returned, as text for the model."""

    __slots__ = ("identifier", "name", "result")

    def __init__(self, identifier: str, name: str, result: str) -> None:
        self.identifier = identifier
        self.name = name
        self.result = result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolResponse):
            return NotImplemented
        return (self.identifier, self.name, self.result) == (
            other.identifier,
            other.name,
            other.result,
        )

    def __hash__(self) -> int:
        return hash((self.identifier, self.name, self.result))

    def __str__(self) -> str:
        return f"{self.name} -> {self.result}"

    def __repr__(self) -> str:
        return f"ToolResponse({self.identifier!r}, {self.name!r}, {self.result!r})"


class Message:
    """Base of every message: a ``role`` and its ``content``."""

    __slots__ = ("_content", "_role")

    def __init__(self, content: Any, role: Role) -> None:
        self._content = content
        self._role = role

    @property
    def role(self) -> Role:
        return self._role

    @property
    def content(self) -> Any:
        return self._content

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls this message asks for (only assistants ask)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI chat-protocol form (JSON-safe)."""
        return {"role": self._role.value, "content": self._content}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __str__(self) -> str:
        return f"{self._role.value}: {self._content}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._content!r})"


def _text(content: object, kind: str) -> str:
    if not isinstance(content, str):
        raise TypeError(f"a {kind} needs text content (str), got {type(content).__name__}")
    return content


class UserMessage(Message):
    """What the user says."""

    __slots__ = ()

    def __init__(self, content: str) -> None:
        super().__init__(_text(content, "UserMessage"), Role.user)


class SystemMessage(Message):
    """Instructions for the model."""

    __slots__ = ()

    def __init__(self, content: str) -> None:
        super().__init__(_text(content, "SystemMessage"), Role.system)


class AssistantMessage(Message):
    """What the model said: text, tool calls, or both.

    As in railtracks, ``content`` is the list of tool calls when there are any, else the text;
    ``text`` is always the text part (``None`` when the model only called tools).
    """

    __slots__ = ("_tool_calls", "text")

    def __init__(
        self,
        content: str | Sequence[ToolCall] | None = None,
        *,
        tool_calls: Sequence[ToolCall] | None = None,
    ) -> None:
        calls = list(tool_calls or ())
        text: str | None
        if isinstance(content, str) or content is None:
            text = content
        elif isinstance(content, Sequence) and all(isinstance(c, ToolCall) for c in content):
            calls = [c for c in content if isinstance(c, ToolCall)] + calls
            text = None
        else:
            raise TypeError(
                "an AssistantMessage holds text or a list of ToolCall, "
                f"got {type(content).__name__}"
            )
        self.text = text
        self._tool_calls = calls
        super().__init__(calls if calls else (text or ""), Role.assistant)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self._tool_calls)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self._tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self._tool_calls]
        elif self.text is None:
            data["content"] = ""
        return data


class ToolMessage(Message):
    """A tool's answer to one :class:`ToolCall`."""

    __slots__ = ()

    def __init__(self, content: ToolResponse) -> None:
        if not isinstance(content, ToolResponse):
            raise TypeError(f"a ToolMessage needs a ToolResponse, got {type(content).__name__}")
        super().__init__(content, Role.tool)

    @property
    def content(self) -> ToolResponse:
        response: ToolResponse = self._content
        return response

    def to_dict(self) -> dict[str, Any]:
        response = self.content
        return {
            "role": "tool",
            "tool_call_id": response.identifier,
            "name": response.name,
            "content": response.result,
        }


def message_from_dict(data: Mapping[str, Any]) -> Message:
    """The message of an OpenAI chat-protocol dict (the inverse of ``Message.to_dict``)."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a message must be a dict, got {type(data).__name__}")
    role = data.get("role")
    content = data.get("content")
    if role == "user":
        return UserMessage(_content_text(content))
    if role in ("system", "developer"):
        return SystemMessage(_content_text(content))
    if role == "tool":
        return ToolMessage(
            ToolResponse(
                str(data.get("tool_call_id", "")), str(data.get("name", "")), _content_text(content)
            )
        )
    if role == "assistant":
        calls = [
            ToolCall.from_raw(
                str(item.get("id", "")),
                str(item.get("function", {}).get("name", "")),
                str(item.get("function", {}).get("arguments") or ""),
            )
            for item in data.get("tool_calls") or ()
        ]
        text = None if content is None else _content_text(content)
        return AssistantMessage(text, tool_calls=calls)
    raise ValueError(f"unknown message role {role!r}")


def _content_text(content: object) -> str:
    """Text of a message's content (parts of a multi-part content are joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part)
            for part in content
        )
    return str(content)
