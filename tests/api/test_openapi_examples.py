"""Each kind of id has its own example in the OpenAPI document: a location field shows a
store, a reservation id an order, a register event a till's event, never a SKU. The
examples are the demo chain's ids, and each obeys the id rule it illustrates."""

import re
from collections.abc import Iterator
from typing import Any

from api.app import OPS, TITLE, VERSION
from api.openapi import document
from api.schemas import ID_PATTERN
from cli.demo_serve import DEMO

# Field or parameter name -> how its example must look.
KINDS: dict[str, str] = {
    "sku": r"SKU-\d{6}",
    "skus": r"SKU-\d{6}",
    "location": r"(ST|WH)-[A-Z0-9]+",
    "locations": r"(ST|WH)-[A-Z0-9]+",
    "group": r"[a-z]+(-[a-z]+)*",
    "id": r"order-\d+",
    "reservation_id": r"order-\d+",
    "event_id": r"till-\d+-\d+",
    "voids": r"till-\d+-\d+",
    "device_id": r"till-\d+",
    "supply_id": r"PO-\d+",
    "key_id": r"[0-9a-f]{12}",
    "groups": r"[a-z]+(-[a-z]+)*",
    "customer": r"cust-\d+",
    "order_id": r"web-\d+",
}
# A field whose name alone does not say its kind.
OWN_KIND = {("LocationOut", "id"): "location"}
# Where the example must be there (and right): the ids a newcomer meets first.
REQUIRED = {
    ("AvailabilityQuery", "skus"),
    ("AvailabilityQuery", "locations"),
    ("AvailabilityQuery", "group"),
    ("Adjustment", "sku"),
    ("Adjustment", "location"),
    ("IncomingBody", "supply_id"),
    ("LineIn", "location"),
    ("ReserveBody", "id"),
    ("PosSale", "event_id"),
    ("PosVoid", "voids"),
    ("RouteLine", "sku"),
    ("AllocateBody", "id"),
    ("param", "sku"),
    ("param", "location"),
    ("param", "group"),
    ("param", "id"),
    ("param", "device_id"),
    ("param", "supply_id"),
    ("LocationOut", "id"),
    ("LocationOut", "groups"),
}


def _ids(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The id schemas inside one property's schema (through anyOf and array items)."""
    if schema.get("pattern") == ID_PATTERN:
        yield schema
    for option in schema.get("anyOf", []):
        yield from _ids(option)
    if "items" in schema:
        yield from _ids(schema["items"])


def _examples() -> list[tuple[str, str, list[str]]]:
    doc = document(OPS, TITLE, VERSION)
    found = []
    for name, schema in doc["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            for ids in _ids(prop):
                found.append((name, field, ids.get("examples", [])))
    for path in doc["paths"].values():
        for operation in path.values():
            for param in operation.get("parameters", []):
                for ids in _ids(param["schema"]):
                    found.append(("param", param["name"], ids.get("examples", [])))
    return found


def test_every_id_example_is_of_its_own_kind() -> None:
    wrong = []
    for where, field, examples in _examples():
        for example in examples:
            if not re.fullmatch(ID_PATTERN, example):
                wrong.append(f"{where}.{field}: {example!r} breaks the id rule")
            want = KINDS.get(OWN_KIND.get((where, field), field))
            if want is None:
                wrong.append(f"{where}.{field}: {example!r} for an id of no known kind")
            elif not re.fullmatch(want, example):
                wrong.append(f"{where}.{field}: {example!r} is not a {field}")
    assert not wrong, "\n".join(wrong)


def test_the_ids_a_newcomer_meets_have_examples() -> None:
    have = {(where, field) for where, field, examples in _examples() if examples}
    assert not REQUIRED - have, sorted(REQUIRED - have)


def test_examples_are_the_demo_chains_ids() -> None:
    by_field: dict[str, set[str]] = {}
    for _, field, examples in _examples():
        by_field.setdefault(field, set()).update(examples)
    assert DEMO.sku in by_field["sku"]
    assert DEMO.store in by_field["location"]
    assert DEMO.group in by_field["group"]
    assert by_field["sku"] == {DEMO.sku}  # one SKU example, and only on SKU fields
