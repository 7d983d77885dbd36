"""What every graph step has in common: a name, params, successors by action, ``>>`` wiring.

``a >> b`` makes ``b`` follow ``a`` on the ``"default"`` action; ``a - "retry" >> b`` on the
``"retry"`` action; ``a - "done" >> None`` ends the run there on purpose; ``a >> [b, c]`` (or
``a >> Parallel(b, c)``) runs ``b`` and ``c`` in parallel. Each ``>>`` returns its right
side, so chains read left to right: ``load >> clean >> [left, right] >> merge``.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from runtree.errors import ConfigurationError
from runtree.graph._tracking import Record, StepContext, run_step, run_step_sync
from runtree.graph.errors import GraphDefinitionError, SuccessorsIgnoredWarning

if TYPE_CHECKING:
    from runtree.graph.graph import GraphResult
    from runtree.graph.shared import SharedConflict

__all__ = [
    "DEFAULT_ACTION",
    "BaseNode",
    "StepOutcome",
    "Transition",
    "check_action",
    "check_flag",
    "check_limit",
    "check_params",
    "route",
]

#: The action of ``a >> b`` and of a ``post`` that returns ``None``.
DEFAULT_ACTION = "default"

# Bumped by every change of any node's wiring: what is derived from a graph's structure
# (its Mermaid picture) is cached with the version it was made at.
_wiring_changes = itertools.count(1)
_wiring_version = 0


def wiring_version() -> int:
    """A number that changes whenever any node's wiring (or a graph's start) changes."""
    return _wiring_version


def wiring_changed() -> None:
    global _wiring_version
    _wiring_version = next(_wiring_changes)


Shared = MutableMapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    """How one step ended.

    ``action`` is what ``post`` returned (``None`` when it returned nothing), ``result``
    what ``exec`` returned (a list for batch and parallel steps). ``attempts`` counts the
    ``exec`` attempts (over all items of a batch), ``fallback`` tells whether
    ``exec_fallback`` produced the result, ``errors`` counts the items or branches whose
    exception was collected, ``conflicts`` lists the shared-store conflicts resolved by a
    ``"last_wins"``/``"first_wins"`` policy.

    The output of the step's request in the run tree is this outcome as plain data
    (:meth:`to_record`), plus, in a journaled run, ``"shared"``: what the step changed in
    the shared store. ``StepOutcome.from_record(record.output)`` reads it back.
    """

    node: str
    action: str | None
    result: Any = None
    attempts: int = 0
    fallback: bool = False
    errors: int = 0
    conflicts: tuple[SharedConflict, ...] = ()

    def to_record(self) -> Record:
        record: Record = {"node": self.node, "action": self.action, "result": self.result}
        if self.attempts:
            record["attempts"] = self.attempts
        if self.fallback:
            record["fallback"] = True
        if self.errors:
            record["errors"] = self.errors
        if self.conflicts:
            record["conflicts"] = [conflict_record(c) for c in self.conflicts]
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StepOutcome:
        return cls(
            node=record["node"],
            action=record.get("action"),
            result=record.get("result"),
            attempts=record.get("attempts", 0),
            fallback=record.get("fallback", False),
            errors=record.get("errors", 0),
            conflicts=conflicts_from(record),
        )


def conflict_record(conflict: SharedConflict) -> Record:
    return {
        "key": conflict.key,
        "branches": list(conflict.branches),
        "values": list(conflict.values),
    }


def conflicts_from(record: Mapping[str, Any]) -> tuple[SharedConflict, ...]:
    from runtree.graph.shared import SharedConflict

    return tuple(
        SharedConflict(key=c["key"], branches=tuple(c["branches"]), values=tuple(c["values"]))
        for c in record.get("conflicts", ())
    )


def check_action(action: object, where: str) -> str | None:
    """Validate an action returned by ``post`` (``None`` stays ``None``)."""
    if action is None:
        return None
    if not isinstance(action, str) or not action:
        raise GraphDefinitionError(
            f"{where}: an action must be a non-empty string (or None for 'default'), got {action!r}"
        )
    return action


def route(action: str | None) -> str:
    """The successor an action leads to: ``None`` leads where ``"default"`` does."""
    return DEFAULT_ACTION if action is None else action


def check_params(params: object, where: str) -> dict[str, Any]:
    """Validate params (a mapping with string keys); a copy."""
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ConfigurationError(
            f"{where}: params must be a dict with string keys, got {type(params).__name__} "
            f"{params!r}"[:300]
        )
    return dict(params)


def check_limit(value: object, where: str) -> int | None:
    """Validate a ``max_concurrency`` (``None`` or an int >= 1)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(
            f"{where}: max_concurrency must be None or an int >= 1, got {value!r}"
        )
    return value


def check_flag(value: object, where: str, option: str) -> bool:
    """Validate a True/False option."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where}: {option} must be True or False, got {value!r}")
    return value


def check_store(shared: object, where: str) -> Shared:
    """The shared store to run on: ``shared``, or a new dict for ``None``."""
    if shared is None:
        return {}
    if not isinstance(shared, MutableMapping):
        raise ConfigurationError(
            f"{where}: the shared store must be a dict (or MutableMapping), "
            f"got {type(shared).__name__}"
        )
    return shared


def _describe(value: object) -> str:
    if isinstance(value, type):
        return f"the class {value.__qualname__}"
    return f"{type(value).__name__} {value!r}"[:200]


class BaseNode:
    """Base of everything a graph can run as a step: ``Node``, ``Graph``, ``Parallel``.

    ``name`` labels the step in the run tree and in results; it defaults to the class name.
    ``params`` is a dict the running graph sets for each step (batch graphs give each run
    its own); :meth:`set_params` sets the defaults. Attributes named in
    ``shared_attributes`` are shared by every run of the node; all other instance
    attributes are copied for each run (see :meth:`fresh`).
    """

    #: attributes kept by reference in per-run copies (clients, locks, caches you share)
    shared_attributes: ClassVar[frozenset[str]] = frozenset()
    #: attributes of the definition itself, never copied
    _definition_attributes: ClassVar[frozenset[str]] = frozenset({"_successors", "_name"})

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise GraphDefinitionError(f"name must be a non-empty string, got {name!r}")
        self._name = name or type(self).__name__
        self._successors: dict[str, BaseNode | None] = {}
        #: the params of the running step (the graph's, merged over these defaults)
        self.params: dict[str, Any] = {}

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
    def successors(self) -> Mapping[str, BaseNode | None]:
        """The next step for each action (read-only view; ``None``: the run ends there)."""
        return dict(self._wiring())

    def _wiring(self) -> dict[str, BaseNode | None]:
        try:
            return self._successors
        except AttributeError:
            raise GraphDefinitionError(
                f"{type(self).__qualname__}.__init__ did not call super().__init__(); "
                "call it first so the node gets its name and successors"
            ) from None

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Set this node's default params (a dict with string keys; copied)."""
        self.params = check_params(params, f"{self.name}.set_params")

    def next(
        self, target: BaseNode | Sequence[BaseNode] | None, action: str = DEFAULT_ACTION
    ) -> Any:
        """Make ``target`` follow this node on ``action``; returns the target (as ``>>``).

        A list or tuple of nodes becomes a :class:`~runtree.graph.Parallel` step; ``None``
        ends the run there (no warning: the end is wired on purpose).
        """
        checked = check_action(action, f"{self.name} - action")
        if checked is None:
            checked = DEFAULT_ACTION
        node = None if target is None else as_step(target, f"{self.name} - {checked!r} >>")
        wiring = self._wiring()
        if checked in wiring and wiring[checked] is not node:
            existing = wiring[checked]
            raise GraphDefinitionError(
                f"node {self.name!r} already goes to "
                f"{'the end' if existing is None else repr(existing.name)} on action "
                f"{checked!r}; use another action (`{self.name} - 'other' >> ...`) or wire "
                "it once"
            )
        wiring[checked] = node
        wiring_changed()
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
        checked = check_action(action, f"{self.name} - action")
        return Transition(self, DEFAULT_ACTION if checked is None else checked)

    # -- per-run state ---------------------------------------------------------------------

    def fresh(self) -> BaseNode:
        """A copy of this node for one run: instance attributes are deep-copied (except the
        wiring and ``shared_attributes``), so runs never share mutable state."""
        clone = copy.copy(self)
        memo: dict[int, Any] = {
            id(node): node for node in self._wiring().values() if node is not None
        }
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

    async def run(
        self, shared: Shared | None = None, params: Mapping[str, Any] | None = None
    ) -> GraphResult:
        """Run this node by itself on ``shared`` (a new dict if ``None``) with ``params``.

        A graph runs from its start node; any other node runs one step, and its
        successors are not followed (a :class:`~runtree.graph.SuccessorsIgnoredWarning`
        says so): put it in a :class:`~runtree.graph.Graph` for that. Inside a session the
        run is a request of that session; outside, of a new one.
        """
        from runtree.graph.graph import GraphResult

        store, ctx = self._start(shared, params)
        return GraphResult.from_record(await self._step(ctx), store)

    def run_sync(
        self, shared: Shared | None = None, params: Mapping[str, Any] | None = None
    ) -> GraphResult:
        """Blocking form of :meth:`run` for code without a running event loop."""
        from runtree.graph.graph import GraphResult

        store, ctx = self._start(shared, params)
        record = run_step_sync(
            self.name,
            self._label(),
            ctx,
            lambda: self._step_body(ctx),
            attributes=self._step_attributes(),
        )
        return GraphResult.from_record(record, store)

    def _start(
        self, shared: Shared | None, params: Mapping[str, Any] | None
    ) -> tuple[Shared, StepContext]:
        store = check_store(shared, f"{type(self).__name__} {self.name!r}")
        checked = check_params(params, f"{self.name}.run")
        self._check_runnable()
        if self._wiring():
            warnings.warn(
                SuccessorsIgnoredWarning(
                    f"{self.name}.run() runs {self.name!r} only; its successors "
                    f"({', '.join(sorted(self._wiring()))}) are not followed. To run them, "
                    f"run a graph: Graph({self.name}).run(...)"
                ),
                stacklevel=3,
            )
        return store, StepContext.start(store, checked)

    def _check_runnable(self) -> None:
        """Check the definition before a top-level run (graphs check their wiring)."""
        self._validate()

    def _label(self) -> str:
        """This step's argument as shown in the run tree (part of its resume key)."""
        return f"step {self.name}"

    def _step_attributes(self) -> Mapping[str, Any] | None:
        """The attributes of this step's request (contract 1), or ``None``. Called once
        per step: keep it cheap (graphs return their cached picture)."""
        return None

    async def _step(self, ctx: StepContext) -> Record:
        """Run this node as one step; the step is a request of the run; returns its record."""
        return await run_step(
            self.name,
            self._label(),
            ctx,
            lambda: self._step_body(ctx),
            attributes=self._step_attributes(),
        )

    async def _step_body(self, ctx: StepContext) -> Record:
        """The work of one step (inside its request)."""
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
            stack.extend(n for n in node._wiring().values() if n is not None)
            stack.extend(node._children())
        return list(seen.values())

    def _children(self) -> Sequence[BaseNode]:
        """Nodes run inside this step as part of it (parallel branches)."""
        return ()

    def _validate(self) -> None:
        """Check this node's own definition (called before a run)."""

    def __repr__(self) -> str:
        actions = ", ".join(
            f"{a}->{'end' if n is None else n.name}" for a, n in self._wiring().items()
        )
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
