"""Finding what to run: ``module:Name`` (or ``path/to/file.py:Name``) and its arguments."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from runtree.errors import RuntreeError
from runtree.nodes.node import Node

__all__ = ["TargetError", "load_object", "load_target", "parse_arguments", "run_mode"]


class TargetError(RuntreeError, ValueError):
    """A ``module:Name`` target or an argument cannot be used."""


def load_target(spec: str) -> Any:
    """The node class or function named by ``spec`` (``module:Name``, ``module:Outer.Name`` or
    ``file.py:Name``); a graph there becomes a node class that runs it. The current folder
    is importable, as with ``python -m``."""
    from runtree.graph.entry import graph_entry, is_graph_target

    obj = load_object(spec)
    module_name, _, qualname = spec.rpartition(":")
    if is_graph_target(obj):  # a graph (or graph node) object or class: run it as a graph
        try:
            return graph_entry(obj, module_name, qualname)
        except TypeError as exc:
            raise TargetError(f"{spec!r}: cannot create {qualname}() to run it: {exc}") from exc
    if isinstance(obj, type):
        if not issubclass(obj, Node):
            raise TargetError(f"{spec!r} is a class but not a runtree Node or graph node")
    elif not callable(obj):
        raise TargetError(f"{spec!r} is neither a node class, a function nor a graph")
    return obj


def load_object(spec: str) -> Any:
    """Whatever ``spec`` (``module:Name`` or ``file.py:Name``) names, unchecked."""
    module_name, sep, qualname = spec.rpartition(":")
    if not sep or not module_name or not qualname:
        raise TargetError(f"{spec!r} is not module:Name (for example mypackage.nodes:Summarise)")
    if module_name == "__main__":
        raise TargetError(
            f"{spec!r} was defined in a script's __main__; it cannot be imported again. "
            "Move the node to a module, or resume the run from Python with "
            "rt.Session(resume=run_id)"
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise TargetError(f"no such file: {module_name}")
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # also for the process strategy's workers
        module_name = path.stem
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import module {module_name!r}: {exc}") from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {qualname!r}") from None
    return obj


def run_mode(target: Any, requested: str) -> str:
    """The mode to run ``target`` in: a graph always runs on the event loop (its steps
    share the store; what they call uses ``requested`` through the session)."""
    from runtree.graph.entry import GraphEntry

    if isinstance(target, type) and issubclass(target, GraphEntry):
        return "async"
    return requested


def parse_value(text: str) -> Any:
    """JSON when ``text`` is JSON (``3``, ``"x"``, ``[1, 2]``, ``true``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_arguments(
    args: list[str] | None, kwargs: list[str] | None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional values and ``--kw name=value`` pairs, each parsed by :func:`parse_value`."""
    positional = tuple(parse_value(a) for a in args or ())
    named: dict[str, Any] = {}
    for pair in kwargs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise TargetError(f"--kw takes name=value, got {pair!r}")
        named[name] = parse_value(value)
    return positional, named
