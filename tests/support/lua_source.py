"""Reading the ledger's Lua as text, for the tests that hold Python's tables of field names
to what the scripts write (tests/atp/test_event_fields.py, tests/reservations/test_layout.py).
Enough of Lua for how these scripts are written: single-quoted strings without escapes,
`--` comments, calls and table constructors."""

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("atp", "reservations", "routing", "durability", "engine", "catalog", "api", "cli")
_OPEN = {"(": ")", "{": "}", "[": "]"}
_LITERAL = re.compile(r"'([^']*)'")


def lua_sources() -> Iterator[tuple[Path, str]]:
    """Every script file of the shipped packages, and each Python module that holds Lua
    (one that appends events: ``emit({``), as text."""
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.lua")):
            yield path, path.read_text()
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            if "emit({" in text:
                yield path, text


def code(text: str) -> str:
    """The text without `--` comments (no script has `--` inside a string)."""
    return re.sub(r"--[^\n]*", "", text)


def comments(text: str) -> str:
    return "\n".join(m.group(0) for m in re.finditer(r"--[^\n]*", text))


def function(text: str, name: str) -> str:
    """The body of ``local function name(...)``, up to its closing `end` at column 0."""
    found = re.search(rf"^local function {name}\(.*?^end$", text, re.M | re.S)
    assert found, f"no local function {name}"
    return found.group(0)


def enclosed(text: str, start: int) -> str:
    """What the bracket at ``start`` encloses (balanced, strings skipped)."""
    closing, depth, i = _OPEN[text[start]], 0, start
    while i < len(text):
        char = text[i]
        if char == "'":
            i = text.index("'", i + 1)
        elif char in _OPEN:
            depth += 1
        elif char in _OPEN.values():
            depth -= 1
            if depth == 0:
                assert char == closing, text[start : i + 1]
                return text[start + 1 : i]
        i += 1
    raise AssertionError(f"unbalanced from {text[start : start + 60]!r}")


def split_args(text: str) -> list[str]:
    """A call's arguments or a constructor's items: split at top-level commas."""
    items, depth, current, i = [], 0, "", 0
    while i < len(text):
        char = text[i]
        if char == "'":
            end = text.index("'", i + 1)
            current += text[i : end + 1]
            i = end + 1
            continue
        if char in _OPEN:
            depth += 1
        elif char in _OPEN.values():
            depth -= 1
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    if current.strip():
        items.append(current.strip())
    return items


def literal(token: str) -> str | None:
    """The string a token is, when it is a single-quoted literal and nothing more."""
    found = _LITERAL.fullmatch(token)
    return found.group(1) if found else None


def literals(token: str) -> list[str]:
    return _LITERAL.findall(token)


def calls(text: str, prefix: str) -> Iterator[list[str]]:
    """The arguments of every ``redis.call('<prefix>...', ...)``, split."""
    for found in re.finditer(rf"redis\.call\(\s*'{prefix}", text):
        yield split_args(enclosed(text, text.index("(", found.start())))


def constructors(text: str, name: str) -> Iterator[list[str]]:
    """The items of every table constructor assigned to ``name`` (``name = {...}``)."""
    for found in re.finditer(rf"\b{re.escape(name)} = \{{", text):
        yield split_args(enclosed(text, found.end() - 1))


def appended(text: str, name: str) -> list[str]:
    """What ``name[#name + 1] = <x>`` appends, each appended expression as written."""
    pattern = rf"\b{re.escape(name)}\[#{re.escape(name)} \+ 1\] = ([^\n;]+?)(?=\s*(?:;|\n|end\b))"
    return [m.group(1).strip() for m in re.finditer(pattern, text)]


def pair_names(items: list[str]) -> list[str]:
    """The field names of a flat field, value list (even places), as written."""
    return items[0::2]
