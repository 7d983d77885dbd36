"""What every graph step has in common: a name, successors by action, and ``>>`` wiring.

``a >> b`` makes ``b`` follow ``a`` on the ``"default"`` action; ``a - "retry" >> b`` on the
``"retry"`` action; ``a >> [b, c]`` (or ``a >> Parallel(b, c)``) runs ``b`` and ``c`` in
parallel. Each ``>>`` returns its right side, so chains read left to right:
``load >> clean >> [left, right] >> merge``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from runtree.graph.errors import GraphDefinitionError

if TYPE_CHECKING:
    from runtree.graph.parallel import Parallel
    from runtree.graph.shared import SharedConflict

__all__ = ["DEFAULT_ACTION", "BaseNode", "Outcome", "StepOutcome", "Transition", "check_action"]

#: The action of ``a >> b`` and of a ``post`` that returns ``None``.
DEFAULT_ACTION = "default"

Shared = MutableMapping[str, Any]


class Outcome(Protocol):
    """What a step reports: the action it chose and its result."""

    @property
    def action(self) -> str: ...

    @property
    def result(self) -> Any: ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    """How one step ended; the output of the step's request in the run tree.

    ``attempts`` counts the ``exec`` attempts (over all items of a batch), ``fallback``
    tells whether ``exec_fallback`` produced the result, ``errors`` counts the items or
    branches whose exception was collected, ``conflicts`` lists the shared-store conflicts
    resolved by a ``"last_wins"``/``"first_wins"`` policy.
    """

    node: str
    action: str
    result: Any = None
    attempts: int = 0
    fallback: bool = False
    errors: int = 0
    conflicts: tuple[SharedConflict, ...] = ()


def check_action(action: object, where: str) -> str:
    """Validate an action name given to ``-`` or returned by ``post``."""
    if action is None:
        return DEFAULT_ACTION
    if not isinstance(action, str) or not action:
        raise GraphDefinitionError(
            f"{where}: an action must be a non-empty string (or None for 'default'), got {action!r}"
        )
    return action


def _describe(value: object) -> str:
    if isinstance(value, type):
        return f"the class {value.__qualname__}"
    return f"{type(value).__name__} {value!r}"[:200]


class BaseNode:
    """Base of everything a graph can run as a step: ``Node``, ``Graph``, ``Parallel``.

    ``name`` (keyword) labels the step in the run tree and in results; it defaults to the
    class name. Attributes named in ``shared_attributes`` are shared by every run of the
    node; all other instance attributes are copied for each run (see :meth:`fresh`).
    """

    #: attributes kept by reference in per-run copies (clients, locks, caches you share)
    shared_attributes: ClassVar[frozenset[str]] = frozenset()
    #: attributes of the definition itself, never copied
    _definition_attributes: ClassVar[frozenset[str]] = frozenset({"_successors", "_name"})

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise GraphDefinitionError(f"name must be a non-empty string, got {name!r}")
        self._name = name or type(self).__name__
        self._successors: dict[str, BaseNode] = {}

    # -- identity and wiring -----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The step's label in the run tree and in results."""
        try:
            return self._name
        except AttributeError:
            raise GraphDefinitionError(
                f"{type(self).__qualname__}.__init__ did not call super().__init__(); "
                "call it first so the node gets its name and successors"
            ) from None

    @property
    def successors(self) -> Mapping[str, BaseNode]:
        """The next step for each action (read-only view)."""
        return dict(self._wiring())

    def _wiring(self) -> dict[str, BaseNode]:
        try:
            return self._successors
        except AttributeError:
            raise GraphDefinitionError(
                f"{type(self).__qualname__}.__init__ did not call super().__init__(); "
                "call it first so the node gets its name and successors"
            ) from None

    def next(self, target: BaseNode | Sequence[BaseNode], action: str = DEFAULT_ACTION) -> Any:
        """Make ``target`` follow this node on ``action``; returns the target (as ``>>``).

        A list or tuple of nodes becomes a :class:`~runtree.graph.Parallel` step.
        """
        action = check_action(action, f"{self.name} - action")
        node = as_step(target, f"{self.name} - {action!r} >>")
        wiring = self._wiring()
        existing = wiring.get(action)
        if existing is not None and existing is not node:
            raise GraphDefinitionError(
                f"node {self.name!r} already goes to {existing.name!r} on action {action!r}; "
                f"use another action (`{self.name} - 'other' >> {node.name}`) or wire it once"
            )
        wiring[action] = node
        return node

    def __rshift__(self, target: Any) -> Any:
        return self.next(target)

    def __rrshift__(self, other: Any) -> Any:
        # `[a, b] >> merge` would need the list to know its predecessor: refuse clearly.
        raise GraphDefinitionError(
            f"cannot wire {_describe(other)} >> {self.name!r}: the left side of >> must be a "
            "graph node; write `start >> [a, b] >> merge` or `Parallel(a, b) >> merge`"
        )

    def __sub__(self, action: Any) -> Transition:
        return Transition(self, check_action(action, f"{self.name} - action"))

    # -- per-run state ---------------------------------------------------------------------

    def fresh(self) -> BaseNode:
        """A copy of this node for one run: instance attributes are deep-copied (except the
        wiring and ``shared_attributes``), so runs never share mutable state."""
        clone = copy.copy(self)
        memo: dict[int, Any] = {id(node): node for node in self._wiring().values()}
        keep = self.shared_attributes | self._definition_attributes
        for key, value in vars(self).items():
            if key in keep:
                continue
            try:
                vars(clone)[key] = copy.deepcopy(value, memo)
            except Exception as exc:
                raise GraphDefinitionError(
                    f"attribute {key!r} of node {self.name!r} cannot be copied for a run "
                    f"({type(exc).__name__}: {exc}); list it in "
                    f"`shared_attributes = frozenset({{{key!r}}})` on {type(self).__qualname__} "
                    "to share it across runs"
                ) from exc
        return clone

    # -- running -----------------------------------------------------------------------------

    async def _step(self, shared: Shared) -> Outcome:
        """Run this node as one step on ``shared``; the step is a request of the run."""
        raise NotImplementedError

    def _reachable(self) -> list[BaseNode]:
        """This node and every node reachable through successors and parallel branches."""
        seen: dict[int, BaseNode] = {}
        stack: list[BaseNode] = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen[id(node)] = node
            stack.extend(node._wiring().values())
            stack.extend(node._children())
        return list(seen.values())

    def _children(self) -> Sequence[BaseNode]:
        """Nodes run inside this step as part of it (parallel branches)."""
        return ()

    def _validate(self) -> None:
        """Check this node's own definition (called before a run)."""

    def __repr__(self) -> str:
        actions = ", ".join(f"{a}->{n.name}" for a, n in self._wiring().items())
        return f"<{type(self).__qualname__} {self.name!r}{' ' + actions if actions else ''}>"


class Transition:
    """``node - "action"``: waits for ``>> target``."""

    __slots__ = ("action", "source")

    def __init__(self, source: BaseNode, action: str) -> None:
        self.source = source
        self.action = action

    def __rshift__(self, target: Any) -> Any:
        return self.source.next(target, self.action)

    def __repr__(self) -> str:
        return f"<Transition {self.source.name!r} - {self.action!r}>"


def as_step(target: Any, where: str) -> BaseNode:
    """``target`` as a step: a node, or a list/tuple of nodes made into ``Parallel``."""
    if isinstance(target, BaseNode):
        return target
    if isinstance(target, (list, tuple)):
        from runtree.graph.parallel import Parallel

        branches: Parallel = Parallel(*target)
        return branches
    if isinstance(target, Transition):
        raise GraphDefinitionError(
            f"{where} {target!r}: a transition cannot be a target; write "
            "`a - 'action' >> b` with a node on the right"
        )
    hint = ""
    if isinstance(target, type) and issubclass(target, BaseNode):
        hint = f"; instantiate it: {target.__qualname__}()"
    elif callable(target):
        hint = "; wrap the function in a graph Node subclass (its exec method)"
    raise GraphDefinitionError(
        f"{where} {_describe(target)}: the target of >> must be a graph node "
        f"(runtree.graph.Node, Graph, Parallel) or a list of them{hint}"
    )
