"""A graph gallery: build a digest of some articles with branches, a loop, retries, fan-out and
batch graphs, offline.

Run it with ``python -m examples.graphs.digest`` (``--show-tree`` also prints the run tree).
The graph::

    Fetch (retried: the source fails once)
      -> PerArticle: a parallel batch graph, one run per article:
             Route - "long"  >> Sections: a batch graph, one run per section: Summarise
                   - "short" >> Keep
      -> Parallel(Count words, Count articles, Find longest)  (fan-out, results joined in order)
      -> Draft -> Review - "too long" >> Shorten >> Review   (a loop)
                        - "ok" >> None                        (the end, wired on purpose)

Every step is a request of the run tree, and the run is journaled: if it crashes, running it
again in ``rt.Session(resume=run_id)`` finishes it without redoing finished steps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import Any

import runtree as rt
import runtree.graph as rg

ARTICLES = {
    "graphs": [
        "Graphs wire small steps together with actions.",
        "Each step prepares, executes and posts its result to a shared store.",
        "Loops and branches are ordinary wiring.",
    ],
    "journals": ["A journal records every request so that a crashed run can resume."],
    "batches": [
        "Batch graphs run the same steps once per parameter set.",
        "Parallel batch graphs run the sets at the same time.",
    ],
}
LONG = 2  # articles with more sections than this are summarised section by section
MAX_REPORT = 300  # characters: longer reports are shortened, a line at a time


class FlakySource:
    """Stands in for a service that refuses the first request."""

    def __init__(self) -> None:
        self.requests = 0

    def fetch(self) -> dict[str, list[str]]:
        self.requests += 1
        if self.requests == 1:
            raise ConnectionError("source busy, try again")
        return {name: list(sections) for name, sections in ARTICLES.items()}


class Fetch(rg.Node):
    max_retries = 3  # attempts
    backoff = "exponential"
    shared_attributes = frozenset({"source"})  # one source for every run, not a copy

    def __init__(self, source: FlakySource) -> None:
        super().__init__(wait=0.01)
        self.source = source

    def exec(self, prep_res: Any) -> dict[str, list[str]]:
        return self.source.fetch()

    def post(self, shared: Any, prep_res: Any, exec_res: dict[str, list[str]]) -> None:
        shared["articles"] = exec_res
        shared["digests"] = {}


class Route(rg.Node):
    """Branches on the article's length."""

    def prep(self, shared: Any) -> int:
        return len(shared["articles"][self.params["article"]])

    def post(self, shared: Any, sections: int, exec_res: Any) -> str:
        return "long" if sections > LONG else "short"


class Summarise(rg.Node):
    """One section of a long article: its first four words."""

    def prep(self, shared: Any) -> str:
        return shared["articles"][self.params["article"]][self.params["section"]]

    async def exec(self, text: str) -> str:
        await asyncio.sleep(0)  # an LLM call would go here
        return " ".join(text.split()[:4])

    def post(self, shared: Any, prep_res: Any, exec_res: str) -> None:
        parts = shared["digests"].setdefault(self.params["article"], [])
        parts.append(exec_res)


class Sections(rg.BatchGraph):
    """The sections of one long article, one after the other (nested in PerArticle)."""

    def prep(self, shared: Any) -> list[dict[str, int]]:
        return [{"section": i} for i in range(len(shared["articles"][self.params["article"]]))]


class Keep(rg.Node):
    """A short article is its own digest."""

    def prep(self, shared: Any) -> list[str]:
        return shared["articles"][self.params["article"]]

    def post(self, shared: Any, sections: list[str], exec_res: Any) -> None:
        shared["digests"][self.params["article"]] = list(sections)


class PerArticle(rg.ParallelBatchGraph):
    max_concurrency = 2

    def prep(self, shared: Any) -> list[dict[str, str]]:
        return [{"article": name} for name in shared["articles"]]


class Measure(rg.Node):
    """One of the fan-out branches: each measures the digests its own way."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name)

    def prep(self, shared: Any) -> dict[str, list[str]]:
        return shared["digests"]

    def exec(self, digests: dict[str, list[str]]) -> Any:
        if self.name == "words":
            return sum(len(part.split()) for parts in digests.values() for part in parts)
        if self.name == "articles":
            return len(digests)
        return max(digests, key=lambda name: len(" ".join(digests[name])))


class Draft(rg.Node):
    def prep(self, shared: Any) -> Any:
        return shared["digests"], shared["stats"]

    def exec(self, prep_res: Any) -> str:
        digests, (words, articles, longest) = prep_res
        lines = [f"{name}: {' / '.join(parts)}" for name, parts in sorted(digests.items())]
        return f"{articles} articles, {words} words, longest: {longest}\n" + "\n".join(lines)

    def post(self, shared: Any, prep_res: Any, exec_res: str) -> None:
        shared["report"] = exec_res
        shared["revisions"] = 0


class Review(rg.Node):
    def prep(self, shared: Any) -> str:
        return shared["report"]

    def post(self, shared: Any, report: str, exec_res: Any) -> str:
        return "too long" if len(report) > MAX_REPORT else "ok"


class Shorten(rg.Node):
    """Drops the last line of the report."""

    def prep(self, shared: Any) -> str:
        return shared["report"]

    def exec(self, report: str) -> str:
        return report.rsplit("\n", 1)[0]

    def post(self, shared: Any, prep_res: Any, exec_res: str) -> None:
        shared["report"] = exec_res
        shared["revisions"] += 1


def build(source: FlakySource) -> rg.Graph:
    route = Route()
    route - "long" >> Sections(Summarise())
    route - "short" >> Keep()
    review = Review()
    review - "too long" >> Shorten() >> review
    review - "ok" >> None

    digest = rg.Graph(name="digest")
    measures = rg.Parallel(Measure("words"), Measure("articles"), Measure("longest"), into="stats")
    digest.start(Fetch(source)) >> PerArticle(route) >> measures >> Draft() >> review
    return digest


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DigestReport:
    result: rg.GraphResult
    source_requests: int
    tree: str


async def main(argv: list[str]) -> DigestReport:
    source = FlakySource()
    async with rt.Session(name="digest") as session:
        result = await build(source).run({})
    report = DigestReport(
        result=result, source_requests=source.requests, tree=session.info.tree_text()
    )
    print(result.shared["report"])
    print(
        f"\npath: {' -> '.join(result.path)}\n"
        f"revisions: {result.shared['revisions']}, source requests: {source.requests}"
    )
    if "--show-tree" in argv:
        print("\n" + report.tree)
    return report


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
