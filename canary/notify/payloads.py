"""The JSON body each kind of alert provider receives for an `Alert`: pure functions, no I/O.

Every body names the Canary as `<name>.<namespace>` and shows the message, then the facts
(cluster when known, phase, severity, and the alert's fields, e.g. the failed check with its value
and range). The severity picks a color: green or blue for info, orange for warn, red for error.

* slack: an incoming-webhook message with one attachment (`color` is Slack's `good`, `warning` or
  `danger`); text is escaped for Slack's mrkdwn.
* msteams: a connector MessageCard (`themeColor`, one section with `facts`).
* discord: a native Discord webhook message with one embed (Discord's length limits applied,
  mentions disabled so a message cannot ping `@everyone`).
* gchat: a Google Chat message with one card (`cardsV2`); text is HTML-escaped.
* webhook: the alert itself, for any receiver (a documented, stable shape)::

    {"canary": "podinfo", "namespace": "test", "cluster": "prod-eu" | null,
     "phase": "Failed", "severity": "info" | "warn" | "error",
     "message": "Failed checks threshold reached 2",
     "fields": [{"name": "Failed check", "value": "error-rate"}, ...]}
"""

from __future__ import annotations

import html
from typing import Any, Final, assert_never

from canary.api.alertprovider import AlertProviderType
from canary.notify.alert import Alert, Severity

Payload = dict[str, Any]

DEFAULT_CHANNEL: Final = "general"
DEFAULT_USERNAME: Final = "canary"

SLACK_COLORS: Final[dict[Severity, str]] = {"info": "good", "warn": "warning", "error": "danger"}
# RGB hex without `#` (MS Teams' themeColor); Discord takes the same as an integer.
HEX_COLORS: Final[dict[Severity, str]] = {"info": "0076D7", "warn": "FFA500", "error": "FF0000"}

# Discord refuses an embed over its limits rather than truncating it.
_DISCORD_TITLE = 256
_DISCORD_DESCRIPTION = 4096
_DISCORD_FIELD_NAME = 256
_DISCORD_FIELD_VALUE = 1024
_DISCORD_FIELDS = 25


def payload(
    provider_type: AlertProviderType,
    alert: Alert,
    *,
    channel: str = DEFAULT_CHANNEL,
    username: str = DEFAULT_USERNAME,
) -> Payload:
    """The body to POST to a provider of `provider_type` for `alert`."""
    match provider_type:
        case "slack":
            return slack_payload(alert, channel=channel, username=username)
        case "msteams":
            return msteams_payload(alert)
        case "discord":
            return discord_payload(alert, username=username)
        case "gchat":
            return gchat_payload(alert)
        case "webhook":
            return webhook_payload(alert)
        case _:
            assert_never(provider_type)


def slack_payload(alert: Alert, *, channel: str, username: str) -> Payload:
    return {
        "channel": channel,
        "username": username,
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": SLACK_COLORS[alert.severity],
                "fallback": f"{alert.subject}: {alert.message}",
                "author_name": alert.subject,
                "text": _slack_escape(alert.message),
                "mrkdwn_in": ["text"],
                "fields": [
                    {"title": _slack_escape(name), "value": _slack_escape(value), "short": False}
                    for name, value in alert.facts()
                ],
            }
        ],
    }


def msteams_payload(alert: Alert) -> Payload:
    return {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": HEX_COLORS[alert.severity],
        "summary": f"{alert.subject}: {alert.message}",
        "sections": [
            {
                "activityTitle": alert.message,
                "activitySubtitle": alert.subject,
                "facts": [{"name": name, "value": value} for name, value in alert.facts()],
            }
        ],
    }


def discord_payload(alert: Alert, *, username: str) -> Payload:
    facts = alert.facts()[:_DISCORD_FIELDS]
    return {
        "username": username,
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": _clip(alert.subject, _DISCORD_TITLE),
                "description": _clip(alert.message, _DISCORD_DESCRIPTION),
                "color": int(HEX_COLORS[alert.severity], 16),
                "fields": [
                    {
                        "name": _clip(name, _DISCORD_FIELD_NAME) or "-",
                        "value": _clip(value, _DISCORD_FIELD_VALUE) or "-",
                        "inline": False,
                    }
                    for name, value in facts
                ],
            }
        ],
    }


def gchat_payload(alert: Alert) -> Payload:
    color = HEX_COLORS[alert.severity]
    message = html.escape(alert.message)
    widgets: list[Payload] = [
        {"textParagraph": {"text": f'<font color="#{color}"><b>{message}</b></font>'}}
    ]
    widgets.extend(
        {"decoratedText": {"topLabel": html.escape(name), "text": html.escape(value)}}
        for name, value in alert.facts()
    )
    return {
        "cardsV2": [
            {
                "cardId": "canary-alert",
                "card": {
                    "header": {
                        "title": alert.subject,
                        "subtitle": f"{alert.phase} ({alert.severity})",
                    },
                    "sections": [{"widgets": widgets}],
                },
            }
        ]
    }


def webhook_payload(alert: Alert) -> Payload:
    return {
        "canary": alert.canary,
        "namespace": alert.namespace,
        "cluster": alert.cluster or None,
        "phase": str(alert.phase),
        "severity": alert.severity,
        "message": alert.message,
        "fields": [{"name": name, "value": value} for name, value in alert.fields],
    }


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn treats `&`, `<` and `>` as markup; these three are all it asks to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
