"""The pure history engine: execution state + input → new events, new tasks.

Nothing in this package does I/O, reads a clock or draws random numbers: time and
generated ids come in through `Mutation`.
"""
