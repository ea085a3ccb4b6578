"""Input checks shared by every entry point; each failure names its field."""

import re

from atp.limits import ID_LENGTH_MAX, QTY_MAX, REASON_LENGTH_MAX
from atp.model import InvalidInput

# No braces (hash tags) or colons (key separators), no whitespace, and no "/" (an id is
# one path segment of the HTTP API, and "/" separates a register from its event in events).
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")
# The one wording of the rule, for the engine, the path parameters and request bodies alike.
ID_RULE = "may hold only letters, digits and . _ - (not first)"


def is_plain_id(value: object) -> bool:
    return (
        type(value) is str
        and len(value) <= ID_LENGTH_MAX
        and ID_PATTERN.fullmatch(value) is not None
    )


def check_id(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if not 1 <= len(value) <= ID_LENGTH_MAX:
        raise InvalidInput(field, f"must be 1 to {ID_LENGTH_MAX} characters")
    if not ID_PATTERN.fullmatch(value):
        raise InvalidInput(field, ID_RULE)
    return value


def check_int(field: str, value: object, low: int, high: int) -> int:
    # bool is an int subclass; True is not a quantity.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(field, "must be an integer")
    if not low <= value <= high:
        raise InvalidInput(field, f"must be between {low} and {high}")
    return value


def check_qty(field: str, value: object, high: int = QTY_MAX) -> int:
    return check_int(field, value, 1, high)


def check_count(field: str, value: object) -> int:
    return check_int(field, value, 0, QTY_MAX)


def check_reason(field: str, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= REASON_LENGTH_MAX:
        raise InvalidInput(field, f"must be a string of 1 to {REASON_LENGTH_MAX} characters")
    return value


def check_optional_id(field: str, value: object) -> str:
    return "" if value is None else check_id(field, value)
