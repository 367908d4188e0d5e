"""Credentials out of URLs, before a URL is shown anywhere (status, events, alerts, logs).

A URL may carry a password (`https://user:pass@host`), a token as its user name
(`https://token@host`) or a token in its query string (`?access_token=...`). `redact_url` keeps
what a person needs to recognise the address and replaces the secrets with `***`;
`redact_text` does the same for every URL inside a free-form message (an error text, a log line).

This is the one redaction function of the project: every place that prints a URL the user gave
(webhooks, MetricTemplate and Prometheus addresses, alert providers) goes through it. Pure: no
I/O, no logging.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit, urlunsplit

MASK: Final = "***"
# Query parameters whose value is a credential, by name (case-insensitive, whole name).
_SECRET_PARAMETER: Final = re.compile(
    r"(?:[a-z0-9]+[_-])*(?:token|secret|passw(?:or)?d|pwd|pass|api[_-]?key|apikey|key|auth"
    r"|authorization|sig|signature|credentials?|session|code)",
    re.IGNORECASE,
)
# A URL inside text: a scheme, "://", then anything up to white space, a double quote or an
# angle bracket; punctuation caught at its end is the text's, and is kept as it was.
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"<>`]+")
_TRAILING: Final = "'),.;:!?]}"


def redact_url(url: str) -> str:
    """`url` with its password, a user-name-only token and secret query values masked.

    `https://user:pass@host/p?token=t&x=1` becomes `https://user:***@host/p?token=***&x=1`;
    `https://token@host` becomes `https://***@host`. A URL without secrets is returned as is.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host: keep only what cannot hold userinfo
        return _mask_userinfo_by_hand(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    query = _redact_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """`text` with every URL in it passed through `redact_url`."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    kept = url.rstrip(_TRAILING)  # punctuation of the text around the URL stays as it was
    return redact_url(kept) + url[len(kept) :]


def _redact_query(query: str) -> str:
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and _SECRET_PARAMETER.fullmatch(name):
            pairs.append(f"{name}={MASK}")
        else:
            pairs.append(pair)
    return "&".join(pairs)


def _mask_userinfo_by_hand(url: str) -> str:
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}://{MASK}@{authority.rpartition('@')[2]}{slash}{path}"
