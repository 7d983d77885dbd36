"""How a Session's options are chosen: keywords, an ExecutorConfig given first (older
railtracks code), set_config defaults, built-in defaults; stream_callback."""

from __future__ import annotations

import pytest

import runtree as rt
from tests.support import Streamer


def _callback(item: object) -> None:
    return None


def test_an_executor_config_given_first_gives_the_options() -> None:
    rt.set_config(timeout=99.0, logging_setting="DEBUG", context={"app": "v1"})
    config = rt.ExecutorConfig(end_on_error=True, logging_setting="NONE", max_call_depth=7)
    session = rt.Session(config, store=None)
    assert session.config.end_on_error is True
    assert session.config.logging_setting == "NONE"
    assert session.config.max_call_depth == 7
    assert session.config.timeout is None  # the config replaces set_config's options...
    assert session.context.snapshot() == {"app": "v1"}  # ...not its context values


def test_keywords_win_over_the_executor_config() -> None:
    config = rt.ExecutorConfig(end_on_error=True, timeout=3.0, save_state=False)
    session = rt.Session(config, end_on_error=False, max_call_depth=5, name="mine")
    assert (session.config.end_on_error, session.config.timeout) == (False, 3.0)
    assert session.config.max_call_depth == 5 and session.name == "mine"
    assert session.journal is None  # save_state=False from the config
    assert session.context.snapshot() == {}


def test_the_executor_config_chooses_the_mode_unless_a_variable_or_keyword_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = rt.ExecutorConfig(execution_mode="thread")
    assert rt.Session(config, store=None).config.execution_mode == "thread"
    assert rt.Session(config, store=None, execution_mode="async").config.execution_mode == ("async")
    monkeypatch.setenv("RT_EXECUTION_MODE", "process")
    assert rt.Session(config, store=None).config.execution_mode == "process"
    with pytest.raises(rt.ConfigurationError, match="the ExecutorConfig's execution_mode is"):
        monkeypatch.delenv("RT_EXECUTION_MODE")
        rt.Session(rt.ExecutorConfig(execution_mode="nowhere"), store=None)


def test_stream_callback_is_broadcast_callbacks_newer_name() -> None:
    items: list[object] = []
    callback = items.append
    with rt.Session(stream_callback=callback, store=None) as session:
        rt.call_sync(Streamer, 2)
    assert session.config.broadcast_callback is callback
    assert items == ["chunk 0", "chunk 1"]


def test_broadcast_and_stream_callback_together_are_refused() -> None:
    with pytest.raises(rt.ConfigurationError, match="not both"):
        rt.Session(broadcast_callback=_callback, stream_callback=_callback)


def test_a_context_that_is_neither_a_mapping_nor_a_config_is_refused() -> None:
    with pytest.raises(rt.ConfigurationError, match="or an ExecutorConfig"):
        rt.Session([("a", 1)])  # type: ignore[arg-type]
