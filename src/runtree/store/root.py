"""Root calls: what ``runtree resume`` calls again.

A run's *root calls* are the calls made outside any node (``rt.call`` in the session's own
code, or the node ``runtree run`` was given). Their requests are in the journal like any
other (node name, arguments, execution mode, order); what the journal adds is how to find
each node again in another process: its ``module:qualname`` and the absolute path of its
module's file, written once per node class and run (:class:`RootTargets`), so recording
root calls costs nothing per call.

A resumed run's root calls are its own, followed by those of the run it resumed that it had
not reached yet (:func:`root_calls`): a resume that crashed half-way still knows the rest.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from runtree.nodes.function import FunctionNode
from runtree.nodes.node import Node
from runtree.store.errors import RunNotFoundError
from runtree.store.protocol import RunStore
from runtree.store.record import RootTarget, RunInfo, StoredRoot

__all__ = ["RootTargets", "root_calls", "root_target"]


def root_target(node_class: type[Node[Any]]) -> tuple[str, str | None]:
    """``("module:qualname", file)`` of a node class (of its function for a function node);
    ``file`` is the absolute path of the module's file, ``None`` if it has none
    (``python -c``, stdin, a notebook, a class built at run time)."""
    target: Any = node_class
    if issubclass(node_class, FunctionNode):
        target = node_class.function
    module_name = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", node_class.__name__)
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if not isinstance(file, str) or not os.path.isfile(file):
        file = None
    return f"{module_name}:{qualname}", None if file is None else os.path.abspath(file)


class RootTargets:
    """The :class:`RootTarget` rows of one run: one per node name called at the root; one
    per call for a second node class that has the name of another."""

    __slots__ = ("_by_class", "_names", "_run_id")

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        #: node class -> None (covered by its name's row) or (target, file) (a row per call)
        self._by_class: dict[type[Node[Any]], tuple[str, str | None] | None] = {}
        self._names: set[str] = set()

    def row(
        self, node_class: type[Node[Any]], node_name: str, request_id: str
    ) -> RootTarget | None:
        """The row to write for a root call, or ``None`` if one already covers it."""
        try:
            known = self._by_class[node_class]
        except KeyError:
            target, file = root_target(node_class)
            if node_name not in self._names:
                self._names.add(node_name)
                self._by_class[node_class] = None
                return RootTarget(self._run_id, node_name, "", target, file)
            known = self._by_class[node_class] = (target, file)
        if known is None:
            return None
        return RootTarget(self._run_id, node_name, request_id, *known)


def root_calls(store: RunStore, run: RunInfo) -> list[StoredRoot]:
    """Every root call of ``run`` in the order they were made: its own, then those of the
    run it resumed (and so on) beyond the number it made itself."""
    calls: list[StoredRoot] = []
    seen: set[str] = set()
    current: RunInfo | None = run
    while current is not None and current.run_id not in seen:
        seen.add(current.run_id)
        own = store.get_roots(current.run_id)
        if own and own[0].target is None and current.root_node is not None:
            first = own[0]  # written by an older runtree: only the first root was named
            own[0] = StoredRoot(**{**first.to_dict(), "target": current.root_node})
        calls.extend(own[len(calls) :])
        if current.resumed_from is None:
            break
        try:
            current = store.get_run(current.resumed_from)
        except RunNotFoundError:
            break
    return calls
