"""``Graph``: run steps from its start node, following the action each step returns.

``await graph.run(shared)`` runs the start node on the shared store (a ``dict``; a new one
if not given), then the successor of the action its ``post`` returned (``None`` leads where
``"default"`` does), and so on. The run ends when a step's node has no successors at all,
when the action leads to ``None`` (``node - "done" >> None``), or when the node has
successors but none for that action: then the run stops with a clear record (an
:class:`~runtree.graph.UnmatchedActionWarning`, an ``"UnmatchedAction"`` request in the run
tree, ``result.unmatched``), or raises :class:`~runtree.graph.errors.UnmatchedActionError`
with ``on_unmatched="raise"``.

A graph has ``prep(shared)`` and ``post(shared, prep_res, exec_res)`` of its own, run before
and after its steps; ``exec_res`` is the action the last step returned, and what ``post``
returns is the graph's action (by default that same action). ``params`` are given to every
step. More than ``max_steps`` steps raise :class:`~runtree.graph.errors.MaxStepsExceededError`
naming the loop. A run is a request of the current session named after the graph (a
temporary session is opened outside one); each step is a child request. A graph is also a
node: put it in another graph, and its action picks the successor there.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Literal, get_args

from runtree.errors import ConfigurationError
from runtree.graph._tracking import Record, StepContext, maybe_await, track
from runtree.graph.base import (
    BaseNode,
    Shared,
    StepOutcome,
    as_step,
    check_action,
    conflict_record,
    conflicts_from,
    route,
    wiring_version,
)
from runtree.graph.errors import (
    GraphDefinitionError,
    MaxStepsExceededError,
    UnmatchedActionError,
    UnmatchedActionWarning,
)
from runtree.graph.shared import SharedConflict

__all__ = [
    "DEFAULT_MAX_STEPS",
    "MERMAID_ATTRIBUTE",
    "UNMATCHED_POLICIES",
    "Graph",
    "GraphResult",
    "GraphStatistics",
    "UnmatchedAction",
    "UnmatchedPolicy",
]

DEFAULT_MAX_STEPS = 1000
#: the request attribute holding a graph's picture (``to_mermaid()``): ``runtree viz``
#: draws the steps a run took on it, untaken nodes and transitions included
MERMAID_ATTRIBUTE = "runtree.graph.mermaid"
UnmatchedPolicy = Literal["stop", "raise"]
UNMATCHED_POLICIES: tuple[str, ...] = get_args(UnmatchedPolicy)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnmatchedAction:
    """The record of a run that stopped on an action its node has no successor for."""

    graph: str
    node: str
    action: str | None
    available: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"Graph ends: '{self.action}' not found in {list(self.available)} "
            f"(graph {self.graph!r} stopped after node {self.node!r})"
        )

    def to_record(self) -> Record:
        return {
            "graph": self.graph,
            "node": self.node,
            "action": self.action,
            "available": list(self.available),
        }


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GraphResult:
    """How a run ended.

    ``action`` is the run's action: what the last step's ``post`` returned (``None`` when
    it returned nothing), or what the graph's own ``post`` made of it. ``last_node`` names
    the last step, ``result`` is its result (``exec``'s return value; a list for batch and
    parallel steps), ``path`` the node names in the order they ran, ``steps`` their count.
    ``unmatched`` is set when the run stopped on an action without successor.
    ``conflicts`` collects the shared-store conflicts that parallel steps resolved by
    policy. ``shared`` is the run's shared store.
    """

    graph: str
    action: str | None
    last_node: str
    result: Any
    steps: int
    path: tuple[str, ...]
    shared: MutableMapping[str, Any]
    unmatched: UnmatchedAction | None = None
    conflicts: tuple[SharedConflict, ...] = ()

    @property
    def completed(self) -> bool:
        """True unless the run stopped on an action its node has no successor for."""
        return self.unmatched is None

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], shared: MutableMapping[str, Any]
    ) -> GraphResult:
        """The result of a run from its request's output (a graph's or a single step's)."""
        name = record["node"]
        path = tuple(record.get("path", (name,)))
        unmatched = record.get("unmatched")
        return cls(
            graph=name,
            action=record.get("action"),
            last_node=record.get("last_node", name),
            result=record.get("result"),
            steps=record.get("steps", len(path)),
            path=path,
            shared=shared,
            unmatched=None
            if unmatched is None
            else UnmatchedAction(
                graph=unmatched["graph"],
                node=unmatched["node"],
                action=unmatched["action"],
                available=tuple(unmatched["available"]),
            ),
            conflicts=conflicts_from(record),
        )


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
    """A graph of steps starting at ``start``; see the module docstring.

    The start node may be given later: ``graph = Graph(); graph.start(load) >> clean``.
    """

    def __init__(
        self,
        start: BaseNode | Sequence[BaseNode] | None = None,
        *,
        name: str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        on_unmatched: UnmatchedPolicy = "stop",
    ) -> None:
        super().__init__(name=name)
        self.start_node: BaseNode | None = (
            None if start is None else as_step(start, f"Graph {self.name!r}: start")
        )
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
        # (wiring version, start node, attributes): the picture each run's request carries
        self._picture: tuple[int, BaseNode | None, Mapping[str, Any] | None] | None = None

    def start(self, node: BaseNode | Sequence[BaseNode]) -> Any:
        """Make ``node`` the start node; returns it, so wiring can go on:
        ``graph.start(load) >> clean``."""
        self.start_node = as_step(node, f"{self.name}.start()")
        return self.start_node

    def fresh(self) -> BaseNode:
        return self  # a definition: each run works on a shallow copy with its params

    # -- the graph's own prep and post (override these) --------------------------------------

    def prep(self, shared: Shared) -> Any:
        """Run before the first step. Default: ``None``."""
        return None

    def post(self, shared: Shared, prep_res: Any, exec_res: Any) -> Any:
        """Run after the last step; ``exec_res`` is the last step's action. Returns the
        graph's action. Default: ``exec_res``."""
        return exec_res

    # -- definition ------------------------------------------------------------------------

    def _first(self) -> BaseNode:
        if self.start_node is None:
            raise GraphDefinitionError(
                f"graph {self.name!r} has no start node: Graph(start) or graph.start(node)"
            )
        return self.start_node

    def nodes(self) -> list[BaseNode]:
        """Every node reachable from the start node (parallel branches included; not the
        insides of nested graphs)."""
        return self._first()._reachable()

    def validate(self) -> None:
        """Check the wiring; raises :class:`GraphDefinitionError` naming the problem."""
        for node in self.nodes():
            if node is self:
                raise GraphDefinitionError(
                    f"graph {self.name!r} contains itself; a graph cannot be its own step"
                )
            node._validate()

    def _check_runnable(self) -> None:
        self.validate()

    def statistics(self) -> GraphStatistics:
        return GraphStatistics(name=self.name, **self._counts)

    def to_mermaid(self, *, direction: str = "TD") -> str:
        """The graph as Mermaid flowchart text (see :mod:`runtree.graph.mermaid`)."""
        from runtree.graph.mermaid import to_mermaid

        return to_mermaid(self, direction=direction)

    def _step_attributes(self) -> Mapping[str, Any] | None:
        """``{"runtree.graph.mermaid": self.to_mermaid()}``, made once and again only after
        some wiring changed (so a run step costs a comparison, not a walk of the graph)."""
        version, start = wiring_version(), self.start_node
        cached = self._picture
        if cached is not None and cached[0] == version and cached[1] is start:
            return cached[2]
        try:
            attributes: Mapping[str, Any] | None = {MERMAID_ATTRIBUTE: self.to_mermaid()}
        except GraphDefinitionError:  # no start node: the run itself says so
            attributes = None
        self._picture = (version, start, attributes)
        return attributes

    # -- running -----------------------------------------------------------------------------

    async def _step_body(self, ctx: StepContext) -> Record:
        counts = self._counts
        counts["runs"] += 1
        # the run's own (shallow) copy, so prep and post see the run's params in self.params
        run = copy.copy(self)
        run.params = {**self.params, **ctx.params}
        try:
            record = await run._execute(ctx.with_params(run.params))
        except BaseException:
            counts["failed"] += 1
            raise
        counts["unmatched" if "unmatched" in record else "completed"] += 1
        return record

    async def _execute(self, ctx: StepContext) -> Record:
        """prep, the steps, post: the record of the run (``ctx`` has the run's params)."""
        prep_res = await maybe_await(self.prep(ctx.store))
        record = await self._walk(ctx)
        return await self._finish(ctx, prep_res, record["action"], record)

    async def _finish(
        self, ctx: StepContext, prep_res: Any, exec_res: Any, record: Record
    ) -> Record:
        action = await maybe_await(self.post(ctx.store, prep_res, exec_res))
        record["action"] = check_action(
            action, f"post() of graph {self.name!r} returned {action!r}"
        )
        record["node"] = self.name
        return record

    async def _walk(self, ctx: StepContext) -> Record:
        """Run the steps from the start node; the record of the walk (``action``: the last
        step's)."""
        node = self._first()
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
            outcome = StepOutcome.from_record(await node._step(ctx))
            path.append(node.name)
            self._counts["steps"] += 1
            conflicts.extend(outcome.conflicts)
            wiring = node._wiring()
            key = route(outcome.action)
            if key in wiring:
                following = wiring[key]
                if following is not None:
                    node = following
                    continue
            record: Record = {
                "node": self.name,
                "action": outcome.action,
                "result": outcome.result,
                "last_node": node.name,
                "steps": len(path),
                "path": path,
            }
            if conflicts:
                record["conflicts"] = [conflict_record(c) for c in conflicts]
            if wiring and key not in wiring:
                unmatched = UnmatchedAction(
                    graph=self.name,
                    node=node.name,
                    action=outcome.action,
                    available=tuple(wiring),
                )
                await self._report_unmatched(unmatched)
                record["unmatched"] = unmatched.to_record()
            return record

    async def _report_unmatched(self, record: UnmatchedAction) -> None:
        wire = (
            f"{record.node} >>"
            if record.action is None
            else f"{record.node} - {record.action!r} >>"
        )
        hint = (
            f"wire it (`{wire} next`), end there on purpose (`{wire} None`) or return one of "
            "those actions"
        )
        if self.on_unmatched == "raise":
            raise UnmatchedActionError(
                f"{record.describe()}; {hint}",
                graph=record.graph,
                node=record.node,
                action=record.action,
                available=record.available,
            )
        warnings.warn(UnmatchedActionWarning(f"{record.describe()}; {hint}"), stacklevel=2)

        async def note() -> Record:
            return record.to_record()

        await track("UnmatchedAction", note, label=record.describe())
