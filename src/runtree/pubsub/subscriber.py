"""Ready-made subscribers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from runtree.pubsub.messages import Message, Streaming

__all__ = ["stream_subscriber"]


def stream_subscriber(
    callback: Callable[[Any], Awaitable[None] | None],
) -> Callable[[Message], Awaitable[None] | None]:
    """Wrap ``callback`` so it receives the items of ``rt.broadcast`` and nothing else.

    Subscribe the result with ``RTPublisher.subscribe(..., topics=Streaming)``; it also
    filters by itself, so subscribing it to every message is harmless. Whatever ``callback``
    returns is passed on: an awaitable (an async function, an object with an async
    ``__call__``) is awaited by the subscriber's thread.
    """

    def deliver(message: Message) -> Awaitable[None] | None:
        if isinstance(message, Streaming):
            return callback(message.item)
        return None

    deliver.__name__ = getattr(callback, "__name__", "stream_subscriber")
    return deliver
