"""Several server processes on one database: who owns which workflows, and how a process
serves a request for a workflow that another one owns."""
