"""``Policy``: what a node's calls get around them — retries, a timeout, a concurrency limit,
a rate limit and a result cache.

Declare one on a node class (``policy = rt.Policy(...)``) or around calls
(``with rt.policy(...):``); the options given around a call override the class's, one by
one. Policies are plain values: the limits and caches they describe are created once per
run and node (see :mod:`runtree.policy.limit` and :mod:`runtree.policy.cache`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from runtree.errors import ConfigurationError
from runtree.policy.cache import json_key
from runtree.policy.retry import RetryPolicy, check_number

__all__ = [
    "ATTEMPT_ATTRIBUTE",
    "CACHE_ATTRIBUTE",
    "POLICY_USE",
    "CachePolicy",
    "Policy",
    "PolicyUse",
]

#: request attribute of a retry attempt: its number (1-based)
ATTEMPT_ATTRIBUTE = "runtree.attempt"
#: request attribute of a call answered from its node's cache: ``"hit"``
CACHE_ATTRIBUTE = "runtree.cache"


class PolicyUse:
    """Whether this process has made a :class:`Policy` yet (``seen``; one made by unpickling
    counts too). Until one exists no call can have a policy, so the call path reads this one
    attribute and skips all policy work: policies cost nothing where they are not used."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen = False


#: the process's :class:`PolicyUse`
POLICY_USE = PolicyUse()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy:
    """Reuse outputs: ``key(*args, **kwargs)`` names a call (``None``: do not cache it);
    entries live ``ttl`` seconds (``None``: for ever); ``persist`` keeps them in the run
    journal's file so later runs reuse them; at most ``max_entries`` stay in memory."""

    ttl: float | None = None
    key: Callable[..., str | None] = json_key
    persist: bool = False
    max_entries: int = 10_000

    def __post_init__(self) -> None:
        if self.ttl is not None:
            check_number(self.ttl, "CachePolicy.ttl (seconds)", minimum=0, positive=True)
        if not callable(self.key):
            raise ConfigurationError(f"CachePolicy.key must be a function, got {self.key!r}")
        if not isinstance(self.persist, bool):
            raise ConfigurationError(f"CachePolicy.persist must be a bool, got {self.persist!r}")
        check_number(self.max_entries, "CachePolicy.max_entries", minimum=1, integer=True)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """How a node's calls run.

    * ``retry``: a :class:`RetryPolicy`, or an int: that many attempts with the default
      backoff. Each attempt is a request of its own in the run tree.
    * ``timeout``: seconds for one attempt; past it the attempt fails with
      ``NodeTimeoutError`` (which a retry policy may retry).
    * ``max_concurrency``: at most this many calls of the node run at once in the run.
    * ``rate_limit``: ``(calls, per_seconds)``: at most ``calls`` starts per ``per_seconds``
      in the run.
    * ``cache``: a :class:`CachePolicy`, or ``True`` for one with the defaults.
    """

    retry: RetryPolicy | None = None
    timeout: float | None = None
    max_concurrency: int | None = None
    rate_limit: tuple[int, float] | None = None
    cache: CachePolicy | None = None

    def __post_init__(self) -> None:
        retry: Any = self.retry
        if isinstance(retry, int) and not isinstance(retry, bool):
            labels = {"max_attempts": "Policy.retry (a number of attempts)"}
            object.__setattr__(self, "retry", RetryPolicy.named(labels, max_attempts=retry))
        elif retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(
                f"Policy.retry must be a RetryPolicy or a number of attempts, got {retry!r}"
            )
        if self.timeout is not None:
            check_number(self.timeout, "Policy.timeout (seconds)", minimum=0, positive=True)
        if self.max_concurrency is not None:
            check_number(self.max_concurrency, "Policy.max_concurrency", minimum=1, integer=True)
        rate: Any = self.rate_limit
        if rate is not None:
            if isinstance(rate, list):  # (as a JSON or YAML file gives it)
                rate = tuple(rate)
                object.__setattr__(self, "rate_limit", rate)
            if not isinstance(rate, tuple) or len(rate) != 2:
                raise ConfigurationError(
                    f"Policy.rate_limit must be (calls, per_seconds), got {rate!r}"
                )
            check_number(rate[0], "Policy.rate_limit calls", minimum=1, integer=True)
            check_number(rate[1], "Policy.rate_limit per_seconds", minimum=0, positive=True)
        cache: Any = self.cache
        if cache is True:
            object.__setattr__(self, "cache", CachePolicy())
        elif cache is False:
            object.__setattr__(self, "cache", None)
        elif cache is not None and not isinstance(cache, CachePolicy):
            raise ConfigurationError(f"Policy.cache must be a CachePolicy or a bool, got {cache!r}")
        POLICY_USE.seen = True

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt through __init__ in the process that loads it, so POLICY_USE sees it there
        return (_remade, (self.options(),))

    def options(self) -> dict[str, Any]:
        """The options that are set (not ``None``), by name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

    def merged(self, override: Policy | None) -> Policy:
        """This policy with every option ``override`` sets replacing its own."""
        if override is None:
            return self
        changes = override.options()
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def empty(self) -> bool:
        """Whether the policy changes nothing (calls run as if there were none)."""
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))


def _remade(options: dict[str, Any]) -> Policy:
    return Policy(**options)
