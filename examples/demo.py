"""The runtree demo: count the words of every file under docs/, in parallel, offline.

Run it with ``make demo`` (or ``python -m examples.demo [FOLDER]``). A ``WordReport`` node
lists the files, fans out one ``CountWords`` call per file with ``rt.call_batch``, streams
progress with ``rt.broadcast`` and returns the totals; the script then prints the result
and the run's request tree.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import runtree as rt

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@rt.function_node
async def count_words(path: str) -> dict[str, object]:
    """Count the words of one text file and find its most common one."""
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8", errors="replace")
    words = [w.lower() for w in WORD.findall(text)]
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    top = max(counts, key=lambda w: (counts[w], w)) if counts else ""
    await rt.broadcast(f"counted {len(words):6d} words in {Path(path).name}")
    return {"file": Path(path).name, "words": len(words), "top": top}


class WordReport(rt.Node[dict[str, object]]):
    """Counts the words of every Markdown file in a folder, one call per file."""

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    async def invoke(self) -> dict[str, object]:
        found = await asyncio.to_thread(lambda: sorted(Path(self.folder).glob("*.md")))
        files = [str(path) for path in found]
        await rt.broadcast(f"found {len(files)} files in {self.folder}")
        per_file = await rt.call_batch(count_words, files, max_concurrency=4)
        total = sum(int(r["words"]) for r in per_file)  # type: ignore[call-overload]
        return {"files": len(per_file), "total_words": total, "per_file": per_file}


async def main(folder: str) -> rt.Session:
    async with rt.Session(name="demo", broadcast_callback=lambda line: print("  ..", line)) as run:
        report = await rt.call(WordReport, folder)
    print(f"\n{report['files']} files, {report['total_words']} words")
    for row in report["per_file"]:  # type: ignore[attr-defined]
        print(f"  {row['file']:28s} {row['words']:6d} words, most common: {row['top']!r}")
    print(f"\nrequest tree of run {run.run_id}:")
    print(run.info.tree_text())
    return run


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "docs"
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else str(default)))
