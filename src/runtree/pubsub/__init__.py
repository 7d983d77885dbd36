"""Pub/sub: lifecycle messages and the publisher that fans them out to subscribers."""

from __future__ import annotations

from runtree.pubsub.messages import (
    FatalFailure,
    Message,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    RequestCompletionMessage,
    RequestCreation,
    RequestFailure,
    RequestSuccess,
    Streaming,
)
from runtree.pubsub.publisher import (
    PublisherStatistics,
    RTPublisher,
    SubscriberStatistics,
    Subscription,
)
from runtree.pubsub.subscriber import stream_subscriber

__all__ = [
    "FatalFailure",
    "Message",
    "NodeFailed",
    "NodeFinished",
    "NodeStarted",
    "PublisherStatistics",
    "RTPublisher",
    "RequestCompletionMessage",
    "RequestCreation",
    "RequestFailure",
    "RequestSuccess",
    "Streaming",
    "SubscriberStatistics",
    "Subscription",
    "stream_subscriber",
]
