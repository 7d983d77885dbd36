"""``Graph``: run steps from ``start``, following the action each step returns.

``await graph.run(shared)`` runs ``start`` on the shared store (a ``dict``; a new one if not
given), then the successor of the action it returned, and so on. The run ends when a step's
node has no successors at all (its action is the run's final action), or when it has some
but none for the action it returned: then the run stops with a clear record (a warning in
the log, an ``"UnmatchedAction"`` request in the run tree, ``result.unmatched``), or raises
:class:`~runtree.graph.errors.UnmatchedActionError` with ``on_unmatched="raise"``.

More than ``max_steps`` steps raise :class:`~runtree.graph.errors.MaxStepsExceededError`
naming the loop. A run is a request of the current session named after the graph (a
temporary session is opened outside one); each step is a child request. A graph is also a
node: put it in another graph, and its final action picks the successor there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import MutableMapping, Sequence
from typing import Any, Literal, get_args

from runtree.errors import ConfigurationError
from runtree.graph._tracking import StepWork, track, tracked_class
from runtree.graph.base import BaseNode, Shared, as_step
from runtree.graph.errors import GraphDefinitionError, MaxStepsExceededError, UnmatchedActionError
from runtree.graph.shared import SharedConflict
from runtree.interaction import call_sync

__all__ = [
    "DEFAULT_MAX_STEPS",
    "Graph",
    "GraphResult",
    "GraphStatistics",
    "UNMATCHED_POLICIES",
    "UnmatchedAction",
    "UnmatchedPolicy",
]

logger = logging.getLogger("runtree.graph")

DEFAULT_MAX_STEPS = 1000
UnmatchedPolicy = Literal["stop", "raise"]
UNMATCHED_POLICIES: tuple[str, ...] = get_args(UnmatchedPolicy)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnmatchedAction:
    """The record of a run that stopped on an action its node has no successor for."""

    graph: str
    node: str
    action: str
    available: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"graph {self.graph!r} stopped: node {self.node!r} returned action {self.action!r} "
            f"but only has successors for {list(self.available)}"
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GraphResult:
    """How a graph run ended.

    ``action`` is the last step's action, ``last_node`` its node, ``result`` its result
    (``exec``'s return value; a list for batch and parallel steps), ``path`` the node names
    in the order they ran, ``steps`` their count. ``unmatched`` is set when the run stopped
    on an action without successor. ``conflicts`` collects the shared-store conflicts that
    parallel steps resolved by policy. ``shared`` is the run's shared store.
    """

    graph: str
    action: str
    last_node: str
    result: Any
    steps: int
    path: tuple[str, ...]
    shared: MutableMapping[str, Any]
    unmatched: UnmatchedAction | None = None
    conflicts: tuple[SharedConflict, ...] = ()

    @property
    def completed(self) -> bool:
        """True when the run ended on a node without successors (not on an unmatched action)."""
        return self.unmatched is None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GraphStatistics:
    """Counters of a graph over all its runs (nested runs included)."""

    name: str
    runs: int
    completed: int
    unmatched: int
    failed: int
    steps: int


def _find_loop(path: Sequence[str]) -> tuple[str, ...]:
    """The cycle at the end of ``path``: from the last node's previous visit to itself."""
    if not path:
        return ()
    last = path[-1]
    for index in range(len(path) - 2, -1, -1):
        if path[index] == last:
            return tuple(path[index:])
    return (last,)


class Graph(BaseNode):
    """A graph of steps starting at ``start``; see the module docstring."""

    def __init__(
        self,
        start: BaseNode | Sequence[BaseNode],
        *,
        name: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        on_unmatched: UnmatchedPolicy = "stop",
    ) -> None:
        super().__init__(name=name)
        self.start: BaseNode = as_step(start, "Graph(start)")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ConfigurationError(f"graph {self.name!r}: max_steps must be an int >= 1")
        if on_unmatched not in UNMATCHED_POLICIES:
            raise ConfigurationError(
                f"graph {self.name!r}: on_unmatched must be one of "
                f"{'|'.join(UNMATCHED_POLICIES)}, got {on_unmatched!r}"
            )
        self.max_steps = max_steps
        self.on_unmatched: UnmatchedPolicy = on_unmatched
        self._counts = dict.fromkeys(("runs", "completed", "unmatched", "failed", "steps"), 0)

    def fresh(self) -> BaseNode:
        return self  # a definition only: per-run state lives in the run

    def nodes(self) -> list[BaseNode]:
        """Every node reachable from ``start`` (parallel branches included; not the insides
        of nested graphs)."""
        return self.start._reachable()

    def validate(self) -> None:
        """Check the wiring; raises :class:`GraphDefinitionError` naming the problem."""
        for node in self.nodes():
            if node is self:
                raise GraphDefinitionError(
                    f"graph {self.name!r} contains itself; a graph cannot be its own step"
                )
            node._validate()

    def statistics(self) -> GraphStatistics:
        return GraphStatistics(name=self.name, **self._counts)

    def to_mermaid(self, *, direction: str = "TD") -> str:
        """The graph as Mermaid flowchart text (see :mod:`runtree.graph.mermaid`)."""
        from runtree.graph.mermaid import to_mermaid

        return to_mermaid(self, direction=direction)

    # -- running -----------------------------------------------------------------------------

    async def run(self, shared: Shared | None = None) -> GraphResult:
        """Run the graph on ``shared`` (a new dict if ``None``) and report how it ended.

        Inside a session the run is a request of that session; outside, of a new one.
        """
        store = self._store(shared)
        self.validate()
        return await track(self.name, lambda: self._execute(store), label=f"run {self.name}")

    def run_sync(self, shared: Shared | None = None) -> GraphResult:
        """Blocking form of :meth:`run` for code without a running event loop."""
        store = self._store(shared)
        self.validate()
        result: GraphResult = call_sync(
            tracked_class(self.name), StepWork(lambda: self._execute(store), f"run {self.name}")
        )
        return result

    def _store(self, shared: Shared | None) -> Shared:
        if shared is None:
            return {}
        if not isinstance(shared, MutableMapping):
            raise ConfigurationError(
                f"graph {self.name!r}: the shared store must be a dict (or MutableMapping), "
                f"got {type(shared).__name__}"
            )
        return shared

    async def _step(self, shared: Shared) -> GraphResult:
        return await track(self.name, lambda: self._execute(shared), label=f"step {self.name}")

    async def _execute(self, shared: Shared) -> GraphResult:
        counts = self._counts
        counts["runs"] += 1
        try:
            result = await self._loop(shared)
        except BaseException:
            counts["failed"] += 1
            raise
        counts["unmatched" if result.unmatched else "completed"] += 1
        return result

    async def _loop(self, shared: Shared) -> GraphResult:
        node = self.start
        path: list[str] = []
        conflicts: list[SharedConflict] = []
        while True:
            if len(path) >= self.max_steps:
                loop = _find_loop([*path, node.name])
                raise MaxStepsExceededError(
                    f"graph {self.name!r} exceeded max_steps={self.max_steps} before running "
                    f"{node.name!r}; it kept looping through {' -> '.join(loop)}. Make a node "
                    "in that loop return an action that leaves it, or raise max_steps",
                    graph=self.name,
                    max_steps=self.max_steps,
                    loop=loop,
                    path=tuple(path[-20:]),
                )
            outcome = await node._step(shared)
            path.append(node.name)
            self._counts["steps"] += 1
            conflicts.extend(getattr(outcome, "conflicts", ()))
            action = outcome.action
            wiring = node._wiring()
            following = wiring.get(action)
            if following is not None:
                node = following
                continue
            unmatched = None
            if wiring:
                unmatched = UnmatchedAction(
                    graph=self.name, node=node.name, action=action, available=tuple(wiring)
                )
                await self._report_unmatched(unmatched)
            return GraphResult(
                graph=self.name,
                action=action,
                last_node=node.name,
                result=outcome.result,
                steps=len(path),
                path=tuple(path),
                shared=shared,
                unmatched=unmatched,
                conflicts=tuple(conflicts),
            )

    async def _report_unmatched(self, record: UnmatchedAction) -> None:
        if self.on_unmatched == "raise":
            raise UnmatchedActionError(
                f"{record.describe()}; wire it (`{record.node} - {record.action!r} >> next`) "
                "or return one of those actions",
                graph=record.graph,
                node=record.node,
                action=record.action,
                available=record.available,
            )
        logger.warning("%s", record.describe())

        async def note() -> UnmatchedAction:
            return record

        await track("UnmatchedAction", note, label=record.describe())
