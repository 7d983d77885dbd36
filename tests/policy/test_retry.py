"""RetryPolicy: attempts, backoff, which failures retry, retry_after hints."""

from __future__ import annotations

import pytest

import runtree as rt
from runtree.policy import RetryPolicy, retry_after_hint


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"slow down for {retry_after}s")
        self.retry_after = retry_after


def test_backoffs_grow_as_documented_and_are_capped() -> None:
    assert RetryPolicy(max_attempts=4, base_delay=1.0).delays() == (1.0, 2.0, 4.0)
    assert RetryPolicy(max_attempts=4, backoff="linear", base_delay=0.5).delays() == (
        0.5,
        1.0,
        1.5,
    )
    assert RetryPolicy(max_attempts=3, backoff="fixed", base_delay=2).delays() == (2, 2)
    assert RetryPolicy(max_attempts=30, base_delay=1, max_delay=5).delay(29) == 5


def test_jitter_scales_the_wait_within_its_bounds() -> None:
    policy = RetryPolicy(base_delay=10, jitter=0.5)
    assert policy.delay(1, random=lambda: 0.0) == 5.0
    assert policy.delay(1, random=lambda: 1.0) == 15.0


def test_next_delay_stops_after_the_last_attempt_and_for_other_failures() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=1, retry_on=(ConnectionError,))
    assert policy.next_delay(ConnectionError(), 1) == 1
    assert policy.next_delay(ConnectionError(), 2) == 2
    assert policy.next_delay(ConnectionError(), 3) is None
    assert policy.next_delay(ValueError(), 1) is None
    assert RetryPolicy(retry_on=KeyError).retry_on == (KeyError,)


def test_a_retry_after_hint_replaces_the_backoff_unless_it_is_too_long() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1, max_delay=30)
    assert policy.next_delay(Throttled(12.5), 1) == 12.5
    assert policy.next_delay(Throttled(120), 1) is None  # more patience than allowed
    assert retry_after_hint(Throttled(3)) == 3.0
    assert retry_after_hint(ValueError()) is None
    error = ValueError()
    error.retry_after = "soon"  # type: ignore[attr-defined]
    assert retry_after_hint(error) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "retry.max_attempts must be >= 1"),
        ({"backoff": "cubic"}, "retry.backoff must be one of"),
        ({"jitter": 2}, "jitter must be between 0 and 1"),
        ({"base_delay": -1}, "base_delay must be >= 0"),
        ({"retry_on": (ValueError, "x")}, "retry_on must be an exception class"),
    ],
)
def test_bad_options_name_what_is_wrong(options: dict[str, object], message: str) -> None:
    with pytest.raises(rt.ConfigurationError, match=message):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_dict_round_trip_and_the_communication_package_uses_the_same_class() -> None:
    policy = RetryPolicy(max_attempts=5, backoff="linear", base_delay=0.25)
    assert RetryPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(rt.ConfigurationError, match="unknown key retry.retry_on"):
        RetryPolicy.from_dict({"retry_on": "ValueError"})
    assert rt.comm.RetryPolicy is RetryPolicy


def test_no_cap_takes_any_hint_and_grows_without_end() -> None:
    policy = RetryPolicy(max_attempts=12, base_delay=1, max_delay=None)
    assert policy.delay(11) == 1024.0
    assert policy.next_delay(Throttled(3600), 1) == 3600.0


def test_named_options_report_errors_in_the_callers_words() -> None:
    labels = {"max_attempts": "Fetch.max_retries", "base_delay": "Fetch.wait"}
    policy = RetryPolicy.named(labels, max_attempts=2, base_delay=0.5, backoff="linear")
    assert policy == RetryPolicy(max_attempts=2, base_delay=0.5, backoff="linear")
    with pytest.raises(rt.ConfigurationError, match=r"^Fetch.max_retries must be >= 1, got 0$"):
        RetryPolicy.named(labels, max_attempts=0)
    with pytest.raises(rt.ConfigurationError, match=r"^Fetch.wait must be >= 0, got -1$"):
        RetryPolicy.named(labels, base_delay=-1)
    with pytest.raises(rt.ConfigurationError, match="unknown retry option"):
        RetryPolicy.named(labels, retries=3)


def test_a_policy_clock_takes_only_callables() -> None:
    from runtree.policy import PolicyClock

    assert PolicyClock().random() < 1.0
    with pytest.raises(rt.ConfigurationError, match=r"^PolicyClock.sleep must be callable"):
        PolicyClock(sleep=0.1)  # type: ignore[arg-type]


def test_graph_steps_and_model_calls_use_the_same_retry_policy() -> None:
    from runtree.graph import Node as GraphNode

    step = GraphNode(max_retries=3, wait=0.5, backoff="exponential", max_wait=0.75)
    assert step.retry_policy() == RetryPolicy(
        max_attempts=3, backoff="exponential", base_delay=0.5, max_delay=0.75
    )
    assert [step.retry_delay(n) for n in (1, 2)] == [0.5, 0.75]
    assert GraphNode().retry_policy().max_delay is None  # no max_wait: no cap
