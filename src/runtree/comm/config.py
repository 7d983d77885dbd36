"""``CommunicationConfig``: the seed's ``COMMUNICATION_CONFIG`` dict, checked, with factories.

::

    COMMUNICATION_CONFIG = {
        "message_queue": {"max_size": 10000, "overflow_policy": "drop_oldest"},
        "channels": {"buffer_size": 1000, "timeout": 30},
        "retry": {"max_attempts": 3, "backoff": "exponential", "base_delay": 1.0},
    }
    config = CommunicationConfig.from_dict(COMMUNICATION_CONFIG)

Every section and key is optional (defaults are the values above); ``retry`` also accepts
``max_delay`` and ``jitter``. An unknown key or a bad value raises
:class:`~runtree.errors.ConfigurationError` naming its path (``"channels.timeout"``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from runtree.comm.channel import Channel
from runtree.comm.exchange import Exchange
from runtree.comm.message import CommMessage
from runtree.comm.message_queue import OVERFLOW_POLICIES, MessageQueue, OverflowPolicy
from runtree.comm.registry import CommRegistry
from runtree.comm.retry import RetryPolicy
from runtree.comm.sender import ReliableSender
from runtree.errors import ConfigurationError

__all__ = ["ChannelConfig", "CommunicationConfig", "MessageQueueConfig"]

T = TypeVar("T")


def _check_keys(data: object, path: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{path} must be a mapping, got {type(data).__name__}")
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigurationError(f"unknown key {where!r}; expected one of {list(known)}")
    return data


def _positive_int(value: object, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{path} must be an int >= 1, got {value!r}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageQueueConfig:
    """``message_queue`` section: ``max_size`` and ``overflow_policy``."""

    max_size: int = 10_000
    overflow_policy: OverflowPolicy = "drop_oldest"

    def __post_init__(self) -> None:
        _positive_int(self.max_size, "message_queue.max_size")
        if self.overflow_policy not in OVERFLOW_POLICIES:
            raise ConfigurationError(
                f"message_queue.overflow_policy must be one of {'|'.join(OVERFLOW_POLICIES)}, "
                f"got {self.overflow_policy!r}"
            )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConfig:
    """``channels`` section: ``buffer_size`` and default ``timeout`` in seconds (None: none)."""

    buffer_size: int = 1000
    timeout: float | None = 30.0

    def __post_init__(self) -> None:
        _positive_int(self.buffer_size, "channels.buffer_size")
        timeout = self.timeout
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout < 0
        ):
            raise ConfigurationError(
                f"channels.timeout must be a number >= 0 or None, got {timeout!r}"
            )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommunicationConfig:
    """The three sections of the seed's configuration, and factories that apply them."""

    message_queue: MessageQueueConfig = dataclasses.field(default_factory=MessageQueueConfig)
    channels: ChannelConfig = dataclasses.field(default_factory=ChannelConfig)
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommunicationConfig:
        """Read ``COMMUNICATION_CONFIG``-shaped data (see the module docstring)."""
        root = _check_keys(data, "", ("message_queue", "channels", "retry"))
        queue = _check_keys(
            root.get("message_queue", {}), "message_queue", ("max_size", "overflow_policy")
        )
        channels = _check_keys(root.get("channels", {}), "channels", ("buffer_size", "timeout"))
        return cls(
            message_queue=MessageQueueConfig(**queue),
            channels=ChannelConfig(**channels),
            retry=RetryPolicy.from_dict(root.get("retry", {}), path="retry"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a ``COMMUNICATION_CONFIG``-shaped dict."""
        return {
            "message_queue": dataclasses.asdict(self.message_queue),
            "channels": dataclasses.asdict(self.channels),
            "retry": self.retry.to_dict(),
        }

    # -- factories -----------------------------------------------------------------------------

    def create_queue(
        self,
        *,
        name: str | None = None,
        on_drop: Callable[[Any], object] | None = None,
        registry: CommRegistry | None = None,
    ) -> MessageQueue[Any]:
        """A :class:`MessageQueue` with this ``max_size`` and ``overflow_policy``."""
        return MessageQueue(
            max_size=self.message_queue.max_size,
            overflow_policy=self.message_queue.overflow_policy,
            name=name,
            on_drop=on_drop,
            registry=registry,
        )

    def create_channel(
        self,
        name: str | None = None,
        *,
        type_: type[T] | None = None,
        registry: CommRegistry | None = None,
    ) -> Channel[T]:
        """A :class:`Channel` with this ``buffer_size`` and default ``timeout``."""
        return Channel(
            name,
            buffer_size=self.channels.buffer_size,
            type_=type_,
            timeout=self.channels.timeout,
            registry=registry,
        )

    def create_exchange(
        self, name: str | None = None, *, registry: CommRegistry | None = None
    ) -> Exchange[Any, Any]:
        """An :class:`Exchange` whose buffer and request timeout follow ``channels``."""
        return Exchange(
            name,
            buffer_size=self.channels.buffer_size,
            timeout=self.channels.timeout,
            registry=registry,
        )

    def create_sender(
        self,
        deliver: Callable[[CommMessage], object | Awaitable[object]],
        **options: Any,
    ) -> ReliableSender[Any]:
        """A :class:`ReliableSender` using this ``retry`` policy (other options pass through)."""
        return ReliableSender(deliver, retry=self.retry, **options)
