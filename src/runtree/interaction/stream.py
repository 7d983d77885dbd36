"""``broadcast``: stream an item to the session's ``broadcast_callback`` and subscribers."""

from __future__ import annotations

from typing import Any

from runtree.context.central import parent_id
from runtree.pubsub.messages import Streaming
from runtree.pubsub.publisher import current_publisher

__all__ = ["broadcast"]


async def broadcast(item: Any) -> None:
    """Publish ``item`` as a :class:`~runtree.pubsub.messages.Streaming` message.

    It reaches the session's ``broadcast_callback`` and every ``Streaming`` subscriber, in
    order, without waiting for them. Outside a session there is no one to tell and nothing
    happens.
    """
    publisher = current_publisher.get()
    if publisher is not None:
        publisher.publish(Streaming(item=item, request_id=parent_id.get()))
