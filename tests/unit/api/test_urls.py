"""The URL rule's Python twin parses as Go's `url.ParseRequestURI` (behind the API server's CEL
`isURL` and `url`) does, not as Python's lenient `urlsplit`."""

from __future__ import annotations

import pytest

from canary.api.urls import RequestUri, is_http_url, parse_request_uri


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("http://loadtester.test/", RequestUri("http", "loadtester.test")),
        ("HTTPS://Hooks.Slack.test/x", RequestUri("https", "Hooks.Slack.test")),
        ("http://user:pw@host.test:8080/p?q=a b#frag", RequestUri("http", "host.test")),
        ("http://[::1]:9090/", RequestUri("http", "::1")),
        ("http://[fe80::1%25en0]/", RequestUri("http", "fe80::1%25en0")),
        ("http://[::ffff:1.2.3.4]/", RequestUri("http", "::ffff:1.2.3.4")),
        ("http://a]b/", RequestUri("http", "a]b")),
        ("http://hoé.test/a b", RequestUri("http", "hoé.test")),  # non-ASCII, a space in a path
        ("http://host.test:/", RequestUri("http", "host.test")),
        ("http://host.test/%41%zz?x", None),  # a bad escape in the path
        ("http://host.test/a?%zz", RequestUri("http", "host.test")),  # the query is not checked
        ("/gate/approve", RequestUri("", "")),  # a request path: a URI, without scheme or host
        ("mailto:someone", RequestUri("mailto", "")),  # opaque
        ("http:opaque", RequestUri("http", "")),
        ("http:///path", RequestUri("http", "")),
        ("ftp://files.test/", RequestUri("ftp", "files.test")),
    ],
)
def test_what_go_parses(text: str, parsed: RequestUri | None) -> None:
    assert parse_request_uri(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "loadtester.test/x",  # neither a scheme nor an absolute path
        ":8080/x",  # missing protocol scheme
        "http://loadtester.test/\r\nX-Injected: 1",
        "http://loadtester.test/\n",
        "http://loadtester.test/\t",
        "http://loadtester.test/\x00",
        "http://loadtester.test/\x7f",
        "http://load tester.test/",  # a space in the host
        "http://host.test:http/",  # a port that is not a number
        "http://host.test:80:80/",  # more than one colon outside brackets
        "http://a[::1]/",
        "http://[::1/",  # an unclosed IPv6 literal
        "http://[notip]/",  # brackets hold an IPv6 address
        "http://[1.2.3.4]/",
        "http://[fe80::1%en0]/",  # a zone's % must be escaped
        "http://[::1]x/",
        "http://host.test/%zz",
        "http://host.test/%4",
        "http://ho%41st.test/",  # an escaped ASCII byte in a host
        "http://us er@host.test/",  # a space in the user info
        "http://host{}.test/",
    ],
)
def test_what_go_refuses(text: str) -> None:
    assert parse_request_uri(text) is None
    assert not is_http_url(text)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("http://loadtester.test/", True),
        ("https://hooks.slack.test/services/T0/B0/x", True),
        ("http://127.0.0.1:9090", True),
        ("http://ho%C3%A9st.test/", True),  # an escaped non-ASCII byte is allowed in a host
        ("http://%25.test/", True),
        ("ftp://files.test/", False),
        ("http://", False),
        ("http:///path", False),
        ("/relative", False),
        ("prometheus:9090", False),  # parsed as scheme "prometheus", opaque "9090"
    ],
)
def test_an_http_url_has_an_http_scheme_and_a_host(text: str, *, valid: bool) -> None:
    assert is_http_url(text) is valid
