"""``rt.policy(...)``: a :class:`~runtree.policy.Policy` for the calls made directly in a
block, or attached to a node class or function.

As a context manager it works like :func:`runtree.context.central.execution_mode`: it applies
to the calls made directly in its ``with`` block (calls nested inside those nodes use their
own node's policy), and its options override the node class's one by one. Blocks nest: an
inner block's options override the outer one's. As a decorator it sets the policy of a node
class (merged over the one it inherits) or of a function that becomes a node
(``rt.call(fn)``, ``rt.function_node(fn)``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from runtree.errors import ConfigurationError, NodeDefinitionError
from runtree.nodes.function import FUNCTION_POLICY
from runtree.nodes.node import Node, current_node_id
from runtree.policy.policy import CachePolicy, Policy
from runtree.policy.retry import RetryPolicy

__all__ = [
    "PolicyScope",
    "carried_policy",
    "effective_policy",
    "policy",
    "policy_override",
    "scope_policy",
]

F = TypeVar("F", bound=Callable[..., Any])

#: ``(policy, parent id)`` set by :func:`policy` blocks: applies to calls made with that parent
policy_override: contextvars.ContextVar[tuple[Policy, str | None] | None] = contextvars.ContextVar(
    "runtree_policy_override", default=None
)


class PolicyScope:
    """What :func:`policy` returns: a context manager for calls made in its block, and a
    decorator for node classes and functions. One ``with`` at a time per scope object."""

    __slots__ = ("_tokens", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._tokens: list[contextvars.Token[tuple[Policy, str | None] | None]] = []

    def __enter__(self) -> Policy:
        parent = current_node_id.get()
        outer = policy_override.get()
        chosen = self.policy
        if outer is not None and outer[1] == parent:
            chosen = outer[0].merged(chosen)
        self._tokens.append(policy_override.set((chosen, parent)))
        return chosen

    def __exit__(self, *exc: object) -> None:
        policy_override.reset(self._tokens.pop())

    def __call__(self, target: F) -> F:
        """Attach the policy to a node class or a function (returned unchanged)."""
        if isinstance(target, type):
            if not issubclass(target, Node):
                raise NodeDefinitionError(
                    f"@rt.policy(...) decorates node classes and functions, not "
                    f"{target.__qualname__} (not a runtree Node)"
                )
            inherited = target.policy
            target.policy = self.policy if inherited is None else inherited.merged(self.policy)
            return target
        if not callable(target):
            raise NodeDefinitionError(
                f"@rt.policy(...) decorates node classes and functions, got {target!r}"
            )
        inherited = getattr(target, FUNCTION_POLICY, None)
        merged = self.policy if inherited is None else inherited.merged(self.policy)
        try:
            setattr(target, FUNCTION_POLICY, merged)
        except (AttributeError, TypeError):
            raise NodeDefinitionError(
                f"cannot attach a policy to {target!r}; use rt.function_node(fn, policy=...)"
            ) from None
        return target

    def __repr__(self) -> str:
        return f"rt.policy({self.policy!r})"


def policy(
    base: Policy | None = None,
    /,
    *,
    retry: RetryPolicy | int | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    rate_limit: tuple[int, float] | None = None,
    cache: CachePolicy | bool | None = None,
) -> PolicyScope:
    """A :class:`~runtree.policy.Policy` for the calls made directly in a ``with`` block, or
    for a node class or function it decorates.

    Give a ``Policy`` or its options (``retry``, ``timeout``, ``max_concurrency``,
    ``rate_limit``, ``cache``; see :class:`~runtree.policy.Policy`); options given next to
    a ``Policy`` override its own. ``with rt.policy(timeout=10): await rt.call(Fetch, url)``
    gives that call a 10 s timeout on top of ``Fetch.policy``.
    """
    options: dict[str, Any] = {
        "retry": retry,
        "timeout": timeout,
        "max_concurrency": max_concurrency,
        "rate_limit": rate_limit,
        "cache": cache,
    }
    given = {name: value for name, value in options.items() if value is not None}
    if base is not None and not isinstance(base, Policy):
        raise ConfigurationError(f"rt.policy() takes a runtree.Policy, got {base!r}")
    chosen = Policy(**given)
    if base is not None:
        chosen = base.merged(chosen)
    return PolicyScope(chosen)


def scope_policy(parent: str | None) -> Policy | None:
    """The policy of the :func:`policy` block around a call made with ``parent``, if any."""
    override = policy_override.get()
    if override is not None and override[1] == parent:
        return override[0]
    return None


def carried_policy(parent: str | None, explicit: Policy | None = None) -> Policy | None:
    """What a call made with ``parent`` in a worker process takes along when it is handed
    back to its session, where this context is not: the :func:`policy` block's policy,
    under ``explicit`` (one it already carries)."""
    scoped = scope_policy(parent)
    if scoped is None:
        return explicit
    return scoped.merged(explicit)


def effective_policy(
    node_class: type[Node[Any]], parent: str | None, explicit: Policy | None = None
) -> Policy | None:
    """The policy a call of ``node_class`` made with ``parent`` runs under: the class's,
    overridden option by option by the enclosing :func:`policy` block's, then by
    ``explicit`` (a block's policy carried from another process). ``None``: no policy."""
    chosen = node_class.policy
    for layer in (scope_policy(parent), explicit):
        if layer is not None:
            chosen = layer if chosen is None else chosen.merged(layer)
    return chosen
