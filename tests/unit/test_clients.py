"""The client's address (api/clients.py): the peer, or X-Forwarded-For behind a trusted proxy."""

from __future__ import annotations

import ipaddress

import pytest

from notifier_app.api.clients import client_address
from notifier_app.config import ConfigError, trusted_proxies


def scope(peer: str | None, *forwarded: str) -> dict:
    return {
        "client": (peer, 1234) if peer else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards():
    assert client_address(scope("198.51.100.7", "203.0.113.1"), ()) == "198.51.100.7"
    assert client_address(scope("198.51.100.7", "203.0.113.1"), PROXIES) == "198.51.100.7"  # not a proxy of ours


@pytest.mark.parametrize(
    "forwarded, expected",
    [
        (["203.0.113.1"], "203.0.113.1"),
        (["1.1.1.1, 203.0.113.1"], "203.0.113.1"),  # what the client wrote itself is left of what our proxy saw
        (["1.1.1.1, 203.0.113.1, 10.0.0.5"], "203.0.113.1"),  # through two of our proxies
        (["1.1.1.1", "203.0.113.1, 10.0.0.5"], "203.0.113.1"),  # split over two header lines
        (["10.0.0.9, 10.0.0.5"], "10.0.0.9"),  # every hop ours: the leftmost
        (["203.0.113.1:5555"], "203.0.113.1"),
        (["[2001:db8:1:2:3:4:5:6]:443"], "2001:db8:1:2::/64"),
        (["2001:db8:1:2::9"], "2001:db8:1:2::/64"),  # a v6 client is its /64
        (["::ffff:203.0.113.1"], "203.0.113.1"),
        (["not-an-address"], "not-an-address"),  # our proxy wrote it: as text
        ([], "127.0.0.1"),
    ],
)
def test_behind_a_trusted_proxy_the_first_untrusted_hop_from_the_right_is_the_client(forwarded, expected):
    assert client_address(scope("127.0.0.1", *forwarded), PROXIES) == expected


def test_no_peer_and_a_v6_peer():
    assert client_address(scope(None), ()) == "unknown"
    assert client_address(scope("2001:db8::1"), ()) == "2001:db8::/64"


def test_trusted_proxies_setting(monkeypatch):
    monkeypatch.setenv("NOTIFIER_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1")
    assert trusted_proxies() == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")
    )
    monkeypatch.setenv("NOTIFIER_TRUSTED_PROXIES", "10.0.0.0/8,nginx")
    with pytest.raises(ConfigError):
        trusted_proxies()
