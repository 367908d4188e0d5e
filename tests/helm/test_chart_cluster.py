"""The Helm chart against the sandbox's real API server: its manifests pass a server-side dry run
(under the Pod Security Standard "restricted"), it installs, its ServiceAccount may do exactly
what a committed golden file says, and that is enough for a whole release.

The release runs the controller as a local process (kwok's pods never run a container) that
authenticates only with a token of the chart's ServiceAccount: no admin, no client certificate.
Every request it sends must be allowed; the test fails on a single 403.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from canary.kube import resources
from canary.kube.resources import (
    CANARY,
    CONFIG_MAP,
    DEPLOYMENT,
    HORIZONTAL_POD_AUTOSCALER,
    LEASE,
    SERVICE,
    TRAFFIC_ROUTE,
    TRAFFIC_SPLIT,
    resource_kind,
)
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState
from tests.e2e.harness import (
    IMAGE,
    TEST_MANAGER,
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    events_of,
    get_deployment,
    image_of,
    template,
)
from tests.helm.chart import (
    CHART,
    Tools,
    controller_overrides,
    describe,
    installed,
    permissions,
    release_name,
    scratch_namespace,
    service_account_kubeconfig,
    start_as_deployed,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.integration

GOLDEN: Final = Path(__file__).parent / "golden"
UPDATE_GOLDEN: Final = os.environ.get("CANARY_UPDATE_GOLDEN") == "1"
RESTRICTED: Final = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
MODES: Final = ["cluster", "namespaced"]

NAME: Final = "podinfo"
HPA: Final = "podinfo"
CONFIG: Final = "podinfo-config"
SECRET_NAME: Final = "podinfo-secret"  # noqa: S105 - a name, not a secret
ALERTS: Final = "team-alerts"
INITIALIZED_WITHIN: Final = 30.0
RUN_WITHIN: Final = 90.0
REVERTED_WITHIN: Final = 30.0


def _values(mode: str, *, watched: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "loadtester": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    }
    if mode == "namespaced":
        values["watchNamespaces"] = [watched]
    return values


# --- the manifests, dry-run ----------------------------------------------------------------------


@pytest.mark.usefixtures("crds")
@pytest.mark.parametrize("mode", MODES)
async def test_the_rendered_chart_passes_a_server_side_dry_run_under_restricted_pod_security(
    tools: Tools, sandbox: SandboxState, api: ApiClient, mode: str
) -> None:
    async with (
        scratch_namespace(api, "canary-system", labels=RESTRICTED) as home,
        scratch_namespace(api, "team") as watched,
    ):
        rendered = await tools.arun(
            tools.helm,
            "template",
            release_name(),
            CHART,
            "--namespace",
            home,
            *tools.values_args(_values(mode, watched=watched)),
        )
        assert rendered.returncode == 0, rendered.stderr
        # --warnings-as-errors: a pod template the namespace's Pod Security level would refuse
        # only warns on a Deployment; here that fails the test.
        result = await tools.arun(
            tools.kubectl,
            "--kubeconfig",
            sandbox.kubeconfig,
            "apply",
            "--dry-run=server",
            "--warnings-as-errors",
            "-f",
            "-",
            stdin=rendered.stdout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        applied = result.stdout.splitlines()
        kinds = {line.split("/", 1)[0] for line in applied}
        assert "deployment.apps" in kinds, applied
        # Namespaced mode has a ClusterRole too, for the cluster-scoped routes alone.
        cluster_roles = [
            line.split()[0].split("/", 1)[1]
            for line in applied
            if line.startswith("clusterrole.rbac.authorization.k8s.io/")
        ]
        assert len(cluster_roles) == 1, applied
        assert cluster_roles[0].endswith("-cluster-scoped") == (mode == "namespaced"), applied


# --- what the ServiceAccount may do --------------------------------------------------------------


@pytest.mark.usefixtures("crds")
@pytest.mark.parametrize("mode", MODES)
async def test_what_the_service_account_may_do_is_the_golden_list(
    tools: Tools,
    sandbox: SandboxState,
    api: ApiClient,
    tmp_path: Path,
    mode: str,
) -> None:
    """Installed into a namespace under Pod Security "restricted" (its pods must be admitted,
    which --wait proves), the controller's and the load tester's ServiceAccounts may do, beyond
    what any ServiceAccount may, exactly what golden/rbac-<mode>.txt lists: a widening of the
    chart's RBAC is a visible diff of that file."""
    release = release_name()
    async with (
        scratch_namespace(api, "canary-system", labels=RESTRICTED) as home,
        scratch_namespace(api, "team") as watched,
        installed(
            tools,
            sandbox,
            release=release,
            namespace=home,
            values=_values(mode, watched=watched),
            wait=True,
        ),
    ):
        await _create_service_account(tools, sandbox, namespace=home, name="nobody")
        identities = {
            "controller": await service_account_kubeconfig(
                tools, sandbox, namespace=home, name=release, path=tmp_path / "controller"
            ),
            "load tester": await service_account_kubeconfig(
                tools,
                sandbox,
                namespace=home,
                name=f"{release}-loadtester",
                path=tmp_path / "loadtester",
            ),
        }
        baseline = await service_account_kubeconfig(
            tools, sandbox, namespace=home, name="nobody", path=tmp_path / "nobody"
        )
        scopes = {
            "release namespace": home,
            "namespace of Canaries": watched,
            "another namespace": "default",
        }
        lines = [
            f"# What the chart's ServiceAccounts may do ({mode} mode), beyond what a",
            "# ServiceAccount without bindings may. Written by tests/helm/test_chart_cluster.py;",
            "# regenerate with CANARY_UPDATE_GOLDEN=1 after a deliberate change of its RBAC.",
        ]
        for who, kubeconfig in identities.items():
            for scope, namespace in scopes.items():
                granted = await permissions(kubeconfig, namespace)
                granted -= await permissions(baseline, namespace)
                lines += ["", f"[{who}, {scope}]", *describe(granted)]
    _compare_with_golden(GOLDEN / f"rbac-{mode}.txt", "\n".join(lines) + "\n")


def _compare_with_golden(path: Path, actual: str) -> None:
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    expected = path.read_text() if path.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{path} (committed)",
            tofile="what the API server answers",
        )
    )
    assert not diff, f"the chart's RBAC changed; if deliberate, CANARY_UPDATE_GOLDEN=1\n{diff}"


async def _create_service_account(
    tools: Tools, sandbox: SandboxState, *, namespace: str, name: str
) -> None:
    created = await tools.arun(
        tools.kubectl,
        "--kubeconfig",
        sandbox.kubeconfig,
        "--namespace",
        namespace,
        "create",
        "serviceaccount",
        name,
    )
    assert created.returncode == 0, created.stderr


# --- the load tester with only its Role --------------------------------------------------------


@pytest.mark.usefixtures("crds")
async def test_the_load_tester_keeps_its_gates_with_only_its_role(
    tools: Tools, sandbox: SandboxState, api: ApiClient, tmp_path: Path, started: list[Controller]
) -> None:
    release = release_name()
    async with (
        scratch_namespace(api, "canary-system") as home,
        installed(
            tools,
            sandbox,
            release=release,
            namespace=home,
            values={"loadtester": {"enabled": True}},
        ),
    ):
        name = f"{release}-loadtester"
        kubeconfig = await service_account_kubeconfig(
            tools, sandbox, namespace=home, name=name, path=tmp_path / "loadtester.kubeconfig"
        )
        deployed = await resources.get(api, DEPLOYMENT, name, namespace=home)
        assert deployed is not None
        port = free_ports(1)[0]
        tester = await start_as_deployed(
            deployed,
            kubeconfig=kubeconfig,
            log=tmp_path / "loadtester.log",
            port=port,
            # In a pod, POD_NAMESPACE names the gates' namespace.
            local={"--host": "127.0.0.1", "--port": str(port), "--namespace": home},
            ready="/healthz",
        )
        started.append(tester)
        try:
            canary_ref = {"name": "podinfo", "namespace": "team"}
            url = f"http://127.0.0.1:{port}"
            assert await _post(f"{url}/gate/check", canary_ref) == 403  # no ConfigMap: closed
            assert await _post(f"{url}/gate/open", canary_ref) == 202  # creates it
            assert await _post(f"{url}/rollback/open", canary_ref) == 202  # patches it
            assert await _post(f"{url}/gate/check", canary_ref) == 200
            assert await _post(f"{url}/rollback/close", canary_ref) == 202
        finally:
            await tester.stop()
        gates = await resources.get(api, CONFIG_MAP, "canary-loadtester-gates", namespace=home)
        assert gates is not None
        assert gates["data"] == {"gate.team.podinfo": "open"}


async def _post(url: str, document: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(url, json=document) as response,
    ):
        return response.status


# --- a release with only the chart's RBAC --------------------------------------------------------


@pytest.fixture
async def _no_finalizer_left(api: ApiClient, namespace: str) -> AsyncIterator[None]:
    """After a failure half-way, no Canary may keep a finalizer that the stopped controller can
    no longer remove: the namespace's deletion would wait for it for ever."""
    yield
    found = await resources.get(api, CANARY, NAME, namespace=namespace)
    if found is not None and found["metadata"].get("finalizers"):
        await resources.merge_patch(
            api,
            CANARY,
            NAME,
            namespace=namespace,
            patch={"metadata": {"finalizers": None}},
            field_manager=TEST_MANAGER,
        )


@pytest.mark.usefixtures("crds", "_no_finalizer_left")
@pytest.mark.parametrize("mode", MODES)
async def test_a_release_completes_with_only_the_charts_permissions(
    tools: Tools,
    sandbox: SandboxState,
    api: ApiClient,
    namespace: str,
    tmp_path: Path,
    *,
    started: list[Controller],
    mode: str,
) -> None:
    """Config tracking (a ConfigMap and a Secret), an HPA, events, an alert through an
    AlertProvider with a Secret, the SMI route, promotion, and revertOnDeletion's finalizer: the
    surface of the controller's RBAC, in one release, with the chart's own arguments (leader
    election included)."""
    release = release_name()
    async with (
        scratch_namespace(api, "canary-system") as home,
        installed(
            tools, sandbox, release=release, namespace=home, values=_values(mode, watched=namespace)
        ),
    ):
        controller = await _start_charts_controller(
            tools, sandbox, api, home=home, release=release, namespace=namespace, tmp_path=tmp_path
        )
        started.append(controller)
        try:
            async with _alert_receiver() as alerts:
                await _release(api, namespace, alerts_url=alerts.url)
                await eventually(
                    alerts.messages,
                    until=lambda seen: any(m.get("phase") == "Succeeded" for m in seen),
                    within=10,
                    what="the Succeeded alert (AlertProvider and its Secret read)",
                )
            await _delete_and_revert(api, namespace)
            lease = await resources.get(api, LEASE, "canary-controller", namespace=home)
            assert lease is not None, "the controller took no Lease where the chart said"
            assert lease["spec"].get("holderIdentity"), lease
            assert await _refused_requests(controller) == {}, controller.tail()
        finally:
            await controller.stop()


@pytest.mark.usefixtures("crds")
async def test_a_kuma_canary_is_initialized_with_the_namespaced_charts_permissions(
    tools: Tools,
    sandbox: SandboxState,
    api: ApiClient,
    namespace: str,
    tmp_path: Path,
    *,
    started: list[Controller],
) -> None:
    """Kuma's TrafficRoutes are cluster-scoped, which no Role can grant: with `watchNamespaces`
    the chart grants them with a ClusterRole of their own, and a Canary of provider `kuma` is
    initialized (its TrafficRoute written) with only the chart's permissions."""
    release = release_name()
    name = "kuma-podinfo"  # the TrafficRoute's name, cluster-wide: no other test's
    async with (
        scratch_namespace(api, "canary-system") as home,
        installed(
            tools,
            sandbox,
            release=release,
            namespace=home,
            values=_values("namespaced", watched=namespace),
        ),
    ):
        controller = await _start_charts_controller(
            tools, sandbox, api, home=home, release=release, namespace=namespace, tmp_path=tmp_path
        )
        started.append(controller)
        manifest = canary(name, namespace=namespace, step_weight=10, max_weight=50)
        manifest["spec"]["provider"] = "kuma"
        try:
            async with Recorder(api, namespace=namespace, name=name).running() as recorder:
                await apply(api, deployment(name, namespace=namespace, tag="6.7.0"))
                await apply(api, manifest)
                await recorder.wait(
                    lambda: (
                        recorder.statuses.last is not None
                        and recorder.statuses.last.phase == "Initialized"
                    ),
                    within=INITIALIZED_WITHIN,
                    what="phase Initialized",
                )
            route = await resources.get(api, TRAFFIC_ROUTE, name, namespace=None)
            assert route is not None
            assert route["metadata"]["annotations"]["canary.dev/canary"] == f"{namespace}/{name}"
            assert await _refused_requests(controller) == {}, controller.tail()
        finally:
            await controller.stop()
            await resources.delete(api, TRAFFIC_ROUTE, name, namespace=None)


async def _start_charts_controller(
    tools: Tools,
    sandbox: SandboxState,
    api: ApiClient,
    *,
    home: str,
    release: str,
    namespace: str,
    tmp_path: Path,
) -> Controller:
    """The controller the chart deployed in `home`, run locally with its arguments and only its
    ServiceAccount's token, releasing the Canaries of `namespace`."""
    kubeconfig = await service_account_kubeconfig(
        tools, sandbox, namespace=home, name=release, path=tmp_path / "controller.kubeconfig"
    )
    deployed = await resources.get(api, DEPLOYMENT, release, namespace=home)
    assert deployed is not None
    port = free_ports(1)[0]
    return await start_as_deployed(
        deployed,
        kubeconfig=kubeconfig,
        log=tmp_path / "controller.log",
        port=port,
        local=controller_overrides(sandbox, namespace=namespace, port=port),
    )


def _target(namespace: str, *, tag: str) -> dict[str, Any]:
    """podinfo at `tag`, using a ConfigMap and a Secret (tracked: copied for the primary)."""
    manifest = deployment(NAME, namespace=namespace, tag=tag)
    manifest["spec"]["template"] = _template(tag)
    return manifest


def _template(tag: str) -> dict[str, Any]:
    pod = template(NAME, tag=tag)
    pod["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": CONFIG}},
        {"secretRef": {"name": SECRET_NAME}},
    ]
    return pod


def _configs(namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIG, "namespace": namespace},
            "data": {"PODINFO_UI_MESSAGE": "hello"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": namespace},
            "stringData": {"TOKEN": "not-a-real-token"},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": HPA, "namespace": namespace},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
                "minReplicas": 2,
                "maxReplicas": 3,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 99},
                        },
                    }
                ],
            },
        },
    ]


async def _release(api: ApiClient, namespace: str, *, alerts_url: str) -> None:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=3, step_weights=[20, 50])
    manifest["spec"]["revertOnDeletion"] = True
    manifest["spec"]["analysis"]["alerts"] = [
        {"name": "team", "severity": "info", "providerRef": {"name": ALERTS}}
    ]
    manifest["spec"]["autoscalerRef"] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "name": HPA,
    }
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        for config in [*_configs(namespace), *_alert_provider(namespace, url=alerts_url)]:
            await apply(api, config)
        await apply(api, _target(namespace, tag="6.7.0"))
        await apply(api, manifest)
        await recorder.wait(
            lambda: (
                recorder.statuses.last is not None and recorder.statuses.last.phase == "Initialized"
            ),
            within=INITIALIZED_WITHIN,
            what="phase Initialized",
        )
        released = time.monotonic()
        await resources.merge_patch(
            api,
            DEPLOYMENT,
            NAME,
            namespace=namespace,
            patch={"spec": {"template": _template("6.7.1")}},
            field_manager=TEST_MANAGER,
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 20, 50, 0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    for kind, name in (
        (resource_kind("v1", "ConfigMap"), f"{CONFIG}-primary"),
        (resource_kind("v1", "Secret"), f"{SECRET_NAME}-primary"),
        (HORIZONTAL_POD_AUTOSCALER, f"{HPA}-primary"),
    ):
        assert await resources.get(api, kind, name, namespace=namespace), f"{kind.kind} {name}"
    found = await eventually(
        partial(events_of, api, NAME, namespace=namespace),
        until=lambda events: any(e.reason == "Succeeded" for e in events),
        within=10,
        what="the Succeeded event",
    )
    assert found


def _alert_provider(namespace: str, *, url: str) -> list[dict[str, Any]]:
    """A webhook AlertProvider whose address is in a Secret (as a credential should be)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": ALERTS, "namespace": namespace},
            "stringData": {"address": url},
        },
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AlertProvider",
            "metadata": {"name": ALERTS, "namespace": namespace},
            "spec": {"type": "webhook", "secretRef": {"name": ALERTS}},
        },
    ]


@dataclass
class AlertReceiver:
    url: str
    received: list[dict[str, Any]]

    async def messages(self) -> list[dict[str, Any]]:
        return list(self.received)


@contextlib.asynccontextmanager
async def _alert_receiver() -> AsyncIterator[AlertReceiver]:
    """An HTTP endpoint on 127.0.0.1 that keeps every alert POSTed to it."""
    received: list[dict[str, Any]] = []

    async def keep(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", keep)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_ports(1)[0]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield AlertReceiver(url=f"http://127.0.0.1:{port}/", received=received)
    finally:
        await runner.cleanup()


async def _delete_and_revert(api: ApiClient, namespace: str) -> None:
    """Delete the Canary: the controller reverts (reads the namespace, deletes the TrafficSplit,
    points the apex Service at the target) and removes its finalizer."""
    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await eventually(
        partial(resources.get, api, CANARY, NAME, namespace=namespace),
        until=lambda found: found is None,
        within=REVERTED_WITHIN,
        what="the Canary gone (its finalizer removed by the controller)",
    )
    split = await resources.get(api, TRAFFIC_SPLIT, NAME, namespace=namespace)
    assert split is None or split["metadata"].get("deletionTimestamp"), split
    apex = await resources.get(api, SERVICE, NAME, namespace=namespace)
    assert apex is not None
    assert apex["spec"]["selector"] == {"app": NAME}


async def _refused_requests(controller: Controller) -> dict[tuple[str, str, str], float]:
    """(verb, resource, code) -> count of the controller's API requests answered 401 or 403."""
    url = f"http://127.0.0.1:{controller.port}/metrics"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as response,
    ):
        assert response.status == 200
        text = await response.text()
    refused: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "canary_api_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels.get("code") in {"401", "403"}:
                key = (labels["verb"], labels["resource"], labels["code"])
                refused[key] = sample.value
    assert any(f.name == "canary_api_requests" for f in text_string_to_metric_families(text))
    return refused
