"""Errors raised by :mod:`runtree.graph`.

Every class derives from :class:`runtree.errors.RuntreeError` (through :class:`GraphError`)
and from the builtin a broad handler would expect; every instance pickles with its
attributes::

    RuntreeError
    └── GraphError
        ├── GraphDefinitionError (NodeDefinitionError, TypeError)
        │                                  a graph is wired wrongly (``>>`` with a non-node,
        │                                  a duplicate action, a bad ``post`` return value)
        ├── MaxStepsExceededError (RuntimeError)
        │                                  a run took more than ``max_steps`` steps; names the loop
        ├── UnmatchedActionError (LookupError)
        │                                  an action has no successor and the graph was told
        │                                  ``on_unmatched="raise"``
        ├── SharedStateConflictError (RuntimeError)
        │                                  parallel branches wrote the same shared-store key
        └── GraphResumeError (RuntimeError)
                                           a resumed run cannot restore the shared store the
                                           way the run it resumes left it

    UserWarning
    └── GraphWarning                       something that is probably a mistake
        ├── UnmatchedActionWarning         a run stopped on an action without successor
        └── SuccessorsIgnoredWarning       ``node.run()`` of a node that has successors

A node's own exceptions are never wrapped: a ``ValueError`` raised in ``exec`` reaches the
caller of ``graph.run()`` as that ``ValueError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from runtree.errors import NodeDefinitionError, RuntreeError

if TYPE_CHECKING:
    from runtree.graph.shared import SharedConflict

__all__ = [
    "GraphDefinitionError",
    "GraphError",
    "GraphResumeError",
    "GraphWarning",
    "MaxStepsExceededError",
    "SharedStateConflictError",
    "SuccessorsIgnoredWarning",
    "UnmatchedActionError",
    "UnmatchedActionWarning",
]


class GraphError(RuntreeError):
    """Root of the errors of :mod:`runtree.graph`.

    Subclasses declare their keyword attributes in ``_fields``; they are set on the instance
    (``None`` when not given) and survive pickling.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    #: values of fields not given (``None`` for the others)
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected fields {sorted(unknown)}")
        for name in self._fields:
            setattr(self, name, fields.get(name, self._defaults.get(name)))


class GraphDefinitionError(GraphError, NodeDefinitionError):
    """A graph is wired or defined wrongly; the message says what to do instead."""


class MaxStepsExceededError(GraphError, RuntimeError):
    """A run took more than ``max_steps`` steps.

    ``graph`` is the graph's name, ``max_steps`` the limit, ``loop`` the node names of the
    cycle the run was repeating (first node repeated at the end) and ``path`` the last
    steps taken.
    """

    _fields = ("graph", "max_steps", "loop", "path")
    _defaults: ClassVar[dict[str, Any]] = {"loop": (), "path": ()}
    graph: str | None
    max_steps: int | None
    loop: tuple[str, ...]
    path: tuple[str, ...]


class UnmatchedActionError(GraphError, LookupError):
    """A node returned an action it has no successor for (with ``on_unmatched="raise"``).

    ``node`` names the node, ``action`` the action and ``available`` the actions it has.
    """

    _fields = ("graph", "node", "action", "available")
    _defaults: ClassVar[dict[str, Any]] = {"available": ()}
    graph: str | None
    node: str | None
    action: str | None
    available: tuple[str, ...]


class SharedStateConflictError(GraphError, RuntimeError):
    """Parallel branches wrote the same key of the shared store.

    ``conflicts`` is a tuple of :class:`~runtree.graph.SharedConflict` (key, branches,
    values written); nothing of the parallel step was merged into the shared store.
    """

    _fields = ("step", "conflicts")
    _defaults: ClassVar[dict[str, Any]] = {"conflicts": ()}
    step: str | None
    conflicts: tuple[SharedConflict, ...]


class GraphResumeError(GraphError, RuntimeError):
    """A resumed run cannot put the shared store back the way the run it resumes left it
    (it did not start from the same shared store)."""


class GraphWarning(UserWarning):
    """Root of the warnings of :mod:`runtree.graph`: something that is probably a mistake."""


class UnmatchedActionWarning(GraphWarning):
    """A run stopped because a node returned an action it has no successor for (with the
    default ``on_unmatched="stop"``)."""


class SuccessorsIgnoredWarning(GraphWarning):
    """``node.run()`` ran one node that has successors; they were not followed."""
