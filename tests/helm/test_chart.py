"""The Helm chart, rendered: lint, what it renders with default and namespaced values, that its
schema rejects bad values by name, that its CRDs are the generated ones, and that the arguments
it gives the controller and the load tester are ones they accept.

No cluster is needed here, only the sandbox's helm binary (tests/helm/test_chart_cluster.py
installs the chart).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import tomllib
from typing import Any

import pytest
import yaml

from canary.api.crdgen import CHART_DIR, differences
from canary.cli.main import build_parser
from canary.controller.settings import from_arguments
from canary.routers.registry import KNOWN_PROVIDERS
from canary.routers.settings import ControllerRouting
from tests.helm.chart import CHART, REPOSITORY, Tools, container, find, one

CONTROLLER_RULES = {  # the controller's (Cluster)Role, as docs/install.md lists it
    ("canary.dev", "canaries"): {"get", "list", "watch", "patch"},
    ("canary.dev", "canaries/status"): {"update"},
    ("canary.dev", "canaries/finalizers"): {"update"},
    ("canary.dev", "metrictemplates"): {"get", "list", "watch"},
    ("canary.dev", "alertproviders"): {"get"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch"},
    ("apps", "daemonsets"): {"get", "list", "watch", "create", "patch"},
    ("", "configmaps"): {"get", "list", "watch", "create", "patch"},
    ("", "secrets"): {"get", "list", "watch", "create", "patch"},
    ("", "services"): {"get", "list", "watch", "create", "patch"},
    ("", "events"): {"create"},
    ("", "namespaces"): {"get"},
    ("autoscaling", "horizontalpodautoscalers"): {"get", "create", "patch"},
    ("keda.sh", "scaledobjects"): {"get", "create", "patch"},
    ("split.smi-spec.io", "trafficsplits"): {"get", "list", "watch", "create", "patch", "delete"},
    ("specs.smi-spec.io", "httproutegroups"): {"create", "patch"},
    ("gateway.networking.k8s.io", "httproutes"): {
        "get",
        "list",
        "watch",
        "create",
        "patch",
        "delete",
    },
    # nginx, skipper: read the user's Ingress, write `<ingress>-canary`
    ("networking.k8s.io", "ingresses"): {"get", "create", "patch"},
    ("networking.istio.io", "virtualservices"): {"get", "create", "patch", "delete"},
    ("networking.istio.io", "destinationrules"): {"get", "create", "patch", "delete"},
    ("projectcontour.io", "httpproxies"): {"get", "create", "patch"},
    ("gateway.solo.io", "routetables"): {"get", "create", "patch"},
    ("gloo.solo.io", "upstreams"): {"get", "create", "patch"},
    ("traefik.io", "traefikservices"): {"get", "create", "patch"},
    ("apisix.apache.org", "apisixroutes"): {"get", "list", "create", "patch", "delete"},
    ("serving.knative.dev", "services"): {"get", "patch"},
    ("serving.knative.dev", "revisions"): {"get"},
    ("kuma.io", "trafficroutes"): {"get", "create", "patch", "delete"},
}
CLUSTER_SCOPED = {("kuma.io", "trafficroutes")}  # no Role can grant these
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _rules(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(group, resource) -> verbs of a role's rules, each verb once."""
    found: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                verbs = found.setdefault((group, resource), set())
                assert not verbs & set(rule["verbs"]), f"{group}/{resource} granted twice"
                verbs |= set(rule["verbs"])
    return found


def _parse(argv: list[str]) -> argparse.Namespace:
    """The arguments as `canary` parses them; fails with argparse's message if it would not."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"canary rejects {argv}: {errors.getvalue()}")


def test_the_charts_crds_are_the_generated_ones() -> None:
    assert CHART / "crds" == CHART_DIR
    stale = differences(CHART_DIR)
    assert stale == [], "helm/canary/crds is stale; run `python -m canary.api.crdgen`\n" + "".join(
        stale
    )
    assert sorted(p.name for p in CHART_DIR.iterdir()) == sorted(
        p.name for p in (REPOSITORY / "crds").iterdir()
    )


def test_the_app_version_and_default_image_are_the_package_version(tools: Tools) -> None:
    version = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    deployment = one(tools.render(), "Deployment", "canary")
    assert container(deployment)["image"] == f"ghcr.io/canary-dev/canary:{version}"


@pytest.mark.parametrize(
    "values",
    [None, {"watchNamespaces": ["team-a", "team-b"], "loadtester": {"enabled": True}}],
    ids=["defaults", "namespaced"],
)
def test_helm_lint_passes_strictly(tools: Tools, values: dict[str, Any] | None) -> None:
    result = tools.run(tools.helm, "lint", "--strict", CHART, *tools.values_args(values))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_the_defaults_render_an_ha_controller_with_cluster_wide_least_privilege(
    tools: Tools,
) -> None:
    manifests = tools.render(release="canary", namespace="canary-system")
    assert {m["metadata"].get("namespace", "canary-system") for m in manifests} == {"canary-system"}
    deployment = one(manifests, "Deployment", "canary")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "canary"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    controller = container(deployment)
    assert controller["securityContext"] == RESTRICTED_CONTAINER
    assert controller["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert controller["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    assert controller["resources"]["requests"]
    assert controller["resources"]["limits"]["memory"]
    args = controller["args"]
    assert args[0] == "run"
    assert "--leader-elect" in args
    assert "--leader-election-namespace=canary-system" in args
    assert "--leader-election-id=canary-controller" in args
    assert not any(a.startswith("--namespaces") for a in args)

    cluster_role = one(manifests, "ClusterRole", "canary")
    assert _rules(cluster_role) == CONTROLLER_RULES
    binding = one(manifests, "ClusterRoleBinding", "canary")
    assert binding["roleRef"]["name"] == "canary"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "canary", "namespace": "canary-system"}
    ]
    lease_role = one(manifests, "Role", "canary-leader-election")
    assert lease_role["metadata"]["namespace"] == "canary-system"
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["canary-controller"],
            "verbs": ["get", "update"],
        },
    ]
    assert find(manifests, "ServiceMonitor") == []
    assert [d["metadata"]["name"] for d in find(manifests, "Deployment")] == ["canary"]
    service = one(manifests, "Service", "canary-metrics")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http-metrics"
    assert one(manifests, "PodDisruptionBudget", "canary")["spec"]["maxUnavailable"] == 1


def test_watched_namespaces_get_a_role_each_and_only_cluster_scoped_routes_cluster_wide(
    tools: Tools,
) -> None:
    manifests = tools.render(
        namespace="canary-system", values={"watchNamespaces": ["team-a", "team-b"]}
    )
    namespaced = {k: v for k, v in CONTROLLER_RULES.items() if k not in CLUSTER_SCOPED}
    cluster_scoped = {k: v for k, v in CONTROLLER_RULES.items() if k in CLUSTER_SCOPED}
    # Kuma's TrafficRoutes have no namespace: only a ClusterRole grants them.
    assert [r["metadata"]["name"] for r in find(manifests, "ClusterRole")] == [
        "canary-cluster-scoped"
    ]
    assert _rules(one(manifests, "ClusterRole", "canary-cluster-scoped")) == cluster_scoped
    cluster_binding = one(manifests, "ClusterRoleBinding", "canary-cluster-scoped")
    assert cluster_binding["roleRef"]["name"] == "canary-cluster-scoped"
    assert cluster_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "canary", "namespace": "canary-system"}
    ]
    assert len(find(manifests, "ClusterRoleBinding")) == 1
    roles = {r["metadata"]["namespace"]: r for r in find(manifests, "Role", "canary")}
    assert set(roles) == {"team-a", "team-b"}
    for role in roles.values():
        assert _rules(role) == namespaced
    bindings = {b["metadata"]["namespace"]: b for b in find(manifests, "RoleBinding", "canary")}
    assert set(bindings) == {"team-a", "team-b"}
    for binding in bindings.values():
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "canary",
        }
        assert binding["subjects"][0]["namespace"] == "canary-system"
    # The Lease stays in the release's namespace, whatever is watched.
    assert one(manifests, "Role", "canary-leader-election")["metadata"]["namespace"] == (
        "canary-system"
    )
    args = container(one(manifests, "Deployment", "canary"))["args"]
    assert "--namespaces=team-a,team-b" in args


def test_watched_namespaces_without_cluster_scoped_routes_grant_nothing_cluster_wide(
    tools: Tools,
) -> None:
    manifests = tools.render(
        namespace="canary-system",
        values={"watchNamespaces": ["team-a"], "rbac": {"clusterScopedRoutes": False}},
    )
    assert find(manifests, "ClusterRole") == []
    assert find(manifests, "ClusterRoleBinding") == []
    assert _rules(one(manifests, "Role", "canary")).keys().isdisjoint(CLUSTER_SCOPED)


def test_the_controller_accepts_the_arguments_the_defaults_give_it(tools: Tools) -> None:
    values = {"leaderElection": {"leaseDuration": 20, "renewDeadline": 12.5, "retryPeriod": 3}}
    deployment = one(tools.render(namespace="canary-system", values=values), "Deployment", "canary")
    args = _parse(container(deployment)["args"])
    assert args.command == "run"
    settings = from_arguments(args)
    assert settings.leader_elect is True
    assert settings.leader_election_namespace == "canary-system"
    assert settings.leader_election_id == "canary-controller"
    timing = settings.leader_election_timing
    assert (timing.lease_duration, timing.renew_deadline, timing.retry_period) == (20, 12.5, 3)
    assert settings.routing == ControllerRouting()  # Flagger's defaults


def test_the_controller_accepts_the_arguments_values_give_it(tools: Tools) -> None:
    values = {
        "replicas": 1,
        "leaderElection": {"enabled": False},
        "watchNamespaces": ["team-a", "team-b"],
        "prometheus": {"url": "http://prometheus.example:9090", "timeout": 4.5},
        "provider": "gatewayapi:v1",
        "clusterName": "prod-eu",
        "ingressAnnotationsPrefix": "custom.nginx.example.com",
        "ingressClass": "contour-internal",
        "minInterval": 30,
        "maxParallel": 3,
        "maxProgressing": 0,
        "log": {"format": "console", "level": "debug"},
        "metrics": {"port": 9000},
    }
    deployment = one(tools.render(values=values), "Deployment", "canary")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    controller = container(deployment)
    settings = from_arguments(_parse(controller["args"]))
    assert settings.kubeconfig is None  # in-cluster
    assert settings.leader_elect is False
    assert settings.prometheus_url == "http://prometheus.example:9090"
    assert settings.prometheus_timeout == 4.5
    assert settings.provider == "gatewayapi:v1"
    assert settings.namespaces == ("team-a", "team-b")
    assert settings.cluster_name == "prod-eu"
    assert settings.routing == ControllerRouting(
        ingress_annotations_prefix="custom.nginx.example.com", ingress_class="contour-internal"
    )
    assert (settings.min_interval, settings.max_parallel, settings.max_progressing) == (30, 3, 0)
    assert (settings.log_format, settings.log_level) == ("console", "debug")
    assert settings.listen == "0.0.0.0:9000"
    assert controller["ports"] == [
        {"name": "http-metrics", "containerPort": 9000, "protocol": "TCP"}
    ]


def test_the_load_tester_renders_with_only_its_gates_configmap(tools: Tools) -> None:
    manifests = tools.render(
        namespace="canary-system",
        values={"loadtester": {"enabled": True, "allowCommands": True, "taskTimeout": "30m"}},
    )
    deployment = one(manifests, "Deployment", "canary-loadtester")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "canary-loadtester"
    loadtester = container(deployment)
    assert loadtester["image"] == "ghcr.io/canary-dev/canary:0.1.0"
    assert loadtester["securityContext"] == RESTRICTED_CONTAINER
    args = _parse(loadtester["args"])
    assert args.command == "loadtester"
    assert (args.port, args.configmap, args.timeout) == (8080, "canary-loadtester-gates", 1800.0)
    assert args.allow_commands is True
    role = one(manifests, "Role", "canary-loadtester")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["canary-loadtester-gates"],
            "verbs": ["get", "patch"],
        },
    ]
    assert one(manifests, "RoleBinding", "canary-loadtester")["subjects"] == [
        {"kind": "ServiceAccount", "name": "canary-loadtester", "namespace": "canary-system"}
    ]
    service = one(manifests, "Service", "canary-loadtester")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 80


def test_the_service_monitor_scrapes_the_metrics_service(tools: Tools) -> None:
    manifests = tools.render(
        namespace="canary-system",
        values={"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    )
    monitor = one(manifests, "ServiceMonitor", "canary")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    service = one(manifests, "Service", "canary-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["canary-system"]}
    assert monitor["spec"]["endpoints"] == [
        {
            "port": service["spec"]["ports"][0]["name"],
            "path": "/metrics",
            # The Canary's `namespace` label must win over the target's (docs/operating.md).
            "honorLabels": True,
            "interval": "30s",
        }
    ]


def test_the_grafana_dashboard_is_shipped_as_a_sidecar_configmap(tools: Tools) -> None:
    assert find(tools.render(), "ConfigMap") == []
    manifests = tools.render(values={"grafanaDashboard": {"enabled": True}})
    dashboard = one(manifests, "ConfigMap", "canary-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "canary.json").read_text())
    assert json.loads(dashboard["data"]["canary.json"]) == shipped


def test_a_digest_pins_the_image(tools: Tools) -> None:
    digest = "sha256:" + "ab" * 32
    manifests = tools.render(
        values={"image": {"repository": "registry.example/canary", "digest": digest}}
    )
    assert container(one(manifests, "Deployment", "canary"))["image"] == (
        f"registry.example/canary@{digest}"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "additional properties 'replicaCount' not allowed"),
        ({"leaderElection": {"enable": True}}, "additional properties 'enable' not allowed"),
        ({"loadtester": {"enabeld": True}}, "additional properties 'enabeld' not allowed"),
        ({"replicas": "two"}, "/replicas"),
        ({"watchNamespaces": "team-a"}, "/watchNamespaces"),
        ({"serviceMonitor": {"enabled": "yes"}}, "/serviceMonitor/enabled"),
        ({"provider": "consul"}, "/provider"),
        ({"prometheus": {"url": "prometheus:9090"}}, "/prometheus/url"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"ingressAnnotationsPrefix": "Nginx/Ingress"}, "/ingressAnnotationsPrefix"),
        ({"ingressClass": "Contour Internal"}, "/ingressClass"),
    ],
    ids=[
        "top-level-typo",
        "nested-typo",
        "loadtester-typo",
        "wrong-type",
        "list-expected",
        "bool-expected",
        "unknown-provider",
        "url-without-scheme",
        "bad-digest",
        "bad-annotations-prefix",
        "bad-ingress-class",
    ],
)
def test_the_schema_rejects_bad_values_by_name(
    tools: Tools, values: dict[str, Any], message: str
) -> None:
    for command in ("template", "lint"):
        argv = [tools.helm, command, *(["canary"] if command == "template" else [])]
        result = tools.run(*argv, CHART, *tools.values_args(values))
        assert result.returncode != 0, f"helm {command} accepted {values}"
        output = result.stdout + result.stderr
        assert "values don't meet the specifications of the schema" in output, output
        assert message in output, output


def test_more_than_one_replica_without_leader_election_is_refused(tools: Tools) -> None:
    result = tools.template(values={"leaderElection": {"enabled": False}})
    assert result.returncode != 0
    assert "replicas > 1 needs leaderElection.enabled=true" in result.stderr


def test_the_provider_pattern_accepts_every_provider_the_controller_knows() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    pattern = re.compile(schema["properties"]["provider"]["pattern"])
    for provider in (*KNOWN_PROVIDERS, "smi:v1alpha3:linkerd"):
        assert pattern.fullmatch(provider), provider


def test_every_value_is_documented_in_the_schema() -> None:
    """values.yaml and the schema name the same keys, so a value cannot be added to one only."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def check(node: dict[str, Any], under: dict[str, Any], path: str) -> None:
        properties = under.get("properties")
        if properties is None:  # a free-form Kubernetes object (securityContext, affinity...)
            return
        assert set(node) <= set(properties), f"{path}: {set(node) - set(properties)}"
        for key, value in node.items():
            if isinstance(value, dict):
                check(value, properties[key], f"{path}.{key}")

    check(values, schema, "values")
    assert set(schema["properties"]) - set(values) == {"global"}


def test_shards_get_a_deployment_and_a_lease_each(tools: Tools) -> None:
    values = {"sharding": {"shards": ["shard1", "shard2"]}}
    manifests = tools.render(release="canary", namespace="canary-system", values=values)
    deployments = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Deployment"}
    assert set(deployments) == {"canary", "canary-shard1", "canary-shard2"}
    selectors = [d["spec"]["selector"]["matchLabels"] for d in deployments.values()]
    for deployment in deployments.values():  # no Deployment's selector takes another's pods
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [s for s in selectors if s.items() <= labels.items()]
        assert matching == [deployment["spec"]["selector"]["matchLabels"]]
    settings = {
        name: from_arguments(_parse(container(deployment)["args"]))
        for name, deployment in deployments.items()
    }
    assert {name: s.watch_label_selector for name, s in settings.items()} == {
        "canary": "!sharding.canary.dev/key",
        "canary-shard1": "sharding.canary.dev/key in (shard1)",
        "canary-shard2": "sharding.canary.dev/key in (shard2)",
    }
    leases = {name: s.leader_election_id for name, s in settings.items()}
    assert leases == {
        "canary": "canary-controller",
        "canary-shard1": "canary-controller-shard1",
        "canary-shard2": "canary-controller-shard2",
    }
    role = one(manifests, "Role", "canary-leader-election")
    named = next(rule for rule in role["rules"] if rule.get("resourceNames"))
    assert sorted(named["resourceNames"]) == sorted(leases.values())


def test_without_shards_the_controller_watches_every_canary(tools: Tools) -> None:
    deployment = one(tools.render(), "Deployment", "canary")
    assert from_arguments(_parse(container(deployment)["args"])).watch_label_selector == ""
