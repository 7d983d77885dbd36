"""The graph gallery example: branches, a loop, retries, fan-out and batch graphs."""

from __future__ import annotations

from pathlib import Path

from examples.graphs import digest

from tests.examples import run_example


async def test_the_digest_takes_every_kind_of_step() -> None:
    report = await digest.main([])
    result = report.result
    assert result.completed and result.action == "ok"
    assert result.path == (
        "Fetch",
        "PerArticle",
        "Parallel(words, articles, longest)",
        "Draft",
        "Review",
        "Shorten",  # the report was too long once
        "Review",
    )
    shared = result.shared
    assert shared["digests"]["graphs"] == [  # long: summarised section by section, in order
        "Graphs wire small steps",
        "Each step prepares, executes",
        "Loops and branches are",
    ]
    assert shared["digests"]["journals"] == digest.ARTICLES["journals"]  # short: kept
    assert shared["stats"] == [44, 3, "batches"]  # the fan-out's results, in declared order
    assert shared["revisions"] == 1
    assert shared["report"].splitlines()[0] == "3 articles, 44 words, longest: batches"
    assert len(shared["report"]) <= digest.MAX_REPORT
    assert report.source_requests == 2  # the first fetch failed and was retried
    lines = report.tree.splitlines()
    assert "Fetch.exec [failed]" in lines[2] and "ConnectionError" in lines[2]
    runs = sorted(line.split()[0] for line in lines if line.strip().startswith("PerArticle["))
    assert runs == ["PerArticle[0]", "PerArticle[1]", "PerArticle[2]"]
    assert sum(line.strip().startswith("Sections[") for line in lines) == 3


def test_the_script_prints_the_report_and_the_tree(tmp_path: Path) -> None:
    out = run_example("-m", "examples.graphs.digest", "--show-tree", home=tmp_path / "home")
    assert out.startswith("3 articles, 44 words, longest: batches\n")
    assert "revisions: 1, source requests: 2" in out
    assert "digest [succeeded]" in out
