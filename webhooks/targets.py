"""Where a webhook may be sent (SSRF): http(s) only, and only to global addresses unless
the server allows private ones (development and tests). Checked at registration and again
before every attempt on the address the name resolves to then, and the attempt connects to
that very address, so a name re-pointed at an internal one (DNS rebinding) is refused."""

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

import msgspec

from atp.model import InvalidInput
from webhooks.limits import RESOLVE_TIMEOUT_S, URL_LENGTH_MAX

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(InvalidInput):
    """The URL, or the address its host resolves to, may not receive webhooks."""

    def __init__(self, message: str) -> None:
        super().__init__("url", message)


class Target(msgspec.Struct, frozen=True):
    scheme: str
    host: str  # as written: the TLS name
    netloc: str  # host[:port] as written: the Host header
    port: int
    address: str  # what the attempt connects to
    path: str  # path and query

    @property
    def address_url(self) -> str:
        """The URL with the checked address in place of the host: nothing resolves again."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.path}"


def parse_url(url: str) -> SplitResult:
    if len(url) > URL_LENGTH_MAX:
        raise TargetRefused(f"must be at most {URL_LENGTH_MAX} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError as exc:
        raise TargetRefused(f"is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http or https URL")
    if not parts.hostname:
        raise TargetRefused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry credentials: the signature authenticates us")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise TargetRefused("must not contain whitespace or control characters")
    return parts


def _embedded_ipv4(ip: IpAddress) -> IpAddress:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64), else the address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(ip: IpAddress) -> str | None:
    """Why an address may not receive webhooks, or None."""
    for each in {ip, _embedded_ipv4(ip)}:
        if each.is_loopback:
            return f"resolves to a loopback address ({ip})"
        if each.is_link_local:
            return f"resolves to a link-local address ({ip})"
        if each.is_private:
            return f"resolves to a private address ({ip})"
        if each.is_multicast or each.is_unspecified or each.is_reserved or not each.is_global:
            return f"resolves to an address that is not global ({ip})"
    return None


async def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, TimeoutError):
        raise TargetRefused(f"its host {host} does not resolve") from None
    # Scope ids (fe80::1%eth0) are dropped: a link-local address is refused anyway.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def resolve(url: str, allow_private: bool) -> Target:
    """The address to send to, once every address the host resolves to is allowed."""
    parts = parse_url(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await _resolve(host, port)
    if not addresses:
        raise TargetRefused(f"its host {host} does not resolve")
    if not allow_private:
        for ip in addresses:  # every one: a resolver may answer a mix
            reason = refusal(ip)
            if reason is not None:
                raise TargetRefused(reason)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, parts.netloc, port, str(addresses[0]), path)
