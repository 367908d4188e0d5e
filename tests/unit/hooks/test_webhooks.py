"""The webhook payload's JSON shape, the backoff schedule and the retry policy."""

from __future__ import annotations

import json

import pytest

from canary.hooks.webhooks import (
    Backoff,
    WebhookPayload,
    excerpt,
    is_retryable_status,
    payload_bytes,
)


def test_the_payload_has_flaggers_field_names_and_order() -> None:
    payload = WebhookPayload(
        name="podinfo",
        namespace="test",
        phase="Progressing",
        checksum="abc123",
        type="pre-rollout",
        metadata={"cmd": "hey -z 1m http://podinfo-canary.test:9898/"},
    )
    assert payload_bytes(payload) == (
        b'{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc123",'
        b'"type":"pre-rollout","metadata":{"cmd":"hey -z 1m http://podinfo-canary.test:9898/"}}'
    )


def test_empty_metadata_is_omitted_as_in_flagger() -> None:
    document = json.loads(payload_bytes(WebhookPayload("podinfo", "test", "Waiting")))
    assert document == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Waiting",
        "checksum": "",
        "type": "rollout",
    }


def test_the_backoff_doubles_up_to_its_cap_without_jitter() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, jitter=0.2)
    no_jitter = [backoff.delay(n, rand=lambda: 0.0) for n in range(1, 7)]
    assert no_jitter == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    full_jitter = [backoff.delay(n, rand=lambda: 1.0) for n in range(1, 7)]
    assert full_jitter == pytest.approx([0.8, 1.6, 3.2, 6.4, 8.0, 8.0])


def test_the_backoff_never_overflows_and_stays_within_its_bounds() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.5)
    for retry in (1, 5, 64, 10_000):
        delay = backoff.delay(retry)
        assert 0 < delay <= 30.0
    with pytest.raises(ValueError, match="start at 1"):
        backoff.delay(0)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (599, True),
        (501, False),
        (400, False),
        (404, False),
        (204, False),
        (302, False),
    ],
)
def test_only_429_and_5xx_except_501_are_retried(status: int, *, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_excerpts_are_short_single_line_and_valid_text() -> None:
    assert excerpt(b"  line one\n\tline two \xff ") == "line one line two \ufffd"
    long = excerpt(b"x" * 10_000)
    assert len(long) == 512
    assert long.endswith("...")
    assert excerpt(b"cut", truncated=True) == "cut..."
