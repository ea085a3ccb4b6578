"""The versioned policies orders are judged by (migrations/0011_orders.sql), and the
surfaces that show them (migrations/0012_policy_surfaces.sql).

The one in force is a name's highest version. Returns answer with the version they were
checked against; a ready pickup order is a no-show once the pickup policy's window has
passed. A new version is saved only once its terms have their declared types and its text
names only its terms (orders/policy_text.py); saving what is already current is a no-op
answering it, so a retried save never makes two versions.

Every surface is rendered from the same version, never copied: a channel (the storefront
CMS, the email tool) asks for its text rendered, publishes it, and reports what it now
shows. The consistency audit renders the current version for every reporting surface and
counts those that show something else (another version, or an edited copy): the "policy
consistency defects" KPI. The API's own pickup and return answers are rendered from the
policy in force when asked (``served``), so they always match.
"""

import enum
from datetime import datetime
from typing import Any, Final

import asyncpg
import msgspec

from durability.db import Conn
from orders.policy_text import Flaw, Name, Refusal, check, render

RETURNS: Final = "returns"  # terms: window_days, conditions, damaged_reasons
PICKUP: Final = "pickup"  # terms: collect_within_hours
SAVE_ATTEMPTS_MAX: Final = 3  # concurrent saves of one name: each retry sees the newer one

_IN_FORCE = """
SELECT name, version, terms::text AS terms, text, created_at, created_by FROM policies
WHERE name = $1 ORDER BY version DESC LIMIT 1
"""
_VERSION = """
SELECT name, version, terms::text AS terms, text, created_at, created_by FROM policies
WHERE name = $1 AND version = $2
"""
_INSERT = """
INSERT INTO policies (name, version, terms, text, created_by) VALUES ($1, $2, $3::jsonb, $4, $5)
ON CONFLICT DO NOTHING
RETURNING name, version, terms::text AS terms, text, created_at, created_by
"""
_CURRENT = "SELECT name, max(version) AS version FROM policies GROUP BY name"
_TERMS = msgspec.json.Decoder(dict[str, Any])


class Policy(msgspec.Struct, frozen=True):
    name: str
    version: int
    terms: dict[str, Any]
    text: str
    created_at: datetime | None = None
    created_by: str = ""

    def rendered(self) -> str:
        return render(Name(self.name), self.terms, self.text)


class NoPolicy(LookupError):
    """No version of the policy exists: the migration seeds one of each, so a deleted row."""


def _policy(row: asyncpg.Record) -> Policy:
    terms = _TERMS.decode(row["terms"])
    return Policy(
        row["name"], row["version"], terms, row["text"], row["created_at"], row["created_by"]
    )


async def in_force(conn: Conn, name: str) -> Policy:
    row = await conn.fetchrow(_IN_FORCE, name)
    if row is None:
        raise NoPolicy(name)
    return _policy(row)


async def version(conn: Conn, name: str, number: int | None = None) -> Policy | None:
    """A version of ``name``; the one in force when ``number`` is None."""
    row = await (
        conn.fetchrow(_IN_FORCE, name) if number is None else conn.fetchrow(_VERSION, name, number)
    )
    return None if row is None else _policy(row)


async def current_versions(conn: Conn) -> dict[str, int]:
    return {row["name"]: row["version"] for row in await conn.fetch(_CURRENT)}


async def save(
    conn: Conn, name: Name, terms: dict[str, Any], text: str, by: str
) -> tuple[bool, Policy]:
    """(created, the version): a new version n+1, or the current one when it already says
    exactly this. Raises ``Refusal`` (nothing stored) on terms or text that do not check."""
    normal = check(name, terms, text)
    for _ in range(SAVE_ATTEMPTS_MAX):
        current = await version(conn, name)
        if current is not None and current.terms == normal and current.text == text:
            return False, current
        number = 1 if current is None else current.version + 1
        encoded = msgspec.json.encode(normal).decode()
        row = await conn.fetchrow(_INSERT, name.value, number, encoded, text, by)
        if row is not None:
            return True, _policy(row)
    raise RuntimeError(f"policy {name}: {SAVE_ATTEMPTS_MAX} concurrent saves in a row")


# -- surfaces ------------------------------------------------------------------------


class Surface(enum.StrEnum):
    site_snippet = "site_snippet"
    order_email = "order_email"
    receipt = "receipt"
    support_macro = "support_macro"
    pickup_answer = "pickup_answer"  # served: rendered by this API when asked
    return_answer = "return_answer"  # served


SERVED: Final = {Surface.pickup_answer: Name.pickup, Surface.return_answer: Name.returns}
# What a surface shows until it reports otherwise (what /render answers before then).
USUAL: Final = {
    Surface.site_snippet: Name.returns,
    Surface.order_email: Name.pickup,
    Surface.receipt: Name.returns,
    Surface.support_macro: Name.refunds,
    **SERVED,
}


class SurfaceCheck(msgspec.Struct, frozen=True, omit_defaults=True):
    surface: Surface
    policy: Name
    current_version: int | None  # None: the policy has no version yet
    published_version: int | None
    matches: bool
    served: bool = False
    diff: list[str] | None = None  # why it does not match, one reason a line
    reported_at: datetime | None = None
    reported_by: str | None = None


class Audit(msgspec.Struct, frozen=True):
    defects: int
    surfaces: list[SurfaceCheck]
    unreported: list[Surface]  # never reported what they show: not audited


def compare(current: Policy | None, published_version: int, published_text: str) -> list[str]:
    """Why a surface showing ``published_text`` (rendered from ``published_version``) does
    not show the current version; empty when it does."""
    if current is None:
        return ["the policy has no version to show"]
    reasons = []
    if published_version != current.version:
        reasons.append(f"published version {published_version}, current {current.version}")
    expected = current.rendered()
    if published_text != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(published_text, expected, strict=False)) if a != b),
            min(len(published_text), len(expected)),
        )
        reasons.append(f"text differs from the current rendering at character {at}")
    return reasons


async def publish(
    conn: Conn, surface: Surface, name: Name, number: int, text: str, by: str
) -> SurfaceCheck:
    """Records what ``surface`` now shows; its check against the current version."""
    if surface in SERVED:
        raise Refusal([Flaw("surface", f"{surface} is rendered by this API, never reported")])
    if await version(conn, name, number) is None:
        raise Refusal([Flaw("published_version", f"{name} has no version {number}")])
    await conn.execute(
        "INSERT INTO policy_surfaces (surface, policy, published_version, published_text,"
        " reported_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (surface) DO UPDATE SET"
        " policy = $2, published_version = $3, published_text = $4, reported_by = $5,"
        " reported_at = now()",
        surface.value,
        name.value,
        number,
        text,
        by,
    )
    return (await _checks(conn, [surface.value]))[0]


async def shown(conn: Conn, surface: Surface) -> Name:
    """The policy ``surface`` shows: what it reported, else its usual one."""
    reported = await conn.fetchval(
        "SELECT policy FROM policy_surfaces WHERE surface = $1", surface.value
    )
    return USUAL[surface] if reported is None else Name(reported)


async def _checks(conn: Conn, only: list[str] | None = None) -> list[SurfaceCheck]:
    rows = await conn.fetch(
        "SELECT * FROM policy_surfaces WHERE $1::text[] IS NULL OR surface = ANY($1)"
        " ORDER BY surface",
        only,
    )
    current: dict[str, Policy | None] = {}
    checks = []
    for row in rows:
        name = row["policy"]
        if name not in current:
            current[name] = await version(conn, name)
        found = current[name]
        diff = compare(found, row["published_version"], row["published_text"])
        checks.append(
            SurfaceCheck(
                Surface(row["surface"]),
                Name(name),
                None if found is None else found.version,
                row["published_version"],
                not diff,
                diff=diff or None,
                reported_at=row["reported_at"],
                reported_by=row["reported_by"],
            )
        )
    return checks


async def audit(conn: Conn) -> Audit:
    """Every reporting surface against the current version of its policy, and the served
    ones (always matching while their policy has a version)."""
    checks = await _checks(conn)
    for surface, name in SERVED.items():
        found = await version(conn, name)
        number = None if found is None else found.version
        checks.append(SurfaceCheck(surface, name, number, number, found is not None, True))
    reported = {c.surface for c in checks}
    unreported = [s for s in Surface if s not in reported]
    return Audit(sum(not c.matches for c in checks), checks, unreported)
