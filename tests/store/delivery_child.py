"""A process that starts a reliable delivery and then hangs in it, to be SIGKILLed.

argv: journal path. It prints ``attempting <message id>`` once the first attempt started
(after the log recorded it), then waits forever.
"""

from __future__ import annotations

import asyncio
import sys

from runtree.comm import ReliableSender, RetryPolicy
from runtree.store import SqliteDeliveryLog


async def main(path: str) -> None:
    started = asyncio.Event()

    async def hang(message: object) -> None:
        print(f"attempting {message.id}", flush=True)  # type: ignore[attr-defined]
        started.set()
        await asyncio.Event().wait()

    with SqliteDeliveryLog(path, name="orders") as log:
        sender: ReliableSender[dict[str, int]] = ReliableSender(
            hang, log=log, retry=RetryPolicy(max_attempts=3, base_delay=0.0)
        )
        await sender.send({"order": 42})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
