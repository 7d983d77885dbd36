"""Model providers: ``OpenAILLM`` (OpenAI and every OpenAI-compatible server), ``OllamaLLM``,
``LiteLLM``. Each imports its SDK only when it first sends a request."""

from __future__ import annotations
