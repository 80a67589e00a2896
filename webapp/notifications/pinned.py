"""Webhook POSTs pinned to the address the egress policy checked.

The name in a webhook's URL is resolved once per attempt; every address it resolves to is put
to the egress policy (the same rules connections follow, asked through the source contract),
and the socket connects to the first of those very addresses, while TLS still checks the
certificate against the name. A name that answers differently on a second look (DNS
rebinding) therefore changes nothing: there is no second look. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError

from webapp.connections.egress import egress_policy
from webapp.plugins import registry

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
CA_BUNDLE = certifi.where()  # the certificate authorities requests trusts too


class Refused(Exception):
    """The webhook cannot be posted to; the message says why, for the delivery log."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST a body to a webhook URL through the egress policy; return the 2xx status."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise Refused("The webhook URL is not an http:// or https:// address.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _checked_address(parts.scheme, host, port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    name = f"[{host}]" if ":" in host else host
    sent = {**headers, "Host": f"{name}:{parts.port}" if parts.port else name}
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False,
                                           maxsize=1, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED",
                                           ca_certs=CA_BUNDLE)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False,
                                          maxsize=1)
    try:
        with pool:
            response = pool.urlopen("POST", target, body=body, headers=sent, redirect=False,
                                    retries=False, assert_same_host=False)
    except (HTTPError, OSError) as exc:
        raise Refused(f"The endpoint could not be reached ({exc.__class__.__name__}).") from None
    if 300 <= response.status < 400:
        raise Refused(f"The endpoint answered HTTP {response.status}, a redirect; SDM does not "
                      "follow redirects of webhooks. Use the address it redirects to.",
                      response.status)
    if not 200 <= response.status < 300:
        raise Refused(f"The endpoint answered HTTP {response.status}.", response.status)
    return response.status


def _checked_address(scheme: str, host: str, port: int) -> str:
    """Resolve a host once and return an address to connect to, every one of them allowed."""
    rules = egress_policy()
    try:
        addresses = _resolve(host, port, rules.resolver)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"The endpoint's name {host} could not be resolved "
                      f"({exc.__class__.__name__}).") from None
    source = registry().connection_source()
    for address in addresses:
        literal = f"[{address}]" if ":" in address else address
        problem = source.address_problem(f"{scheme}://{literal}:{port}/", rules)
        if problem:
            named = host if host == address else f"{host} ({address})"
            raise Refused(problem.replace(address, named, 1))
    return addresses[0]


def _resolve(host: str, port: int, resolver) -> list[str]:
    """Return the addresses of a host: itself when it is an IP address literal."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if resolver is not None:
        addresses = list(resolver(host, port))
    else:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return addresses
