#!/usr/bin/env bash
# Installs what is missing, starts Redis if it is down, loads the demo retailer and walks an
# order through the engine. ATP_REDIS_URL picks the Redis (default redis://127.0.0.1:6379/0).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
ensure_redis
exec .venv/bin/atp demo "$@"
