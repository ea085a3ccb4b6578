"""The Redis key schema.

Every key one Lua call touches carries the same hash tag ``{pNN}``, so on a Redis Cluster
they share a slot. Positions, incoming supply, reservation legs, the expiry index and the
event stream of a partition live together; a reservation's header lives in the partition
of its id.
"""

import functools
import zlib
from datetime import date

from atp.limits import LEDGER_PARTITIONS

PREFIX = "atp"
META_TAG = "{meta}"
# Set when a ledger is made; a rebuild sets a new one, so replicas know to reload.
EPOCH = f"{PREFIX}:{META_TAG}:epoch"


# Hot paths build keys per line; a bounded cache of the sku -> partition hash pays off.
PARTITION_CACHE_MAX = 1 << 16


@functools.lru_cache(maxsize=PARTITION_CACHE_MAX)
def partition_of_sku(sku: str) -> int:
    return zlib.crc32(sku.encode()) % LEDGER_PARTITIONS


def partitions_from_text(text: str) -> frozenset[int]:
    """A set of ledger partitions written as ranges and numbers: "0-15", "0-7,24-31", "3"."""
    found: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part.strip()!r} is not a partition nor a range (e.g. 0-15)")
        first, last = int(low), int(high) if dash else int(low)
        if not first <= last < LEDGER_PARTITIONS:
            raise ValueError(f"{part.strip()!r}: partitions run from 0 to {LEDGER_PARTITIONS - 1}")
        found.update(range(first, last + 1))
    return frozenset(found)


def partition_of_reservation(reservation_id: str) -> int:
    return zlib.crc32(b"r:" + reservation_id.encode()) % LEDGER_PARTITIONS


_TAGS = tuple(f"{{p{partition:02d}}}" for partition in range(LEDGER_PARTITIONS))


def tag(partition: int) -> str:
    return _TAGS[partition]


def position(sku: str, location: str) -> str:
    return f"{PREFIX}:{_TAGS[partition_of_sku(sku)]}:pos:{location}:{sku}"


def incoming(sku: str, location: str) -> str:
    return f"{PREFIX}:{tag(partition_of_sku(sku))}:inc:{location}:{sku}"


_STREAMS = tuple(f"{PREFIX}:{t}:events" for t in _TAGS)
_JOURNAL_CURSORS = tuple(f"{PREFIX}:{t}:journaled" for t in _TAGS)
_EXPIRY_INDEXES = tuple(f"{PREFIX}:{t}:expiry" for t in _TAGS)


def stream(partition: int) -> str:
    return _STREAMS[partition]


# The partition's copy of EPOCH, beside its stream: on a Redis Cluster a master that
# restarts empty loses it with the partition, even while the {meta} master keeps EPOCH.
_PARTITION_EPOCHS = tuple(f"{PREFIX}:{t}:epoch" for t in _TAGS)


def partition_epoch(partition: int) -> str:
    """string: the ledger epoch, as EPOCH; set with it by whoever sets the epoch
    (durability/fence.py), missing once the partition's data is gone."""
    return _PARTITION_EPOCHS[partition]


def journal_cursor(partition: int) -> str:
    """string ``ms-seq``: every entry of the partition's stream up to it is in PostgreSQL
    (durability/journal_cursor.py); goes with the ledger (PARTITION_KEYS_PATTERN)."""
    return _JOURNAL_CURSORS[partition]


def expiry_index(partition: int) -> str:
    return _EXPIRY_INDEXES[partition]


def operation(partition: int, op_id: str) -> str:
    return f"{PREFIX}:{tag(partition)}:op:{op_id}"


def header(reservation_id: str) -> str:
    return f"{PREFIX}:{tag(partition_of_reservation(reservation_id))}:res:{reservation_id}"


def route(reservation_id: str) -> str:
    """How a routed reservation's order is fulfilled (its method), beside its header."""
    return f"{PREFIX}:{tag(partition_of_reservation(reservation_id))}:route:{reservation_id}"


def leg(partition: int, reservation_id: str) -> str:
    return f"{PREFIX}:{tag(partition)}:leg:{reservation_id}"


# Re-sourcing (routing/resourcing.py). Members are "<location>|<sku>..." ('|' is not an id
# character): one key per partition, so a script gets it in KEYS without reading its legs.
_COMMITTED = tuple(f"{PREFIX}:{t}:committed" for t in _TAGS)
_SHORTAGES = tuple(f"{PREFIX}:{t}:shortages" for t in _TAGS)
_ATTENTION = tuple(f"{PREFIX}:{t}:attention" for t in _TAGS)


def committed_index(partition: int) -> str:
    """zset, all scores 0, members ``loc|sku|<commit ms, 15 digits>|rid``: lex order per
    position is commit order, so ZREVRANGEBYLEX lists a position's newest commitments first."""
    return _COMMITTED[partition]


def shortages(partition: int) -> str:
    """set of ``loc|sku``: positions a stock change left with on hand < reserved."""
    return _SHORTAGES[partition]


def attention(partition: int) -> str:
    """hash ``loc|sku|rid`` -> JSON: committed units re-sourcing could not move."""
    return _ATTENTION[partition]


def group(name: str) -> str:
    return f"{PREFIX}:{META_TAG}:group:{name}"


# Registers (atp/register_events.py): a device's log lives in the partition of its id; each
# event's receipt beside its SKU's position, so the apply script touches one slot.
def partition_of_device(device_id: str) -> int:
    return zlib.crc32(b"d:" + device_id.encode()) % LEDGER_PARTITIONS


def device_log(device_id: str) -> str:
    return f"{PREFIX}:{tag(partition_of_device(device_id))}:posdev:{device_id}"


def register_receipt(sku: str, device_id: str, event_id: str) -> str:
    return f"{PREFIX}:{tag(partition_of_sku(sku))}:posrc:{device_id}:{event_id}"


# Routing's pick load (routing/pickload.py): units allocated per location on a day, and
# the guard that counts each reservation once.
def pick_load(day: date) -> str:
    return f"{PREFIX}:{META_TAG}:pick:{day.isoformat()}"


def pick_guard(reservation_id: str) -> str:
    return f"{PREFIX}:{META_TAG}:pickrid:{reservation_id}"


# The API's mark that this Redis holds a ledger it set up (api/health.py /readyz).
LEDGER_MARKER = f"{PREFIX}:{META_TAG}:ledger"

# SCAN patterns: every key of every partition, every position, every reservation header.
PARTITION_KEYS_PATTERN = f"{PREFIX}:{{p*}}:*"
POSITIONS_PATTERN = f"{PREFIX}:*:pos:*"
HEADERS_PATTERN = f"{PREFIX}:{{p*}}:res:*"


def partition_of_key(key: str) -> int:
    """The partition a key of this schema belongs to (for ``atp:{pNN}:...`` keys)."""
    start = key.index("{p") + 2
    return int(key[start : key.index("}", start)])
