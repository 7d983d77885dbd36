"""``NodeState``: a node as a value that can cross a process or network boundary.

``NodeState(node)`` deep-copies the node. ``to_bytes()`` writes it in the format chosen by
``RT_NODE_SERIALISATION_FMT`` (or the ``fmt`` argument):

* ``json`` (default): ``{"runtree": "NodeState", "version": 1, "class": "pkg.mod:Qual",
  "name": ..., "attributes": {...}, "details": {...}}``. The class must be importable by
  that path and every attribute must be plain JSON; otherwise a :class:`NodeStateError`
  names the attribute. Tuples come back as lists.
* ``pickle``: the magic bytes ``RTNS-PICKLE-1\\n`` then a cloudpickle payload, so classes
  built at run time (``NodeBuilder``) travel too. Loading pickle runs code, so
  :meth:`NodeState.from_bytes` refuses it unless ``allow_pickle=True``.

``instantiate()`` returns a working copy without running ``__init__`` again.
"""

from __future__ import annotations

import copy
import importlib
import json
import pickle
from pathlib import Path
from typing import Any, Generic, TypeVar

from runtree.errors import NodeStateError
from runtree.nodes.details import details_from_dict, details_to_dict
from runtree.nodes.node import Node
from runtree.nodes.settings import SERIALISATION_FORMATS, serialisation_format

__all__ = ["PICKLE_MAGIC", "NodeState"]

N = TypeVar("N", bound=Node[Any])

PICKLE_MAGIC = b"RTNS-PICKLE-1\n"
_JSON_KIND = "NodeState"
_JSON_VERSION = 1


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise NodeStateError(f"NodeState: bad class path {path!r}; expected 'module:Qualname'")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise NodeStateError(f"NodeState: cannot import node class {path!r}: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, Node)):
        raise NodeStateError(f"NodeState: {path!r} is not a runtree Node class")
    return obj


class NodeState(Generic[N]):
    """A serialisable snapshot of a node (a deep copy taken at construction)."""

    __slots__ = ("node",)

    def __init__(self, node: N) -> None:
        if not isinstance(node, Node):
            raise NodeStateError(f"NodeState needs a runtree Node, got {type(node).__name__}")
        try:
            self.node: N = copy.deepcopy(node)
        except Exception as exc:
            raise NodeStateError(
                f"NodeState: cannot deep-copy node {node.name()!r}: {type(exc).__name__}: {exc}"
            ) from exc

    @property
    def node_class(self) -> type[N]:
        return type(self.node)

    def instantiate(self) -> N:
        """A working copy of the node (shallow copy; ``__init__`` is not run again)."""
        clone = copy.copy(self.node)
        clone.details = dict(self.node.__dict__.get("details", {}))
        return clone

    # -- bytes -------------------------------------------------------------------------------

    def to_bytes(self, fmt: str | None = None) -> bytes:
        """Serialise in ``fmt`` (default: ``RT_NODE_SERIALISATION_FMT``, else ``json``)."""
        chosen = serialisation_format() if fmt is None else fmt
        if chosen == "json":
            return json.dumps(self.to_dict(), sort_keys=True).encode()
        if chosen == "pickle":
            import cloudpickle

            try:
                payload: bytes = cloudpickle.dumps(self.node)
            except Exception as exc:
                raise NodeStateError(
                    f"NodeState: cannot pickle node {self.node.name()!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            return PICKLE_MAGIC + payload
        raise NodeStateError(
            f"unknown NodeState format {chosen!r}; use one of {SERIALISATION_FORMATS}"
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_pickle: bool = False) -> NodeState[Any]:
        """Load a state written by :meth:`to_bytes` (pickle only with ``allow_pickle=True``)."""
        if data.startswith(PICKLE_MAGIC):
            if not allow_pickle:
                raise NodeStateError(
                    "NodeState is in pickle format; loading it executes code. Pass "
                    "allow_pickle=True only for data you wrote yourself"
                )
            try:
                node = pickle.loads(data[len(PICKLE_MAGIC) :])
            except Exception as exc:
                raise NodeStateError(
                    f"NodeState: corrupt pickle payload: {type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(node, Node):
                raise NodeStateError(
                    f"NodeState: pickle payload is a {type(node).__name__}, not a Node"
                )
            return cls._wrap(node)
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NodeStateError(
                f"NodeState: not a runtree NodeState (neither JSON nor pickle): {exc}"
            ) from exc
        return cls.from_dict(document)

    # -- JSON documents ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this state; raises if an attribute is not plain JSON."""
        node = self.node
        cls = type(node)
        path = _class_path(cls)
        try:
            imported = _import_class(path)
        except NodeStateError:
            imported = None
        if imported is not cls:
            raise NodeStateError(
                f"NodeState: node class {path!r} cannot be re-imported by that path (built at run "
                "time?); use RT_NODE_SERIALISATION_FMT=pickle for it"
            )
        attributes: dict[str, Any] = {}
        for key, value in vars(node).items():
            if key == "details":
                continue
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise NodeStateError(
                    f"NodeState: attribute {key!r} of node {node.name()!r} "
                    f"({type(value).__name__}) "
                    f"cannot be written as JSON ({exc}); make it JSON-friendly or use "
                    "RT_NODE_SERIALISATION_FMT=pickle"
                ) from exc
            attributes[key] = value
        return {
            "runtree": _JSON_KIND,
            "version": _JSON_VERSION,
            "class": path,
            "name": node.name(),
            "attributes": attributes,
            "details": details_to_dict(node.__dict__.get("details", {})),
        }

    @staticmethod
    def check_document(document: Any) -> dict[str, Any]:
        """``document`` if it is a NodeState JSON document this runtree reads, else a
        :class:`NodeStateError`. Imports nothing (the node's class is only named)."""
        if not isinstance(document, dict) or document.get("runtree") != _JSON_KIND:
            raise NodeStateError("NodeState: JSON document is not a runtree NodeState")
        if document.get("version") != _JSON_VERSION:
            raise NodeStateError(
                f"NodeState: unsupported version {document.get('version')!r} (this runtree reads "
                f"version {_JSON_VERSION})"
            )
        if not isinstance(document.get("attributes"), dict) or not isinstance(
            document.get("details", {}), dict
        ):
            raise NodeStateError("NodeState: 'attributes' and 'details' must be objects")
        if not isinstance(document.get("class"), str):
            raise NodeStateError("NodeState: 'class' must be a 'module:Qualname' string")
        return document

    @classmethod
    def from_dict(cls, document: Any) -> NodeState[Any]:
        """Rebuild a state from :meth:`to_dict` output (imports the node's module)."""
        document = cls.check_document(document)
        attributes = document["attributes"]
        details = document.get("details", {})
        node_cls = _import_class(document["class"])
        node: Node[Any] = object.__new__(node_cls)
        node.__dict__.update(attributes)
        try:
            node.details = details_from_dict(details)
        except TypeError as exc:
            raise NodeStateError(f"NodeState: malformed details: {exc}") from exc
        return cls._wrap(node)

    @classmethod
    def _wrap(cls, node: Node[Any]) -> NodeState[Any]:
        state: NodeState[Any] = cls.__new__(cls)
        state.node = node
        return state

    # -- files -------------------------------------------------------------------------------

    def save(self, path: str | Path, fmt: str | None = None) -> Path:
        """Write :meth:`to_bytes` to ``path``."""
        target = Path(path)
        target.write_bytes(self.to_bytes(fmt))
        return target

    @classmethod
    def load(cls, path: str | Path, *, allow_pickle: bool = False) -> NodeState[Any]:
        """Read a file written by :meth:`save`."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise NodeStateError(f"NodeState: cannot read {path}: {exc.strerror or exc}") from exc
        return cls.from_bytes(data, allow_pickle=allow_pickle)

    def __repr__(self) -> str:
        return f"NodeState({self.node.name()!r}, class={_class_path(type(self.node))!r})"
