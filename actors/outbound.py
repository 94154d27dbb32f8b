"""HTTP to URLs users gave (webhooks, Web Push endpoints), sent to the address ``domain.outbound`` checked.

The policy resolves the URL's host once and checks every address; the connection then goes to that
address while the URL's host is sent as ``Host`` and as the TLS server name, and the certificate is
verified for that name against the system's trust store. A DNS answer that changes after the check
(rebinding: public for the check, internal for the connection) is never asked for, so never used.
"""
from __future__ import annotations

from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from domain.outbound import AddressPolicy, Resolver, Target, resolve_host


def pinned_pool(manager: urllib3.PoolManager, target: Target) -> urllib3.HTTPConnectionPool:
    """``manager``'s pool of connections to ``target.address`` that present, and verify, ``target.host``
    (send ``target.host_header`` as ``Host`` on each request, and ``assert_same_host=False``)."""
    tls = {"server_hostname": target.host, "assert_hostname": target.host} if target.scheme == "https" else None
    return manager.connection_from_host(target.address, target.port, target.scheme, tls)


class PinnedAdapter(HTTPAdapter):
    """A ``requests`` transport for libraries that take a session (``pywebpush``): each request's URL is
    checked by ``policy`` (``Refused`` propagates) and sent over ``pinned_pool``. The certificate is
    verified as for webhooks (system trust store, ``SSL_CERT_FILE``), whatever the session's ``verify``."""

    def __init__(self, policy: AddressPolicy, resolve: Resolver = resolve_host) -> None:
        super().__init__(max_retries=0)
        self.policy, self.resolve = policy, resolve

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: Any = None, cert: Any = None) -> urllib3.HTTPConnectionPool:
        target = self.policy.target(request.url or "", self.resolve)
        request.headers["Host"] = target.host_header  # the pool's host is the address
        return pinned_pool(self.poolmanager, target)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Keep the pool's own verification (``requests`` would switch it to its CA bundle)."""


def pinned_session(policy: AddressPolicy, resolve: Resolver = resolve_host) -> requests.Session:
    """A session whose every request goes through ``PinnedAdapter``; no proxy, ``.netrc`` or CA bundle
    from the environment (a proxy would not see the pinned address, ``.netrc`` would hand credentials
    to a URL a user chose)."""
    session = requests.Session()
    session.trust_env = False
    adapter = PinnedAdapter(policy, resolve)
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return session
