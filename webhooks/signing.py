"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
``<webhook-id>.<webhook-timestamp>.<body>`` with the base64 secret after ``whsec_``.

A few lines of hmac rather than the ``standardwebhooks`` package at run time: the scheme is
this short, and the tests verify every delivery with that package, an implementation
independent of this one (README, dependencies).
"""

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(key: bytes, webhook_id: str, timestamp_s: int, body: bytes) -> str:
    signed = b"%s.%d.%s" % (webhook_id.encode(), timestamp_s, body)
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes, webhook_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": signature(key, webhook_id, timestamp_s, body),
        "content-type": "application/json",
    }
