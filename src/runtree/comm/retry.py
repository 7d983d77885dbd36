"""``RetryPolicy`` for reliable delivery: the same policy every part of runtree uses
(:mod:`runtree.policy.retry`)."""

from __future__ import annotations

from runtree.policy.retry import BACKOFFS, Backoff, RetryPolicy

__all__ = ["BACKOFFS", "Backoff", "RetryPolicy"]
