"""``ModelBase``: a chat model, and the request every call of it makes in the run tree.

A provider implements two coroutines on plain dicts: ``_complete(request)`` returns one reply
and ``_stream_chunks(request)`` yields the chunks of a streamed one (see
:class:`~runtree.llm.stream.ReplyAssembler` for their shape). Everything else lives here:

* each model call is a request of its own (node ``"chat <model>"``) whose input is the
  JSON-exact request dict (model, messages, tools, settings) and whose output is the
  JSON-exact response dict (message, finish reason, usage), so the journal shows both and a
  resumed run answers a finished call from it without sending it again;
* retries (:class:`runtree.policy.RetryPolicy`), ``Retry-After`` included;
* usage: in the request's ``details`` and attributes, in every usage scope in force, in the
  run's total; limits are checked before a call is sent;
* streaming: when an ``rt.stream`` consumer is listening (or ``stream=True``), the call is
  streamed and its pieces are broadcast as :mod:`runtree.llm.stream` events.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from runtree.errors import ConfigurationError, ModelError
from runtree.interaction.call import call
from runtree.interaction.stream import broadcast, is_streaming
from runtree.llm import usage as usage_accounting
from runtree.llm.history import WireMessages, as_history
from runtree.llm.message import Message
from runtree.llm.response import RESPONSE_OBJECT, Response
from runtree.llm.retry import DEFAULT_RETRY, TRANSIENT_STATUSES, RetryPolicy, next_delay
from runtree.llm.stream import (
    ModelCallFinished,
    ReplyAssembler,
    StreamEvent,
    TextDelta,
    request_path,
)
from runtree.llm.tools import Tool
from runtree.nodes.builder import NodeBuilder
from runtree.nodes.node import Node

if TYPE_CHECKING:
    from runtree.llm.structured import OutputSchema

__all__ = ["FallbackLLM", "ModelBase", "ModelCall", "as_model"]


class ModelCall(Node[dict[str, Any]]):
    """The request of one model call. Each model has its own subclass (``model`` set)."""

    execution_mode = "async"
    model: ClassVar[ModelBase]

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__()
        self.request = request

    async def invoke(self) -> dict[str, Any]:
        return await self.model._run(self.request, self)


class ModelBase(abc.ABC):
    """A chat model. Subclasses implement ``_complete`` (and ``_stream_chunks`` for token
    streaming); callers use :meth:`chat`, :meth:`chat_with_tools`, :meth:`structured` and
    :meth:`stream_chat`, or give the model to an agent.

    Options (keyword-only): ``retry`` (a :class:`runtree.policy.RetryPolicy`; default: three
    attempts, 0.5 s then 1 s apart, ``Retry-After`` honoured up to 60 s), ``retry_statuses``
    (the HTTP statuses that are transient), ``sleep`` (how to wait between attempts; tests
    inject one), ``stream`` (always stream,
    even with no ``rt.stream`` consumer), ``price_per_million`` (``(input, output)`` US
    dollars per million tokens, for a cost when the provider reports none),
    ``structured_output`` (``"auto"``, ``"json_schema"``, ``"tool"`` or ``"prompt"``: how
    agents with an ``output_schema`` ask for it) and model settings such as ``temperature``,
    ``max_tokens``, ``top_p``, ``seed`` (sent with every request).
    """

    #: the provider's name (``gen_ai.provider.name``)
    provider: ClassVar[str] = "custom"
    STRUCTURED_MODES: ClassVar[tuple[str, ...]] = ("auto", "json_schema", "tool", "prompt")

    def __init__(
        self,
        model_name: str,
        *,
        retry: RetryPolicy | None = None,
        retry_statuses: Iterable[int] = TRANSIENT_STATUSES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stream: bool = False,
        price_per_million: tuple[float, float] | None = None,
        structured_output: str = "auto",
        **settings: Any,
    ) -> None:
        if not isinstance(model_name, str) or not model_name.strip():
            raise ConfigurationError(f"a model needs a model name (str), got {model_name!r}")
        if structured_output not in self.STRUCTURED_MODES:
            raise ConfigurationError(
                f"structured_output must be one of {self.STRUCTURED_MODES}, "
                f"got {structured_output!r}"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a runtree.policy.RetryPolicy, got {retry!r}")
        if not callable(sleep):
            raise ConfigurationError(f"sleep must be an async function, got {sleep!r}")
        self._model_name = model_name
        self.retry = retry or DEFAULT_RETRY
        self.retry_statuses = frozenset(retry_statuses)
        self.sleep = sleep
        self.stream = stream
        self.price_per_million = price_per_million
        self.structured_output = structured_output
        self.settings = dict(settings)
        self._node: type[ModelCall] | None = None
        #: the structured-output mode this process moved to after the server refused one
        self.structured_mode_override: str | None = None

    # -- identity ----------------------------------------------------------------------------

    def model_name(self) -> str:
        """The model's name as the provider knows it."""
        return self._model_name

    @classmethod
    def model_type(cls) -> str:
        """The provider's name."""
        return cls.provider

    def node_class(self) -> type[ModelCall]:
        """The node class of this model's calls (named ``"chat <model>"``)."""
        if self._node is None:
            label = f"chat {self._model_name}"
            self._node = (
                NodeBuilder(ModelCall, class_name="ModelCall")
                .override_attrs(model=self, name=lambda cls: label)
                .build()
            )
        return self._node

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._model_name!r})"

    # -- the provider's part -----------------------------------------------------------------

    @abc.abstractmethod
    async def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send ``request`` and return ``{"id", "model", "message", "finish_reason", "usage"}``
        (``message`` in chat-protocol form, ``usage`` with ``input_tokens``/``output_tokens``
        and optionally ``cost``). Raise :class:`ModelError` for what the provider refused."""

    async def _stream_chunks(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Send ``request`` streamed and yield its chunks. By default: one chunk holding the
        whole reply of :meth:`_complete`."""
        data = await self._complete(request)
        message = data.get("message") or {}
        yield {
            "id": data.get("id"),
            "model": data.get("model"),
            "content": message.get("content"),
            "tool_calls": [
                {
                    "index": index,
                    "id": item.get("id"),
                    "name": item.get("function", {}).get("name"),
                    "arguments": item.get("function", {}).get("arguments"),
                }
                for index, item in enumerate(message.get("tool_calls") or ())
            ],
            "finish_reason": data.get("finish_reason"),
            "usage": data.get("usage"),
        }

    def _translate_error(self, error: Exception) -> ModelError | None:
        """A :class:`ModelError` for a provider library's exception, or ``None`` to let it
        through unchanged."""
        return None

    # -- the request -------------------------------------------------------------------------

    def build_request(
        self,
        messages: Sequence[Message] | Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Tool | Mapping[str, Any]] = (),
        tool_choice: str | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON-exact request dict of one call (the model-call request's input).

        ``messages`` are messages or chat-protocol dicts; ``tools`` are :class:`Tool`
        descriptions or their ``to_openai()`` dicts. Dicts are taken as they are (not
        copied): do not change them afterwards.
        """
        request: dict[str, Any] = {
            "model": self._model_name,
            "messages": (
                list(messages)
                if type(messages) is WireMessages
                else [m if type(m) is dict else _wire(m) for m in messages]
            ),
        }
        if tools:
            request["tools"] = [t.to_openai() if isinstance(t, Tool) else t for t in tools]
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        if response_format is not None:
            request["response_format"] = dict(response_format)
        if self.settings:
            request["settings"] = dict(self.settings)
        return request

    async def request(self, request: dict[str, Any]) -> Response:
        """Make the model call ``request`` (see :meth:`build_request`) as a request of the run,
        after checking the usage limits in force, and count its usage."""
        usage_accounting.check_limits()
        data = await call(self.node_class(), request)
        response = Response.from_dict(data)
        response.wire = data["message"]
        usage_accounting.record(response.usage)
        return response

    async def _run(self, request: dict[str, Any], node: ModelCall) -> dict[str, Any]:
        """The body of a model-call request: send (with retries), normalise, record."""
        policy = self.retry
        streaming = self.stream or is_streaming()
        attempt = 0
        start = time.perf_counter()
        while True:
            attempt += 1
            sent_anything: list[bool] = [False]
            try:
                if streaming:
                    data = await self._streamed(request, node, sent_anything)
                else:
                    data = await self._complete(request)
                break
            except Exception as exc:
                error = exc if isinstance(exc, ModelError) else self._translate_error(exc)
                if error is None:
                    raise
                if not error.provider:
                    error.provider = self.provider
                delay = None if sent_anything[0] else next_delay(policy, error, attempt)
                if delay is None:
                    if error is exc:
                        raise
                    raise error from exc
                await self.sleep(delay)
        response = self._normalise(data)
        self._record(node, request, response, attempt, time.perf_counter() - start)
        if streaming:
            usage = response["usage"]
            await self._emit(
                node,
                ModelCallFinished(
                    model=response["model"], finish_reason=response["finish_reason"], usage=usage
                ),
            )
        return response

    async def _streamed(
        self, request: dict[str, Any], node: ModelCall, sent_anything: list[bool]
    ) -> dict[str, Any]:
        assembler = ReplyAssembler()
        async for chunk in self._stream_chunks(request):
            for event in assembler.add(chunk):
                sent_anything[0] = True
                await self._emit(node, event)
        return {
            "id": assembler.id,
            "model": assembler.model,
            "message": assembler.message(),
            "finish_reason": assembler.finish_reason,
            "usage": assembler.usage,
        }

    async def _emit(self, node: ModelCall, event: StreamEvent) -> None:
        path = request_path(node.uuid)
        await broadcast(dataclasses.replace(event, request_id=node.uuid, path=path))

    def _normalise(self, data: Mapping[str, Any]) -> dict[str, Any]:
        raw_usage = data.get("usage") or {}
        input_tokens = int(raw_usage.get("input_tokens") or 0)
        output_tokens = int(raw_usage.get("output_tokens") or 0)
        cost = raw_usage.get("cost")
        if cost is None and self.price_per_million is not None:
            per_input, per_output = self.price_per_million
            cost = (input_tokens * per_input + output_tokens * per_output) / 1_000_000
        message = dict(data.get("message") or {"role": "assistant", "content": ""})
        message["role"] = "assistant"
        return {
            "object": RESPONSE_OBJECT,
            "id": data.get("id"),
            "model": str(data.get("model") or self._model_name),
            "provider": self.provider,
            "message": message,
            "finish_reason": data.get("finish_reason"),
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
                "cost": None if cost is None else float(cost),
            },
        }

    def _record(
        self,
        node: ModelCall,
        request: Mapping[str, Any],
        response: Mapping[str, Any],
        attempts: int,
        latency: float,
    ) -> None:
        usage = response["usage"]
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self.provider,
            "gen_ai.request.model": request.get("model", self._model_name),
            "gen_ai.response.model": response["model"],
            "gen_ai.response.finish_reasons": [response["finish_reason"] or "unknown"],
            "gen_ai.usage.input_tokens": usage["input_tokens"],
            "gen_ai.usage.output_tokens": usage["output_tokens"],
            "runtree.kind": "llm",
            "runtree.attempt": attempts,
        }
        if response.get("id") is not None:
            attributes["gen_ai.response.id"] = response["id"]
        if usage["cost"] is not None:
            attributes["runtree.usage.cost"] = usage["cost"]
        node.details["attributes"] = attributes
        node.details["usage"] = dict(usage)
        node.details["model_latency"] = latency

    # -- the public forms --------------------------------------------------------------------

    async def chat(self, messages: Any) -> Response:
        """One reply to ``messages`` (text, a message, a list or a ``MessageHistory``)."""
        return await self.request(self.build_request(as_history(messages)))

    async def chat_with_tools(self, messages: Any, tools: Sequence[Tool]) -> Response:
        """One reply that may call ``tools`` (``Tool`` descriptions; nothing runs them)."""
        return await self.request(self.build_request(as_history(messages), tools=list(tools)))

    async def structured(self, messages: Any, schema: OutputSchema) -> Response:
        """One reply parsed into ``schema`` (a pydantic model): ``response.structured``."""
        from runtree.llm.loop import structured_reply

        return await structured_reply(self, as_history(messages), schema, tools=())

    async def stream_chat(
        self, messages: Any, tools: Sequence[Tool] = ()
    ) -> AsyncIterator[str | Response]:
        """Stream one reply: yields its text pieces (``str``) and, last, the ``Response``.

        The call is still a request of the run; its pieces are also broadcast as events.
        """
        from runtree.interaction.stream import stream

        request = self.build_request(as_history(messages), tools=list(tools))
        usage_accounting.check_limits()
        running = stream(self.node_class(), request)
        async for event in running:
            if isinstance(event, TextDelta):
                yield event.text
        response = Response.from_dict(running.result)
        usage_accounting.record(response.usage)
        yield response


class FallbackLLM(ModelBase):
    """Tries ``models`` in order: the next one gets the call when the one before failed with
    a transient error (after its own retries). ``llm=[primary, fallback]`` makes one."""

    provider = "fallback"

    def __init__(self, models: Sequence[ModelBase]) -> None:
        models = list(models)
        if not models or not all(isinstance(m, ModelBase) for m in models):
            raise ConfigurationError(
                f"a fallback list needs one or more models (ModelBase), got {models!r}"
            )
        super().__init__("|".join(m.model_name() for m in models))
        self.models = models
        self.structured_output = models[0].structured_output

    async def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        raise ConfigurationError("FallbackLLM sends nothing itself; use request()")

    def build_request(
        self,
        messages: Sequence[Message] | Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Tool | Mapping[str, Any]] = (),
        tool_choice: str | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        # what to send; each model puts its own name and settings in when it is tried
        return {
            "messages": [_wire(m) for m in messages],
            "tools": list(tools),
            "tool_choice": tool_choice,
            "response_format": response_format,
        }

    async def request(self, request: dict[str, Any]) -> Response:
        last: ModelError | None = None
        for model in self.models:
            own = model.build_request(
                request["messages"],
                tools=request.get("tools") or (),
                tool_choice=request.get("tool_choice"),
                response_format=request.get("response_format"),
            )
            try:
                return await model.request(own)
            except ModelError as error:
                if not error.retryable:
                    raise
                last = error
        assert last is not None
        raise last


def _wire(message: Message | Mapping[str, Any]) -> dict[str, Any]:
    return message.to_dict() if isinstance(message, Message) else dict(message)


def as_model(llm: Any, *, where: str) -> ModelBase:
    """The model behind an ``llm=`` option: a model, or a list of them (fallbacks)."""
    if isinstance(llm, ModelBase):
        return llm
    if isinstance(llm, (list, tuple)):
        return llm[0] if len(llm) == 1 and isinstance(llm[0], ModelBase) else FallbackLLM(llm)
    raise ConfigurationError(
        f"{where}: llm must be a model (e.g. rt.llm.OpenAILLM('gpt-4o')) or a list of models "
        f"tried in order, got {llm!r}"
    )
