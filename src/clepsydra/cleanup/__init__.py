"""Deleting runs: on request (DeleteWorkflowExecution), after the namespace's retention
period, and when their namespace is deleted."""
