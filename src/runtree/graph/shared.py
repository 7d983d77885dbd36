"""The shared store seen by parallel branches, and detection of conflicting writes.

A graph run passes one shared store (a ``dict``, or any ``MutableMapping``) from step to
step. When a step fans out (:class:`~runtree.graph.Parallel`), every branch gets a
:class:`BranchStore`: a view that reads through to the store as it was at the fan-out and
keeps the branch's own writes and deletions to itself. Branches therefore never see each
other's writes while they run. At the join, the changes are applied in declared branch
order; a key changed by more than one branch is a :class:`SharedConflict` and, by default,
raises :class:`~runtree.graph.errors.SharedStateConflictError` without applying anything.

Only assignments and deletions of keys are tracked. Mutating a value in place
(``shared["items"].append(x)``) changes the object every branch sees and is not detected:
in parallel branches, assign a new value instead (``shared["items"] = [*items, x]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, Literal, get_args

__all__ = [
    "CONFLICT_POLICIES",
    "DELETED",
    "BranchStore",
    "ConflictPolicy",
    "SharedConflict",
    "find_conflicts",
]

ConflictPolicy = Literal["raise", "last_wins", "first_wins"]
CONFLICT_POLICIES: tuple[str, ...] = get_args(ConflictPolicy)


class _Deleted:
    """Marker for a key a branch deleted."""

    _instance: _Deleted | None = None

    def __new__(cls) -> _Deleted:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<deleted>"

    def __reduce__(self) -> str:
        return "DELETED"


#: The value recorded for a key a branch deleted.
DELETED = _Deleted()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SharedConflict:
    """A shared-store key that several parallel branches changed.

    ``branches`` are the branch labels in declared order and ``values`` what each wrote
    (:data:`DELETED` for a deletion).
    """

    key: str
    branches: tuple[str, ...]
    values: tuple[Any, ...]

    def describe(self) -> str:
        writes = ", ".join(f"{b}={v!r}" for b, v in zip(self.branches, self.values, strict=True))
        return f"{self.key!r} written by {len(self.branches)} branches ({writes})"


class BranchStore(MutableMapping[str, Any]):
    """One parallel branch's view of the shared store (see the module docstring)."""

    __slots__ = ("_base", "_changes", "branch")

    def __init__(self, base: MutableMapping[str, Any], branch: str) -> None:
        self._base = base
        self._changes: dict[str, Any] = {}
        self.branch = branch

    def __getitem__(self, key: str) -> Any:
        if key in self._changes:
            value = self._changes[key]
            if value is DELETED:
                raise KeyError(key)
            return value
        return self._base[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._changes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._changes[key] = DELETED

    def __contains__(self, key: object) -> bool:
        if key in self._changes:
            return self._changes[key] is not DELETED
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        changes = self._changes
        for key in self._base:
            if key not in changes:
                yield key
        for key, value in changes.items():
            if value is not DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"<BranchStore {self.branch!r} changed={sorted(self._changes)}>"

    def changes(self) -> dict[str, Any]:
        """The keys this branch assigned (value) or deleted (:data:`DELETED`), in order."""
        return dict(self._changes)


def find_conflicts(
    labels: Sequence[str], changes: Sequence[dict[str, Any]]
) -> list[SharedConflict]:
    """The keys changed by more than one branch, in order of first change."""
    writers: dict[str, list[int]] = {}
    for index, branch_changes in enumerate(changes):
        for key in branch_changes:
            writers.setdefault(key, []).append(index)
    return [
        SharedConflict(
            key=key,
            branches=tuple(labels[i] for i in indexes),
            values=tuple(changes[i][key] for i in indexes),
        )
        for key, indexes in writers.items()
        if len(indexes) > 1
    ]


def apply_changes(
    base: MutableMapping[str, Any],
    changes: Sequence[dict[str, Any]],
    *,
    policy: ConflictPolicy,
) -> None:
    """Apply the branches' changes to ``base`` in declared order.

    With ``"first_wins"`` the first branch (in declared order) that changed a key decides
    it; otherwise the last one does. Conflicts must have been handled by the caller.
    """
    ordered = reversed(changes) if policy == "first_wins" else changes
    for branch_changes in ordered:
        for key, value in branch_changes.items():
            if value is DELETED:
                base.pop(key, None)
            else:
                base[key] = value
