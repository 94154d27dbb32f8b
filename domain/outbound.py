"""Where the server may send requests on a user's behalf (webhooks, Web Push): public addresses only,
unless allowed.

A URL a user gives must not make the server reach what only the server can reach: loopback, private
and shared networks, link-local (169.254/16 is where cloud metadata lives; fe80::/10), unique-local,
multicast, unspecified, documentation and other reserved ranges. Every address a host resolves to
is checked (IPv6 forms that embed an IPv4 address are judged by that address), and the caller
connects to the very address that was checked (``Target.address``, through ``actors.outbound``), so a
DNS answer that changes between the check and the connection (rebinding) cannot redirect it. Self-hosters whose integrations
live on their LAN list networks (CIDRs) or host names in ``allowed``.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Union
from urllib.parse import urlsplit

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}
Resolver = Callable[[str, int], list[str]]


class Refused(ValueError):
    """The URL may not be requested; the message says why, in words fit for the URL's owner."""


@dataclass(frozen=True)
class Target:
    """A URL that passed the policy: connect to ``address``, present ``host`` (Host header, TLS name)."""
    scheme: str
    host: str  # the name as written in the URL (what TLS verifies)
    host_header: str  # host[:port] as written in the URL
    port: int
    address: str  # the checked address to connect to
    path: str  # path and query, what goes on the request line


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, shared, link-local, unique-local, multicast,
    unspecified or reserved (nor an IPv6 form of such an IPv4 address)."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None and not is_public(embedded):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class AddressPolicy:
    """Public addresses, plus the networks and host names of the allow-list."""

    def __init__(self, networks: tuple[IPNetwork, ...] = (), hosts: frozenset[str] = frozenset()) -> None:
        self.networks, self.hosts = networks, hosts

    @classmethod
    def parse(cls, allowed: str) -> AddressPolicy:
        """``allowed``: comma-separated CIDRs (``10.0.0.0/8``, ``fd00::/8``), addresses or host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for item in filter(None, (part.strip() for part in allowed.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                if not all(label and label.replace("-", "").replace("_", "").isalnum() for label in item.split(".")):
                    raise ValueError(f"'{item}' is neither a network (CIDR), an address nor a host name") from None
                hosts.add(item.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def permits(self, host: str, ip: IPAddress) -> bool:
        return is_public(ip) or host in self.hosts or any(ip in network for network in self.networks)

    def target(self, url: str, resolve: Resolver | None = None) -> Target:
        """Check ``url`` and pin the address to use; raises Refused."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if parts.scheme not in DEFAULT_PORTS or not host:
            raise Refused("must be an http:// or https:// URL with a host")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise Refused("has an invalid port") from None
        addresses = _literal(host) or (resolve or resolve_host)(host, port)
        if not addresses:
            raise Refused(f"host {host} does not resolve")
        for address in addresses:
            if not self.permits(host, ipaddress.ip_address(address)):
                raise Refused(f"{host} resolves to {address}, which is not a public address (loopback, "
                              "private, link-local and other internal ranges are refused unless allowed "
                              "in webhooks.allowed_targets)")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(parts.scheme, host, parts.netloc.rpartition("@")[2], port, addresses[0], path)


def _literal(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return []


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6, in the resolver's order); [] when it does not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos))


@lru_cache(maxsize=8)
def policy_for(allowed: str) -> AddressPolicy:
    """The policy of a ``webhooks.allowed_targets`` value (parsed once)."""
    return AddressPolicy.parse(allowed)
