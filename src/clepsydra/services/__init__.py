"""What serves the RPCs, on top of the update path (`clepsydra.history`): client operations on
workflows, workers' polls and completions, history reads, queries, updates, namespaces,
search attributes, visibility and time skipping. `clepsydra.api` translates RPCs to calls here."""
