"""``RetryPolicy``: when and how long a failed model call waits before it is sent again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from runtree.errors import ConfigurationError, ModelError

__all__ = ["TRANSIENT_STATUSES", "RetryPolicy"]

#: HTTP statuses worth retrying: timeout, conflict, rate limit, server errors
TRANSIENT_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a model call retries.

    ``attempts`` is the total number of tries (1 = no retry). Between tries it waits
    ``backoff * multiplier**(n-1)`` seconds (at most ``max_delay``), or what the provider asked
    for with ``Retry-After`` when ``honour_retry_after`` (up to ``max_retry_after``; a longer
    demand is not waited for: the error surfaces). ``statuses`` are the HTTP statuses that
    retry; errors without a status (connection failures, timeouts) retry when
    ``retry_connection_errors``; ``retry_if`` decides instead when given. ``sleep`` is the
    waiting function (tests inject one).
    """

    attempts: int = 3
    backoff: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    honour_retry_after: bool = True
    max_retry_after: float = 60.0
    statuses: frozenset[int] = TRANSIENT_STATUSES
    retry_connection_errors: bool = True
    retry_if: Callable[[ModelError], bool] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError(f"RetryPolicy.attempts must be an int, got {self.attempts!r}")
        if self.attempts < 1:
            raise ConfigurationError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        for name in ("backoff", "multiplier", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"RetryPolicy.{name} must be >= 0, got {value!r}")
        if not isinstance(self.statuses, frozenset):
            object.__setattr__(self, "statuses", frozenset(self.statuses))

    def retryable(self, error: ModelError) -> bool:
        """Whether ``error`` is worth another try (ignoring how many were made)."""
        if self.retry_if is not None:
            return bool(self.retry_if(error))
        if error.status_code is None:
            return self.retry_connection_errors and error.retryable
        if error.status_code not in self.statuses:
            return False
        too_long = error.retry_after is not None and error.retry_after > self.max_retry_after
        return not (too_long and self.honour_retry_after)

    def delay(self, error: ModelError, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if self.honour_retry_after and error.retry_after is not None:
            return max(0.0, error.retry_after)
        return min(self.max_delay, self.backoff * self.multiplier ** (attempt - 1))


#: no retries at all
NO_RETRY = RetryPolicy(attempts=1)
