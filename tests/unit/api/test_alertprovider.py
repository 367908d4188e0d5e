"""The AlertProvider model and its CRD: the types it accepts, address XOR secretRef, URL rules,
and the columns `kubectl get alertproviders` prints."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from canary.api import AlertProvider, AlertProviderSpec
from canary.api import alertprovider as module
from canary.api.alertprovider import (
    ADDRESS_XOR_SECRET_RULE,
    ALERT_ADDRESS_RULE,
    ALERT_PROXY_RULE,
    AlertProviderType,
)
from canary.api.base import CelRule
from canary.api.crd import alert_provider_crd, all_crds


def _provider(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call", "namespace": "test"},
        "spec": spec,
    }


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = alert_provider_crd()["spec"]["versions"][0]["schema"][
        "openAPIV3Schema"
    ]
    return schema


@pytest.mark.parametrize("kind", get_args(AlertProviderType))
def test_every_type_is_accepted_with_an_address(kind: str) -> None:
    provider = AlertProvider.model_validate(
        _provider(type=kind, address="https://hooks.example.test/T0/B0/x")
    )
    assert provider.spec.type == kind
    assert provider.spec.address == "https://hooks.example.test/T0/B0/x"
    # Defaults live in the notifier, not in the model: the stored object is what was written.
    assert (provider.spec.channel, provider.spec.username, provider.spec.proxy) == (
        None,
        None,
        None,
    )


def test_a_secret_ref_instead_of_an_address_and_camel_case_round_trip() -> None:
    manifest = _provider(
        type="slack",
        secretRef={"name": "slack-webhook"},
        channel="releases",
        username="deployer",
        proxy="http://proxy.internal:3128",
    )
    provider = AlertProvider.model_validate(manifest)
    assert provider.spec.secret_ref is not None
    assert provider.spec.secret_ref.name == "slack-webhook"
    assert provider.to_manifest()["spec"] == manifest["spec"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "slack"}, ADDRESS_XOR_SECRET_RULE.message),
        (
            {"type": "slack", "address": "https://hooks.test/x", "secretRef": {"name": "s"}},
            ADDRESS_XOR_SECRET_RULE.message,
        ),
        ({"type": "slack", "address": "hooks.slack.com/services/x"}, ALERT_ADDRESS_RULE.message),
        ({"type": "slack", "address": "ftp://hooks.test/x"}, ALERT_ADDRESS_RULE.message),
        (
            {"type": "slack", "address": "https://hooks.test/x", "proxy": "proxy:3128"},
            ALERT_PROXY_RULE.message,
        ),
        ({"type": "rocket", "address": "https://hooks.test/x"}, "Input should be 'slack'"),
        ({"type": "slack", "address": "https://hooks.test/x", "channel": ""}, "at least 1"),
    ],
    ids=["neither", "both", "no-scheme", "ftp", "bad-proxy", "unknown-type", "empty-channel"],
)
def test_bad_specs_are_refused_with_the_crds_messages(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        AlertProvider.model_validate(_provider(**spec))


def test_the_messages_say_what_to_do() -> None:
    assert ADDRESS_XOR_SECRET_RULE.message == "exactly one of address or secretRef must be set"
    assert ALERT_ADDRESS_RULE.message == "alert provider address must be an absolute http(s) URL"
    assert ALERT_PROXY_RULE.message == "alert provider proxy must be an absolute http(s) URL"


def test_the_crd_names_columns_and_scope() -> None:
    crd = all_crds()["alertproviders.yaml"]
    assert crd == alert_provider_crd()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "alertproviders.canary.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "AlertProvider",
        "listKind": "AlertProviderList",
        "plural": "alertproviders",
        "singular": "alertprovider",
        "categories": ["all"],
    }
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"], c["jsonPath"], c["type"]) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Type", ".spec.type", "string"),
        ("Age", ".metadata.creationTimestamp", "date"),
    ]


def test_the_schema_has_the_enum_the_bounds_and_every_rule() -> None:
    spec = _schema()["properties"]["spec"]
    assert spec["required"] == ["type"]
    properties = spec["properties"]
    assert properties["type"]["enum"] == ["slack", "msteams", "discord", "gchat", "webhook"]
    for name in ("address", "proxy", "channel", "username"):
        assert properties[name]["type"] == "string"
        assert "maxLength" in properties[name], name
    assert properties["secretRef"]["required"] == ["name"]
    assert spec["x-kubernetes-validations"] == [ADDRESS_XOR_SECRET_RULE.schema()]
    assert properties["address"]["x-kubernetes-validations"] == [ALERT_ADDRESS_RULE.schema()]
    assert properties["proxy"]["x-kubernetes-validations"] == [ALERT_PROXY_RULE.schema()]
    rules = {value for value in vars(module).values() if isinstance(value, CelRule)}
    assert rules == {ADDRESS_XOR_SECRET_RULE, ALERT_ADDRESS_RULE, ALERT_PROXY_RULE}
    assert AlertProviderSpec.model_validate({"type": "webhook", "secretRef": {"name": "s"}})
