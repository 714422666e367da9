"""Instrumentation: the recovery treatment for any state machine's definition (``transform``)."""
