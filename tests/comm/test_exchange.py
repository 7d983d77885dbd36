from __future__ import annotations

import asyncio
import pickle

import pytest

import runtree.comm as comm


async def test_every_request_is_answered() -> None:
    exchange: comm.Exchange[int, int] = comm.Exchange("double")

    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    server = asyncio.ensure_future(exchange.serve(double, concurrency=3))
    answers = await asyncio.gather(*(exchange.request(i, timeout=5) for i in range(20)))
    assert answers == [i * 2 for i in range(20)]
    exchange.close()
    await server
    stats = exchange.statistics()
    assert (stats.requests, stats.answered, stats.pending, stats.timeouts) == (20, 20, 0, 0)


async def test_handler_errors_reach_the_client() -> None:
    exchange: comm.Exchange[int, float] = comm.Exchange("div")
    server = asyncio.ensure_future(exchange.serve(lambda x: 1 / x))
    assert await exchange.request(4) == 0.25
    with pytest.raises(comm.RequestFailedError) as info:
        await exchange.request(0)
    err = info.value
    assert err.error.error_code == "ZeroDivisionError"
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert err.correlation_id
    assert await exchange.request(2) == 0.5  # still serving
    exchange.close()
    await server
    assert exchange.statistics().failed == 1
    again = pickle.loads(pickle.dumps(err))
    assert again.error == err.error and again.correlation_id == err.correlation_id


async def test_timeouts_and_late_responses_are_counted() -> None:
    exchange: comm.Exchange[str, str] = comm.Exchange("slow")
    client = asyncio.ensure_future(exchange.request("ping", timeout=0.01))
    request = await exchange.receive()
    assert request.payload == "ping" and request.correlation_id
    with pytest.raises(comm.RequestTimeoutError) as info:
        await client
    assert isinstance(info.value, TimeoutError)
    assert info.value.correlation_id == request.correlation_id
    assert exchange.respond(request, "pong") is False
    assert exchange.respond("never-seen", "pong") is False
    stats = exchange.statistics()
    assert (stats.timeouts, stats.late, stats.unknown, stats.pending) == (1, 1, 1, 0)


async def test_requests_abandoned_before_a_server_took_them_are_skipped() -> None:
    exchange: comm.Exchange[int, int] = comm.Exchange("x")
    with pytest.raises(comm.RequestTimeoutError):
        await exchange.request(1, timeout=0)
    handled: list[int] = []

    def handler(x: int) -> int:
        handled.append(x)
        return x

    server = asyncio.ensure_future(exchange.serve(handler))
    assert await exchange.request(2) == 2
    exchange.close()
    await server
    assert handled == [2]
    assert exchange.statistics().abandoned == 1


async def test_manual_server_loop_and_fail() -> None:
    exchange: comm.Exchange[str, str] = comm.Exchange("manual")

    async def server() -> None:
        async for request in exchange:
            if request.payload == "bad":
                exchange.fail(request, comm.ErrorMessage(error_code="E001", message="no"))
            else:
                exchange.respond(request.correlation_id or "", request.payload.upper())

    task = asyncio.ensure_future(server())
    assert await exchange.request("hi") == "HI"
    with pytest.raises(comm.RequestFailedError, match="E001"):
        await exchange.request("bad")
    exchange.close()
    await task
    with pytest.raises(comm.ChannelClosedError):
        await exchange.request("late")


async def test_cancelled_request_is_forgotten() -> None:
    exchange: comm.Exchange[int, int] = comm.Exchange("c")
    client = asyncio.ensure_future(exchange.request(1))
    request = await exchange.receive()
    client.cancel()
    with pytest.raises(asyncio.CancelledError):
        await client
    assert exchange.respond(request, 1) is False
    stats = exchange.statistics()
    assert (stats.cancelled, stats.late, stats.pending) == (1, 1, 0)


async def test_default_timeout_from_the_exchange() -> None:
    exchange: comm.Exchange[int, int] = comm.Exchange("d", timeout=0.01)
    with pytest.raises(comm.RequestTimeoutError):
        await exchange.request(1)
