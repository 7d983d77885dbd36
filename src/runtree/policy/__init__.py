"""Per-node policies: retries with backoff, timeouts, concurrency and rate limits, result
caches — pure logic with injectable clocks and sleeps, used by node calls, graphs, agents
and reliable delivery alike."""

from __future__ import annotations

from runtree.policy.cache import (
    CacheBackend,
    CacheStatistics,
    MemoryCacheBackend,
    ResultCache,
    json_key,
)
from runtree.policy.limit import ConcurrencyLimit, LimitStatistics, RateLimit
from runtree.policy.policy import CachePolicy, Policy
from runtree.policy.retry import BACKOFFS, Backoff, RetryPolicy, retry_after_hint

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
    "RateLimit",
    "ResultCache",
    "RetryPolicy",
    "json_key",
    "retry_after_hint",
]
