"""The pure parts: which endpoints a change is owed to, the backoff schedule and when a
delivery is given up, which addresses may receive webhooks, and the signature."""

import ipaddress
import random
import time

import pytest
from standardwebhooks.webhooks import Webhook

from webhooks import signing
from webhooks.endpoints import new_secret
from webhooks.limits import (
    ATTEMPTS_MAX,
    BACKOFF_BASE_MS,
    BACKOFF_CAP_MS,
    BACKOFF_JITTER,
    DELIVERY_AGE_MAX_MS,
)
from webhooks.matching import Subject, Subscription, matches
from webhooks.schedule import after_failure, backoff_ms
from webhooks.targets import refusal

MEMBERS = {"oslo": frozenset({"OSLO-1", "OSLO-2"})}


def _sub(*types: str, **filters: set[str]) -> Subscription:
    return Subscription("e", frozenset(types), **{k: frozenset(v) for k, v in filters.items()})


@pytest.mark.parametrize(
    ("sub", "subject", "owed"),
    [
        (_sub("low_stock"), Subject("low_stock", "S", "L"), True),
        (_sub("low_stock"), Subject("adjusted", "S", "L"), False),
        (_sub("reset", skus={"S"}), Subject("reset"), True),  # names no SKU
        (_sub("x", skus={"S"}), Subject("x", "T", "L"), False),
        (_sub("x", groups={"oslo"}), Subject("x", "S", "OSLO-2"), True),  # a member
        (_sub("x", groups={"oslo"}), Subject("x", "S", "", "oslo"), True),  # the group's own
        (_sub("x", groups={"oslo"}), Subject("x", "S", "BERGEN"), False),
        (_sub("x", locations={"L"}), Subject("x", "S", "", "oslo"), False),
        (_sub("x", locations={"L"}, groups={"oslo"}), Subject("x", "S", "L"), True),
    ],
)
def test_matching(sub: Subscription, subject: Subject, owed: bool) -> None:
    assert matches(sub, subject, MEMBERS) is owed


def test_backoff_doubles_from_the_base_to_the_cap_within_the_jitter() -> None:
    rng = random.Random(1)
    for attempt in range(1, 40):
        nominal = min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_CAP_MS)
        delays = [backoff_ms(attempt, rng) for _ in range(50)]
        assert all(
            nominal * (1 - BACKOFF_JITTER) <= d <= nominal * (1 + BACKOFF_JITTER) for d in delays
        )
        assert len(set(delays)) > 1  # jittered, not a fixed schedule


def test_the_schedule_reaches_hours_and_gives_up_after_the_attempt_cap() -> None:
    rng, now, since = random.Random(2), 0, 0
    for attempt in range(1, ATTEMPTS_MAX):
        step = after_failure(attempt, since, now, rng)
        assert not step.dead
        now = step.next_attempt_ms
    assert now > 3600 * 1000 * 6  # hours of retrying
    assert after_failure(ATTEMPTS_MAX, since, now, rng).dead


def test_a_delivery_past_its_age_is_dead_even_with_attempts_left() -> None:
    rng = random.Random(3)
    assert after_failure(2, 0, DELIVERY_AGE_MAX_MS - 1000, rng).dead
    assert not after_failure(2, 0, 0, rng).dead


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.31.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
     "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
     "::ffff:127.0.0.1", "::ffff:192.168.0.1", "2002:c0a8:1::", "64:ff9b::7f00:1",
     "ff02::1", "198.18.0.1", "192.0.2.1"],
)  # fmt: skip
def test_non_global_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_signature_verifies_with_the_reference_package_and_only_unchanged() -> None:
    secret = new_secret()
    body = b'{"type":"low_stock","timestamp":"2026-12-03T22:00:00.123Z","data":{}}'
    now = int(time.time())
    headers = signing.headers(signing.secret_key(secret), "msg_c1", now, body)
    Webhook(secret).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body.replace(b"low", b"no"), headers)
