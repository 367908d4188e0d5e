"""The Python twin of the API server's CEL URL test: `isURL(u) && url(u).getScheme() in ['http',
'https'] && url(u).getHostname() != ''`.

The CEL library behind `isURL` and `url` is Go's `net/url.ParseRequestURI`, which is stricter
than Python's `urlsplit`: it refuses control characters (Python silently drops CR, LF and tab
from a URL), spaces and other bytes that cannot appear in a host, a port that is not a number,
and a `%` not followed by two hex digits. A manifest `canary check` passes must pass admission, and
the controller must never use a URL the API server would have refused, so this module parses
the way Go does, for the parts the rule looks at. It must stay free of I/O.

Checked against the API server of the sandbox (Kubernetes 1.36) by the admission corpus.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Bytes Go's parser refuses anywhere in a URL (`stringContainsCTLByte`).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HEX = frozenset("0123456789abcdefABCDEF")
# What a host may hold unescaped (Go's `shouldEscape` in host mode), ASCII only.
_HOST_BYTES = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()*+,;=:[]<>\"%"
)
# What userinfo may hold (Go's `validUserinfo`).
_USERINFO_BYTES = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@"
)


@dataclass(frozen=True)
class RequestUri:
    """The parts of a parsed URL the rules look at: its scheme (lower case) and host name
    (without port or IPv6 brackets)."""

    scheme: str
    hostname: str


def parse_request_uri(text: str) -> RequestUri | None:
    """`text` parsed as Go's `url.ParseRequestURI` parses it, or None where Go returns an error."""
    if not text or _CONTROL.search(text):
        return None
    scheme, rest = "", text
    if (found := _SCHEME.match(text)) is not None and text[found.end() : found.end() + 1] == ":":
        scheme, rest = found.group(0).lower(), text[found.end() + 1 :]
    elif text.startswith(":"):
        return None  # "missing protocol scheme"
    rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        # An opaque URL ("mailto:x") has no host; without a scheme it is not a request URI.
        return RequestUri(scheme, "") if scheme else None
    hostname = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        hostname_or_none = _host_name(authority)
        if hostname_or_none is None:
            return None
        hostname, rest = hostname_or_none, slash + path
    if not _escapes_valid(rest):
        return None
    return RequestUri(scheme, hostname)


def is_http_url(text: str) -> bool:
    """An absolute http(s) URL with a host, as the API server's CEL rule judges it."""
    parsed = parse_request_uri(text)
    return parsed is not None and parsed.scheme in {"http", "https"} and parsed.hostname != ""


def _host_name(authority: str) -> str | None:
    """The host name in `user@host:port`, or None when Go refuses the authority."""
    userinfo, at, host = authority.rpartition("@")
    if at and not (all(c in _USERINFO_BYTES for c in userinfo) and _escapes_valid(userinfo)):
        return None
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0 or not _port_valid(host[end + 1 :]) or not _is_ipv6(host[1:end]):
            return None
        name = host[1:end]
    elif host.count(":") > 1:
        return None  # Go refuses more than one colon outside brackets
    else:
        colon = host.rfind(":")
        port = host[colon:] if colon >= 0 else ""
        if not _port_valid(port):
            return None
        name = host[:colon] if colon >= 0 else host
    if not _escapes_valid(host, in_host=True) or any(
        c.isascii() and c not in _HOST_BYTES for c in host
    ):
        return None
    return name


def _is_ipv6(literal: str) -> bool:
    """Whether a bracketed host is an IPv6 address (with an optional `%25`-escaped zone), as
    Go's parser requires."""
    try:
        ipaddress.IPv6Address(literal.replace("%25", "%", 1))
    except ValueError:
        return False
    return True


def _port_valid(port: str) -> bool:
    """Go's `validOptionalPort`: empty, or a colon followed by digits only."""
    return port == "" or (port[0] == ":" and all(c in "0123456789" for c in port[1:]))


def _escapes_valid(text: str, *, in_host: bool = False) -> bool:
    """Every `%` is followed by two hex digits; in a host, only `%25` and escapes of non-ASCII
    bytes (`%80`..`%FF`) are allowed."""
    index = text.find("%")
    while index >= 0:
        escape = text[index + 1 : index + 3]
        if len(escape) != 2 or not all(c in _HEX for c in escape):
            return False
        if in_host and escape != "25" and int(escape[0], 16) < 8:
            return False
        index = text.find("%", index + 3)
    return True
