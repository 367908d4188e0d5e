"""structlog configuration: JSON lines in a cluster, readable lines in a terminal.

Events have stable snake_case names (`canary_advanced`, `watch_relist`) and bound context
(canary, namespace, phase, revision), so logs can be filtered without parsing prose.

Every value logged, and every standard-library log record, passes through
`canary.core.redaction` first: a URL with credentials (a webhook's, a Prometheus address) never
reaches the log with its password or token.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

from canary.core.redaction import redact_text

LogFormat = Literal["json", "console", "auto"]


def configure(log_format: LogFormat = "auto", level: str = "info") -> None:
    """Route structlog (and the standard library's logging) to stderr in the chosen format."""
    if log_format == "auto":
        log_format = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_credentials,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        stream=sys.stderr, level=max(numeric, logging.WARNING), format="%(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact_record)


def redact_credentials(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: credentials in URLs masked in every value of the event."""
    for key, value in event.items():
        event[key] = _redacted(value)
    return event


def _redacted(value: Any) -> Any:
    match value:
        case str():
            return redact_text(value)
        case dict():
            return {key: _redacted(item) for key, item in value.items()}
        case list():
            return [_redacted(item) for item in value]
        case tuple():
            return tuple(_redacted(item) for item in value)
        case _:
            return value


def redact_record(record: logging.LogRecord) -> bool:
    """logging filter: the same for the standard library's records (aiohttp, asyncio)."""
    message = record.getMessage()
    redacted = redact_text(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    return True
