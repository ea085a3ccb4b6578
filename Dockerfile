# The engine image: the HTTP API (`atp serve`, with the journal consumer beside its
# workers) and every `atp` command. Redis and PostgreSQL run outside it (compose.yaml
# starts both). tests/test_dockerfile.py builds this file's files without Docker and
# serves from them: keep RUN lines to the commands it knows (see that test).
#
# Environment:
#   ATP_PG_DSN     PostgreSQL, the system of record (required)
#   ATP_REDIS_URL  the ledger's Redis (AOF on: see compose.yaml)
#   ATP_HOST, ATP_PORT     where `atp serve` listens (0.0.0.0:8000)
#   ATP_STATE_DIR  what the server writes (Prometheus multiprocess files): a volume if
#                  the root file system is read-only
#   ATP_ACCESS_LOG off: no JSON line per request on stdout

# Build: a virtualenv holding the engine, its pinned dependencies and its migrations.
FROM python:3.11-slim-bookworm AS build
# A compiler, for any dependency without a wheel for this platform.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY atp atp
COPY reservations reservations
COPY routing routing
COPY durability durability
COPY catalog catalog
COPY engine engine
COPY changes changes
COPY webhooks webhooks
COPY alerts alerts
COPY orders orders
COPY api api
COPY ui ui
COPY simulation simulation
COPY cli cli
COPY migrations migrations
RUN /opt/venv/bin/pip install --no-cache-dir .

# Runtime: the virtualenv alone, run by an unprivileged user that owns its state folder.
FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --no-create-home atp && mkdir -p /var/lib/atp && chown atp:atp /var/lib/atp
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ATP_PG_DSN=postgresql://postgres@postgres:5432/atp \
    ATP_REDIS_URL=redis://redis:6379/0 \
    ATP_HOST=0.0.0.0 \
    ATP_PORT=8000 \
    ATP_STATE_DIR=/var/lib/atp
WORKDIR /var/lib/atp
USER atp
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ATP_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["atp"]
CMD ["serve", "--workers", "2", "--journal"]
