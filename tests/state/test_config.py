"""ExecutorConfig, set_config and the order in which session options are chosen."""

from __future__ import annotations

import pytest

import runtree as rt
from runtree.state.config import config_defaults
from runtree.utils.config import ExecutorConfig


def test_session_arguments_win_over_set_config_which_wins_over_built_in_defaults() -> None:
    assert rt.Session(store=None).config.timeout is None
    rt.set_config(timeout=200.0, end_on_error=True, context={"app": "v1"})
    session = rt.Session(store=None)
    assert (session.config.timeout, session.config.end_on_error) == (200.0, True)
    assert session.context.snapshot() == {"app": "v1"}
    session = rt.Session({"user": "ada"}, store=None, timeout=5, end_on_error=False)
    assert (session.config.timeout, session.config.end_on_error) == (5, False)
    assert session.context.snapshot() == {"app": "v1", "user": "ada"}
    rt.set_config(end_on_error=False)  # options left out keep their value
    assert config_defaults()[0].timeout == 200.0


def test_bad_values_are_refused_and_change_nothing() -> None:
    rt.set_config(timeout=3)
    with pytest.raises(rt.ConfigurationError, match="timeout must be > 0"):
        rt.set_config(timeout=-1)
    with pytest.raises(rt.ConfigurationError, match="logging_setting must be one of"):
        rt.set_config(logging_setting="LOUD")
    with pytest.raises(rt.ConfigurationError, match="end_on_error must be a bool"):
        rt.set_config(end_on_error="yes")  # type: ignore[arg-type]
    with pytest.raises(rt.ConfigurationError, match="context must be a mapping"):
        rt.set_config(context=[1, 2])  # type: ignore[arg-type]
    assert config_defaults()[0].timeout == 3


def test_save_state_false_turns_the_journal_off() -> None:
    assert rt.Session(save_state=False).journal is None
    rt.set_config(save_state=False)
    assert rt.Session().journal is None
    assert rt.Session(save_state=True).journal is not None
    with pytest.raises(rt.ConfigurationError, match="pass only one of them"):
        rt.Session(save_state=False, store="somewhere.db")


def test_executor_config_accepts_the_railtracks_options() -> None:
    def callback(item: object) -> None:
        return None

    config = ExecutorConfig(
        timeout=10.0,
        end_on_error=True,
        logging_setting="VERBOSE",
        log_file="run.log",
        broadcast_callback=callback,
        prompt_injection=False,
        save_state=False,
    )
    assert config.log_level == 10 and config.subscriber is callback
    assert ExecutorConfig(logging_setting="NONE").log_level is None
    assert ExecutorConfig().log_level is None


@pytest.mark.parametrize("variable", ["RT_EXECUTION_MODE", "RUNTREE_EXECUTION_MODE"])
def test_either_environment_variable_chooses_the_default_mode(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "thread")
    assert rt.Session(store=None).config.execution_mode == "thread"
    monkeypatch.setenv(variable, "nowhere")
    with pytest.raises(rt.ConfigurationError, match=f"{variable} is 'nowhere'"):
        rt.Session(store=None)


def test_the_two_variables_must_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RT_EXECUTION_MODE", "thread")
    monkeypatch.setenv("RUNTREE_EXECUTION_MODE", "process")
    with pytest.raises(rt.ConfigurationError, match="disagree"):
        rt.Session(store=None)
    monkeypatch.setenv("RUNTREE_EXECUTION_MODE", "thread")
    assert rt.Session(store=None).config.execution_mode == "thread"


def test_set_config_chooses_the_mode_when_no_variable_does() -> None:
    rt.set_config(execution_mode="thread")
    assert rt.Session(store=None).config.execution_mode == "thread"
    assert rt.Session(store=None, execution_mode="async").config.execution_mode == "async"
