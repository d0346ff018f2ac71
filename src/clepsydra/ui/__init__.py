"""The official Temporal web UI, served from its built files (see `assets.py` for where they come
from) with the `/api/v1` calls it makes answered by the HTTP API."""
