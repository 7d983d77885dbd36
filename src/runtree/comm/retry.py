"""``RetryPolicy``: how many attempts, and how long to wait between them."""

from __future__ import annotations

import dataclasses
import math
import random as _random
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

from runtree.errors import ConfigurationError

__all__ = ["BACKOFFS", "Backoff", "RetryPolicy"]

Backoff = Literal["exponential", "fixed", "linear"]
BACKOFFS: tuple[str, ...] = get_args(Backoff)


def _number(value: object, path: str, *, minimum: float, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise ConfigurationError(f"{path} must be {kind}, got {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number) or number < minimum:
        raise ConfigurationError(f"{path} must be >= {minimum}, got {value!r}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Attempts and backoff for redelivery.

    After failed attempt ``n`` (1-based) the wait is ``base_delay * 2**(n-1)``
    (``"exponential"``), ``base_delay * n`` (``"linear"``) or ``base_delay`` (``"fixed"``),
    capped at ``max_delay``, then scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
    """

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        self._validate("retry")

    def _validate(self, path: str) -> None:
        _number(self.max_attempts, f"{path}.max_attempts", minimum=1, integer=True)
        if self.backoff not in BACKOFFS:
            raise ConfigurationError(
                f"{path}.backoff must be one of {'|'.join(BACKOFFS)}, got {self.backoff!r}"
            )
        _number(self.base_delay, f"{path}.base_delay", minimum=0)
        _number(self.max_delay, f"{path}.max_delay", minimum=0)
        _number(self.jitter, f"{path}.jitter", minimum=0)
        if self.jitter > 1:
            raise ConfigurationError(f"{path}.jitter must be between 0 and 1, got {self.jitter!r}")

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
        base = min(base, self.max_delay)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * random() - 1.0)
        return max(0.0, base)

    def delays(self) -> tuple[float, ...]:
        """The waits between all attempts, without jitter (``max_attempts - 1`` values)."""
        plain = dataclasses.replace(self, jitter=0.0)
        return tuple(plain.delay(n) for n in range(1, self.max_attempts))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "retry") -> RetryPolicy:
        """Build from ``{"max_attempts": 3, "backoff": "exponential", "base_delay": 1.0, ...}``.

        Unknown keys and bad values raise ``ConfigurationError`` naming the key path.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{path} must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigurationError(
                    f"unknown key {path}.{key}; expected one of {sorted(known)}"
                )
        policy = object.__new__(cls)
        defaults = cls()
        for f in dataclasses.fields(cls):
            object.__setattr__(policy, f.name, data.get(f.name, getattr(defaults, f.name)))
        policy._validate(path)
        return policy

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
