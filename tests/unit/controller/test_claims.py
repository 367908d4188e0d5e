"""Who holds a Canary's objects when two Canaries want the same ones: the rules of `claims`.

Each pair of Canaries must agree without talking: exactly one of two overlapping Canaries wins,
whichever of them asks.
"""

from __future__ import annotations

from typing import Any

import pytest

from canary.controller.claims import (
    Claimant,
    Owner,
    Owners,
    canary_owner,
    claimant,
    conflict_message,
    label_value_fits,
    loss_to,
    name_problems,
)


def raw(
    name: str,
    *,
    target: str = "podinfo",
    service: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
    provider: str | None = None,
    hpa: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"targetRef": {"kind": "Deployment", "name": target}, "service": {}}
    if service is not None:
        spec["service"]["name"] = service
    if provider is not None:
        spec["provider"] = provider
    if hpa is not None:
        spec["autoscalerRef"] = {"kind": "HorizontalPodAutoscaler", "name": hpa}
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": f"uid-{name}",
            "creationTimestamp": created,
        },
        "spec": spec,
    }


def of(obj: dict[str, Any], provider: str = "linkerd") -> Claimant:
    return claimant(obj, default_provider=provider)


def owned(*pairs: tuple[str, str, str]) -> Owners:
    """(kind, name, owner Canary) -> the owners map."""
    return {
        (kind, name): Owner(owner, f"uid-{owner}", "canary.dev/v1alpha1")
        for kind, name, owner in pairs
    }


def winner(a: Claimant, b: Claimant, owners: Owners) -> str:
    a_loses, b_loses = loss_to(a, b, owners), loss_to(b, a, owners)
    assert (a_loses is None) != (b_loses is None), "exactly one of the two must win"
    return a.name if a_loses is None else b.name


def test_claims_are_the_target_and_every_derived_object() -> None:
    claims = of(raw("web", target="podinfo", service="web", hpa="podinfo")).claims
    assert [(c.kind, c.name, c.role) for c in claims] == [
        ("Deployment", "podinfo", "target"),
        ("Deployment", "podinfo-primary", "primary Deployment"),
        ("Service", "web", "apex Service"),
        ("Service", "web-primary", "primary Service"),
        ("Service", "web-canary", "canary Service"),
        ("TrafficSplit", "web", "route"),
        ("HorizontalPodAutoscaler", "podinfo-primary", "primary HPA"),
    ]
    assert [c.kind for c in of(raw("a", provider="kubernetes")).claims] == [
        "Deployment",
        "Deployment",
        "Service",
        "Service",
        "Service",
    ]
    assert of(raw("a", provider="gatewayapi:v1")).claims[-1].kind == "HTTPRoute"
    scaled = raw("a")
    scaled["spec"]["autoscalerRef"] = {"kind": "ScaledObject", "name": "podinfo-so"}
    last = of(scaled).claims[-1]
    assert (last.kind, last.name, last.role) == (
        "ScaledObject",
        "podinfo-so-primary",
        "primary ScaledObject",
    )
    assert of({"metadata": {"name": "broken"}, "spec": "nonsense"}).claims == ()


def test_the_owner_of_the_shared_objects_holds_them_whatever_the_age() -> None:
    older, newer = raw("older"), raw("newer", created="2026-01-02T00:00:00Z")
    owners = owned(("Deployment", "podinfo-primary", "newer"), ("Service", "podinfo", "newer"))
    assert winner(of(older), of(newer), owners) == "newer"
    loss = loss_to(of(older), of(newer), owners)
    assert loss is not None
    assert conflict_message(loss, namespace="team").startswith(
        "Deployment team/podinfo (this Canary's target) is the target of Canary team/newer, "
        "which holds it (it owns Deployment podinfo-primary)"
    )


def test_targeting_another_canarys_primary_loses_even_before_it_exists() -> None:
    holder = raw("podinfo", created="2026-01-02T00:00:00Z")
    intruder = raw("intruder", target="podinfo-primary")  # older, yet it loses
    assert winner(of(holder), of(intruder), {}) == "podinfo"
    loss = loss_to(of(intruder), of(holder), {})
    assert loss is not None
    assert (loss.claim.name, loss.claim.role, loss.their_role) == (
        "podinfo-primary",
        "target",
        "primary Deployment",
    )


def test_with_nothing_owned_the_first_created_holds_and_the_name_breaks_ties() -> None:
    first, second = raw("b-first"), raw("a-second", created="2026-01-01T00:00:01Z")
    assert winner(of(first), of(second), {}) == "b-first"
    same_time = raw("a-same")
    assert winner(of(first), of(same_time), {}) == "a-same"


def test_owning_objects_on_both_sides_falls_back_to_age() -> None:
    a, b = raw("a"), raw("b", created="2026-01-03T00:00:00Z")
    owners = owned(("Deployment", "podinfo-primary", "a"), ("Service", "podinfo", "b"))
    assert winner(of(a), of(b), owners) == "a"


def test_canaries_that_share_nothing_both_act() -> None:
    a, b = of(raw("a", target="one")), of(raw("b", target="two"))
    assert loss_to(a, b, {}) is None
    assert loss_to(b, a, {}) is None


def test_a_shared_apex_service_name_is_a_conflict() -> None:
    a = of(raw("a", target="one", service="web"))
    b = of(raw("b", target="web", created="2026-02-01T00:00:00Z"))
    assert winner(a, b, {}) == "a"


@pytest.mark.parametrize(
    ("target", "service", "bad"),
    [
        ("p" * 56, None, ["p" * 56 + "-primary"]),  # -canary fits in 63 exactly
        ("po.dinfo", None, ["po.dinfo", "po.dinfo-primary", "po.dinfo-canary"]),
        ("p" * 246, "web", ["p" * 246 + "-primary"]),
        ("p" * 55, None, []),
        ("po.dinfo", "web", []),
        ("1podinfo", None, []),  # a Service name may start with a digit (Kubernetes 1.34+)
    ],
)
def test_impossible_derived_names_are_found(
    target: str, service: str | None, bad: list[str]
) -> None:
    problems = name_problems(of(raw("a", target=target, service=service)).claims)
    assert [name for name in bad if any(repr(name) in p for p in problems)] == bad
    assert len(problems) == len(bad)


def test_the_primary_label_value_must_fit_in_63() -> None:
    assert label_value_fits("a" * 55)
    assert not label_value_fits("a" * 56)


def test_only_a_controlling_canary_counts_as_owner() -> None:
    def obj(*references: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"ownerReferences": list(references)}}

    canary = {"kind": "Canary", "name": "x", "uid": "u", "apiVersion": "flagger.app/v1beta1"}
    assert canary_owner(obj({**canary, "controller": True})) == Owner(
        "x", "u", "flagger.app/v1beta1"
    )
    assert canary_owner(obj({**canary, "controller": False})) is None
    assert canary_owner(obj({**canary, "kind": "ConfigMap", "controller": True})) is None
    assert canary_owner(None) is None


def test_a_knative_canary_claims_only_its_knative_service() -> None:
    manifest = raw("web")
    manifest["spec"] = {
        "provider": "knative",
        "targetRef": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "podinfo"},
    }
    claims = of(manifest, provider="knative").claims
    assert [(c.kind, c.name, c.role) for c in claims] == [
        ("Service.serving.knative.dev", "podinfo", "target")
    ]
    # A Deployment Canary of the same name shares nothing with it.
    deployment = of(raw("other"))
    assert not {c.key for c in claims} & {c.key for c in deployment.claims}
