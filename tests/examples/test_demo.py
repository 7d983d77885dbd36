from __future__ import annotations

from pathlib import Path

from tests.examples import run_example


def test_demo_counts_words_and_prints_the_tree(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.md").write_text("alpha beta beta\n")
    (folder / "b.md").write_text("gamma gamma gamma delta\n")
    (folder / "skip.txt").write_text("not markdown\n")
    out = run_example("-m", "examples.demo", str(folder), home=tmp_path / "home")
    assert "2 files, 7 words" in out
    assert "a.md" in out and "most common: 'beta'" in out
    assert "most common: 'gamma'" in out
    assert "counted      4 words in b.md" in out
    assert "WordReport [succeeded]" in out
    assert out.count("count_words [succeeded]") == 4  # twice by the report, twice by the agent
    assert "an agent with the same tools, on runtree's local test server" in out
    assert "  answer: b.md has the most words (4)." in out
    assert "Librarian [succeeded]" in out and "  list_documents [succeeded]" in out
