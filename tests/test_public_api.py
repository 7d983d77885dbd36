"""The public API: every exported name exists, is sorted, typed and documented."""

from __future__ import annotations

import importlib
import inspect
import pickle
import subprocess
import sys

import pytest

import runtree as rt

PACKAGES = [
    "runtree",
    "runtree.nodes",
    "runtree.pubsub",
    "runtree.execution",
    "runtree.state",
    "runtree.runtime",
    "runtree.interaction",
    "runtree.context",
    "runtree.llm",
    "runtree.errors",
    "runtree.comm",
    "runtree.graph",
    "runtree.store",
    "runtree.testing",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_resolves(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert names == sorted(names), f"{package}.__all__ is not sorted"
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{package}.{name} has no docstring"


def test_seed_module_paths_exist() -> None:
    for path in [
        "runtree.nodes",
        "runtree.execution.coordinator",
        "runtree.execution.execution_strategy",
        "runtree.execution.task",
        "runtree.pubsub",
        "runtree.pubsub.publisher",
        "runtree.pubsub.messages",
        "runtree.llm.tools",
        "runtree.interaction.batch",
        "runtree.interaction.call",
        "runtree.interaction.stream",
        "runtree.state.state",
        "runtree.state.info",
        "runtree.context.central",
    ]:
        importlib.import_module(path)


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rt.nope  # noqa: B018
    assert "Session" in dir(rt)


def test_every_error_pickles_and_inherits_a_builtin() -> None:
    for name in rt.errors.__all__:
        cls = getattr(rt.errors, name)
        error = cls("message")
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is cls and str(clone) == "message"
        assert issubclass(cls, rt.RuntreeError)
        if cls is not rt.RuntreeError:
            assert len(cls.__mro__) > 3, f"{name} should also inherit a builtin"


ERROR_MODULES = [
    "runtree.errors",
    "runtree.comm.errors",
    "runtree.graph.errors",
    "runtree.store.errors",
    "runtree.integrations.mcp.errors",
    "runtree.viz.errors",
]


@pytest.mark.parametrize("module", ERROR_MODULES)
def test_every_error_pickles_with_its_attributes_and_notes(module: str) -> None:
    classes = [
        value
        for value in vars(importlib.import_module(module)).values()
        if isinstance(value, type) and issubclass(value, rt.RuntreeError)
    ]
    assert classes
    for cls in classes:
        error = cls.__new__(cls, "message")  # whatever its __init__ requires
        error.args = ("message",)
        error.extra = {"a": [1, 2]}
        if hasattr(error, "add_note"):  # Python 3.11+
            error.add_note("a note")
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is cls and clone.args == ("message",), cls
        assert vars(clone) == vars(error), cls


def test_import_is_light() -> None:
    code = (
        "import sys, runtree; heavy = [m for m in ('pydantic', 'typer', 'rich', 'ray', "
        "'openai', 'opentelemetry', 'cloudpickle', 'sqlite3') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
