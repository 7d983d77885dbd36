"""A driver the tests kill: ``python -m tests.integrations.ray.driver DB LOG BLOCK`` runs a
Chain of six Steps on Ray (``RT_EXECUTION_MODE=ray``, ``RT_RAY_ADDRESS``), journaled with
``durability="sync"``, and prints its run id first."""

from __future__ import annotations

import sys

import runtree as rt
from tests.integrations.ray.nodes import Chain


def main() -> None:
    db, log, block = sys.argv[1:4]
    with rt.Session(store=db, durability="sync", name="ray-chain") as run:
        print(run.run_id, flush=True)
        print(rt.call_sync(Chain, log, 6, block), flush=True)


if __name__ == "__main__":
    main()
