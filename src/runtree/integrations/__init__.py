"""Bridges to other libraries, one module each, imported only when used (each needs its
extra): :mod:`runtree.integrations.otel` (OpenTelemetry traces)."""
