"""The pipeline example: the same answer in thread and in process mode, each where it says."""

from __future__ import annotations

from pathlib import Path

from examples import pipeline
from tests.examples import ROOT, run_example


def test_thread_and_process_mode_agree() -> None:
    thread, process = pipeline.main(["--mode", "thread", "--mode", "process"])
    assert (thread.mode, process.mode) == ("thread", "process")
    expected = {"orders": 4, "total": "7.40"}  # 1.50 + 1.50 + 2.00 + 2.40
    assert {k: thread.result[k] for k in expected} == expected
    assert {k: process.result[k] for k in expected} == expected
    assert thread.result["priced in"] == ["a worker thread of this process"]
    assert process.result["priced in"] == ["a worker process"]
    for report in (thread, process):  # the calls made in workers are in the run's tree too
        names = [line.split(" [")[0].strip() for line in report.tree.splitlines()]
        assert names == ["Orders", *["parse"] * 4, *["price"] * 4]
        assert report.tree.count("[succeeded]") == 9


def test_the_script_runs_both_modes(tmp_path: Path) -> None:
    script = ROOT / "examples" / "pipeline.py"  # as a script: its nodes travel by value
    out = run_example(str(script), home=tmp_path / "home", cwd=tmp_path)
    assert out.splitlines() == [
        "thread mode: 4 orders, 7.40 EUR",
        "  priced in: a worker thread of this process",
        "process mode: 4 orders, 7.40 EUR",
        "  priced in: a worker process",
        "the same answer in every mode",
    ]
