"""Every limit of the changes feed, named once."""

from typing import Final

# The sequencer: how often it looks for new journal entries when nothing woke it, how many
# journal rows it takes per partition in one transaction, and how often a process that is
# not the sequencer tries to become it (an advisory lock: one sequencer at a time).
SEQUENCER_POLL_S: Final = 0.01
SEQUENCER_ROWS_PER_PARTITION: Final = 2000
SEQUENCER_LEADER_RETRY_S: Final = 1.0
SEQUENCER_LOCK: Final = (0x61747063, 1)  # pg advisory lock (class, id): "atpc", the sequencer
# Group memberships and low-stock thresholds are re-read this often (at once when the
# change was made through the process that leads: it nudges its own sequencer).
SEQUENCER_CATALOG_REFRESH_S: Final = 30.0
# SKUs whose per-location ATP the sequencer keeps for group totals; the least recently
# touched are dropped beyond this and re-read from the journal's positions when needed.
GROUP_VIEW_SKUS_MAX: Final = 200_000
LOW_STOCK_THRESHOLD_DEFAULT: Final = 3
LOW_STOCK_THRESHOLD_MAX: Final = 1_000_000

# Changes are kept this long; a client asking from before the oldest gets `reset`.
CHANGES_RETENTION_S: Final = 7 * 24 * 3600
CHANGES_TRIM_INTERVAL_S: Final = 300.0

# Each API process: one reader of the feed for all its SSE clients (LISTEN, else polling),
# the newest changes kept in memory for clients that resume a little behind, and its caps.
HUB_POLL_S: Final = 0.25  # when no notification came (a lost LISTEN connection)
HUB_READ_MAX: Final = 5000  # changes read per query
HUB_RING_MAX: Final = 10_000  # ~4 MB of recent changes per process
SSE_CONNECTIONS_MAX: Final = 2000  # per process; more get 503 with Retry-After
SSE_RETRY_AFTER_S: Final = 5
SSE_QUEUE_MAX: Final = 10_000  # changes waiting for one slow client; beyond: it is dropped
SSE_HEARTBEAT_S: Final = 15.0
SSE_BACKFILL_PAGE: Final = 1000  # changes read per query while a client catches up
SSE_FILTER_VALUES_MAX: Final = 100  # sku / location / group / types values per connection
