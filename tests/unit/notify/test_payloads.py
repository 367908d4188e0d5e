"""What each provider type receives for an alert: its own JSON shape, with the Canary, namespace,
cluster, phase and the failed check (with its value and range) in it, colored by severity."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from canary.api import AlertProviderSpec, Phase
from canary.api.alertprovider import AlertProviderType
from canary.notify import Alert, ProviderSettings, Severity, payload
from canary.notify.payloads import (
    discord_payload,
    gchat_payload,
    msteams_payload,
    slack_payload,
    webhook_payload,
)

FAILED = Alert(
    canary="podinfo",
    namespace="test",
    cluster="prod-eu",
    phase=Phase.FAILED,
    severity="error",
    message="Failed checks threshold reached 2",
    fields=(("Failed check", "error-rate"), ("Value", "4.2"), ("Range", "max 1")),
)
EXPECTED_FACTS = [
    ("Cluster", "prod-eu"),
    ("Phase", "Failed"),
    ("Severity", "error"),
    ("Failed check", "error-rate"),
    ("Value", "4.2"),
    ("Range", "max 1"),
]


def _alert(severity: Severity, **changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "canary": "podinfo",
        "namespace": "test",
        "phase": Phase.PROGRESSING,
        "severity": severity,
        "message": "New revision detected, progressing canary analysis.",
    }
    return Alert(**(fields | changes))


@pytest.mark.parametrize("kind", get_args(AlertProviderType))
def test_every_payload_says_which_canary_where_and_what_failed(kind: AlertProviderType) -> None:
    text = json.dumps(payload(kind, FAILED))
    for expected in ("podinfo", "test", "prod-eu", "Failed", "error-rate", "4.2", "max 1"):
        assert expected in text, (kind, expected)
    assert "Failed checks threshold reached 2" in text


def test_slack_is_an_attachment_with_fields_and_defaults() -> None:
    body = payload("slack", FAILED)
    assert body["channel"] == "general"
    assert body["username"] == "canary"
    assert body["icon_emoji"] == ":rocket:"
    [attachment] = body["attachments"]
    assert attachment["color"] == "danger"
    assert attachment["author_name"] == "podinfo.test"
    assert attachment["text"] == "Failed checks threshold reached 2"
    assert attachment["mrkdwn_in"] == ["text"]
    assert attachment["fallback"] == "podinfo.test: Failed checks threshold reached 2"
    assert [(f["title"], f["value"], f["short"]) for f in attachment["fields"]] == [
        (name, value, False) for name, value in EXPECTED_FACTS
    ]
    custom = slack_payload(FAILED, channel="releases", username="deployer")
    assert (custom["channel"], custom["username"]) == ("releases", "deployer")


def test_slack_escapes_its_markup() -> None:
    body = slack_payload(_alert("info", message="a <b> & c"), channel="c", username="u")
    assert body["attachments"][0]["text"] == "a &lt;b&gt; &amp; c"


def test_msteams_is_a_message_card() -> None:
    body = msteams_payload(FAILED)
    assert body["@type"] == "MessageCard"
    assert body["@context"] == "http://schema.org/extensions"
    assert body["themeColor"] == "FF0000"
    assert body["summary"] == "podinfo.test: Failed checks threshold reached 2"
    [section] = body["sections"]
    assert section["activityTitle"] == "Failed checks threshold reached 2"
    assert section["activitySubtitle"] == "podinfo.test"
    assert [(f["name"], f["value"]) for f in section["facts"]] == EXPECTED_FACTS


def test_discord_is_one_embed_within_discords_limits() -> None:
    body = discord_payload(FAILED, username="canary")
    assert body["username"] == "canary"
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "podinfo.test"
    assert embed["description"] == "Failed checks threshold reached 2"
    assert embed["color"] == 0xFF0000
    assert [(f["name"], f["value"]) for f in embed["fields"]] == EXPECTED_FACTS

    many = tuple((f"check-{i}", "x" * 2000) for i in range(40))
    [big] = discord_payload(_alert("warn", message="m" * 5000, fields=many), username="u")["embeds"]
    assert len(big["description"]) == 4096
    assert len(big["fields"]) == 25
    assert all(len(f["value"]) <= 1024 for f in big["fields"])
    [empty] = discord_payload(_alert("info", fields=(("Note", ""),)), username="u")["embeds"]
    assert empty["fields"][-1] == {"name": "Note", "value": "-", "inline": False}


def test_gchat_is_a_card_with_escaped_text() -> None:
    body = gchat_payload(FAILED)
    [card] = body["cardsV2"]
    header = card["card"]["header"]
    assert header == {"title": "podinfo.test", "subtitle": "Failed (error)"}
    [section] = card["card"]["sections"]
    first, *facts = section["widgets"]
    assert first == {
        "textParagraph": {
            "text": '<font color="#FF0000"><b>Failed checks threshold reached 2</b></font>'
        }
    }
    assert [(w["decoratedText"]["topLabel"], w["decoratedText"]["text"]) for w in facts] == (
        EXPECTED_FACTS
    )
    escaped = gchat_payload(_alert("info", message="<script>"))
    widgets = escaped["cardsV2"][0]["card"]["sections"][0]["widgets"]
    assert "&lt;script&gt;" in widgets[0]["textParagraph"]["text"]


def test_the_generic_webhook_is_the_alert_itself() -> None:
    assert webhook_payload(FAILED) == {
        "canary": "podinfo",
        "namespace": "test",
        "cluster": "prod-eu",
        "phase": "Failed",
        "severity": "error",
        "message": "Failed checks threshold reached 2",
        "fields": [
            {"name": "Failed check", "value": "error-rate"},
            {"name": "Value", "value": "4.2"},
            {"name": "Range", "value": "max 1"},
        ],
    }
    assert webhook_payload(_alert("info"))["cluster"] is None


@pytest.mark.parametrize(
    ("severity", "slack", "hex_color"),
    [("info", "good", "0076D7"), ("warn", "warning", "FFA500"), ("error", "danger", "FF0000")],
)
def test_severity_picks_the_color(severity: Severity, slack: str, hex_color: str) -> None:
    alert = _alert(severity)
    assert payload("slack", alert)["attachments"][0]["color"] == slack
    assert payload("msteams", alert)["themeColor"] == hex_color
    assert payload("discord", alert)["embeds"][0]["color"] == int(hex_color, 16)
    paragraph = payload("gchat", alert)["cardsV2"][0]["card"]["sections"][0]["widgets"][0]
    assert f'color="#{hex_color}"' in paragraph["textParagraph"]["text"]
    assert payload("webhook", alert)["severity"] == severity


def test_without_a_cluster_no_cluster_fact_is_shown() -> None:
    alert = _alert("info")
    assert alert.facts() == (("Phase", "Progressing"), ("Severity", "info"))
    assert "Cluster" not in json.dumps(payload("msteams", alert))


def test_settings_apply_the_notifier_defaults_and_hide_secrets() -> None:
    spec = AlertProviderSpec.model_validate({"type": "slack", "secretRef": {"name": "hook"}})
    token = "-".join(("not", "a", "real", "token"))
    settings = ProviderSettings.from_spec(
        spec, address="https://hooks.slack.test/services/SECRET", token=token
    )
    assert (settings.type, settings.channel, settings.username) == ("slack", "general", "canary")
    assert settings.token == token
    assert "SECRET" not in repr(settings)
    assert token not in repr(settings)
    with pytest.raises(ValueError, match="has no address"):
        ProviderSettings.from_spec(spec)
    direct = AlertProviderSpec.model_validate(
        {"type": "discord", "address": "https://discord.test/api/webhooks/1/x", "username": "rel"}
    )
    from_address = ProviderSettings.from_spec(direct, token="")
    assert from_address.address == "https://discord.test/api/webhooks/1/x"
    assert (from_address.username, from_address.token) == ("rel", None)
