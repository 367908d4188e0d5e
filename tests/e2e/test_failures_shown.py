"""No failure only in the log: a Canary whose cycles keep failing says so on itself.

The controller runs as a ServiceAccount whose Role lacks one permission the Canary needs (it may
read Services but not create them), as a cluster whose RBAC lags behind the controller's
version would have it. Every cycle then fails at the same step. The Canary must show it
(`Ready=False` and `Stalled=True`, reason ReconcileFailed, with the API server's answer), one
Warning event (not one per retry), kstatus must read Failed, `canary status --wait` must print
it, and once the permission is granted the next cycle clears it all.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient

from canary.controller.failures import FAILURES_SHOWN, RECONCILE_FAILED
from canary.controller.scheduler import MAX_BACKOFF
from canary.kube import resources
from canary.kube.resources import CANARY
from canary.sandbox.binaries import default_cache_root, ensure_binaries
from canary.sandbox.state import SandboxState
from tests.e2e.harness import (
    TEST_MANAGER,
    Controller,
    Controllers,
    apply,
    canary,
    deployment,
    events_of,
    get_canary,
    run_cli,
)
from tests.helm.chart import Tools, service_account_kubeconfig
from tests.integration.waiting import eventually
from tests.kstatus.judge import Judge

NAME = "podinfo"
ACCOUNT = "canary-restricted"
READ = ["get", "list", "watch"]


def _rules(*, service_verbs: list[str]) -> list[dict[str, Any]]:
    """The Helm chart's rules for one namespace, with `service_verbs` on Services."""
    return [
        {"apiGroups": ["canary.dev"], "resources": ["canaries"], "verbs": [*READ, "patch"]},
        {
            "apiGroups": ["canary.dev"],
            "resources": ["canaries/status", "canaries/finalizers"],
            "verbs": ["update"],
        },
        {"apiGroups": ["canary.dev"], "resources": ["metrictemplates"], "verbs": READ},
        {"apiGroups": ["canary.dev"], "resources": ["alertproviders"], "verbs": ["get"]},
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "daemonsets"],
            "verbs": [*READ, "create", "patch"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps", "secrets"],
            "verbs": [*READ, "create", "patch"],
        },
        {"apiGroups": [""], "resources": ["services"], "verbs": service_verbs},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {
            "apiGroups": ["autoscaling"],
            "resources": ["horizontalpodautoscalers"],
            "verbs": ["get", "create", "patch"],
        },
        {
            "apiGroups": ["split.smi-spec.io"],
            "resources": ["trafficsplits"],
            "verbs": [*READ, "create", "patch", "delete"],
        },
        {
            "apiGroups": ["gateway.networking.k8s.io"],
            "resources": ["httproutes"],
            "verbs": [*READ, "create", "patch", "delete"],
        },
    ]


async def _grant(api: ApiClient, namespace: str, *, service_verbs: list[str]) -> None:
    await apply(
        api,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": ACCOUNT, "namespace": namespace},
            "rules": _rules(service_verbs=service_verbs),
        },
    )


async def _restricted(
    api: ApiClient, sandbox: SandboxState, namespace: str, tmp_path: Path
) -> Path:
    """A ServiceAccount that may read Services but not create them; a kubeconfig with its
    token (and nothing else)."""
    await apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": ACCOUNT, "namespace": namespace},
        },
    )
    await _grant(api, namespace, service_verbs=READ)
    await apply(
        api,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": ACCOUNT, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ACCOUNT},
            "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
        },
    )
    binaries = ensure_binaries(default_cache_root(), print)
    tools = Tools(helm=binaries.helm, kubectl=binaries.kubectl, home=tmp_path / "tools")
    return await service_account_kubeconfig(
        tools, sandbox, namespace=namespace, name=ACCOUNT, path=tmp_path / "restricted.kubeconfig"
    )


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), {})


def _failed_cycles(controller: Controller) -> int:
    count = 0
    for line in controller.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        count += entry.get("event") == "reconcile_failed"
    return count


async def _failed_cycles_now(controller: Controller) -> int:
    return _failed_cycles(controller)


async def _shown(api: ApiClient, namespace: str) -> dict[str, Any]:
    return await get_canary(api, NAME, namespace=namespace)


async def test_a_cycle_that_keeps_failing_shows_on_the_canary_until_it_succeeds(
    api: ApiClient, namespace: str, controllers: Controllers, kstatus: Judge
) -> None:
    sandbox = controllers.sandbox
    kubeconfig = await _restricted(api, sandbox, namespace, controllers.directory)
    controller = await controllers.start(kubeconfig=kubeconfig)
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, canary(NAME, namespace=namespace, step_weights=[20]))

    shown = await eventually(
        partial(_shown, api, namespace),
        until=lambda obj: _condition(obj, "Ready").get("reason") == RECONCILE_FAILED,
        within=60,
        what="Ready=False, reason ReconcileFailed",
    )
    ready, stalled = _condition(shown, "Ready"), _condition(shown, "Stalled")
    assert ready["status"] == "False", ready
    assert "forbidden" in ready["message"], ready  # the API server's answer, said on the Canary
    assert (stalled.get("status"), stalled.get("reason")) == ("True", RECONCILE_FAILED), stalled
    assert _condition(shown, "Reconciling") == {}
    assert _failed_cycles(controller) >= FAILURES_SHOWN
    reading = kstatus.read(shown)
    assert (reading.status, reading.message) == ("Failed", ready["message"])

    # It keeps failing; the Canary gets one event, not one per retry. The retry comes after the
    # scheduler's backoff, which from the 7th failure on is MAX_BACKOFF with its +-25 % jitter.
    failed_when_shown = _failed_cycles(controller)
    await eventually(
        partial(_failed_cycles_now, controller),
        until=lambda count: count > failed_when_shown,
        within=MAX_BACKOFF * 1.25 + 15,
        what="another failed cycle",
    )
    warnings = [
        e for e in await events_of(api, NAME, namespace=namespace) if e.reason == RECONCILE_FAILED
    ]
    assert len(warnings) == 1, warnings
    assert warnings[0].type == "Warning"
    assert warnings[0].message == ready["message"]

    # `canary status --wait` says what is wrong while it waits.
    ran = await run_cli(
        sandbox, "status", NAME, "-n", namespace, "--wait", "--timeout", "3s", within=60
    )
    assert ran.code == 2, ran  # timed out: the controller keeps trying
    assert f"not progressing ({RECONCILE_FAILED})" in ran.out, ran
    assert "forbidden" in ran.out, ran

    # Granted the permission, the next cycle succeeds and the Canary shows the truth again.
    await _grant(api, namespace, service_verbs=[*READ, "create", "patch"])
    await resources.merge_patch(  # wake it now rather than after the backoff
        api,
        CANARY,
        NAME,
        namespace=namespace,
        patch={"metadata": {"annotations": {"canary.dev/test-wake": "1"}}},
        field_manager=TEST_MANAGER,
    )
    healed = await eventually(
        partial(_shown, api, namespace),
        until=lambda obj: (obj.get("status") or {}).get("phase") == "Initialized",
        within=90,
        what="phase Initialized once the permission is granted",
    )
    assert _condition(healed, "Ready")["status"] == "True", healed["status"]
    assert _condition(healed, "Stalled") == {}, healed["status"]
    assert kstatus.read(healed).status == "Current"
