"""Policy and CachePolicy as values: merging option by option, pickling (which marks the
process as one that uses policies), and one-line errors that name the bad option."""

from __future__ import annotations

import pickle

import pytest

import runtree as rt
from runtree.policy import CachePolicy, Policy, RetryPolicy
from runtree.policy.policy import POLICY_USE


def test_policy_options_merge_one_by_one() -> None:
    base = Policy(retry=3, timeout=5, max_concurrency=2)
    assert base.retry == RetryPolicy(max_attempts=3)
    call = Policy(timeout=1, cache=True)
    merged = base.merged(call)
    assert (merged.timeout, merged.max_concurrency, merged.retry) == (1, 2, base.retry)
    assert merged.cache == CachePolicy()
    assert base.merged(None) is base and Policy().empty and not base.empty
    assert Policy(cache=False).cache is None and Policy(cache=False).empty
    assert base.options() == {"retry": base.retry, "timeout": 5, "max_concurrency": 2}


def test_a_rate_limit_from_a_config_file_may_be_a_list() -> None:
    assert Policy(rate_limit=[5, 1.5]).rate_limit == (5, 1.5)  # type: ignore[arg-type]
    assert hash(Policy(rate_limit=[5, 1.5])) == hash(Policy(rate_limit=(5, 1.5)))  # type: ignore[arg-type]


def test_a_policy_pickles_by_its_options() -> None:
    policy = Policy(retry=RetryPolicy(max_attempts=4, retry_on=KeyError), cache=True, timeout=2)
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert POLICY_USE.seen  # (a fresh process: see tests/state/test_policy_run.py)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry": "3"}, "Policy.retry must be a RetryPolicy or a number of attempts, got '3'"),
        ({"retry": True}, "Policy.retry must be a RetryPolicy or a number of attempts, got True"),
        ({"retry": 0}, r"Policy.retry \(a number of attempts\) must be >= 1, got 0"),
        ({"timeout": 0}, r"Policy.timeout \(seconds\) must be > 0, got 0"),
        ({"timeout": -1.5}, r"Policy.timeout \(seconds\) must be > 0, got -1.5"),
        ({"timeout": float("nan")}, r"Policy.timeout \(seconds\) must be a finite number, got nan"),
        ({"timeout": "5"}, r"Policy.timeout \(seconds\) must be a number, got '5'"),
        ({"max_concurrency": 0}, "Policy.max_concurrency must be >= 1, got 0"),
        ({"max_concurrency": 2.5}, "Policy.max_concurrency must be an int, got 2.5"),
        ({"rate_limit": (5,)}, r"Policy.rate_limit must be \(calls, per_seconds\), got \(5,\)"),
        ({"rate_limit": 5}, r"Policy.rate_limit must be \(calls, per_seconds\), got 5"),
        ({"rate_limit": (0, 1)}, "Policy.rate_limit calls must be >= 1, got 0"),
        ({"rate_limit": (5, 0)}, "Policy.rate_limit per_seconds must be > 0, got 0"),
        ({"cache": "yes"}, "Policy.cache must be a CachePolicy or a bool, got 'yes'"),
    ],
)
def test_bad_policies_name_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(rt.ConfigurationError, match=f"^{message}$"):
        Policy(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 0}, r"CachePolicy.ttl \(seconds\) must be > 0, got 0"),
        ({"ttl": "1h"}, r"CachePolicy.ttl \(seconds\) must be a number, got '1h'"),
        ({"key": "url"}, "CachePolicy.key must be a function, got 'url'"),
        ({"persist": 1}, "CachePolicy.persist must be a bool, got 1"),
        ({"max_entries": 0}, "CachePolicy.max_entries must be >= 1, got 0"),
    ],
)
def test_bad_cache_policies_name_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(rt.ConfigurationError, match=f"^{message}$"):
        CachePolicy(**options)  # type: ignore[arg-type]


def test_rt_policy_errors() -> None:
    with pytest.raises(rt.ConfigurationError, match=r"^Policy.timeout \(seconds\) must be > 0"):
        rt.policy(timeout=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'retries'"):
        rt.policy(retries=3)  # type: ignore[call-arg]
