"""Every bound the engine enforces, named once.

The API constraints, the Lua scripts' arguments and the docs all read these, so they
cannot disagree. Changing LEDGER_PARTITIONS changes the key schema: rebuild the ledger.
"""

from typing import Final

# Key schema: SKUs hash into this many partitions; each partition is one Redis Cluster
# hash slot holding its positions, reservation legs, expiry index and event stream.
LEDGER_PARTITIONS: Final = 32

ID_LENGTH_MAX: Final = 64  # sku, location, group, reservation and operation ids
REASON_LENGTH_MAX: Final = 32

# On hand, safety, a supply, a delta. The replica packs counts in int32 cells: on hand and
# reserved stay <= QTY_MAX, incoming <= QTY_MAX x INCOMING_PER_POSITION_MAX < 2**31.
QTY_MAX: Final = 20_000_000
LINE_QTY_MAX: Final = 1_000_000
ORDER_LINES_MAX: Final = 100

BATCH_SKUS_MAX: Final = 500
BATCH_LOCATIONS_MAX: Final = 100
BATCH_POSITIONS_MAX: Final = 10_000  # skus x locations in one query
GROUP_LOCATIONS_MAX: Final = 500
INCOMING_PER_POSITION_MAX: Final = 100

RESERVATION_TTL_S_MIN: Final = 1
RESERVATION_TTL_S_DEFAULT: Final = 900
RESERVATION_TTL_S_MAX: Final = 7 * 24 * 3600
# A leg's own deadline trails its header's so the header, not the leg, decides expiry.
LEG_EXPIRY_GRACE_MS: Final = 5_000
# Finished reservations and operation receipts are kept this long for retries and lookups.
RETENTION_S: Final = 7 * 24 * 3600

EXPIRY_SWEEP_BATCH_MAX: Final = 200
EXPIRY_SWEEP_INTERVAL_MS: Final = 100

# Approximate per-partition stream cap (XADD MAXLEN ~): the journal must drain faster.
EVENT_STREAM_MAXLEN: Final = 1_000_000

PIPELINE_INFLIGHT_MAX: Final = 10_000  # commands written but not yet answered, per connection
CLUSTER_INFLIGHT_MAX: Final = 64  # concurrent commands per process on a cluster
# Connections per cluster node: redis-py 8.1 releases a connection marked for reconnect (a
# slot map change, a failover) from a background task and counts it until then, so a pool
# only as large as the commands in flight raised MaxConnectionsError after a failover.
CLUSTER_NODE_CONNECTIONS_MAX: Final = 2 * CLUSTER_INFLIGHT_MAX
# A master's pipelined connection (atp/redis_cluster_pipe.py) whose oldest command has had
# no reply for this long, or whose connect takes this long, fails its callers with a
# timeout and is closed: redis-py's default socket timeout, which the cluster had before.
CLUSTER_REPLY_TIMEOUT_S: Final = 5.0

assert LINE_QTY_MAX <= QTY_MAX
assert BATCH_SKUS_MAX * BATCH_LOCATIONS_MAX >= BATCH_POSITIONS_MAX
assert RESERVATION_TTL_S_MIN <= RESERVATION_TTL_S_DEFAULT <= RESERVATION_TTL_S_MAX
assert RETENTION_S >= RESERVATION_TTL_S_MAX
assert QTY_MAX < 2**53  # Lua numbers are doubles
assert QTY_MAX * INCOMING_PER_POSITION_MAX < 2**31

# The in-memory replica (atp/replica.py).
REPLICA_READ_BATCH_MAX = 1_000  # keys per SCAN page and snapshot read
# Entries per stream in one tail read: a reply is applied without yielding, so 32 streams x
# this bounds how long an API worker's loop is busy with it (~2-3 us an entry) after a stall.
REPLICA_TAIL_COUNT = 200
REPLICA_BLOCK_MS = 100  # a tail read waits at most this long for new entries
# After a reply of fewer entries than this, the tail waits REPLICA_COALESCE_MS before its
# next read: a round trip costs the replica ~100-200 us of CPU, an entry ~2-3 us.
REPLICA_COALESCE_BELOW = 64
REPLICA_COALESCE_MS = 2
REPLICA_CHECK_INTERVAL_MS = 1_000  # how often gaps (trimmed streams) and rebuilds are looked for
REPLICA_LAG_SAMPLES_MAX = 10_000  # recent lags kept for percentiles
# A tail read that has not come back within this is stale: the lag reported grows from it.
REPLICA_STALE_AFTER_MS = 5 * REPLICA_BLOCK_MS
# /readyz says not ready while the replica lags by more than this (reads would mislead).
REPLICA_READY_LAG_MS = 2_000
# A read asked to include a given write (`after=`) waits at most this long for the replica,
# then reads Redis instead.
REPLICA_AFTER_WAIT_MS = 50
# Location group members are cached this long: groups change rarely and are not streamed.
REPLICA_GROUP_TTL_MS = 1_000

# Re-sourcing (routing/resourcing.py): committed legs moved off positions left short.
# A leg gains a line per location its units move to; this bounds a leg's lines (and the
# per-line loops of the leg scripts).
LEG_LINES_MAX: Final = 2 * ORDER_LINES_MAX
RESOURCING_INTERVAL_MS: Final = 1_000  # a tick: every partition's shortages, once
RESOURCING_SHORTAGES_BATCH_MAX: Final = 100  # short positions taken per partition per tick
RESOURCING_RESERVATIONS_MAX: Final = 200  # committed reservations read per short position
ATTENTION_LIST_MAX: Final = 1_000  # attention items one listing returns
assert LEG_LINES_MAX >= ORDER_LINES_MAX
