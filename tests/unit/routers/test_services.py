"""The three Services: names, selectors, ports, labels, GitOps opt-out annotations, owner."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from canary.kube.resources import CanaryRef
from canary.routers.kubernetes import (
    ServiceMetadata,
    ServiceSpec,
    adoption_patch,
    discovered_ports,
    services,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def build(spec: ServiceSpec) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return services(spec, selector_label="app", selector_value="podinfo", owner=OWNER)


def test_names_and_selectors_send_the_apex_and_primary_to_primary_pods() -> None:
    apex, primary, canary = build(ServiceSpec(name="podinfo", port=9898))
    assert [s["metadata"]["name"] for s in (apex, primary, canary)] == [
        "podinfo",
        "podinfo-primary",
        "podinfo-canary",
    ]
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    assert primary["spec"]["selector"] == {"app": "podinfo-primary"}
    assert canary["spec"]["selector"] == {"app": "podinfo"}


def test_every_service_is_a_namespaced_cluster_ip_owned_by_the_canary() -> None:
    for built in build(ServiceSpec(name="podinfo", port=9898)):
        assert built["apiVersion"] == "v1"
        assert built["kind"] == "Service"
        assert built["metadata"]["namespace"] == "test"
        assert built["spec"]["type"] == "ClusterIP"
        assert built["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "Canary",
                "name": "podinfo",
                "uid": "uid-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


def test_the_port_defaults_its_name_and_target_port() -> None:
    apex, _, _ = build(ServiceSpec(name="podinfo", port=9898))
    assert apex["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}
    ]


def test_the_port_carries_a_named_target_port_and_app_protocol() -> None:
    spec = ServiceSpec(
        name="podinfo",
        port=80,
        port_name="grpc",
        target_port="grpc-port",
        app_protocol="kubernetes.io/h2c",
    )
    for built in build(spec):
        assert built["spec"]["ports"] == [
            {
                "name": "grpc",
                "protocol": "TCP",
                "port": 80,
                "targetPort": "grpc-port",
                "appProtocol": "kubernetes.io/h2c",
            }
        ]


def test_labels_and_annotations_are_the_users_plus_name_label_and_gitops_opt_out() -> None:
    spec = ServiceSpec(name="web", port=80, labels={"team": "a"}, annotations={"note": "hello"})
    apex, primary, canary = build(spec)
    assert apex["metadata"]["labels"] == {"team": "a", "app": "web"}
    assert primary["metadata"]["labels"] == {"team": "a", "app": "web-primary"}
    assert canary["metadata"]["labels"] == {"team": "a", "app": "web-canary"}
    for built in (apex, primary, canary):
        assert built["metadata"]["annotations"] == {"note": "hello", **OPT_OUT}


def test_the_apex_name_may_differ_from_the_pods_label() -> None:
    apex, primary, canary = build(ServiceSpec(name="frontend", port=80))
    assert [s["metadata"]["name"] for s in (apex, primary, canary)] == [
        "frontend",
        "frontend-primary",
        "frontend-canary",
    ]
    assert canary["spec"]["selector"] == {"app": "podinfo"}
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}


def test_adopting_a_users_service_replaces_its_ports_and_selector() -> None:
    apex, _, _ = build(ServiceSpec(name="podinfo", port=80, target_port=9898))
    users = {
        "metadata": {"name": "podinfo"},
        "spec": {
            "selector": {"app": "podinfo", "tier": "web"},
            "ports": [{"name": "http", "port": 9898, "protocol": "TCP", "targetPort": 9898}],
        },
    }
    assert adoption_patch(users, apex) == {
        "spec": {
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898}],
            "selector": {"app": "podinfo-primary", "tier": None},
        }
    }
    adopted = {"metadata": {"name": "podinfo"}, "spec": dict(apex["spec"])}
    assert adoption_patch(adopted, apex) is None


def test_apex_primary_and_canary_get_their_own_labels_and_annotations() -> None:
    spec = ServiceSpec(
        name="web",
        port=80,
        labels={"shared": "yes"},
        apex=ServiceMetadata(labels={"team": "a"}, annotations={"note": "apex"}),
        primary=ServiceMetadata(labels={"role": "primary"}),
        canary=ServiceMetadata(annotations={"role": "canary"}),
    )
    apex, primary, canary = build(spec)
    assert apex["metadata"]["labels"] == {"shared": "yes", "team": "a", "app": "web"}
    assert apex["metadata"]["annotations"] == {"note": "apex", **OPT_OUT}
    assert primary["metadata"]["labels"] == {
        "shared": "yes",
        "role": "primary",
        "app": "web-primary",
    }
    assert primary["metadata"]["annotations"] == OPT_OUT
    assert canary["metadata"]["labels"] == {"shared": "yes", "app": "web-canary"}
    assert canary["metadata"]["annotations"] == {"role": "canary", **OPT_OUT}


CONTAINERS: list[dict[str, Any]] = [
    {
        "name": "app",
        "ports": [
            {"name": "http", "containerPort": 9898},
            {"name": "http-metrics", "containerPort": 9797},
            {"containerPort": 9999},
        ],
    },
    {"name": "istio-proxy", "ports": [{"name": "http-envoy-prom", "containerPort": 15090}]},
    {"name": "sidecar", "ports": [{"name": "grpc", "containerPort": 9797}]},
]


def test_port_discovery_adds_the_other_container_ports_as_flagger_does() -> None:
    spec = ServiceSpec(name="podinfo", port=9898)
    found = discovered_ports(spec, CONTAINERS)
    # 9898 is the Services' own port, istio-proxy is a mesh proxy, 9797 is taken by then.
    assert found == (("http-metrics", 9797), ("tcp-app-2", 9999))
    apex, _, _ = build(replace(spec, discovered_ports=found))
    assert apex["spec"]["ports"][1:] == [
        {"name": "http-metrics", "protocol": "TCP", "port": 9797, "targetPort": 9797},
        {"name": "tcp-app-2", "protocol": "TCP", "port": 9999, "targetPort": 9999},
    ]


def test_port_discovery_leaves_out_the_target_port_by_number_or_name() -> None:
    by_number = ServiceSpec(name="podinfo", port=80, port_name="web", target_port=9797)
    assert discovered_ports(by_number, CONTAINERS[:1]) == (("http", 9898), ("tcp-app-2", 9999))
    by_name = ServiceSpec(name="podinfo", port=80, port_name="web", target_port="http")
    assert discovered_ports(by_name, CONTAINERS[:1]) == (
        ("http-metrics", 9797),
        ("tcp-app-2", 9999),
    )
