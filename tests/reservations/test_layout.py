"""The reservation layout (reservations/layout.py) is what the reservation scripts use: every
field they HSET, HGET, HMGET, HINCRBY or HDEL on a header or a leg is one it names, each it
names is used, and the states they write are the documented ones. Then the layout's own
builders and parsers agree. Reads the sources; needs no server."""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from reservations.layout import (
    HEADER,
    LEG,
    LINE,
    OP_RECEIPT,
    Header,
    LegState,
    as_dict,
    header_fields,
    header_from,
    leg_fields,
    leg_lines,
    line_fields,
)
from reservations.model import LineStatus, State
from support.lua_source import (
    ROOT,
    appended,
    calls,
    code,
    comments,
    constructors,
    literal,
    pair_names,
)

SCRIPTS = sorted((ROOT / "reservations" / "lua").glob("*.lua"))
# The prelude's helpers take a leg's key as `leg_key` or `leg.key` (a leg table).
LEG_NAMES = frozenset({"leg_key", "leg.key"})


@dataclass
class Used:
    fields: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    prefixes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    states: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    unread: list[str] = field(default_factory=list)  # field expressions not understood


def _roles(text: str) -> dict[str, str]:
    """Which key expressions are a header or a leg: the script's contract comment names
    KEYS[i]; `local x = KEYS[i]` aliases it."""
    roles = {
        f"KEYS[{i}]": role
        for i, role in re.findall(r"KEYS\[(\d+)\]\s+(header|leg)\b", comments(text))
    }
    for alias, key in re.findall(r"local (\w+) = (KEYS\[\d+\])", code(text)):
        if key in roles:
            roles[alias] = roles[key]
    return roles | dict.fromkeys(LEG_NAMES, "leg")


def _record(used: Used, role: str, token: str, where: str) -> None:
    name = literal(token)
    if name is not None:
        used.fields[role].add(name)
    elif found := re.fullmatch(r"'([^']*)'\s*\.\..*", token, re.S):
        used.prefixes[role].add(found.group(1))
    elif found := re.fullmatch(r"\((.*)\)\s*\.\..*", token, re.S):  # (a and 'f' or 'r') .. i
        used.prefixes[role].update(re.findall(r"\b(?:and|or) '([^']*)'", found.group(1)))
    else:
        used.unread.append(f"{where}: {token}")


def _unpacked(lua: str, args: list[str]) -> list[str]:
    """A command's arguments after the key; ``unpack(t)`` is read from t's constructors and
    what the script appends to t (``t[#t + 1] = x``), in order: the helpers build a leg's
    field lists that way (reservations/lua/_prelude.lua)."""
    unpacked = re.fullmatch(r"unpack\((\w+)\)", args[0]) if args else None
    if not unpacked:
        return args
    name = unpacked.group(1)
    return [item for built in constructors(lua, name) for item in built] + appended(lua, name)


def read_scripts() -> Used:
    used = Used()
    for path in SCRIPTS:
        text = path.read_text()
        lua, roles = code(text), _roles(text)
        for args in calls(lua, "H"):
            command, key, rest = literal(args[0]), args[1], args[2:]
            role = roles.get(key)
            if role is None or command in (None, "HGETALL"):
                continue  # another hash (a position, the attention hash)
            rest = _unpacked(lua, rest)
            if command in ("HSET", "HMSET"):
                for name, value in zip(rest[0::2], rest[1::2], strict=True):
                    if literal(name) == "st":  # see test_the_states_written_are_documented
                        used.states[role].update(_state_values(lua, value))
                rest = pair_names(rest)
            elif command != "HMGET":
                rest = rest[:1]
            for token in rest:
                _record(used, role, token, path.name)
    return used


def _state_values(lua: str, value: str) -> set[str]:
    """A literal state, or the literals a variable holding one is assigned in the script."""
    if (name := literal(value)) is not None:
        return {name}
    if re.fullmatch(r"\w+", value):
        return set(re.findall(rf"\b{value} = '(\w+)'", lua))
    return set()


def test_the_scripts_use_exactly_the_fields_the_layout_names() -> None:
    used = read_scripts()
    assert not used.unread, f"field expressions the check cannot read: {used.unread}"
    assert used.fields["header"] == set(HEADER), "header fields: Lua and the layout differ"
    assert not used.prefixes["header"]
    assert used.fields["leg"] == set(LEG), "leg fields: Lua and the layout differ"
    assert used.prefixes["leg"] == {*LINE, OP_RECEIPT}, "leg line fields: Lua and layout differ"


def test_the_states_written_are_documented() -> None:
    used = read_scripts()
    assert used.states["leg"] == set(LegState), "leg states: Lua and LegState differ"
    assert used.states["header"] and used.states["header"] <= set(State)


def test_what_the_layout_builds_it_reads_back() -> None:
    lines = [LineStatus("A", "L1", 5, 2, 1, 1, 1), LineStatus("B", "L2", 3, 3)]
    leg = as_dict(leg_fields("digest", LegState.held.value, "store", lines))
    assert leg_lines(leg) == lines
    assert (leg[LEG.state], leg[LEG.channel], leg[LEG.lines]) == ("held", "store", "2")
    assert line_fields(3, lines[1])[:4] == [f"{LINE.sku}3", "B", f"{LINE.location}3", "L2"]
    # Counts still 0 are not written (the scripts create them with HINCRBY) and read as 0.
    assert len(line_fields(3, lines[1])) == 8
    assert f"{LINE.fulfilled}1" in leg and f"{LINE.fulfilled}2" not in leg
    header = Header("held", "digest", "online", 1_000, 900, "3,7")
    assert header_from(as_dict(header_fields(header))) == header
    assert header_from({}) == Header("", "", "", 0, 0, "")
