"""The client's IP address as the throttle and the audit log see it."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


class ClientAddress:
    """The client's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted = _networks(trusted_proxies)

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def __call__(self, peer: str | None, forwarded_for: str | None) -> str:
        peer = peer or "unknown"
        if not forwarded_for or not self.is_trusted(peer):
            return peer
        # Walk right to left: the nearest hop not itself a trusted proxy is the client.
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: believe only the socket
            if not self.is_trusted(hop):
                return hop
        return hops[0] if hops else peer


def client_ip(trusted_proxies: Iterable[str], peer: str | None, forwarded_for: str | None) -> str:
    return ClientAddress(trusted_proxies)(peer, forwarded_for)
