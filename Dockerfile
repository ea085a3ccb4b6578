# The engine image. Redis and PostgreSQL run outside it: pass ATP_REDIS_URL.
FROM python:3.11-slim-bookworm
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY atp atp
COPY reservations reservations
COPY routing routing
COPY api api
COPY bench bench
RUN pip install --no-cache-dir .
ENV ATP_REDIS_URL=redis://redis:6379/0
USER nobody
ENTRYPOINT ["atp"]
CMD ["demo"]
