"""A program interrupted by the tests (SIGINT): ``python -m tests.runtime.interrupt_child
<journal> <sync|thread|mixed|async> <node mode>``. It prints ``STARTED`` once its node runs."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
import time

import runtree as rt


def started() -> None:
    print("STARTED", flush=True)


class SleepsSync(rt.Node[str]):
    """A synchronous body: it cannot be interrupted."""

    def __init__(self) -> None:
        super().__init__()

    def invoke(self) -> str:
        started()
        time.sleep(60)
        return "woke"


class SleepsAsync(rt.Node[str]):
    def __init__(self) -> None:
        super().__init__()

    async def invoke(self) -> str:
        started()
        await asyncio.sleep(60)
        return "woke"


class Parent(rt.Node[str]):
    """Calls the sleeper, so two requests are in flight when the interrupt comes."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def invoke(self) -> str:
        node = SleepsSync if self.kind == "sync" else SleepsAsync
        mode = self.kind if self.kind in ("thread", "process") else "async"
        with rt.execution_mode(mode):
            return await rt.call(node)


def in_thread(kind: str) -> None:
    try:
        rt.call_sync(Parent, kind)
    except rt.SessionStateError as exc:  # the session closed under it (the main thread's ^C)
        print(f"thread: {exc}", flush=True)


def main() -> None:
    journal, style, kind = sys.argv[1:4]
    if style == "sync":
        with rt.Session(store=journal, name="interrupted"):
            rt.call_sync(Parent, kind)
    elif style == "thread":  # the main thread only joins; Ctrl-C interrupts the join
        with rt.Session(store=journal, name="interrupted"):
            worker = threading.Thread(
                target=contextvars.copy_context().run, args=(in_thread, kind), daemon=True
            )
            worker.start()
            worker.join()
    elif style == "mixed":  # railtracks style: a sync `with` inside async code

        async def run_mixed() -> None:
            with rt.Session(store=journal, name="interrupted"):
                await rt.call(Parent, kind)

        asyncio.run(run_mixed())
    else:

        async def run() -> None:
            async with rt.Session(store=journal, name="interrupted"):
                await rt.call(Parent, kind)

        asyncio.run(run())


if __name__ == "__main__":
    main()
