"""Outbound HTTP to addresses clients gave us (webhooks), guarded against server-side
request forgery.

A target is an http(s) URL without credentials whose host resolves only to public
addresses: loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
multicast and reserved ranges are refused in every spelling (`127.1`, `0x7f000001`,
`2130706433`, `[::ffff:127.0.0.1]`, ...) unless a network of `allowed` (settings
`outbound_allow_networks`) contains them. The check runs when a subscription is made and
again at every connection, on the address actually connected to (no DNS rebinding), and the
client follows no redirects and no proxy from the environment.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(Exception):
    """The target may not be called; the message says why (中文 / English)."""


LOOPBACK_OR_PRIVATE = (
    "不允许访问内网或本机地址 / the target resolves to a loopback, private or link-local address"
)


class UnknownHost(OutboundRefused):
    """The target's host name does not resolve."""


def networks(cidrs: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def _plain(address: Address) -> Address:
    """An IPv4 address carried in IPv6 (mapped, NAT64, 6to4) as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def permitted(address: Address, allowed: Sequence[Network]) -> bool:
    plain = _plain(address)
    if any(plain in net or address in net for net in allowed):
        return True
    return plain.is_global and not plain.is_multicast


def parse_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL, or OutboundRefused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise OutboundRefused("地址无效 / not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundRefused("须为 http(s) 地址 / must be an http(s) URL")
    if parsed.userinfo:
        raise OutboundRefused("地址不能含用户名或密码 / the URL must not carry credentials")
    name = parsed.host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):  # loopback by name (RFC 6761)
        raise OutboundRefused(LOOPBACK_OR_PRIVATE)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.host, port


async def resolve_permitted(host: str, port: int, allowed: Sequence[Network]) -> str:
    """The first address of `host`, if every address it resolves to is permitted."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError, OSError):
        raise UnknownHost(f"无法解析主机 / cannot resolve {host}") from None
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses:
        raise UnknownHost(f"无法解析主机 / cannot resolve {host}")
    for text in addresses:
        if not permitted(ipaddress.ip_address(text), allowed):
            raise OutboundRefused(LOOPBACK_OR_PRIVATE)
    return addresses[0]


async def check_target(url: str, allowed: Sequence[Network]) -> None:
    """Refuses (OutboundRefused) a target that may not be called."""
    _, host, port = parse_target(url)
    await resolve_permitted(host, port, allowed)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to permitted addresses, to the one it checked."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self._allowed = list(allowed)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await resolve_permitted(host, port, self._allowed)
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are not a webhook target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allowed: Sequence[Network]) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allowed),
        )


def guarded_client(allowed: Sequence[Network], timeout: float) -> httpx.AsyncClient:
    """An HTTP client for client-given targets: guarded connections, no redirects, no
    proxies from the environment."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allowed),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
