"""Where the client may connect: an egress policy checked on every hop and pinned per socket.

A host hands the client an `EgressPolicy`. Every request goes through `Transport`, which
follows redirects itself and checks each target URL here; every new socket resolves its
host through the policy and connects to the very address that was checked, so a name that
resolves to something else on a second look (DNS rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import NameResolutionError
from urllib3.poolmanager import PoolManager

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Cloud metadata services that do not sit in the link-local range.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192",
))
ALWAYS = "link-local"
PRIVATE = "private"
LOOPBACK = "loopback"
DEFAULT_HINTS: Mapping[str, str] = {
    PRIVATE: "The egress policy does not allow private network addresses.",
    LOOPBACK: "The egress policy does not allow this computer's own addresses.",
}


class EgressRefused(Exception):
    """A destination the egress policy does not allow; the message names the rule."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


def system_resolver(host: str, port: int) -> list[str]:
    """Return every address a host name resolves to (socket.gaierror when it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses the client may connect to; link-local and metadata never."""

    allow_private: bool = False
    allow_loopback: bool = False
    # How a person can change the rule that refused (the host's own setting names).
    hints: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_HINTS))
    resolver: Resolver | None = field(default=None, compare=False, repr=False)

    def rule_for(self, address: Address) -> str | None:
        """Return the rule that refuses an address, or None when it is allowed."""
        if address in METADATA or address.is_link_local or address.is_multicast \
                or address.is_unspecified:
            return ALWAYS
        if address.is_loopback:
            return None if self.allow_loopback else LOOPBACK
        if address.is_reserved:
            return ALWAYS
        if not address.is_global:
            return None if self.allow_private else PRIVATE
        return None

    def check_address(self, host: str, text: str) -> None:
        """Refuse one address of a host, naming the rule and how to allow it."""
        address = _address(text)
        if address is None:
            raise EgressRefused(f"SDM does not connect to {host}: {text} is not an IP "
                                "address", ALWAYS)
        rule = self.rule_for(address)
        if rule is None:
            return
        shown = host if host == str(address) else f"{host} ({address})"
        if rule == ALWAYS:
            raise EgressRefused(f"SDM never connects to {shown}: link-local and cloud "
                                "metadata addresses are always refused.", rule)
        what = "a private network address" if rule == PRIVATE else "this computer itself"
        raise EgressRefused(f"SDM does not connect to {shown}: it is {what}. "
                            f"{self.hints.get(rule, DEFAULT_HINTS[rule])}", rule)

    def check_url(self, url: str) -> None:
        """Refuse a URL that is not http(s) or names a refused IP literal (no DNS lookup)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EgressRefused(f"SDM only connects to http:// and https:// addresses, "
                                f"not {parts.scheme or 'this'}://", ALWAYS)
        host = parts.hostname
        if _address(host) is not None:
            self.check_address(host, host)
        elif host == "localhost" or host.endswith(".localhost"):
            self.check_address(host, "127.0.0.1")

    def resolve(self, host: str, port: int) -> list[str]:
        """Return the host's addresses when every one is allowed; refuse otherwise.

        A name with one allowed and one refused address is refused: which one a later look
        returns is the name owner's choice.
        """
        host = host.strip("[]").rstrip(".")
        if _address(host) is not None:
            addresses = [host]
        else:
            addresses = list((self.resolver or system_resolver)(host, port))
            if not addresses:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        for address in addresses:
            self.check_address(host, address)
        return addresses

    def problem(self, url: str) -> str | None:
        """Return why the policy refuses a URL's host now, or None (also when unresolvable)."""
        try:
            self.check_url(url)
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            self.resolve(parts.hostname or "", port)
        except EgressRefused as refused:
            return refused.message
        except (OSError, UnicodeError, ValueError):
            return None
        return None


class _Pinned:
    """Connect to an address the policy checked, while TLS still verifies the host name."""

    egress: EgressPolicy

    def _new_conn(self) -> Any:
        name = self._dns_host  # type: ignore[attr-defined]
        try:
            address = self.egress.resolve(name, self.port)[0]  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise NameResolutionError(name, self, exc) from exc  # type: ignore[arg-type]
        self._dns_host = address
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = name


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    """An HTTP connection to a checked address."""

    def __init__(self, *args: Any, egress: EgressPolicy, **kwargs: Any) -> None:
        self.egress = egress
        super().__init__(*args, **kwargs)


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    """An HTTPS connection to a checked address; SNI and certificate check use the name."""

    def __init__(self, *args: Any, egress: EgressPolicy, **kwargs: Any) -> None:
        self.egress = egress
        super().__init__(*args, **kwargs)


class EgressPoolManager(PoolManager):
    """A pool manager whose every new socket goes through the egress policy."""

    def __init__(self, *args: Any, egress: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.egress = egress

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> Any:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
        pool.conn_kw["egress"] = self.egress
        return pool
