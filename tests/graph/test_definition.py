"""Definition mistakes fail early with a message saying what to do; errors pickle."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest

import runtree as rt
import runtree.graph as rg


class A(rg.Node):
    pass


class B(rg.Node):
    pass


@pytest.mark.parametrize(
    ("target", "hint"),
    [
        (42, "must be a graph node"),
        ("b", "must be a graph node"),
        (B, "instantiate it: B()"),
        (print, "wrap the function"),
    ],
)
def test_rshift_with_a_non_node(target: Any, hint: str) -> None:
    with pytest.raises(rg.GraphDefinitionError, match=hint) as info:
        A() >> target
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, rt.NodeDefinitionError)
    assert isinstance(info.value, rt.RuntreeError)


def test_list_on_the_left_is_refused() -> None:
    with pytest.raises(rg.GraphDefinitionError, match="left side of >>"):
        [A(), B()] >> B()  # type: ignore[operator]


def test_duplicate_action_on_the_same_node() -> None:
    a, b, c = A(), B(), B(name="c")
    a - "go" >> b
    a - "go" >> b  # wiring the same successor again is harmless
    with pytest.raises(rg.GraphDefinitionError, match="already goes to 'B' on action 'go'"):
        a - "go" >> c
    a >> b
    with pytest.raises(rg.GraphDefinitionError, match="action 'default'"):
        a >> c


@pytest.mark.parametrize("action", ["", 3, None.__class__])
def test_bad_action_names(action: Any) -> None:
    with pytest.raises(rg.GraphDefinitionError, match="non-empty string"):
        A() - action


def test_transition_is_not_a_target() -> None:
    with pytest.raises(rg.GraphDefinitionError, match="transition cannot be a target"):
        A() >> (B() - "x")


async def test_post_must_return_an_action() -> None:
    class Bad(rg.Node):
        def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
            return 42

    with pytest.raises(rg.GraphDefinitionError, match=r"post\(\) of node 'Bad' returned 42"):
        await rg.Graph(Bad()).run()


def test_missing_super_init() -> None:
    class Forgot(rg.Node):
        def __init__(self) -> None:
            self.x = 1

    with pytest.raises(rg.GraphDefinitionError, match=r"super\(\).__init__"):
        Forgot() >> A()


def test_methods_must_be_plain() -> None:
    with pytest.raises(rg.GraphDefinitionError, match="exec must be a plain method"):

        class Wrong(rg.Node):
            @staticmethod
            def exec(prep_res: Any) -> None:
                return None


def test_class_options_are_validated() -> None:
    with pytest.raises(rt.ConfigurationError, match="max_retries"):

        class Wrong(rg.Node):
            max_retries = -2

    with pytest.raises(rg.GraphDefinitionError, match="retry_on"):

        class AlsoWrong(rg.Node):
            retry_on = ValueError  # type: ignore[assignment]


def test_bad_graph_and_parallel_options() -> None:
    with pytest.raises(rt.ConfigurationError, match="max_steps"):
        rg.Graph(A(), max_steps=0)
    with pytest.raises(rt.ConfigurationError, match="on_unmatched"):
        rg.Graph(A(), on_unmatched="ignore")  # type: ignore[arg-type]
    with pytest.raises(rt.ConfigurationError, match="on_conflict"):
        rg.Parallel(A(), on_conflict="merge")  # type: ignore[arg-type]
    with pytest.raises(rg.GraphDefinitionError, match="at least one branch"):
        rg.Parallel()
    with pytest.raises(rg.GraphDefinitionError, match="Graph"):
        rg.Graph(3)  # type: ignore[arg-type]
    with pytest.raises(rg.GraphDefinitionError, match="name"):
        A(name="")


async def test_branch_with_successors_is_refused_before_running() -> None:
    ran: list[str] = []

    class Note(rg.Node):
        def prep(self, shared: Any) -> None:
            ran.append(self.name)

    left, after = Note(name="left"), Note(name="after")
    left >> after
    start = Note(name="start")
    start >> [left, Note(name="right")]
    with pytest.raises(rg.GraphDefinitionError, match=r"wrap it: Graph\(left\)"):
        await rg.Graph(start).run()
    assert ran == []


async def test_graph_cannot_contain_itself() -> None:
    a = A()
    graph = rg.Graph(a)
    a >> graph
    with pytest.raises(rg.GraphDefinitionError, match="contains itself"):
        await graph.run()


async def test_uncopyable_attribute_names_the_fix() -> None:
    class Client(rg.Node):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()

    with pytest.raises(rg.GraphDefinitionError, match="shared_attributes") as info:
        await rg.Graph(Client()).run()
    assert "'lock'" in str(info.value)

    class SharedClient(Client):
        shared_attributes = frozenset({"lock"})

        def exec(self, prep_res: Any) -> bool:
            return self.lock is lock

    node = SharedClient()
    lock = node.lock
    assert (await rg.Graph(node).run()).result is True


@pytest.mark.parametrize(
    "error",
    [
        rg.GraphDefinitionError("bad wiring"),
        rg.MaxStepsExceededError("loop", graph="g", max_steps=3, loop=("a", "a"), path=("a",)),
        rg.UnmatchedActionError("x", graph="g", node="n", action="a", available=("b",)),
        rg.SharedStateConflictError(
            "c",
            step="p",
            conflicts=(rg.SharedConflict(key="k", branches=("a", "b"), values=(1, rg.DELETED)),),
        ),
    ],
)
def test_errors_pickle(error: rg.GraphError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    for field in type(error)._fields:
        assert getattr(copy, field) == getattr(error, field)
    assert isinstance(copy, rt.RuntreeError)


def test_successors_and_repr() -> None:
    a, b = A(), B()
    a - "next" >> b
    assert dict(a.successors) == {"next": b}
    assert repr(a) == "<A 'A' next->B>"
    assert repr(a - "x") == "<Transition 'A' - 'x'>"
    assert rg.DEFAULT_ACTION == "default"
