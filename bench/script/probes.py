"""What one ``redis.call`` costs inside a script, and one event's XADD by its field count.

Each probe runs probe.lua's loop of N commands per EVALSHA; the same loop with no command
('none') is measured in the same run and subtracted, so the fixed cost of an EVALSHA and
of the Lua loop drops out: (usec per script - usec per empty-loop script) / N.
"""

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import msgspec

from atp import keys
from atp.limits import EVENT_STREAM_MAXLEN
from atp.scripts import Script
from bench.script.commands import Command
from bench.script.pipes import Phase

PROBE = Script("probe", (Path(__file__).parent / "probe.lua").read_text())
# The same probe behind the shared preludes every reservation script starts with
# (atp.scripts.load_script): what defining their helpers costs on each call.
PRELUDED = Script(
    "probe_preluded",
    "\n".join(
        resources.files(package).joinpath("_prelude.lua").read_text()
        for package in ("atp.lua", "reservations.lua")
    )
    + "\n"
    + PROBE.source,
)
POSITION_KEY = keys.position("PROBE", "W1")
STREAM_KEY = keys.stream(0).replace(":events", ":probe-events")  # the partition's hash tag
LOOP_CALLS = 100  # commands per script for the hash probes
XADD_CALLS = 20  # entries per script for the stream probes (the stream grows by this)
# The compact event: the fields a replica and the journal need of a `reserved` event
# (type, position, the delta and the figures after it, the reservation, the time).
COMPACT_FIELDS = ("t", "sku", "loc", "drs", "oh", "rs", "rid", "ts")


class Probe(msgspec.Struct, frozen=True):
    name: str
    per_script: int  # commands each EVALSHA ran
    usec_per_command: float  # Redis time, the empty loop subtracted
    inner_usec_per_command: float  # the command's own time as commandstats counts it
    scripts_per_s: float


def event_fields(fields: dict[str, str]) -> tuple[list[str], list[str]]:
    """A real `reserved` entry's field, value pairs, and its compact subset."""
    full = [x for pair in fields.items() for x in pair]
    compact = [v for name in COMPACT_FIELDS if name in fields for v in (name, fields[name])]
    return full, compact


def probe_commands(
    op: str, n: int, fields: Sequence[str], calls: int, script: Script = PROBE
) -> list[list[Command]]:
    """``calls`` EVALSHAs of probe.lua, each running ``op`` ``n`` times."""
    command: Command = (
        "EVALSHA", script.sha, 2, POSITION_KEY, STREAM_KEY, n, op, EVENT_STREAM_MAXLEN, *fields
    )  # fmt: skip
    return [[command] for _ in range(calls)]


def probe(label: str, command: str, n: int, phase: Phase, empty: Phase) -> Probe:
    """``empty``: the same script, arguments and n, running no command."""
    inner = phase.inner.get(command, [0.0, 0.0])
    return Probe(
        name=label,
        per_script=n,
        usec_per_command=round((phase.usec_per_script - empty.usec_per_script) / n, 3),
        inner_usec_per_command=round(inner[1] / max(inner[0], 1e-9), 3),
        scripts_per_s=round(phase.scripts_per_s),
    )
