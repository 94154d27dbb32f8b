"""Who the client is behind proxies: ``X-Forwarded-For`` is believed only from configured proxies.

Each proxy appends the address it received the request from, so the list reads client → … → last
proxy, and only the entries added by proxies we trust are true. Walking from the right, every
trusted proxy is skipped; the first address that is not one of ours is the client (anything further
left was written by that client and is not believed). A request that did not come from a trusted
proxy is its own client, whatever headers it carries.
"""
from __future__ import annotations

import ipaddress
from typing import Union

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, networks: tuple[IPNetwork, ...] = ()) -> None:
        self.networks = networks

    @classmethod
    def parse(cls, spec: str) -> TrustedProxies:
        """Comma-separated addresses or CIDRs; ValueError naming the bad item."""
        networks = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"'{item}' is not an address or network (CIDR)") from None
        return cls(tuple(networks))

    def _trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client(self, remote_addr: str | None, forwarded_for: str | None) -> str:
        """The client's address: ``remote_addr`` unless it is a trusted proxy, then the rightmost
        ``X-Forwarded-For`` entry that is not (an unparsable entry ends the walk at the last good hop)."""
        peer = _address(remote_addr or "")
        client = str(peer) if peer is not None else (remote_addr or "unknown")
        if not self._trusted(peer) or not forwarded_for:
            return client
        for entry in reversed(forwarded_for.split(",")):
            hop = _address(entry)
            if hop is None:
                return client
            client = str(hop)
            if not self._trusted(hop):
                return client
        return client


def is_loopback(address: str) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in LOOPBACK)
