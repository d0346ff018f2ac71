"""Clepsydra: a Temporal-compatible durable execution server."""

__version__ = "0.1.0"
