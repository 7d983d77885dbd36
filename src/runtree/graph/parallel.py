"""``Parallel``: fan out to several branches, join their results in declared order.

``a >> Parallel(b, c, d) >> merge`` (or ``a >> [b, c, d] >> merge``) runs ``b``, ``c`` and
``d`` concurrently as one step. Each branch is one graph step (a ``Node``, a nested
``Graph`` for a chain, another ``Parallel``); the branches' own successors are not followed.
When all are done, the results are stored as a list in declared order under
``shared[into]`` (``"parallel_results"`` unless told otherwise) and the step continues on
the ``"default"`` action. The branches get the params of the step.

Each branch works on a :class:`~runtree.graph.shared.BranchStore`: it sees the shared store
plus its own writes, never a sibling's. At the join the writes are merged in declared
order; a key written by two branches raises
:class:`~runtree.graph.errors.SharedStateConflictError` (``on_conflict="raise"``, the
default) or is resolved by ``"last_wins"`` / ``"first_wins"`` (declared order) and reported
in the step's outcome and the log.

A failing branch cancels its siblings and its exception is raised unchanged, nothing is
merged; with ``return_exceptions=True`` the exception takes the branch's place in the
results and the writes of the failed branch are discarded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from runtree.errors import ConfigurationError
from runtree.graph._gather import gather_ordered
from runtree.graph._tracking import Record, StepContext
from runtree.graph.base import BaseNode, StepOutcome, as_step, check_limit
from runtree.graph.errors import GraphDefinitionError, SharedStateConflictError
from runtree.graph.shared import (
    CONFLICT_POLICIES,
    BranchStore,
    ConflictPolicy,
    apply_changes,
    find_conflicts,
)

__all__ = ["DEFAULT_INTO", "Parallel"]

logger = logging.getLogger("runtree.graph")

#: The shared-store key the joined results go to by default.
DEFAULT_INTO = "parallel_results"


class Parallel(BaseNode):
    """Run ``branches`` concurrently as one step; see the module docstring."""

    def __init__(
        self,
        *branches: BaseNode,
        name: str | None = None,
        into: str | None = DEFAULT_INTO,
        on_conflict: ConflictPolicy = "raise",
        max_concurrency: int | None = None,
        return_exceptions: bool = False,
    ) -> None:
        if len(branches) == 1 and isinstance(branches[0], (list, tuple)):
            branches = tuple(branches[0])
        if not branches:
            raise GraphDefinitionError("Parallel needs at least one branch: Parallel(a, b, ...)")
        nodes = tuple(as_step(b, "Parallel branch") for b in branches)
        super().__init__(name=name or f"Parallel({', '.join(n.name for n in nodes)})")
        if into is not None and (not isinstance(into, str) or not into):
            raise ConfigurationError(f"{self.name}: into must be a non-empty string or None")
        if on_conflict not in CONFLICT_POLICIES:
            raise ConfigurationError(
                f"{self.name}: on_conflict must be one of {'|'.join(CONFLICT_POLICIES)}, "
                f"got {on_conflict!r}"
            )
        check_limit(max_concurrency, self.name)
        self.branches: tuple[BaseNode, ...] = nodes
        self.into = into
        self.on_conflict: ConflictPolicy = on_conflict
        self.max_concurrency = max_concurrency
        self.return_exceptions = bool(return_exceptions)
        names = [n.name for n in nodes]
        self.labels: tuple[str, ...] = tuple(
            name if names.count(name) == 1 else f"{name}[{index}]"
            for index, name in enumerate(names)
        )

    def _children(self) -> Sequence[BaseNode]:
        return self.branches

    def _validate(self) -> None:
        for label, branch in zip(self.labels, self.branches, strict=True):
            if branch._wiring():
                raise GraphDefinitionError(
                    f"branch {label!r} of {self.name!r} has successors "
                    f"({', '.join(sorted(branch._wiring()))}); a branch runs one step. "
                    f"To run a chain in a branch, wrap it: Graph({label}) as the branch"
                )

    def fresh(self) -> BaseNode:
        return self  # a definition only: per-run state lives in the step

    def _branch_job(self, branch: BaseNode, ctx: StepContext) -> Callable[[], Awaitable[Any]]:
        async def job() -> Any:
            record = await branch._step(ctx)
            return record.get("result")

        return job

    async def _step_body(self, ctx: StepContext) -> Record:
        shared = ctx.store
        stores = [BranchStore(shared, label) for label in self.labels]
        jobs = [
            self._branch_job(branch, ctx.branch(store))
            for branch, store in zip(self.branches, stores, strict=True)
        ]
        results = await gather_ordered(
            jobs, max_concurrency=self.max_concurrency, return_exceptions=self.return_exceptions
        )
        failed = [isinstance(r, BaseException) for r in results]
        changes = [{} if bad else s.changes() for s, bad in zip(stores, failed, strict=True)]
        if self.into is not None:
            changes.append({self.into: results})
        labels = [*self.labels, self.name]
        conflicts = find_conflicts(labels, changes)
        if conflicts:
            detail = "; ".join(c.describe() for c in conflicts)
            if self.on_conflict == "raise":
                raise SharedStateConflictError(
                    f"parallel step {self.name!r}: branches wrote the same shared-store "
                    f"key(s): {detail}. Write distinct keys per branch, return values and let "
                    "the join collect them (shared[into]), or pass on_conflict='last_wins'",
                    step=self.name,
                    conflicts=tuple(conflicts),
                )
            logger.warning(
                "parallel step %r: conflicting writes resolved by %s: %s",
                self.name,
                self.on_conflict,
                detail,
            )
        apply_changes(shared, changes, policy=self.on_conflict)
        return StepOutcome(
            node=self.name,
            action=None,
            result=results,
            errors=sum(failed),
            conflicts=tuple(conflicts),
        ).to_record()
