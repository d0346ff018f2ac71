"""Visibility: what list and count queries see of executions.

`query` parses Temporal's list filter language, `compiler` turns it into
parameterised SQL over the visibility table, `attributes` knows which search
attributes exist (system, predefined and each namespace's custom ones) and
`values` converts search attribute payloads to and from typed column values.
"""
