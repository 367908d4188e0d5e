"""Credentials in URLs are masked wherever a URL is shown."""

from __future__ import annotations

import pytest

from canary.core.redaction import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pa55@host.example/hook", "https://user:***@host.example/hook"),
        ("http://user:p%40ss@127.0.0.1:9090", "http://user:***@127.0.0.1:9090"),
        ("https://user:p@ss@host/x", "https://user:***@host/x"),
        ("https://ghp_abcdef@host/x", "https://***@host/x"),
        ("https://host/x?token=abc&x=1", "https://host/x?token=***&x=1"),
        ("https://host/x?access_token=abc", "https://host/x?access_token=***"),
        ("https://host/x?api-key=abc&apikey=d", "https://host/x?api-key=***&apikey=***"),
        ("https://host/x?sig=abc&monkey=banana", "https://host/x?sig=***&monkey=banana"),
        ("https://u:p@host/x?password=q#frag", "https://u:***@host/x?password=***#frag"),
        # Nothing to hide: unchanged, byte for byte.
        ("https://host.example:8443/a/b?x=1&y", "https://host.example:8443/a/b?x=1&y"),
        ("http://[::1]:9090/api", "http://[::1]:9090/api"),
        ("not a url", "not a url"),
        ("https://u:p@[::1", "https://***@[::1"),
    ],
)
def test_a_url_keeps_its_address_and_loses_its_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_every_url_in_a_text_is_masked() -> None:
    text = (
        "webhook gate (https://admin:hunter2@hooks.example/gate): cannot connect;"
        " 'http://tok@127.0.0.1:8080/x?token=abc', retry at http://plain.example/"
    )
    assert redact_text(text) == (
        "webhook gate (https://admin:***@hooks.example/gate): cannot connect;"
        " 'http://***@127.0.0.1:8080/x?token=***', retry at http://plain.example/"
    )


def test_a_text_without_urls_is_unchanged() -> None:
    text = "user:password@host is not a URL without a scheme"
    assert redact_text(text) is text
