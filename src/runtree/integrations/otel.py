"""OpenTelemetry traces of runtree runs: one span per request (extra ``otel``).

::

    from runtree.integrations.otel import instrument

    async with rt.Session() as session:
        instrument(session)                     # the global tracer provider
        await rt.call(Agent, "question")

The observer is a subscriber of the session's publisher: spans are made from the
``RequestCreation``, ``RequestSuccess`` and ``RequestFailure`` messages on the
subscriber's own thread, never on the event loop, so tracing costs a run only the
publishing it does anyway and cannot break it. Everything a span needs is in the messages
(the request's attributes travel in ``RequestSuccess.attributes`` /
``RequestFailure.attributes``): nothing is looked up in the session afterwards.

A span starts when a request is created and ends when it ends, with the request's own start
and end times. Its parent is the span of the request that made the call, across nested and
parallel (``call_batch``, ``gather``) calls; a call made outside any node is a child of the
span that was current when :func:`instrument` was called (if any). Spans carry
``runtree.*`` attributes (node name, request and run ids, execution mode, status) and the
request's own attributes (the GenAI names for model and tool calls:
``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``...). A
model call's span is named ``chat <model>``, a tool call's ``execute_tool <tool>``, an
agent's ``invoke_agent <agent>``, following the GenAI semantic conventions; other spans
are named after their node.

runtree sets up no exporter and no vendor: spans go to the tracer provider you pass, or
to the global one (``opentelemetry.trace.set_tracer_provider``). See
``docs/observability.md``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "runtree.integrations.otel needs OpenTelemetry: pip install 'runtree[otel]'"
    ) from exc

from runtree.errors import ConfigurationError
from runtree.pubsub.messages import (
    Message,
    RequestCreation,
    RequestFailure,
    RequestSuccess,
)

__all__ = ["OpenTelemetryObserver", "instrument"]

_SCOPE = "runtree"
#: messages buffered for the observer (it never slows a run; see the publisher's statistics)
_BUFFER = 1_000_000
_VALUE_TYPES = (str, bool, int, float)


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


def _attribute(value: Any) -> Any:
    """``value`` as an OpenTelemetry attribute value (scalars, lists of one scalar type)."""
    if isinstance(value, _VALUE_TYPES):
        return value
    if isinstance(value, (list, tuple)) and value:
        kinds = {type(item) for item in value}
        if len(kinds) == 1 and kinds <= set(_VALUE_TYPES):
            return list(value)
    import json

    try:
        return json.dumps(value, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _span_name(node_name: str, attributes: Mapping[str, Any]) -> str:
    operation = attributes.get("gen_ai.operation.name")
    target = (
        {
            "chat": attributes.get("gen_ai.request.model"),
            "execute_tool": attributes.get("gen_ai.tool.name"),
            "invoke_agent": attributes.get("gen_ai.agent.name"),
        }.get(operation)
        if isinstance(operation, str)
        else None
    )
    if operation and target:
        return f"{operation} {target}"
    return node_name


class OpenTelemetryObserver:
    """Turns a session's request lifecycle into spans. Use :func:`instrument`."""

    def __init__(self, *, tracer_provider: TracerProvider | None = None) -> None:
        provider = tracer_provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer(_SCOPE, _version())
        self._spans: dict[str, Span] = {}  # request id -> the span of a running request
        self._lock = threading.Lock()
        self._root_context = otel_context.get_current()
        self._session: Any = None
        self._subscription: Any = None
        self.run_id = ""

    # -- attaching ---------------------------------------------------------------------------

    def attach(self, session: Any) -> OpenTelemetryObserver:
        """Trace ``session``'s requests from now on (before its first call)."""
        if self._session is not None:
            raise RuntimeError("this observer is already attached to a session")
        self._session = session
        self.run_id = session.run_id
        self._subscription = session.publisher.subscribe(
            self._on_message,
            topics=(RequestCreation, RequestSuccess, RequestFailure),
            name="opentelemetry",
            max_buffer=_BUFFER,
        )
        return self

    def detach(self) -> None:
        """Stop tracing; spans of requests still running end now, marked unfinished."""
        with self._lock:
            session, self._session = self._session, None
            spans, self._spans = self._spans, {}
        if session is None:
            return
        with contextlib.suppress(ConfigurationError):  # already gone with the publisher
            session.publisher.unsubscribe(self._subscription)
        for span in spans.values():
            span.set_attribute("runtree.status", "unfinished")
            span.end()

    # -- the lifecycle -----------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if isinstance(message, RequestCreation):
            self._start(message)
        elif isinstance(message, RequestSuccess):
            self._end(message, "succeeded", None)
        elif isinstance(message, RequestFailure):
            status = "cancelled" if message.cancelled else "failed"
            self._end(message, status, message.error)

    def _start(self, message: RequestCreation) -> None:
        parent_id, request_id, name = message.parent_id, message.request_id, message.node_name
        with self._lock:  # held while the span opens: detach() then ends it too
            if self._session is None:
                return  # detached
            parent = self._spans.get(parent_id) if parent_id is not None else None
            context = (
                trace.set_span_in_context(parent) if parent is not None else self._root_context
            )
            self._spans[request_id] = self.tracer.start_span(
                name,
                context=context,
                kind=SpanKind.INTERNAL,
                start_time=_ns(message.start_time),
                attributes={
                    "runtree.node.name": name,
                    "runtree.request.id": request_id,
                    "runtree.run.id": self.run_id,
                    "runtree.execution.mode": message.mode,
                },
            )

    def _end(
        self,
        message: RequestSuccess | RequestFailure,
        status: str,
        error: BaseException | None,
    ) -> None:
        with self._lock:
            span = self._spans.pop(message.request_id, None)
        if span is None:  # created before the observer was attached
            return
        attributes = message.attributes or {}
        span.set_attribute("runtree.status", status)
        for key, value in attributes.items():
            if value is not None:
                span.set_attribute(key, _attribute(value))
        new_name = _span_name(message.node_name, attributes)
        if new_name != message.node_name:
            span.update_name(new_name)
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            if status == "failed":
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end(end_time=_ns(message.end_time))


def instrument(
    session: Any, *, tracer_provider: TracerProvider | None = None
) -> OpenTelemetryObserver:
    """Trace ``session``'s requests as OpenTelemetry spans (on ``tracer_provider``, else the
    global provider). Call it before the session's first call; returns the observer
    (``observer.detach()`` stops it)."""
    return OpenTelemetryObserver(tracer_provider=tracer_provider).attach(session)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("runtree")
    except Exception:
        return "0"
