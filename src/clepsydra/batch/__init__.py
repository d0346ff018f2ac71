"""Batch operations: terminate, cancel, signal or delete every run a list query selects."""
