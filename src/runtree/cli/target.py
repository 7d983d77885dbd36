"""Finding what to run: ``module:Name`` (or ``path/to/file.py:Name``) and its arguments.

A module that fails while it is imported (an exception, a ``SyntaxError``, ``sys.exit``)
is reported in one line naming its file and line (:class:`TargetImportError`, exit 1); a
target that cannot be found or arguments that do not fit the node are usage errors
(:class:`TargetError`, exit 2), found before any run starts.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from runtree.errors import NodeDefinitionError, NodeInvocationError, RuntreeError
from runtree.nodes.function import FunctionNode
from runtree.nodes.node import Node

__all__ = [
    "TargetError",
    "TargetImportError",
    "check_arguments",
    "import_module",
    "load_object",
    "load_target",
    "module_for_file",
    "parse_arguments",
    "resolve_attribute",
    "run_mode",
]


class TargetError(RuntreeError, ValueError):
    """A ``module:Name`` target or an argument cannot be used (a usage error)."""


class TargetImportError(TargetError):
    """The target's module failed while being imported (its code raised or exited)."""


def _is_file_spec(module_part: str) -> bool:
    return module_part.endswith(".py") or "/" in module_part or "\\" in module_part


def module_for_file(path: Path) -> tuple[str, Path]:
    """The dotted module name of a ``.py`` file and the folder to import it from: the file's
    own folder, or above the packages (folders with ``__init__.py``) that hold it."""
    path = path.resolve()
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts or not all(part.isidentifier() for part in parts):
        raise TargetError(
            f"{path} cannot be imported: its name (and its packages' names) must be Python "
            "identifiers (rename it, for example my_job.py)"
        )
    return ".".join(parts), folder


def _module_origin(name: str) -> str:
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return name
    origin = getattr(spec, "origin", None)
    return str(origin) if origin else name


def _same_file(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def _line_in(tb: Any, file: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if _same_file(frame.f_code.co_filename, file):
            line = lineno
    return line


def _describe_failure(name: str, file: Path | None, exc: BaseException) -> str:
    origin = str(file) if file is not None else _module_origin(name)
    line = _line_in(exc.__traceback__, origin)
    where = origin if line is None else f"{origin}, line {line}"
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    if (
        last is not None
        and not last.filename.startswith("<")
        and not _same_file(last.filename, origin)
    ):
        where += f" (raised in {last.filename}, line {last.lineno})"
    if isinstance(exc, SystemExit):
        return f"{where}: called sys.exit({exc.code!r}) while being imported"
    return f"{where}: {type(exc).__name__}: {exc} (while importing module {name!r})"


def import_module(name: str, *, file: Path | None = None) -> ModuleType:
    """Import ``name`` (from ``file``, when given: it must be the module's file). A module
    that is not found is a :class:`TargetError`; one whose code fails, a
    :class:`TargetImportError` naming the file and line."""
    try:
        module = importlib.import_module(name)
    except SyntaxError as exc:
        where = exc.filename or (str(file) if file is not None else _module_origin(name))
        raise TargetImportError(f"{where}, line {exc.lineno}: SyntaxError: {exc.msg}") from None
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise TargetError(f"cannot import module {name!r}: {exc}") from None
        raise TargetImportError(_describe_failure(name, file, exc)) from None
    except (Exception, SystemExit) as exc:
        raise TargetImportError(_describe_failure(name, file, exc)) from None
    if file is not None:
        loaded = getattr(module, "__file__", None)
        if loaded is None or Path(loaded).resolve() != file.resolve():
            raise TargetError(
                f"the module name {name!r} of {file} is already taken by "
                f"{loaded or 'a built-in module'}; rename the file"
            )
    return module


def resolve_attribute(module: ModuleType, qualname: str, spec: str) -> Any:
    """``module.<qualname>`` (dotted for nested classes)."""
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(
                f"module {module.__name__!r} has no attribute {qualname!r} ({spec})"
            ) from None
    return obj


def _add_to_path(folder: Path) -> None:
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)  # also for the process strategy's workers


def load_target(spec: str) -> Any:
    """The node class or function named by ``spec`` (``module:Name``, ``module:Outer.Name``
    or ``path/to/file.py:Name``); a graph there becomes a node class that runs it. The
    current folder is importable, as with ``python -m``; a file is imported by its module
    name (packages included) from the folder above it."""
    from runtree.graph.entry import graph_entry, is_graph_target

    obj, module_name = _load(spec)
    qualname = spec.rpartition(":")[2]
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
    """Whatever ``spec`` (``module:Name`` or ``path/to/file.py:Name``) names, unchecked."""
    return _load(spec)[0]


def _load(spec: str) -> tuple[Any, str]:
    """``(object, name of the module it was found in)``."""
    module_name, sep, qualname = spec.rpartition(":")
    if not sep or not module_name or not qualname:
        raise TargetError(f"{spec!r} is not module:Name (for example mypackage.nodes:Summarise)")
    if module_name == "__main__":
        raise TargetError(
            f"{spec!r} was defined in a script's __main__; name the script's file instead "
            "(script.py:Name)"
        )
    _add_to_path(Path.cwd())
    file = None
    if _is_file_spec(module_name):
        if not Path(module_name).is_file():
            raise TargetError(f"no such file: {module_name}")
        file = Path(module_name).resolve()
        module_name, folder = module_for_file(file)
        _add_to_path(folder)
    return resolve_attribute(import_module(module_name, file=file), qualname, spec), module_name


def run_mode(target: Any, requested: str) -> str:
    """The mode to run ``target`` in: a graph always runs on the event loop (its steps
    share the store; what they call uses ``requested`` through the session)."""
    from runtree.graph.entry import GraphEntry

    if isinstance(target, type) and issubclass(target, GraphEntry):
        return "async"
    return requested


def check_arguments(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Raise :class:`TargetError` if ``target`` cannot be called with these arguments (before
    any run starts: a usage error creates no run)."""
    from runtree.nodes.validation import resolve_node

    try:
        node_class = resolve_node(target)
    except (NodeInvocationError, NodeDefinitionError) as exc:
        raise TargetError(str(exc)) from None
    if issubclass(node_class, FunctionNode):
        checker: Any = node_class._check_arguments
        shown: Any = node_class.function
    else:
        checker = shown = node_class
    try:
        signature = inspect.signature(checker)
    except (TypeError, ValueError):  # no signature to check: the call will tell
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        try:
            parameters = _parameters(inspect.signature(shown))
        except (TypeError, ValueError):
            parameters = _parameters(signature)
        raise TargetError(f"{node_class.name()}{parameters}: {exc}") from None


def _parameters(signature: inspect.Signature) -> str:
    """``(x, y=2, *, z)``: the parameters without annotations."""
    bare = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


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
