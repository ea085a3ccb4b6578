"""The body of a delivery (Standard Webhooks: ``{type, timestamp, data}``) and its id."""

import secrets
from datetime import UTC, datetime

import msgspec

_encode = msgspec.json.encode


def iso_ms(ms: int) -> str:
    """2026-12-03T22:00:00.123Z: the event's time, to the millisecond, in UTC."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def body(event_type: str, ts_ms: int, data_json: str) -> str:
    """``data_json`` is already a JSON object's text (the feed stores it so): spliced in as
    is, not decoded and encoded again."""
    return (
        '{"type":' + _encode(event_type).decode() + ',"timestamp":"' + iso_ms(ts_ms) + '"'
        ',"data":' + data_json + "}"
    )


def feed_webhook_id(seq: int) -> str:
    """A change's deliveries are named by its place in the feed: a fan-out that runs again
    over the same changes names them alike, and the endpoint's unique key drops the copy."""
    return f"msg_c{seq}"


def published_webhook_id() -> str:
    return "msg_" + secrets.token_hex(12)
