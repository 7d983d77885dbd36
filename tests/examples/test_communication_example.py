"""The communication example: every pattern of seed 003 does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.communication import main as example
from examples.communication.main import CommunicationReport

from tests.examples import ROOT, run_example


@pytest.fixture(scope="module")
def report() -> CommunicationReport:
    return example.main([])


def test_every_pattern_ran(report: CommunicationReport) -> None:
    assert list(report.patterns) == list(example.PATTERNS)
    roots = [line for line in report.tree.splitlines() if not line.startswith(" ")]
    assert [line.split(" [")[0] for line in roots] == [
        "producer_consumer",
        "pubsub",
        "request_response",
        "pipeline",
        "fanout",
        "reliable",
        "routing",
    ]
    assert report.seconds < 5


def test_producer_consumer_consumes_every_item(report: CommunicationReport) -> None:
    pc = report.patterns["producer-consumer"]
    assert pc.all_consumed
    assert pc.produced == tuple(range(10))
    assert all(pc.consumed.values())  # both consumers took part
    assert pc.queue.dropped == 0 and pc.queue.rejected == 0
    assert pc.queue.high_water <= 4  # the bound held: the producer waited for room
    assert pc.overflow_dropped == (0, 1) and pc.overflow.dropped == 2
    assert "consume [succeeded]" in report.tree and "produce [succeeded]" in report.tree


def test_pubsub_every_subscriber_gets_every_event(report: CommunicationReport) -> None:
    ps = report.patterns["pubsub"]
    assert ps.every_subscriber_got_every_event
    assert set(ps.received) == {"subscriber-a", "subscriber-b", "subscriber-c"}
    assert len(ps.sent) == 3
    assert ps.errors == ("updates:flaky-subscriber: flaky subscriber choked on version 2",)
    assert ps.bus.failed == 1


def test_every_request_is_answered_or_times_out(report: CommunicationReport) -> None:
    rr = report.patterns["request-response"]
    assert rr.every_request_settled
    assert rr.outcomes == {
        "hello": ("answered", "HELLO"),
        "world": ("answered", "WORLD"),
        "bad": ("failed", "cannot process 'bad'"),
        "slow": ("timed_out", "no response within 0.05s"),
    }
    stats = rr.exchange
    assert (stats.requests, stats.answered, stats.failed, stats.timeouts) == (4, 2, 1, 1)
    assert stats.late == 1 and stats.pending == 0


def test_pipeline_stages_in_order(report: CommunicationReport) -> None:
    pl = report.patterns["pipeline"]
    assert pl.path == ("stage1-parse", "stage2-validate", "Enrich", "output")
    assert [row["name"] for row in pl.output] == ["alice", "bob", "dave"]
    assert pl.output[1] == {"name": "bob", "amount": 12, "tier": "std"}
    assert pl.rejected == ("carol",)
    assert pl.retries == 1


def test_fanout_runs_every_branch_and_joins_in_order(report: CommunicationReport) -> None:
    fo = report.patterns["fanout"]
    assert fo.branches == ("worker1", "worker2", "worker3")
    assert sorted(fo.finished) == ["worker1", "worker2", "worker3"]
    assert fo.finished == ("worker3", "worker2", "worker1")
    assert fo.results == (12, 15, 18)  # declared order, not finishing order
    assert fo.merged == 45
    assert fo.conflict == ("status", ("worker1", "worker2"))


def test_failing_delivery_is_retried_then_dead_lettered(report: CommunicationReport) -> None:
    rl = report.patterns["reliable"]
    assert rl.receipts == {
        "order-1": ("acked", 1),
        "order-2": ("acked", 2),
        "order-3": ("dead", 3),
    }
    assert rl.deliveries == {"order-1": 1, "order-2": 2, "order-3": 3}
    assert [(name, attempts) for name, _, attempts in rl.dead_letters] == [("order-3", 3)]
    assert "ConnectionError" in rl.dead_letters[0][1]
    assert rl.waits == (0.5, 0.5, 1.0)  # exponential backoff, injected sleep
    assert (rl.sender.acked, rl.sender.dead, rl.sender.retries) == (2, 1, 3)


def test_routes_taken(report: CommunicationReport) -> None:
    rt_ = report.patterns["routing"]
    assert rt_.routes == {
        "m1": "priority_queue",
        "m2": "batch_processor",
        "m3": "normal_queue",
        "m5": "priority_queue",
    }
    assert rt_.queues == {
        "priority_queue": ("m1", "m5"),
        "batch_processor": ("m2",),
        "normal_queue": ("m3",),
    }
    assert rt_.filtered_out == ("m4",)
    assert rt_.all_transformed
    assert rt_.router.routes == {"priority_queue": 2, "batch_processor": 1, "normal_queue": 1}


def test_failures_in_the_tree_are_the_deliberate_ones(report: CommunicationReport) -> None:
    failed = [line.strip() for line in report.tree.splitlines() if "[failed]" in line]
    # bob's first enrichment attempt, order-2's first delivery, order-3's three deliveries,
    # and the answer node for 'bad'
    assert len(failed) == report.failed_requests
    assert sum("receive [failed]" in line for line in failed) == 4
    assert sum("Enrich.exec [failed]" in line for line in failed) == 1
    assert sum("answer [failed]" in line for line in failed) == 1


def test_single_pattern_as_subprocess(tmp_path: Path) -> None:
    script = ROOT / "examples" / "communication" / "main.py"
    out = run_example(
        str(script), "--pattern", "pubsub", "--tree", home=tmp_path / "home", cwd=tmp_path
    )
    assert "every subscriber got every event: True" in out
    assert "== producer-consumer" not in out
    assert "publish_updates [succeeded]" in out


def test_all_patterns_as_module(tmp_path: Path) -> None:
    out = run_example("-m", "examples.communication.main", home=tmp_path / "home")
    for pattern in example.PATTERNS:
        assert f"== {pattern}" in out
    assert "all consumed: True" in out
    assert "message 'order-3': dead after 3 attempt(s)" in out
