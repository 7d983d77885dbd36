"""``MessageHistory``: a conversation, in order (a ``list`` of messages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runtree.llm.message import Message, Role, SystemMessage, UserMessage, message_from_dict

__all__ = ["MessageHistory", "WireMessages", "as_history"]


class MessageHistory(list[Message]):
    """A list of :class:`~runtree.llm.message.Message` objects, oldest first.

    Agents copy the history they are given and return a new one in their response; the
    caller's history is never changed.
    """

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        items = list(messages)
        for item in items:
            _check(item)
        super().__init__(items)

    def append(self, message: Message) -> None:
        super().append(_check(message))

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every message in the OpenAI chat-protocol form (plain, JSON-safe dicts)."""
        return [message.to_dict() for message in self]

    @classmethod
    def from_dicts(cls, data: Iterable[Mapping[str, Any]]) -> MessageHistory:
        """The history of a list of chat-protocol dicts."""
        return cls(message_from_dict(item) for item in data)

    def removed_system_messages(self) -> MessageHistory:
        """A copy without the system messages."""
        return MessageHistory(m for m in self if m.role is not Role.system)

    def __str__(self) -> str:
        return "\n".join(str(message) for message in self)

    def __repr__(self) -> str:
        return f"MessageHistory({list.__repr__(self)})"


class WireMessages(list[dict[str, Any]]):
    """A list of messages already in chat-protocol form (a model's request copies it as it
    is)."""


def _check(message: object) -> Message:
    if not isinstance(message, Message):
        raise TypeError(
            f"a MessageHistory holds Message objects, got {type(message).__name__}; "
            "wrap text in rt.llm.UserMessage(...)"
        )
    return message


def as_history(user_input: object) -> MessageHistory:
    """A new history from what an agent was called with: text, a message, a list of
    messages (or chat-protocol dicts), or a ``MessageHistory`` (copied)."""
    if isinstance(user_input, str):
        return MessageHistory([UserMessage(user_input)])
    if isinstance(user_input, Message):
        return MessageHistory([user_input])
    if isinstance(user_input, Iterable) and not isinstance(user_input, (bytes, Mapping)):
        items = [message_from_dict(m) if isinstance(m, Mapping) else m for m in user_input]
        return MessageHistory(items)
    raise TypeError(
        "an agent takes text, a Message, a list of messages or a MessageHistory, "
        f"got {type(user_input).__name__}"
    )


def with_system_message(history: MessageHistory, system: SystemMessage | None) -> MessageHistory:
    """``history`` with ``system`` in front, unless it already starts with a system message."""
    if system is None or (history and history[0].role is Role.system):
        return history
    return MessageHistory([system, *history])
