"""The chart's dashboard (values `dashboard.*`): off by default; on, it runs `canary dashboard
--auth=token` with arguments the CLI accepts, its identity may only create TokenReviews, its
replicas share one CSRF key, and its Service selects its pods."""

from __future__ import annotations

import base64
import contextlib
import io

import pytest

from canary.cli.main import build_parser
from tests.helm.chart import Tools, container, find, one

NAME = "canary-dashboard"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_the_dashboard_is_off_by_default(tools: Tools) -> None:
    manifests = tools.render()
    assert not [m for m in manifests if m["metadata"]["name"] == NAME]


def test_the_dashboard_authenticates_callers_and_has_no_rights_of_its_own(tools: Tools) -> None:
    manifests = tools.render(
        namespace="canary-system",
        values={"dashboard": {"enabled": True, "replicas": 2, "tokenAudiences": ["dash"]}},
    )
    deployment = one(manifests, "Deployment", NAME)
    dashboard = container(deployment)
    assert dashboard["securityContext"] == RESTRICTED_CONTAINER
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = build_parser().parse_args(dashboard["args"])
    except SystemExit:
        pytest.fail(f"canary rejects {dashboard['args']}: {errors.getvalue()}")
    assert (args.command, args.auth, args.listen) == ("dashboard", "token", "0.0.0.0:3100")
    assert args.token_audience == ["dash"]
    assert args.prometheus_url == "http://prometheus.monitoring:9090"

    role = one(manifests, "ClusterRole", NAME)
    assert role["rules"] == [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}
    ]
    binding = one(manifests, "ClusterRoleBinding", NAME)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": NAME, "namespace": "canary-system"}
    ]
    assert not find(manifests, "Role", NAME)
    assert not find(manifests, "RoleBinding", NAME)

    secret = one(manifests, "Secret", NAME)
    assert len(base64.b64decode(secret["data"]["csrf-secret"])) == 48
    (env,) = dashboard["env"]
    assert env["name"] == "CANARY_DASHBOARD_CSRF_SECRET"
    assert env["valueFrom"]["secretKeyRef"] == {"name": NAME, "key": "csrf-secret"}

    service = one(manifests, "Service", NAME)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 80
