"""Agent examples: each runs offline against runtree's local OpenAI-protocol server with a
scripted model, or against a real model when OPENAI_API_KEY / OPENAI_BASE_URL (or an
Ollama URL) are set. Run one with ``python -m examples.agents.<name>``."""
