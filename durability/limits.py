"""Bounds of the journal, the durability wait, rebuild and imports, named once."""

from typing import Final

from atp.limits import EVENT_STREAM_MAXLEN

# Stream entries one writer reads (XREADGROUP / XRANGE COUNT) and commits in one transaction.
JOURNAL_BATCH_MAX: Final = 5_000
# How long XREADGROUP blocks waiting for entries before the writer looks at its claims.
JOURNAL_BLOCK_MS: Final = 1_000
# A pending entry idle this long belongs to a consumer presumed dead; XAUTOCLAIM takes it.
JOURNAL_CLAIM_IDLE_MS: Final = 30_000
JOURNAL_CONSUMER_GROUP: Final = "journal"
JOURNAL_CONSUMERS_MAX: Final = 8  # consumers one `atp journal` process runs

# A durability flush reads at most this many entries per partition per round trip and loops
# until a round comes back short, so every event appended before the flush is covered.
DURABILITY_READ_MAX: Final = 2_000
# How often an idle engine process checks that Redis still holds its ledger epoch.
DURABILITY_HEALTH_INTERVAL_MS: Final = 200

# Rebuild writes this many Redis commands per pipelined round trip.
REBUILD_PIPELINE_MAX: Final = 5_000
REBUILD_ATTEMPTS_MAX: Final = 3
# PostgreSQL advisory lock keys (one namespace for this project).
LOCK_MIGRATE: Final = 0x4154_5001
LOCK_REBUILD: Final = 0x4154_5002
# Two-key advisory locks (class, instance id): each API process holds its own while it lives
# (api/instance.py), so an idempotency claim of a dead process is released at once.
LOCK_INSTANCE_CLASS: Final = 0x4154_5003

# The reservations row of an attempt whose legs are journaled and whose header is not.
PENDING: Final = "pending"

IMPORT_ROWS_PER_BATCH: Final = 5_000
IMPORT_ERRORS_REPORTED_MAX: Final = 10_000  # beyond this an import reports only a count

assert JOURNAL_BATCH_MAX < EVENT_STREAM_MAXLEN
assert DURABILITY_READ_MAX < EVENT_STREAM_MAXLEN
