"""One attempt: the target checked and resolved again (webhooks/targets.py), the body
signed (webhooks/signing.py) and POSTed to the checked address, within a bounded time and
reading a bounded answer (webhooks/transport.py). Redirects are not followed: one could
point anywhere."""

import asyncio

import httpx
import msgspec

from webhooks import signing, targets
from webhooks.claims import Claimed
from webhooks.limits import DELIVERY_TIMEOUT_S, ERROR_TEXT_MAX
from webhooks.transport import LeanTransport

USER_AGENT = "atp-webhooks/1"


class Attempt(msgspec.Struct, frozen=True):
    status: int | None  # the receiver's status; None when none came
    error: str = ""  # why it failed; '' when delivered

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def client() -> httpx.AsyncClient:
    """The whole attempt is bounded by ``attempt``'s timeout, connecting by the transport's."""
    return httpx.AsyncClient(
        transport=LeanTransport(),
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the checked address is the peer
        headers={"user-agent": USER_AGENT},
    )


async def _post(
    http: httpx.AsyncClient, claimed: Claimed, allow_private: bool, timestamp_s: int
) -> Attempt:
    target = await targets.resolve(claimed.url, allow_private)
    body = claimed.payload.encode()
    headers = signing.headers(
        signing.secret_key(claimed.secret), claimed.webhook_id, timestamp_s, body
    )
    headers["host"] = target.netloc
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = http.build_request(
        "POST", target.address_url, content=body, headers=headers, extensions=extensions
    )
    response = await http.send(request)  # the transport reads at most RESPONSE_BYTES_MAX
    if 200 <= response.status_code < 300:
        return Attempt(response.status_code)
    text = response.content[:ERROR_TEXT_MAX].decode("utf-8", "replace")
    return Attempt(response.status_code, f"HTTP {response.status_code}: {text}")


async def attempt(
    http: httpx.AsyncClient,
    claimed: Claimed,
    allow_private: bool,
    timestamp_s: int,
    timeout_s: float = DELIVERY_TIMEOUT_S,
) -> Attempt:
    """Never raises for the receiver's faults: they are the attempt's outcome."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _post(http, claimed, allow_private, timestamp_s)
    except targets.TargetRefused as exc:
        return Attempt(None, f"target refused: {exc.message}")
    except TimeoutError:
        return Attempt(None, f"no answer within {timeout_s:g} s")
    except (httpx.HTTPError, OSError) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX])
