"""Matching: task queues where scheduled tasks meet the workers polling for them."""
