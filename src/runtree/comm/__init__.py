"""Communication between nodes: envelopes, channels, queues, events, requests, reliable delivery.

``import runtree.comm as comm``. See ``docs/communication.md`` for the concepts and examples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtree._lazy import lazy_exports

if TYPE_CHECKING:
    from runtree.comm.channel import Channel, ChannelStatistics
    from runtree.comm.config import ChannelConfig, CommunicationConfig, MessageQueueConfig
    from runtree.comm.delivery_log import (
        DeadLetter,
        DeadLetterQueue,
        DeadLetterQueueStatistics,
        DeliveryLog,
        DeliveryLogStatistics,
        InMemoryDeliveryLog,
        PendingDelivery,
    )
    from runtree.comm.errors import (
        ChannelClosedError,
        ChannelTimeoutError,
        ChannelTypeError,
        CommunicationError,
        DeliveryFailedError,
        MessageFormatError,
        QueueEmptyError,
        QueueFullError,
        RequestFailedError,
        RequestTimeoutError,
        RoutingError,
    )
    from runtree.comm.event_bus import ERROR_EVENT, EmitResult, EventBus, EventBusStatistics
    from runtree.comm.exchange import Exchange, ExchangeStatistics
    from runtree.comm.listener import Listener, ListenerStatistics
    from runtree.comm.message import (
        CommMessage,
        ControlMessage,
        DataMessage,
        ErrorMessage,
        EventMessage,
        message_from_dict,
        message_from_json,
    )
    from runtree.comm.message_queue import MessageQueue, MessageQueueStatistics
    from runtree.comm.operation import (
        DROP,
        Filter,
        Operation,
        OperationStatistics,
        Pipeline,
        Routed,
        Router,
        RouterStatistics,
        Transform,
        pipeline,
    )
    from runtree.comm.registry import CommEvent, CommRegistry, CommStatistics, current_registry
    from runtree.comm.retry import RetryPolicy
    from runtree.comm.sender import DeliveryReceipt, ReliableSender, ReliableSenderStatistics

# Imported on first use, so that `import runtree.comm` (and every session) stays cheap.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "channel": (
        "Channel",
        "ChannelStatistics",
    ),
    "config": (
        "ChannelConfig",
        "CommunicationConfig",
        "MessageQueueConfig",
    ),
    "delivery_log": (
        "DeadLetter",
        "DeadLetterQueue",
        "DeadLetterQueueStatistics",
        "DeliveryLog",
        "DeliveryLogStatistics",
        "InMemoryDeliveryLog",
        "PendingDelivery",
    ),
    "errors": (
        "ChannelClosedError",
        "ChannelTimeoutError",
        "ChannelTypeError",
        "CommunicationError",
        "DeliveryFailedError",
        "MessageFormatError",
        "QueueEmptyError",
        "QueueFullError",
        "RequestFailedError",
        "RequestTimeoutError",
        "RoutingError",
    ),
    "event_bus": (
        "ERROR_EVENT",
        "EmitResult",
        "EventBus",
        "EventBusStatistics",
    ),
    "exchange": (
        "Exchange",
        "ExchangeStatistics",
    ),
    "listener": (
        "Listener",
        "ListenerStatistics",
    ),
    "message": (
        "CommMessage",
        "ControlMessage",
        "DataMessage",
        "ErrorMessage",
        "EventMessage",
        "message_from_dict",
        "message_from_json",
    ),
    "message_queue": (
        "MessageQueue",
        "MessageQueueStatistics",
    ),
    "operation": (
        "DROP",
        "Filter",
        "Operation",
        "OperationStatistics",
        "Pipeline",
        "Routed",
        "Router",
        "RouterStatistics",
        "Transform",
        "pipeline",
    ),
    "registry": (
        "CommEvent",
        "CommRegistry",
        "CommStatistics",
        "current_registry",
    ),
    "retry": ("RetryPolicy",),
    "sender": (
        "DeliveryReceipt",
        "ReliableSender",
        "ReliableSenderStatistics",
    ),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "Channel",
    "ChannelClosedError",
    "ChannelConfig",
    "ChannelStatistics",
    "ChannelTimeoutError",
    "ChannelTypeError",
    "CommEvent",
    "CommMessage",
    "CommRegistry",
    "CommStatistics",
    "CommunicationConfig",
    "CommunicationError",
    "ControlMessage",
    "DROP",
    "DataMessage",
    "DeadLetter",
    "DeadLetterQueue",
    "DeadLetterQueueStatistics",
    "DeliveryFailedError",
    "DeliveryLog",
    "DeliveryLogStatistics",
    "DeliveryReceipt",
    "ERROR_EVENT",
    "EmitResult",
    "ErrorMessage",
    "EventBus",
    "EventBusStatistics",
    "EventMessage",
    "Exchange",
    "ExchangeStatistics",
    "Filter",
    "InMemoryDeliveryLog",
    "Listener",
    "ListenerStatistics",
    "MessageFormatError",
    "MessageQueue",
    "MessageQueueConfig",
    "MessageQueueStatistics",
    "Operation",
    "OperationStatistics",
    "PendingDelivery",
    "Pipeline",
    "QueueEmptyError",
    "QueueFullError",
    "ReliableSender",
    "ReliableSenderStatistics",
    "RequestFailedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "Routed",
    "Router",
    "RouterStatistics",
    "RoutingError",
    "Transform",
    "current_registry",
    "message_from_dict",
    "message_from_json",
    "pipeline",
]
