"""A graph with every kind of step, run by the graph resume tests (in a child process or not).

``python -m tests.graph.resume_job DB [--resume RUN_ID]`` prints ``RUN <id>`` first and
``RESULT <json>`` at the end (the final shared store, action, path and result). With
``RT_TEST_CRASH=1`` the three runs of the parallel batch graph block in their last step
(Hold), and once all three are there it prints ``PAUSED``, so the test can SIGKILL it there
(every step before Hold has finished and is in the journal). Every
``prep``/``exec``/``post`` that runs appends a line to the file ``RT_TEST_EFFECTS``.

The graph: Load (retried once) -> Route (branches) -> Parallel fan-out -> a parallel batch
graph over x, y, z whose runs are Work -> a nested batch graph over parts -> Gate -> Hold, all
writing keys of shared dicts -> a loop (Tick until 3) -> Cleanup (deletes a key) -> Sum.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import runtree as rt
import runtree.graph as rg

KEYS = ("x", "y", "z")
#: set by the tests that run the job in-process: raise in Sum (an ordinary failure)
BROKEN = {"sum": False}


def effect(what: str) -> None:
    """Note a side effect (one line, appended at once)."""
    path = os.environ["RT_TEST_EFFECTS"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (what + "\n").encode())
    finally:
        os.close(fd)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Noted(rg.Node):
    """Notes each of its three parts as a side effect."""

    def tag(self) -> str:
        key = self.params.get("key")
        part = self.params.get("part")
        return ":".join(str(p) for p in (self.name, key, part) if p is not None)

    def prep(self, shared: Any) -> Any:
        effect(f"prep {self.tag()}")
        return self.read(shared)

    def read(self, shared: Any) -> Any:
        return None

    def exec(self, prep_res: Any) -> Any:
        effect(f"exec {self.tag()} attempt {self.attempt}")
        return self.work(prep_res)

    def work(self, prep_res: Any) -> Any:
        return None

    def post(self, shared: Any, prep_res: Any, exec_res: Any) -> Any:
        effect(f"post {self.tag()}")
        return self.write(shared, exec_res)

    def write(self, shared: Any, exec_res: Any) -> Any:
        return None


class Load(Noted):
    max_retries = 2

    def work(self, prep_res: Any) -> Any:
        if self.attempt == 1:
            raise ConnectionError("first attempt fails")
        return {"text": "the quick brown fox", "mode": "batch"}

    def write(self, shared: Any, exec_res: Any) -> Any:
        shared["input"] = exec_res
        shared["results"] = {}
        shared["pieces"] = {}
        shared["tmp"] = "scratch"


class Route(Noted):
    def read(self, shared: Any) -> Any:
        return shared["input"]["mode"]

    def write(self, shared: Any, exec_res: Any) -> Any:
        return "batch" if self.read(shared) == "batch" else "skip"


class Measure(Noted):
    def read(self, shared: Any) -> Any:
        return shared["input"]["text"]

    def work(self, text: Any) -> Any:
        return len(text.split()) if self.name == "words" else sum(c.isalpha() for c in text)


class Work(Noted):
    def read(self, shared: Any) -> Any:
        return self.params["key"]

    def work(self, key: Any) -> Any:
        return key.upper()

    def write(self, shared: Any, exec_res: Any) -> Any:
        shared["results"][self.params["key"]] = exec_res


class Parts(rg.BatchGraph):
    def prep(self, shared: Any) -> Any:
        return [{"part": 1}, {"part": 2}]


class Piece(Noted):
    def work(self, prep_res: Any) -> Any:
        return f"{self.params['key']}{self.params['part']}"

    def write(self, shared: Any, exec_res: Any) -> Any:
        shared["pieces"][exec_res] = self.params["part"]


class Gate(Noted):
    def write(self, shared: Any, exec_res: Any) -> Any:
        shared["gates"] = sorted([*shared.get("gates", []), self.params["key"]])


#: the runs that reached Hold (with RT_TEST_CRASH=1 they wait there to be killed)
holding: set[str] = set()


class Hold(Noted):
    async def exec(self, prep_res: Any) -> Any:
        effect(f"exec {self.tag()} attempt {self.attempt}")
        if os.environ.get("RT_TEST_CRASH") == "1":
            holding.add(self.params["key"])
            if holding == set(KEYS):  # every step before Hold is journaled by now
                say("PAUSED")
            await asyncio.Event().wait()  # until killed


class Each(rg.ParallelBatchGraph):
    def prep(self, shared: Any) -> Any:
        return [{"key": key} for key in KEYS]


class Tick(Noted):
    def write(self, shared: Any, exec_res: Any) -> Any:
        shared["ticks"] = shared.get("ticks", 0) + 1
        return "again" if shared["ticks"] < 3 else None


class Cleanup(Noted):
    def write(self, shared: Any, exec_res: Any) -> Any:
        del shared["tmp"]


class Sum(Noted):
    def read(self, shared: Any) -> Any:
        return shared["results"], shared["pieces"], shared["parallel_results"]

    def work(self, prep_res: Any) -> Any:
        if BROKEN["sum"]:
            raise RuntimeError("Sum is broken")
        results, pieces, measures = prep_res
        return "".join(sorted(results.values())) + f"/{len(pieces)}/{sum(measures)}"

    def write(self, shared: Any, exec_res: Any) -> Any:
        shared["total"] = exec_res
        return "done"


def build() -> rg.Graph:
    work = Work()
    work >> Parts(Piece()) >> Gate() >> Hold()
    tick = Tick()
    load = Load()
    route = Route()
    load >> route
    route - "skip" >> Sum()
    fan = rg.Parallel(Measure(name="words"), Measure(name="letters"))
    route - "batch" >> fan >> Each(work) >> tick
    tick - "again" >> tick
    tick >> Cleanup() >> Sum()
    return rg.Graph(load, name="job")


async def run(store: str, resume: str | None = None) -> dict[str, Any]:
    """Run the job in a journaled session; the run id is printed first."""
    holding.clear()
    shared: dict[str, Any] = {}
    async with rt.Session(name="job", store=store, durability="sync", resume=resume) as session:
        say(f"RUN {session.run_id}")
        result = await build().run(shared)
    return {
        "shared": shared,
        "action": result.action,
        "path": list(result.path),
        "result": result.result,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--resume")
    options = parser.parse_args()
    outcome = asyncio.run(run(options.db, options.resume))
    say("RESULT " + json.dumps(outcome, sort_keys=True))


if __name__ == "__main__":
    main()
