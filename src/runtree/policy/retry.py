"""``RetryPolicy``: how many attempts, which failures are worth another one, and how long to
wait between them. Used by node calls, graph steps, agents' model calls and reliable
delivery alike.
"""

from __future__ import annotations

import dataclasses
import math
import random as _random
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

from runtree.errors import ConfigurationError

__all__ = ["BACKOFFS", "Backoff", "RetryPolicy", "check_number", "retry_after_hint"]

Backoff = Literal["exponential", "fixed", "linear"]
BACKOFFS: tuple[str, ...] = get_args(Backoff)


def check_number(
    value: object, path: str, *, minimum: float, integer: bool = False, positive: bool = False
) -> None:
    """Raise ``ConfigurationError`` naming ``path`` unless ``value`` is a finite number (an
    int if ``integer``) of at least ``minimum`` (and above 0 if ``positive``)."""
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise ConfigurationError(f"{path} must be {kind}, got {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ConfigurationError(f"{path} must be a finite number, got {value!r}")
    if positive and number <= 0:
        raise ConfigurationError(f"{path} must be > 0, got {value!r}")
    if number < minimum:
        raise ConfigurationError(f"{path} must be >= {minimum:g}, got {value!r}")


def retry_after_hint(error: BaseException) -> float | None:
    """The wait a failure asks for, in seconds: its ``retry_after`` attribute (a number of
    seconds, as an HTTP ``Retry-After`` header gives), else ``None``."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, bool) or not isinstance(hint, (int, float)):
        return None
    return float(hint) if math.isfinite(hint) and hint >= 0 else None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Attempts and backoff.

    After failed attempt ``n`` (1-based) the wait is ``base_delay * 2**(n-1)``
    (``"exponential"``), ``base_delay * n`` (``"linear"``) or ``base_delay`` (``"fixed"``),
    capped at ``max_delay``, then scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
    Only failures that are instances of ``retry_on`` are retried. A failure that carries a
    ``retry_after`` hint (seconds) waits that long instead; a hint longer than ``max_delay``
    means the failure is not retried at all (the service asked for more patience than the
    policy allows). ``max_delay=None`` sets no cap (and takes any hint).
    """

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    base_delay: float = 1.0
    max_delay: float | None = 60.0
    jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        self._validate(lambda field: f"retry.{field}")

    def _validate(self, label: Callable[[str], str]) -> None:
        """Check every option; an error names the option as ``label(field)`` calls it."""
        check_number(self.max_attempts, label("max_attempts"), minimum=1, integer=True)
        if self.backoff not in BACKOFFS:
            raise ConfigurationError(
                f"{label('backoff')} must be one of {'|'.join(BACKOFFS)}, got {self.backoff!r}"
            )
        check_number(self.base_delay, label("base_delay"), minimum=0)
        if self.max_delay is not None:
            check_number(self.max_delay, label("max_delay"), minimum=0)
        check_number(self.jitter, label("jitter"), minimum=0)
        if self.jitter > 1:
            raise ConfigurationError(
                f"{label('jitter')} must be between 0 and 1, got {self.jitter!r}"
            )
        retry_on = self.retry_on
        if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
            object.__setattr__(self, "retry_on", (retry_on,))
        elif not isinstance(retry_on, tuple) or not all(
            isinstance(kind, type) and issubclass(kind, BaseException) for kind in retry_on
        ):
            raise ConfigurationError(
                f"{label('retry_on')} must be an exception class or a tuple of them, "
                f"got {retry_on!r}"
            )

    @classmethod
    def named(cls, labels: Mapping[str, str], **options: Any) -> RetryPolicy:
        """Build from ``options`` for a caller that names them its own way: a bad option is
        reported as ``labels[field]`` (a graph node's ``max_retries`` is ``max_attempts``
        here, so it passes ``{"max_attempts": "Fetch.max_retries", ...}``)."""
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise ConfigurationError(f"unknown retry option(s) {unknown}")
        return cls._build(options, lambda field: labels.get(field, field))

    @classmethod
    def _build(cls, options: Mapping[str, Any], label: Callable[[str], str]) -> RetryPolicy:
        policy = object.__new__(cls)
        for f in dataclasses.fields(cls):
            object.__setattr__(policy, f.name, options.get(f.name, _DEFAULTS[f.name]))
        policy._validate(label)
        return policy

    def delay(self, attempt: int, *, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        if self.backoff == "fixed":
            base = self.base_delay
        elif self.backoff == "linear":
            base = self.base_delay * attempt
        else:
            base = self.base_delay * 2.0 ** min(attempt - 1, 1024)
        if self.max_delay is not None:
            base = min(base, self.max_delay)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * random() - 1.0)
        return max(0.0, float(base))

    def next_delay(
        self,
        error: BaseException,
        attempt: int,
        *,
        random: Callable[[], float] = _random.random,
    ) -> float | None:
        """After ``error`` ended attempt ``attempt`` (1-based): the seconds to wait before
        the next attempt, or ``None`` when there is none (attempts used up, a failure not in
        ``retry_on``, or a ``retry_after`` hint longer than ``max_delay``)."""
        if attempt >= self.max_attempts or not isinstance(error, self.retry_on):
            return None
        hint = retry_after_hint(error)
        if hint is not None:
            return hint if self.max_delay is None or hint <= self.max_delay else None
        return self.delay(attempt, random=random)

    def delays(self) -> tuple[float, ...]:
        """The waits between all attempts, without jitter (``max_attempts - 1`` values)."""
        plain = dataclasses.replace(self, jitter=0.0)
        return tuple(plain.delay(n) for n in range(1, self.max_attempts))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "retry") -> RetryPolicy:
        """Build from ``{"max_attempts": 3, "backoff": "exponential", "base_delay": 1.0, ...}``
        (``retry_on`` cannot be given this way: it names classes).

        Unknown keys and bad values raise ``ConfigurationError`` naming the key path.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{path} must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"retry_on"}
        for key in data:
            if key not in known:
                raise ConfigurationError(
                    f"unknown key {path}.{key}; expected one of {sorted(known)}"
                )
        return cls._build(data, lambda field: f"{path}.{field}")

    def to_dict(self) -> dict[str, Any]:
        """The options :meth:`from_dict` takes (everything but ``retry_on``)."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "retry_on"
        }


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(RetryPolicy)}
