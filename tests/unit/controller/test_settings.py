"""The controller's flags that carry Flagger's meaning."""

from __future__ import annotations

import argparse

import pytest

from canary.controller.settings import add_arguments, from_arguments
from canary.routers.settings import ControllerRouting


def _settings(*argv: str) -> tuple[str, ...]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_arguments(parser.parse_args(list(argv))).include_label_prefixes


def test_include_label_prefix_is_flaggers_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CANARY_INCLUDE_LABEL_PREFIX", raising=False)
    assert _settings() == (), "Flagger's default copies no label"
    assert _settings("--include-label-prefix=app.kubernetes.io, team,") == (
        "app.kubernetes.io",
        "team",
    )
    assert _settings("--include-label-prefix", "*") == ("*",)
    monkeypatch.setenv("CANARY_INCLUDE_LABEL_PREFIX", "team")
    assert _settings() == ("team",)


def _sharded(*argv: str) -> tuple[str, str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    settings = from_arguments(parser.parse_args(list(argv)))
    return settings.watch_label_selector, settings.leader_election_id


def test_each_shard_holds_its_own_lease_unless_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("CANARY_WATCH_LABEL_SELECTOR", "CANARY_LEADER_ELECTION_ID"):
        monkeypatch.delenv(variable, raising=False)
    assert _sharded() == ("", "canary-controller")
    one = _sharded("--watch-label-selector=sharding.canary.dev/key in (shard1)")
    two = _sharded("--watch-label-selector=sharding.canary.dev/key in (shard2)")
    assert one[0] == "sharding.canary.dev/key in (shard1)"
    assert one[1].startswith("canary-controller-")
    assert len({one[1], two[1], "canary-controller"}) == 3  # three Leases
    named = _sharded("--watch-label-selector=a=b", "--leader-election-id=shard-a")
    assert named == ("a=b", "shard-a")


def _routing(*argv: str) -> ControllerRouting:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_arguments(parser.parse_args(list(argv))).routing


def test_flaggers_routing_flags_reach_the_routers_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("CANARY_INGRESS_ANNOTATIONS_PREFIX", "CANARY_INGRESS_CLASS"):
        monkeypatch.delenv(variable, raising=False)
    assert _routing() == ControllerRouting(
        ingress_annotations_prefix="nginx.ingress.kubernetes.io", ingress_class=""
    ), "Flagger's defaults"
    assert _routing(
        "--ingress-annotations-prefix=custom.nginx.example.com", "--ingress-class=contour-int"
    ) == ControllerRouting(
        ingress_annotations_prefix="custom.nginx.example.com", ingress_class="contour-int"
    )
    monkeypatch.setenv("CANARY_INGRESS_ANNOTATIONS_PREFIX", "nginx.example.org")
    monkeypatch.setenv("CANARY_INGRESS_CLASS", "internal")
    assert _routing() == ControllerRouting(
        ingress_annotations_prefix="nginx.example.org", ingress_class="internal"
    )


@pytest.mark.parametrize(
    "argument",
    [
        "--ingress-annotations-prefix=",
        "--ingress-annotations-prefix=Nginx/x",
        "--ingress-class=A B",
    ],
)
def test_a_routing_flag_that_cannot_be_an_annotation_or_class_is_refused_naming_it(
    argument: str,
) -> None:
    flag = argument.partition("=")[0]
    with pytest.raises(SystemExit, match=f"canary run: error: {flag} .* is not a DNS subdomain"):
        _routing(argument)
