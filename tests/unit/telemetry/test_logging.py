"""Logs never carry the credentials of a URL, from structlog or from the standard library."""

from __future__ import annotations

import logging

from canary.telemetry.logging import redact_credentials, redact_record


def test_every_logged_value_is_redacted() -> None:
    event = {
        "event": "webhook_called",
        "message": "webhook w (https://u:pw@h/x?token=t): HTTP 500",
        "urls": ["http://a:b@h", ("http://c:d@h",)],
        "nested": {"address": "https://tok@hooks.example/s"},
        "count": 3,
    }
    assert redact_credentials(None, "info", event) == {
        "event": "webhook_called",
        "message": "webhook w (https://u:***@h/x?token=***): HTTP 500",
        "urls": ["http://a:***@h", ("http://c:***@h",)],
        "nested": {"address": "https://***@hooks.example/s"},
        "count": 3,
    }


def test_a_standard_library_record_is_redacted() -> None:
    record = logging.LogRecord(
        "aiohttp", logging.WARNING, __file__, 1, "cannot reach %s", ("https://u:pw@h",), None
    )
    assert redact_record(record)
    assert record.getMessage() == "cannot reach https://u:***@h"
