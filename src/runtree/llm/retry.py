"""Retrying model calls: :class:`runtree.policy.RetryPolicy` says how many attempts and how
long to wait (``Retry-After`` included); a model says which failures are transient (the
HTTP statuses in its ``retry_statuses``, and connection failures)."""

from __future__ import annotations

from runtree.errors import ModelError
from runtree.policy.retry import RetryPolicy

__all__ = ["DEFAULT_RETRY", "TRANSIENT_STATUSES", "RetryPolicy", "next_delay"]

#: HTTP statuses worth retrying: timeout, conflict, rate limit, server errors
TRANSIENT_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

#: three attempts, waiting 0.5 s then 1 s (or what ``Retry-After`` asks, up to 60 s)
DEFAULT_RETRY = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=60.0, retry_on=(ModelError,))


def next_delay(policy: RetryPolicy, error: ModelError, attempt: int) -> float | None:
    """Seconds to wait before trying again after ``error`` ended attempt ``attempt``, or
    ``None``: not transient, attempts used up, or a ``Retry-After`` longer than the policy's
    ``max_delay``."""
    if not error.retryable:
        return None
    return policy.next_delay(error, attempt)
