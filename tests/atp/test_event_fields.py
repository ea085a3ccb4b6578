"""The event field table (atp/events.py FIELDS) is what the Lua writes: the fields of
atp/lua/_prelude.lua ``emit`` (every event's, and those it adds only to some), of the hot
path's emitters (``emit_reserved``; reservations/lua/_prelude.lua ``emit_held``), the
actor's (``take_actor``) and the ``extra`` fields scripts hand to emit. Reads the sources;
needs no server."""

import re

import msgspec

from atp.events import FIELDS, REQUIRED, SHORT
from atp.model import Event
from support.lua_source import (
    ROOT,
    appended,
    calls,
    code,
    constructors,
    enclosed,
    function,
    literal,
    lua_sources,
    pair_names,
    split_args,
)

PRELUDE = code((ROOT / "atp" / "lua" / "_prelude.lua").read_text())
RESERVATION_PRELUDE = code((ROOT / "reservations" / "lua" / "_prelude.lua").read_text())
_XADD_HEAD = 6  # 'XADD', stream, 'MAXLEN', '~', maxlen, '*'


def _names(tokens: list[str]) -> list[str]:
    """Field names of a flat field, value list; each must be a literal."""
    names = [literal(token) for token in pair_names(tokens)]
    assert None not in names, f"a field name that is not a literal in {tokens}"
    return [name for name in names if name is not None]


def emit_fields() -> tuple[list[str], set[str]]:
    """(the fields emit writes on every event, in order; those it adds only to some)."""
    body = function(PRELUDE, "emit")
    (built,) = constructors(body, "args")
    assert built[:1] == ["'XADD'"]
    every = _names(built[_XADD_HEAD:])
    some = {name for token in appended(body, "args") if (name := literal(token)) is not None}
    return every, some


def direct_fields() -> dict[str, list[str]]:
    """The fields of the emitters that call XADD with a fixed list (no table built)."""
    found = {}
    for text, name in ((PRELUDE, "emit_reserved"), (RESERVATION_PRELUDE, "emit_held")):
        (args,) = calls(function(text, name), "XADD")
        assert args[-1] == "unpack(ACTOR)", f"{name} must end with the actor's fields"
        found[name] = _names(args[_XADD_HEAD:-1])
    return found


def actor_fields() -> set[str]:
    body = function(PRELUDE, "take_actor")
    return {name for token in appended(body, "ACTOR") if (name := literal(token)) is not None}


def extra_fields() -> dict[str, set[str]]:
    """Per script, the fields of the flat lists it passes emit as ``extra``."""
    found: dict[str, set[str]] = {}
    for path, text in lua_sources():
        lua = code(text)
        names: set[str] = set()
        for match in re.finditer(r"\bextra = (\w+|\{)", lua):
            if match.group(1) == "{":
                names.update(_names(split_args(enclosed(lua, match.end(1) - 1))))
                continue
            variable = match.group(1)
            for items in constructors(lua, variable):
                names.update(_names(items))
            names.update(name for t in appended(lua, variable) if (name := literal(t)))
        if names:
            found[str(path.relative_to(ROOT))] = names
    return found


def test_every_event_field_lua_writes_is_in_the_table_and_no_other() -> None:
    every, some = emit_fields()
    direct = direct_fields()
    extra = extra_fields()
    assert {"dev", "opd"} <= set().union(*extra.values()), "the extra fields were not read"
    assert {"sku", "drs", "why", "os"} <= some, "emit's optional fields were not read"
    optional = some | actor_fields() | set().union(*extra.values(), *direct.values())
    shorts = {f.short for f in FIELDS}
    unknown = sorted((set(every) | optional) - shorts)
    assert not unknown, f"Lua writes fields atp/events.py FIELDS lacks: {unknown}"
    assert set(every) == REQUIRED, (
        f"FIELDS marks always {sorted(REQUIRED)}, emit writes {sorted(every)} on every event"
    )
    for name, fields in direct.items():
        assert set(fields) >= REQUIRED, f"{name} leaves out what every event carries"
    assert set(direct["emit_reserved"]) <= set(every) | some, "a reserved event emit would not"
    stale = sorted({f.short for f in FIELDS if not f.always} - optional)
    assert not stale, f"FIELDS lists optional fields no script writes: {stale}"


def test_no_script_appends_to_a_stream_but_through_the_emitters() -> None:
    for path, text in lua_sources():
        if path.name != "_prelude.lua":
            assert not list(calls(code(text), "XADD")), f"{path}: XADD outside the emitters"


def test_names_are_unique_and_event_holds_every_field_it_needs() -> None:
    assert len({f.short for f in FIELDS}) == len({f.name for f in FIELDS}) == len(FIELDS)
    held = set(Event.__struct_fields__) - {"id"}
    assert held <= set(SHORT), f"Event attributes no stream field fills: {held - set(SHORT)}"
    needed = {f.name for f in FIELDS if f.always}
    assert needed <= held, f"every event carries fields Event drops: {needed - held}"


def test_an_absent_field_reads_as_the_table_says() -> None:
    """Event's defaults are FIELDS's: decoding an entry and the journal agree on what an
    entry that leaves a field out means."""
    bare = Event(id="", type="", ts_ms=0)
    defaults = msgspec.structs.asdict(bare)
    for f in FIELDS:
        if f.name in defaults and not f.always:
            assert defaults[f.name] == f.default, f"{f.name}: Event {defaults[f.name]!r}"
