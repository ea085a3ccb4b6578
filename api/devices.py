"""Registers (POS devices) and the store each belongs to, in PostgreSQL.

A device's events happen at its store: the lane check (api/lanes.py) confines a key to the
device's location, and each sale or return to that location, so a register key can never
reach another store's stock through a device id it does not own.
"""

import time
from datetime import datetime

import asyncpg
import msgspec

from durability.db import Queryable

DEVICE_CACHE_ENTRIES_MAX = 10_000
DEVICES_LISTED_MAX = 1_000


class Device(msgspec.Struct, frozen=True):
    device_id: str
    location: str
    name: str
    registered_by: str
    registered_at: datetime


_COLUMNS = ", ".join(Device.__struct_fields__)


class DeviceExists(Exception):
    """The device is registered at another location: move it explicitly (delete first)."""

    def __init__(self, device: Device) -> None:
        super().__init__(device.device_id)
        self.device = device


async def register(
    conn: Queryable, device_id: str, location: str, name: str, registered_by: str
) -> tuple[Device, bool]:
    """(the device, created now). Registering again at the same location changes nothing."""
    row = await conn.fetchrow(
        f"INSERT INTO pos_devices (device_id, location, name, registered_by)"
        f" VALUES ($1, $2, $3, $4) ON CONFLICT (device_id) DO NOTHING RETURNING {_COLUMNS}",
        device_id,
        location,
        name,
        registered_by,
    )
    if row is not None:
        return msgspec.convert(dict(row), Device), True
    existing = await get(conn, device_id)
    assert existing is not None  # devices are never deleted while one registers
    if existing.location != location:
        raise DeviceExists(existing)
    return existing, False


async def get(conn: Queryable, device_id: str) -> Device | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM pos_devices WHERE device_id = $1", device_id)
    return None if row is None else msgspec.convert(dict(row), Device)


async def list_at(conn: Queryable, locations: frozenset[str] | None) -> list[Device]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM pos_devices"
        " WHERE $1::text[] IS NULL OR location = ANY($1::text[])"
        " ORDER BY location, device_id LIMIT $2",
        None if locations is None else sorted(locations),
        DEVICES_LISTED_MAX,
    )
    return [msgspec.convert(dict(r), Device) for r in rows]


class DeviceDirectory:
    """Device -> location, cached per process (a device never moves while registered)."""

    def __init__(self, pool: asyncpg.Pool, cache_ttl_s: float) -> None:
        self._pool = pool
        self._ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[float, str]] = {}

    async def location_of(self, device_id: str) -> str | None:
        now = time.monotonic()
        cached = self._cache.get(device_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        location = await self._pool.fetchval(
            "SELECT location FROM pos_devices WHERE device_id = $1", device_id
        )
        if location is not None and self._ttl_s > 0:
            if len(self._cache) > DEVICE_CACHE_ENTRIES_MAX:
                self._cache.clear()
            self._cache[device_id] = (now + self._ttl_s, str(location))
        return None if location is None else str(location)
