#!/usr/bin/env bash
# Installs what is missing, starts Redis and PostgreSQL if they are down, creates and
# migrates the database, loads the demo chain (first run only) and serves the HTTP API with
# the journal consumer beside it, so PostgreSQL follows every event (expiries included);
# prints its URL, the docs URL, a demo key per client kind and commands to try. Ctrl-C
# stops every process it started.
# A restart keeps the demo's state (holds, sales, counts); `--reset` loads the demo's stock
# again. ATP_REDIS_URL (default redis://127.0.0.1:6379/0), ATP_PG_DSN (default below), and
# `--port N --workers N` are honoured. `.venv/bin/atp demo` walks one order through the
# engine without a server (same chain, Redis only).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
ensure_redis
ensure_postgres
export ATP_PG_DSN="${ATP_PG_DSN:-postgresql://postgres@127.0.0.1:5432/atp}"
.venv/bin/atp migrate --create
exec .venv/bin/atp serve --demo --journal "$@"
