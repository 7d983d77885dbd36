"""The runtree demo: count the words of every file under docs/, in parallel, offline; then
ask an agent which file is the longest.

Run it with ``make demo`` (or ``python -m examples.demo [FOLDER]``). A ``WordReport`` node
lists the files, fans out one ``CountWords`` call per file with ``rt.call_batch``, streams
progress with ``rt.broadcast`` and returns the totals; the script then prints the result
and the run's request tree. The agent uses the same word counter as a tool; it talks to a
real model when OPENAI_API_KEY / OPENAI_BASE_URL (or an Ollama URL) are set, else to
runtree's local OpenAI-protocol server with a scripted model, and says which.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import runtree as rt
from examples.agents.model import example_model
from runtree.testing import Reply, tool_call

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


@rt.function_node
async def list_documents(folder: str) -> list[str]:
    """List the Markdown files of a folder.

    Args:
        folder: the folder to look in
    """
    found = await asyncio.to_thread(lambda: sorted(Path(folder).glob("*.md")))
    return [str(path) for path in found]


def scripted_model(request: Any) -> Reply:
    """The offline model: list the files, count each one (in parallel), name the longest."""
    results = [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]
    if not results:
        folder = request["messages"][-1]["content"].rsplit(" in ", 1)[-1].rstrip("?")
        return Reply(
            "Let me list the files first.",
            tool_calls=[tool_call("list_documents", folder=folder)],
        )
    if len(results) == 1:
        return Reply(tool_calls=[tool_call("count_words", path=path) for path in results[0]])
    longest = max(results[1:], key=lambda row: row["words"])
    return Reply(f"{longest['file']} has the most words ({longest['words']}).")


async def ask_agent(folder: str) -> None:
    agent = rt.agent_node(
        "Librarian",
        tool_nodes=[list_documents, count_words],
        system_message="Answer questions about files with the tools. Be brief.",
    )
    with example_model(scripted_model) as chosen:
        print(f"\nan agent with the same tools, on {chosen.where}:")
        async with rt.Session(name="demo-agent") as run:
            question = f"Which Markdown file has the most words in {folder}?"
            async for event in rt.stream(agent, question, llm=chosen.llm):
                if isinstance(event, rt.llm.ToolCallStarted):
                    print(f"  .. calling {event.name}")
                elif isinstance(event, rt.llm.FinalResponse):
                    print(f"  answer: {event.text}")
    usage = rt.llm.run_usage(run)
    print(f"  ({usage.requests} model calls, {usage.total_tokens} tokens)")
    print(f"\nrequest tree of run {run.run_id}:")
    print(run.info.tree_text())


async def main(folder: str) -> rt.Session:
    async with rt.Session(name="demo", broadcast_callback=lambda line: print("  ..", line)) as run:
        report = await rt.call(WordReport, folder)
    print(f"\n{report['files']} files, {report['total_words']} words")
    for row in report["per_file"]:  # type: ignore[attr-defined]
        print(f"  {row['file']:28s} {row['words']:6d} words, most common: {row['top']!r}")
    print(f"\nrequest tree of run {run.run_id}:")
    print(run.info.tree_text())
    await ask_agent(folder)
    return run


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "docs"
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else str(default)))
