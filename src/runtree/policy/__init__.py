"""Per-node policies: retries with backoff, timeouts, concurrency and rate limits, result
caches — pure logic with injectable clocks and sleeps, used by node calls, graphs, agents
and reliable delivery alike.

Declare a :class:`Policy` on a node class (``policy = rt.Policy(...)``) or around calls
(``with rt.policy(...):``); see ``docs/policies.md``. The names here load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtree._lazy import lazy_exports

if TYPE_CHECKING:
    from runtree.policy.cache import (
        CacheBackend,
        CacheStatistics,
        MemoryCacheBackend,
        ResultCache,
        json_key,
    )
    from runtree.policy.clock import PolicyClock
    from runtree.policy.limit import ConcurrencyLimit, LimitStatistics, RateLimit
    from runtree.policy.policy import CachePolicy, Policy
    from runtree.policy.retry import BACKOFFS, Backoff, RetryPolicy, retry_after_hint

_EXPORTS: dict[str, tuple[str, ...]] = {
    "cache": (
        "CacheBackend",
        "CacheStatistics",
        "MemoryCacheBackend",
        "ResultCache",
        "json_key",
    ),
    "clock": ("PolicyClock",),
    "limit": ("ConcurrencyLimit", "LimitStatistics", "RateLimit"),
    "policy": ("CachePolicy", "Policy"),
    "retry": ("BACKOFFS", "Backoff", "RetryPolicy", "retry_after_hint"),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "BACKOFFS",
    "Backoff",
    "CacheBackend",
    "CachePolicy",
    "CacheStatistics",
    "ConcurrencyLimit",
    "LimitStatistics",
    "MemoryCacheBackend",
    "Policy",
    "PolicyClock",
    "RateLimit",
    "ResultCache",
    "RetryPolicy",
    "json_key",
    "retry_after_hint",
]
