"""The history service: every state change of an execution goes through it."""
