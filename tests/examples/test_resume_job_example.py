"""The resume example: the failed job is finished without re-running a step that succeeded."""

from __future__ import annotations

from pathlib import Path

from examples import resume_job
from tests.examples import run_example


def test_resume_runs_only_what_had_not_finished(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    report = resume_job.main(["--journal", str(journal)])
    assert report.error == "LookupError: no exchange rate for 2026-11-03"
    assert report.ran_first == [
        "fetch 2026-11-01",
        "convert 2026-11-01",
        "fetch 2026-11-02",
        "convert 2026-11-02",
        "fetch 2026-11-03",
        "convert 2026-11-03",  # failed
    ]
    assert report.ran_second == ["convert 2026-11-03", "fetch 2026-11-04", "convert 2026-11-04"]
    assert report.total == round(120 * 0.95 + 80 * 0.94 + 200 * 0.93 + 50 * 0.92, 2)
    assert report.second_run_rows == [
        "SalesReport: ran",
        "fetch 2026-11-01: replayed",
        "convert 2026-11-01: replayed",
        "fetch 2026-11-02: replayed",
        "convert 2026-11-02: replayed",
        "fetch 2026-11-03: replayed",
        "convert 2026-11-03: ran",
        "fetch 2026-11-04: ran",
        "convert 2026-11-04: ran",
    ]
    assert report.first_run != report.second_run


def test_the_script_uses_the_projects_journal(tmp_path: Path) -> None:
    out = run_example("-m", "examples.resume_job", home=tmp_path / "home")
    assert "failed (LookupError: no exchange rate for 2026-11-03)" in out
    assert ": succeeded, total 421.2 EUR" in out
    assert "  ran: convert 2026-11-03, fetch 2026-11-04, convert 2026-11-04\n" in out
    assert f"the second run in the journal ({tmp_path / 'home' / 'runtree.db'}):" in out
