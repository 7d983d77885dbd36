"""The local OpenAI-protocol server, spoken to with plain HTTP (no SDK)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from runtree.errors import SessionStateError
from runtree.testing import LocalOpenAIServer, Reply, Script, ScriptExhausted, tool_call

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(server: LocalOpenAIServer, body: Any) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    try:
        with NO_PROXY.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_completion_and_models() -> None:
    with LocalOpenAIServer(["hello world"], model="m") as server:
        status, _, data = post(server, BODY)
        with NO_PROXY.open(server.base_url + "/models", timeout=30) as response:
            models = json.loads(response.read())
    body = json.loads(data)
    assert status == 200 and body["choices"][0]["message"]["content"] == "hello world"
    assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["total_tokens"] > 0
    assert models["data"][0]["id"] == "m"
    assert server.requests == [BODY]


def test_stream_sends_server_sent_events_with_usage() -> None:
    reply = Reply("a b", tool_calls=[tool_call("f", x=1)], usage=(3, 4))
    with LocalOpenAIServer([reply]) as server:
        status, headers, data = post(
            server, {**BODY, "stream": True, "stream_options": {"include_usage": True}}
        )
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = [line[len("data: ") :] for line in data.decode().split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "a b"
    arguments = "".join(
        d["tool_calls"][0]["function"]["arguments"] for d in deltas if "tool_calls" in d
    )
    assert arguments == '{"x":1}'
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 3
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_errors_rate_limits_and_refusals() -> None:
    script = [Reply.failure(429, "slow down", retry_after=3)]
    with LocalOpenAIServer(script, supports_tools=False, supports_json_schema=False) as server:
        status, headers, data = post(server, BODY)
        assert (status, headers["Retry-After"]) == (429, "3")
        assert json.loads(data)["error"]["message"] == "slow down"
        status, _, data = post(server, BODY)
        assert status == 400 and "no reply left" in json.loads(data)["error"]["message"]
        status, _, data = post(server, {**BODY, "tools": [{"type": "function"}]})
        assert status == 400 and "tools" in json.loads(data)["error"]["message"]
        status, _, data = post(server, {**BODY, "response_format": {"type": "json_schema"}})
        assert status == 400 and "json_schema" in json.loads(data)["error"]["message"]
        assert post(server, b"{not json")[0] == 400
        assert post(server, {"messages": "no"})[0] == 400


def test_a_failing_script_function_is_a_500() -> None:
    def broken(request: Any) -> Reply:
        raise RuntimeError("bug in the script")

    with LocalOpenAIServer(broken) as server:
        status, _, data = post(server, BODY)
    assert status == 500 and "bug in the script" in json.loads(data)["error"]["message"]


def test_lifecycle_is_checked() -> None:
    server = LocalOpenAIServer()
    with pytest.raises(SessionStateError, match="not running"):
        _ = server.base_url
    with server, pytest.raises(SessionStateError, match="already running"):
        server.start()
    script = Script(["one"])
    script.reply_to({})
    with pytest.raises(ScriptExhausted, match="all 1 were used"):
        script.reply_to({})
    with pytest.raises(TypeError, match="a Reply or a str"):
        Script([3])  # type: ignore[list-item]


def test_the_echo_server_command() -> None:
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "runtree.testing", "--model", "echo-1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("serving echo-1 at http://127.0.0.1:")
        base_url = line.split(" at ")[1].split(" ")[0]
        request = urllib.request.Request(
            base_url + "/chat/completions",
            data=json.dumps(
                {"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with NO_PROXY.open(request, timeout=30) as response:
            body = json.loads(response.read())
        assert body["choices"][0]["message"]["content"] == "echo: hi"
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
