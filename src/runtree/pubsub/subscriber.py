"""Ready-made subscribers."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from runtree.pubsub.messages import Message, Streaming

__all__ = ["stream_subscriber"]


def stream_subscriber(
    callback: Callable[[Any], Awaitable[None] | None],
) -> Callable[[Message], Awaitable[None] | None]:
    """Wrap ``callback`` so it receives the items of ``rt.broadcast`` and nothing else.

    Subscribe the result with ``RTPublisher.subscribe(..., topics=Streaming)``; it also
    filters by itself, so subscribing it to every message is harmless. Sync callbacks stay
    sync (delivered in a thread), async ones stay async.
    """
    if inspect.iscoroutinefunction(callback):

        async def deliver_async(message: Message) -> None:
            if isinstance(message, Streaming):
                await callback(message.item)

        deliver_async.__name__ = getattr(callback, "__name__", "stream_subscriber")
        return deliver_async

    def deliver(message: Message) -> None:
        if isinstance(message, Streaming):
            callback(message.item)

    deliver.__name__ = getattr(callback, "__name__", "stream_subscriber")
    return deliver
