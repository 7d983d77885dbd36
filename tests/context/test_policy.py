"""Declaring policies: the ``policy`` class attribute, ``function_node(policy=)``,
``@rt.policy(...)`` on classes and functions, ``with rt.policy(...)`` blocks, and ``rt.policy``
as the ``runtree.policy`` package."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys

import pytest

import runtree as rt
from runtree.context.policy import effective_policy, policy_override, scope_policy


class Plain(rt.Node[int]):
    async def invoke(self) -> int:
        return 1


def test_a_class_policy_is_checked_when_the_class_is_made() -> None:
    class Fine(Plain):
        policy = rt.Policy(retry=3, timeout=2)

    assert Fine.policy == rt.Policy(retry=rt.RetryPolicy(max_attempts=3), timeout=2)
    assert Plain.policy is None
    wrong = r"\.Wrong\.policy must be a runtree.Policy .*got {.retry.: 3}$"
    with pytest.raises(rt.NodeDefinitionError, match=wrong):

        class Wrong(Plain):
            policy = {"retry": 3}  # type: ignore[assignment]  # noqa: RUF012


def test_function_node_takes_a_policy() -> None:
    def fetch(url: str) -> str:
        return url

    node = rt.function_node(fetch, policy=rt.Policy(max_concurrency=2))
    assert node.policy == rt.Policy(max_concurrency=2)
    assert rt.function_node(fetch).policy is None  # the cached class has none
    with pytest.raises(rt.NodeDefinitionError, match="policy must be a runtree.Policy"):
        rt.function_node(fetch, policy=3)  # type: ignore[arg-type]


def test_the_decorator_sets_class_and_function_policies_option_by_option() -> None:
    @rt.policy(timeout=5)
    class Decorated(Plain):
        policy = rt.Policy(retry=2)

    assert Decorated.policy == rt.Policy(retry=2, timeout=5)

    @rt.policy(rate_limit=(10, 1.0))
    def lookup(key: str) -> str:
        return key

    assert rt.function_node(lookup).policy == rt.Policy(rate_limit=(10, 1.0))
    node = rt.function_node(lookup, policy=rt.Policy(rate_limit=(5, 1.0), cache=True))
    assert node.policy == rt.Policy(rate_limit=(5, 1.0), cache=True)

    @rt.function_node
    @rt.policy(retry=3)
    async def both(x: int) -> int:
        return x

    assert both.policy == rt.Policy(retry=3)
    with pytest.raises(rt.NodeDefinitionError, match="not a runtree Node"):
        rt.policy(retry=2)(int)
    with pytest.raises(rt.NodeDefinitionError, match="cannot attach a policy"):
        rt.policy(retry=2)(len)


def test_a_block_applies_to_calls_made_directly_in_it_and_blocks_nest() -> None:
    assert scope_policy(None) is None
    with rt.policy(retry=3, timeout=1) as outer:
        assert scope_policy(None) is outer
        with rt.policy(rt.Policy(timeout=2), max_concurrency=4) as inner:
            assert inner == rt.Policy(retry=3, timeout=2, max_concurrency=4)
            assert scope_policy("some-request") is None  # calls made by a running node
        assert scope_policy(None) is outer
    assert policy_override.get() is None

    class Limited(Plain):
        policy = rt.Policy(max_concurrency=1, timeout=9)

    with rt.policy(timeout=3):
        assert effective_policy(Limited, None) == rt.Policy(max_concurrency=1, timeout=3)
        carried = rt.Policy(retry=2)
        assert effective_policy(Plain, None, carried) == rt.Policy(timeout=3, retry=2)
    assert effective_policy(Plain, None) is None
    with pytest.raises(rt.ConfigurationError, match=r"timeout \(seconds\) must be > 0"):
        rt.policy(timeout=0)
    with pytest.raises(rt.ConfigurationError, match="takes a runtree.Policy"):
        rt.policy({"retry": 3})  # type: ignore[arg-type]


async def test_blocks_stay_with_their_task() -> None:
    seen: list[object] = []

    async def inside() -> None:
        with rt.policy(retry=2):
            await asyncio.sleep(0)
            seen.append(scope_policy(None))

    async def outside() -> None:
        await asyncio.sleep(0)
        seen.append(scope_policy(None))

    await asyncio.gather(inside(), outside())
    assert sorted(map(str, seen)) == sorted([str(rt.Policy(retry=2)), "None"])


def test_rt_policy_is_also_the_policy_package() -> None:
    package = importlib.import_module("runtree.policy")
    assert rt.policy.RetryPolicy is rt.RetryPolicy is package.RetryPolicy
    assert rt.policy.ConcurrencyLimit is package.ConcurrencyLimit
    assert "PolicyClock" in dir(rt.policy)
    # importing the package later, in a fresh interpreter, never replaces rt.policy
    code = (
        "import runtree as rt\n"
        "from runtree.policy import RateLimit\n"
        "import runtree.policy.cache\n"
        "with rt.policy(retry=2) as chosen: print(chosen.retry.max_attempts)\n"
        "import sys; print('runtree.context' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["2", "True"]
    cheap = subprocess.run(
        [sys.executable, "-c", "import runtree, sys; print('runtree.context' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert cheap.stdout.strip() == "False"  # `import runtree` stays cheap
