"""Every error runtree raises, under one root.

Each subclass also inherits the matching builtin, so broad handlers keep working
(``except TypeError`` catches a :class:`NodeDefinitionError`). A node's own exceptions are
never wrapped: ``except ValueError`` around ``rt.call`` sees the node's ``ValueError``.

::

    RuntreeError
    ├── NodeDefinitionError (TypeError)      a node class is malformed (raised at class creation)
    ├── NodeInvocationError (TypeError)      a call's arguments do not fit the node
    ├── NodeStateError (ValueError)          a NodeState cannot be written or read
    ├── ToolDefinitionError (TypeError)      a Tool / Parameter description is malformed
    ├── ConfigurationError (ValueError)      a bad option or environment variable
    ├── ContextError (RuntimeError)          an API used where it cannot work
    ├── SessionStateError (RuntimeError)     a session used before it opened or after it closed
    ├── SessionTimeoutError (TimeoutError)   a session ran past its ``timeout``
    ├── NodeTimeoutError (TimeoutError)      one call ran past its policy's ``timeout``
    ├── RunEndedError (RuntimeError)         a call made after ``end_on_error`` ended the run
    ├── CallDepthError (RecursionError)      calls nested deeper than ``max_call_depth``
    ├── FatalError (RuntimeError)            raised by a node to end the whole run (always,
    │                                        whatever ``end_on_error`` says)
    ├── ExecutionError (RuntimeError)        a strategy could not run a task (broken worker, ...)
    ├── ModelError (RuntimeError)            a model provider refused or failed a request; carries
    │                                        the provider's message, status and whether to retry
    ├── UsageLimitExceeded (RuntimeError)    an agent or a run reached a usage limit (requests,
    │                                        tokens, tool calls); the run stays resumable
    ├── StructuredOutputError (ValueError)   a model's reply did not fit the output schema within
    │                                        its retry budget
    └── RemoteError (RuntimeError)           an exception from another process that could not be
                                             re-created there; carries its type name and traceback
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CallDepthError",
    "ConfigurationError",
    "ContextError",
    "ExecutionError",
    "FatalError",
    "ModelError",
    "NodeDefinitionError",
    "NodeInvocationError",
    "NodeStateError",
    "NodeTimeoutError",
    "RemoteError",
    "RunEndedError",
    "RuntreeError",
    "SessionStateError",
    "SessionTimeoutError",
    "StructuredOutputError",
    "ToolDefinitionError",
    "UsageLimitExceeded",
]


class RuntreeError(Exception):
    """Root of every error raised by runtree itself.

    Every one pickles with its attributes (keyword fields, notes), however its ``__init__``
    is written: it is re-created from its message and attributes without calling
    ``__init__``, so subclasses need no ``__reduce__`` of their own.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore, (type(self), self.args, self.__dict__))


class NodeDefinitionError(RuntreeError, TypeError):
    """A node class is malformed; raised when the class is created or built."""


class NodeInvocationError(RuntreeError, TypeError):
    """The arguments of a call do not fit the node; nothing ran."""


class NodeStateError(RuntreeError, ValueError):
    """A :class:`~runtree.nodes.NodeState` could not be serialised or loaded."""


class ToolDefinitionError(RuntreeError, TypeError):
    """A tool description (:class:`~runtree.llm.tools.Tool`, ``Parameter``) is malformed."""


class ConfigurationError(RuntreeError, ValueError):
    """An option or an environment variable has a value runtree does not accept."""


class ContextError(RuntreeError, RuntimeError):
    """An API was used where it cannot work, e.g. ``call_sync`` inside a running event loop."""


class SessionStateError(RuntreeError, RuntimeError):
    """A session (or another resource) was used before it opened or after it closed."""


class SessionTimeoutError(RuntreeError, TimeoutError):
    """The session ran past its ``timeout``; every running request was cancelled."""


class NodeTimeoutError(RuntreeError, TimeoutError):
    """One call (one attempt) ran past the ``timeout`` of its node's policy."""


class RunEndedError(RuntreeError, RuntimeError):
    """A call was made after a failure ended the run (``Session(end_on_error=True)``)."""


class CallDepthError(RuntreeError, RecursionError):
    """Calls nested deeper than the session's ``max_call_depth`` (a node calling itself
    without end); the message names the depth and the chain of nodes."""


class FatalError(RuntreeError, RuntimeError):
    """Raise it from a node to end the whole run: the run stops as with ``end_on_error``
    (other running requests are cancelled, new calls are refused) and the session re-raises
    it on exit."""


class ExecutionError(RuntreeError, RuntimeError):
    """An execution strategy could not run a task (a worker died, a result did not pickle)."""


class ModelError(RuntreeError, RuntimeError):
    """A model provider refused or failed a request.

    The message is the provider's own. ``status_code`` is the HTTP status (``None`` for a
    connection failure), ``retryable`` whether trying again may help (rate limits, timeouts,
    server errors), ``retry_after`` the delay in seconds the provider asked for, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        provider: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after
        self.provider = provider


class UsageLimitExceeded(RuntreeError, RuntimeError):
    """An agent or a run reached one of its usage limits (model requests, tokens, tool calls).

    Nothing that finished is lost: resume the run (with a higher limit) to go on.
    """


class StructuredOutputError(RuntreeError, ValueError):
    """The model's reply did not fit the output schema, also after the retries it was given."""


class RemoteError(RuntreeError, RuntimeError):
    """An exception raised in another process that could not be re-created in this one.

    ``type_name`` is the qualified name of the original exception type and
    ``remote_traceback`` its formatted traceback. :meth:`for_type` gives a subclass named
    after the original type (``except rt.RemoteError`` still catches it, and logs and the
    journal show the original name); instances pickle by value either way.
    """

    #: the type name a :meth:`for_type` subclass stands for ("" for RemoteError itself)
    _stands_for: str = ""

    def __init__(self, message: str, *, type_name: str = "", remote_traceback: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.remote_traceback = remote_traceback

    @classmethod
    def for_type(cls, type_name: str) -> type[RemoteError]:
        """The ``RemoteError`` subclass standing for the exception type ``type_name``
        (``"package.module.Qualname"``); one class per name."""
        found = _remote_types.get(type_name)
        if found is None:
            module, _, qualname = type_name.rpartition(".")
            short = qualname if qualname.isidentifier() else "RemoteError"
            found = type(
                short,
                (RemoteError,),
                {
                    "__module__": module or __name__,
                    "__qualname__": short,
                    "__doc__": cls.__doc__,
                    "_stands_for": type_name,
                },
            )
            _remote_types[type_name] = found
        return found

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore_remote, (self._stands_for, self.args, self.__dict__))


_remote_types: dict[str, type[RemoteError]] = {}


def _restore_remote(stands_for: str, args: tuple[object, ...], state: dict[str, object]) -> Any:
    cls = RemoteError.for_type(stands_for) if stands_for else RemoteError
    return _restore(cls, args, state)


def _restore(cls: type[RuntreeError], args: tuple[object, ...], state: dict[str, object]) -> Any:
    error = cls.__new__(cls, *args)  # (OSError subclasses need their own __new__)
    error.args = args
    error.__dict__.update(state)
    return error
