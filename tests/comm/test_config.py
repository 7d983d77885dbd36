from __future__ import annotations

import pytest

import runtree.comm as comm
from runtree.errors import ConfigurationError

COMMUNICATION_CONFIG = {
    "message_queue": {
        "max_size": 10000,
        "overflow_policy": "drop_oldest",  # or "reject_new"
    },
    "channels": {
        "buffer_size": 1000,
        "timeout": 30,
    },
    "retry": {
        "max_attempts": 3,
        "backoff": "exponential",
        "base_delay": 1.0,
    },
}


def test_the_seed_config_loads_and_builds_objects() -> None:
    config = comm.CommunicationConfig.from_dict(COMMUNICATION_CONFIG)
    assert config.message_queue.max_size == 10000
    assert config.channels.timeout == 30
    assert config.retry == comm.RetryPolicy(max_attempts=3, backoff="exponential", base_delay=1.0)
    queue = config.create_queue(name="q")
    assert (queue.max_size, queue.overflow_policy) == (10000, "drop_oldest")
    channel = config.create_channel("c", type_=int)
    assert (channel.buffer_size, channel.timeout, channel.type_) == (1000, 30, int)
    exchange = config.create_exchange("x")
    assert exchange.timeout == 30
    sender = config.create_sender(lambda m: None, name="s")
    assert sender.retry is config.retry
    again = comm.CommunicationConfig.from_dict(config.to_dict())
    assert again == config


def test_defaults_and_partial_config() -> None:
    config = comm.CommunicationConfig.from_dict({"channels": {"timeout": None}})
    assert config.channels.timeout is None
    assert config.message_queue == comm.MessageQueueConfig()
    assert comm.CommunicationConfig() == comm.CommunicationConfig.from_dict({})


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"queues": {}}, "'queues'"),
        ({"message_queue": {"maxsize": 3}}, "message_queue.maxsize"),
        ({"message_queue": {"max_size": 0}}, "message_queue.max_size"),
        ({"message_queue": {"overflow_policy": "drop"}}, "message_queue.overflow_policy"),
        ({"message_queue": []}, "message_queue"),
        ({"channels": {"buffer_size": "big"}}, "channels.buffer_size"),
        ({"channels": {"timeout": -1}}, "channels.timeout"),
        ({"channels": {"timeout": "30"}}, "channels.timeout"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"retry": {"backoff": "quadratic"}}, "retry.backoff"),
        ({"retry": {"delay": 1}}, "retry.delay"),
        ({"retry": {"base_delay": "1"}}, "retry.base_delay"),
    ],
)
def test_bad_config_names_the_key_path(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigurationError, match=path.replace(".", r"\.")):
        comm.CommunicationConfig.from_dict(data)
