"""Who the client is, by address: the peer, or, behind a trusted proxy, X-Forwarded-For.

`X-Forwarded-For` is believed only from a peer in NOTIFIER_TRUSTED_PROXIES (config.py):
anyone else could write any address in it and be a new client with every request. Behind
trusted proxies the list is read from the right (each proxy appends the address it saw):
the first entry that is not itself a trusted proxy is the client. An IPv6 client is its
/64 (one subscriber's network: otherwise each of its 2**64 addresses would be a new client).
"""

from __future__ import annotations

import ipaddress
from functools import cache

from starlette.types import Scope

from notifier_app.config import trusted_proxies

MAX_ADDRESS = 64  # an unparsable entry (a proxy wrote it) is kept as text, this long at most


@cache
def _trusted() -> tuple:
    return trusted_proxies()


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address, networks: tuple) -> bool:
    return address is not None and any(address in network for network in networks)


def _key(address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_address(scope: Scope, networks: tuple | None = None) -> str:
    """The client's address as a throttling key ("unknown" without one)."""
    networks = _trusted() if networks is None else networks
    client = scope.get("client")
    peer = _parse(client[0]) if client else None
    if peer is None:
        return client[0][:MAX_ADDRESS] if client else "unknown"
    if not networks or not _is_trusted(peer, networks):
        return _key(peer)
    forwarded = [
        entry.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for entry in value.decode("latin-1").split(",")
        if entry.strip()
    ]
    for entry in reversed(forwarded):
        address = _parse(entry)
        if address is None:
            return entry[:MAX_ADDRESS]
        if not _is_trusted(address, networks):
            return _key(address)
    # Every hop is a trusted proxy: the leftmost is as far as we can see.
    return _key(_parse(forwarded[0])) if forwarded else _key(peer)
